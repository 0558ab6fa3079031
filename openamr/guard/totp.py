"""TOTP second factor (RFC 6238): secrets sealed under the master key, each code accepted once.

A staff account's TOTP secret is 160 random bits (RFC 4226's recommended
length) in base32, shown once as a provisioning URI for an authenticator app
and stored only sealed by the keyring, bound to the account's e-mail address
(`PURPOSE`), so a sealed secret copied to another account's row does not open.
A code is accepted for the current 30-second step and one step either side
(clocks drift, and typing takes time), and only for a step later than the
last one accepted (`totp_last_step`): a code seen over someone's shoulder or
replayed from a log cannot be used again.
"""

from __future__ import annotations

import hmac
import re
from datetime import datetime

import pyotp

from openamr.guard.keyring import Keyring

PURPOSE = "staff totp"
ISSUER = "openamr"
STEP_SECONDS = 30
DIGITS = 6
WINDOW_STEPS = 1  # accept the step before and after the current one
SECRET_BYTES = 20  # 160 bits
CODE = re.compile(r"^[0-9]{6}$")


def new_secret() -> str:
    """A fresh TOTP secret, base32."""
    return pyotp.random_base32(length=SECRET_BYTES * 8 // 5)


def provisioning_uri(secret: str, *, email: str) -> str:
    """The otpauth:// URI an authenticator app reads (from a QR code): it holds the secret."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=email, issuer_name=ISSUER
    )


def seal(keyring: Keyring, secret: str, *, email: str) -> bytes:
    """The secret as stored: sealed under the current master key for this account.

    Raises NoMasterKey when none is configured.
    """
    return keyring.seal_secret(secret.encode("ascii"), purpose=PURPOSE, subject=email)


def unseal(keyring: Keyring, sealed: bytes, *, email: str) -> str:
    """The secret of this account. Raises UnableToOpenSecret."""
    return keyring.unseal_secret(sealed, purpose=PURPOSE, subject=email).decode("ascii")


def step_at(now: datetime) -> int:
    """The 30-second step `now` falls in."""
    return int(now.timestamp()) // STEP_SECONDS


def code_at_step(secret: str, step: int) -> str:
    """The code of `step`, as an authenticator app shows it."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).generate_otp(step)


def matching_step(secret: str, code: str, *, now: datetime, last_step: int | None) -> int | None:
    """The step `code` belongs to, if it is valid now and newer than `last_step`; else None.

    The caller stores the step (`totp_last_step`) so that the code is not
    accepted again.
    """
    code = code.strip().replace(" ", "")
    if not CODE.match(code):
        return None
    current = step_at(now)
    found = None
    # Every step of the window is compared, matching or not, so the time taken
    # does not say which step (if any) matched.
    for step in range(current - WINDOW_STEPS, current + WINDOW_STEPS + 1):
        if hmac.compare_digest(code_at_step(secret, step), code) and (
            last_step is None or step > last_step
        ):
            found = step
    return found
