"""Passphrases: argon2id hashes, verification that re-hashes old parameters, and what is refused.

The parameters are OWASP's minimum for argon2id (19 MiB, two passes, one
lane): about 35 ms a hash on one core, affordable at every sign-in and
costly for anyone guessing offline from a stolen table. A hash made under
other parameters still verifies, and is replaced by one under these at the
next successful sign-in (`Verified.new_hash`). Verifying against an account
that does not exist costs the same as against one that does
(`verify_passphrase(None, …)`), so the time of an answer does not tell.

Passphrases are compared in Unicode NFKC form, so the same words typed on
another keyboard or phone (composed or decomposed characters, full-width
digits) still match.
"""

from __future__ import annotations

import secrets
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

TIME_COST = 2  # passes
MEMORY_COST_KIB = 19 * 1024  # 19 MiB
PARALLELISM = 1
HASH_BYTES = 32
SALT_BYTES = 16

MIN_LENGTH = 12
MAX_LENGTH = 256  # long enough for any passphrase; bounds the work one request can ask for

# Long passwords seen most in published breach corpora: length alone lets these
# through. A short list, not a full breach check (that would need a corpus or
# an outside service, which openamr does not call).
COMMON_LONG_PASSWORDS = frozenset(
    {
        "123456789012",
        "1234567890123",
        "12345678901234",
        "123456789123",
        "111111111111",
        "000000000000",
        "123123123123",
        "qwertyuiop123",
        "qwertyuiopasdfghjkl",
        "qwertyuiopasdfgh",
        "qwerty123456",
        "qwerty1234567",
        "1q2w3e4r5t6y",
        "1q2w3e4r5t6y7u",
        "q1w2e3r4t5y6",
        "password1234",
        "password12345",
        "password123456",
        "passwordpassword",
        "iloveyou1234",
        "abcdefghijkl",
        "abcd1234abcd",
        "abc123abc123",
        "zaq12wsxcde3",
        "1qaz2wsx3edc",
        "1qaz2wsx3edc4rfv",
        "qazwsxedcrfv",
        "asdfghjkl123",
        "football1234",
        "baseball1234",
        "sommar123456",
        "lösenord1234",
        "losenord1234",
        "hemligt12345",
        "correcthorsebatterystaple",
        "correct horse battery staple",
    }
)

_HASHER = PasswordHasher(
    time_cost=TIME_COST,
    memory_cost=MEMORY_COST_KIB,
    parallelism=PARALLELISM,
    hash_len=HASH_BYTES,
    salt_len=SALT_BYTES,
    type=Type.ID,
)


class UnableToSetPassphrase(ValueError):
    """A new passphrase that is refused; the message says why without repeating it."""


@dataclass(frozen=True, slots=True)
class Verified:
    """The outcome of a verification: whether it matched, and a hash to store instead."""

    ok: bool
    new_hash: str | None = None  # set when the stored hash used other parameters


def production_hasher() -> PasswordHasher:
    """The hasher every stored passphrase is made with."""
    return _HASHER


def hash_passphrase(passphrase: str) -> str:
    """The argon2id PHC string of `passphrase` (after NFKC), with a fresh salt."""
    return _HASHER.hash(_normalised(passphrase))


def verify_passphrase(stored_hash: str | None, passphrase: str) -> Verified:
    """Whether `passphrase` matches `stored_hash`; None (no such account) never matches.

    Either way one argon2id verification is done, so that an unknown account
    answers in the time a known one does.
    """
    if stored_hash is None:
        _verify(_dummy_hash(), passphrase)
        return Verified(ok=False)
    if not _verify(stored_hash, passphrase):
        return Verified(ok=False)
    if _HASHER.check_needs_rehash(stored_hash):
        return Verified(ok=True, new_hash=hash_passphrase(passphrase))
    return Verified(ok=True)


def check_new_passphrase(passphrase: str, *, handle: str | None = None) -> str:
    """`passphrase` if it may be set, else raise UnableToSetPassphrase saying why.

    At least 12 characters (any characters, spaces too), at most 256, not one
    character repeated, not on the list of common long passwords, and not
    containing the household's handle.
    """
    text = _normalised(passphrase)
    if len(text) < MIN_LENGTH:
        raise UnableToSetPassphrase(
            f"a passphrase needs at least {MIN_LENGTH} characters; several words are easiest "
            f"to remember (this one has {len(text)})"
        )
    if len(text) > MAX_LENGTH:
        raise UnableToSetPassphrase(f"a passphrase has at most {MAX_LENGTH} characters")
    if len(set(text)) == 1:
        raise UnableToSetPassphrase("a passphrase of one character repeated is too easy to guess")
    if text.casefold() in COMMON_LONG_PASSWORDS:
        raise UnableToSetPassphrase(
            "that passphrase is among the most common ones and is guessed first; choose another"
        )
    if handle and handle.casefold() in text.casefold():
        raise UnableToSetPassphrase("a passphrase must not contain the household's handle")
    return passphrase


def generate_passphrase() -> str:
    """A random passphrase of 25 characters (125 bits) in five groups, for a new staff account."""
    alphabet = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford's base32: no i, l, o, u
    groups = ("".join(secrets.choice(alphabet) for _ in range(5)) for _ in range(5))
    return "-".join(groups)


def _verify(stored_hash: str, passphrase: str) -> bool:
    try:
        return _HASHER.verify(stored_hash, _normalised(passphrase))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """A hash under the production parameters of a random passphrase nobody knows."""
    return _HASHER.hash(secrets.token_urlsafe(24))


def _normalised(passphrase: str) -> str:
    return unicodedata.normalize("NFKC", passphrase)
