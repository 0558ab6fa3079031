"""Meter keys sealed by envelope encryption under master keys from configuration.

A wireless M-Bus meter's AES-128 key opens everything the meter says, so it
is a secret: it is never stored, logged or answered in clear. Each key gets a
fresh 256-bit data key; the meter key is encrypted under the data key, and the
data key under the current master key, both with AES-256-GCM. The associated
data of both binds them to the meter and its customer (and the wrapping to the
master key's id), so a sealed key copied onto another meter's row does not
open. Master keys come from settings (`OPENAMR_MASTER_KEYS`,
`OPENAMR_MASTER_KEY_FILE`), never from the database; rotating one means
re-wrapping the data keys (`rewrap`), which leaves the meter keys' own
ciphertexts as they are.

Small secrets of other kinds (a staff account's TOTP secret) are sealed
directly under the current master key with `seal_secret`: one AES-256-GCM
ciphertext that names its master key and whose associated data binds it to a
purpose and a subject (``staff totp``, the account), so that it opens for
nothing else.

The exceptions::

    KeyringError                  nothing here reveals key material in a message
     ├── UnableToSealKey          not a key of 32 hexadecimal digits (16 bytes)
     │    └── NoMasterKey         no master key is configured
     ├── UnableToOpenKey          unknown master key id, wrong master key, or a row
     │                            moved to another meter or altered
     └── UnableToOpenSecret       the same for a small secret of `seal_secret`
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.engine import Engine

from openamr.settings import MasterKey, Settings
from openamr.store import keys as key_store
from openamr.store.keys import SealedKey

METER_KEY_BYTES = 16  # wireless M-Bus security modes 5 and 7: AES-128
DATA_KEY_BYTES = 32
NONCE_BYTES = 12
# The first byte of both ciphertexts: their layout (nonce, then AES-256-GCM
# ciphertext and tag), so that another layout can be added beside this one.
FORMAT = b"\x01"
# A small secret's blob: this byte, the master key id's length and the id, then
# the nonce and the AES-256-GCM ciphertext and tag.
SECRET_FORMAT = b"\x02"
MAX_SECRET_BYTES = 256
HEX_KEY = re.compile(r"^[0-9A-Fa-f]{32}$")


class KeyringError(Exception):
    """A meter key could not be sealed or opened. Messages never contain key material."""


class UnableToSealKey(KeyringError):
    """A meter key could not be sealed."""


class NoMasterKey(UnableToSealKey):
    """No master key is configured, so no meter key can be sealed."""

    def __init__(self) -> None:
        super().__init__(
            "no master key is configured: set OPENAMR_MASTER_KEYS or OPENAMR_MASTER_KEY_FILE "
            "(docs/operations.md, Meter keys)"
        )


class UnableToOpenKey(KeyringError):
    """A sealed meter key does not open with the configured master keys."""


class UnableToOpenSecret(KeyringError):
    """A sealed secret does not open: unknown or wrong master key, or sealed for another subject."""


def parse_meter_key(text: str) -> bytes:
    """A meter key written as 32 hexadecimal digits. Raises UnableToSealKey, never quoting it."""
    text = text.strip()
    if HEX_KEY.match(text):
        return bytes.fromhex(text)
    if len(text) != 2 * METER_KEY_BYTES:
        raise UnableToSealKey(
            f"key must be {2 * METER_KEY_BYTES} hexadecimal digits (an AES-128 key), "
            f"not {len(text)} characters"
        )
    raise UnableToSealKey(
        f"key must be {2 * METER_KEY_BYTES} hexadecimal digits (0-9, a-f), "
        "and this one has other characters"
    )


class Keyring:
    """The configured master keys; seals, opens and re-wraps meter keys."""

    def __init__(self, master_keys: tuple[MasterKey, ...]) -> None:
        # Only cipher objects are kept, which hold their key without showing it.
        self._ciphers = {master.id: AESGCM(master.key) for master in master_keys}
        self.current_id: str | None = master_keys[0].id if master_keys else None

    @classmethod
    def from_settings(cls, settings: Settings) -> Keyring:
        """The keyring of `settings.master_keys`; the first is current."""
        return cls(settings.master_keys)

    def __repr__(self) -> str:
        return f"Keyring(current={self.current_id!r}, known={sorted(self._ciphers)!r})"

    @property
    def can_seal(self) -> bool:
        """True when a master key is configured."""
        return self.current_id is not None

    def is_current(self, sealed: SealedKey) -> bool:
        """True when `sealed` is wrapped under the current master key."""
        return sealed.master_key_id == self.current_id

    def seal(self, key: bytes, *, meter_id: int, customer_id: int) -> SealedKey:
        """Seal a meter's 16-byte key under a fresh data key and the current master key.

        Raises NoMasterKey when none is configured, UnableToSealKey for a key of
        the wrong length.
        """
        if len(key) != METER_KEY_BYTES:
            raise UnableToSealKey(
                f"a meter key is {METER_KEY_BYTES} bytes (AES-128), not {len(key)}"
            )
        master_id = self._current()
        data_key = AESGCM.generate_key(bit_length=DATA_KEY_BYTES * 8)
        return SealedKey(
            master_key_id=master_id,
            wrapped_data_key=self._wrap(data_key, master_id, meter_id, customer_id),
            sealed_key=_encrypt(AESGCM(data_key), key, _key_context(meter_id, customer_id)),
        )

    def unseal(self, sealed: SealedKey, *, meter_id: int, customer_id: int) -> bytes:
        """The meter key in `sealed`, which must have been sealed for this meter and customer.

        Raises UnableToOpenKey.
        """
        data_key = self._unwrap(sealed, meter_id, customer_id)
        key = _decrypt(AESGCM(data_key), sealed.sealed_key, _key_context(meter_id, customer_id))
        if key is None or len(key) != METER_KEY_BYTES:
            raise UnableToOpenKey(
                f"the key of meter {meter_id} does not open: its sealed key was altered "
                "or belongs to another meter"
            )
        return key

    def rewrap(self, sealed: SealedKey, *, meter_id: int, customer_id: int) -> SealedKey:
        """`sealed` with its data key wrapped under the current master key instead.

        The meter key's ciphertext is kept; only the data key's wrapping changes.
        Raises UnableToOpenKey if it does not open, NoMasterKey if none is configured.
        """
        master_id = self._current()
        data_key = self._unwrap(sealed, meter_id, customer_id)
        return SealedKey(
            master_key_id=master_id,
            wrapped_data_key=self._wrap(data_key, master_id, meter_id, customer_id),
            sealed_key=sealed.sealed_key,
        )

    def seal_secret(self, secret: bytes, *, purpose: str, subject: str) -> bytes:
        """`secret` sealed under the current master key, bound to `purpose` and `subject`.

        `purpose` is a fixed name from the code (``staff totp``); `subject` says
        whose secret it is (an account), so a blob copied to another row does not
        open. Raises NoMasterKey when none is configured, UnableToSealKey for an
        empty or oversized secret or an empty purpose.
        """
        if not 0 < len(secret) <= MAX_SECRET_BYTES:
            raise UnableToSealKey(f"a sealed secret is 1 to {MAX_SECRET_BYTES} bytes")
        if not purpose:
            raise UnableToSealKey("a sealed secret needs a purpose")
        master_id = self._current()
        head = SECRET_FORMAT + bytes([len(master_id)]) + master_id.encode()
        context = _secret_context(master_id, purpose, subject)
        return head + _encrypt(self._ciphers[master_id], secret, context)[1:]

    def unseal_secret(self, blob: bytes, *, purpose: str, subject: str) -> bytes:
        """The secret in `blob`, which must have been sealed for this purpose and subject.

        Raises UnableToOpenSecret.
        """
        master_id = secret_master_key_id(blob)
        cipher = None if master_id is None else self._ciphers.get(master_id)
        if master_id is None or cipher is None:
            raise UnableToOpenSecret(
                f"a {purpose} secret is sealed under a master key that is not configured"
                if master_id is not None
                else f"a {purpose} secret is not a sealed secret"
            )
        body = FORMAT + blob[2 + len(master_id.encode()) :]
        secret = _decrypt(cipher, body, _secret_context(master_id, purpose, subject))
        if secret is None:
            raise UnableToOpenSecret(
                f"a {purpose} secret does not open with master key {master_id!r}: it was "
                "altered, or sealed for another subject or with another key of that id"
            )
        return secret

    def secret_is_current(self, blob: bytes) -> bool:
        """True when `blob` is sealed under the current master key."""
        return secret_master_key_id(blob) == self.current_id

    def _current(self) -> str:
        if self.current_id is None:
            raise NoMasterKey
        return self.current_id

    def _wrap(self, data_key: bytes, master_id: str, meter_id: int, customer_id: int) -> bytes:
        context = _wrap_context(master_id, meter_id, customer_id)
        return _encrypt(self._ciphers[master_id], data_key, context)

    def _unwrap(self, sealed: SealedKey, meter_id: int, customer_id: int) -> bytes:
        cipher = self._ciphers.get(sealed.master_key_id)
        if cipher is None:
            raise UnableToOpenKey(
                f"the key of meter {meter_id} is sealed under master key "
                f"{sealed.master_key_id!r}, which is not configured"
            )
        context = _wrap_context(sealed.master_key_id, meter_id, customer_id)
        data_key = _decrypt(cipher, sealed.wrapped_data_key, context)
        if data_key is None or len(data_key) != DATA_KEY_BYTES:
            raise UnableToOpenKey(
                f"the key of meter {meter_id} does not open with master key "
                f"{sealed.master_key_id!r}: that master key is not the one it was sealed "
                "with, or the row was altered or belongs to another meter"
            )
        return data_key


@dataclass
class RewrapReport:
    """What `rewrap_stored_keys` did."""

    rewrapped: int = 0
    already_current: int = 0
    changed_meanwhile: int = 0  # set again while the re-wrap ran; already under the current key
    unopened: dict[int, str] = field(default_factory=dict)  # meter id: why it did not open


def rewrap_stored_keys(engine: Engine, keyring: Keyring, *, batch: int = 500) -> RewrapReport:
    """Wrap every stored data key under the current master key, `batch` meters a transaction.

    Once `unopened` is empty, no stored key needs any master key but the current
    one. Safe to run again, and beside the API: a key set meanwhile is left as
    it is. Raises NoMasterKey when none is configured.
    """
    if not keyring.can_seal:
        raise NoMasterKey
    report = RewrapReport()
    with engine.connect() as conn:
        stored = key_store.list_all_sealed_keys(conn)
    for start in range(0, len(stored), batch):
        with engine.begin() as conn:
            for item in stored[start : start + batch]:
                if keyring.is_current(item.sealed):
                    report.already_current += 1
                    continue
                try:
                    new = keyring.rewrap(
                        item.sealed, meter_id=item.meter_id, customer_id=item.customer_id
                    )
                except UnableToOpenKey as exc:
                    report.unopened[item.meter_id] = str(exc)
                    continue
                if key_store.replace_wrapping(
                    conn, meter_id=item.meter_id, old=item.sealed, new=new
                ):
                    report.rewrapped += 1
                else:
                    report.changed_meanwhile += 1
    return report


def secret_master_key_id(blob: bytes) -> str | None:
    """The id of the master key a `seal_secret` blob names, or None if it is not one."""
    if len(blob) < 2 or blob[:1] != SECRET_FORMAT:
        return None
    length = blob[1]
    raw = blob[2 : 2 + length]
    if len(raw) != length:
        return None
    try:
        return raw.decode()
    except UnicodeDecodeError:
        return None


def _secret_context(master_id: str, purpose: str, subject: str) -> bytes:
    # Lengths first, so no purpose and subject pair reads as another.
    return (
        f"openamr secret|master {master_id}|{len(purpose)}:{purpose}|{len(subject)}:{subject}"
    ).encode()


def _key_context(meter_id: int, customer_id: int) -> bytes:
    return f"openamr meter key|meter {meter_id}|customer {customer_id}".encode()


def _wrap_context(master_id: str, meter_id: int, customer_id: int) -> bytes:
    return f"openamr data key|master {master_id}|meter {meter_id}|customer {customer_id}".encode()


def _encrypt(cipher: AESGCM, plaintext: bytes, context: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return FORMAT + nonce + cipher.encrypt(nonce, plaintext, context)


def _decrypt(cipher: AESGCM, blob: bytes, context: bytes) -> bytes | None:
    """The plaintext, or None when the blob is not ours or does not authenticate."""
    if len(blob) < 1 + NONCE_BYTES + 16 or blob[:1] != FORMAT:
        return None
    nonce = blob[1 : 1 + NONCE_BYTES]
    try:
        return cipher.decrypt(nonce, blob[1 + NONCE_BYTES :], context)
    except InvalidTag:
        return None
