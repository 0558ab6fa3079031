"""Server-side sessions: the cookie carries a random token, the table its digest.

Sign-in (staff passphrase, household passkey or passphrase) ends in
`start_session`; authentication (`openamr.guard.authn`) finds the session by
the digest of the cookie's token on every request and applies the limits
below; sign-out and the end of a tenancy end it. A new session is started at
every sign-in, and the one the browser held before is ended (rotation).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from openamr.store import identities
from openamr.store.schema import auth_session

# `__Host-`: the browser sends it only over HTTPS, to this host, for every path.
SESSION_COOKIE = "__Host-openamr"
CSRF_HEADER = "X-CSRF-Token"
# The same token in an HTML form, which cannot set a header (openamr.present.pages.forms).
CSRF_FIELD = "csrf_token"

STAFF_IDLE = timedelta(minutes=30)
STAFF_LIFETIME = timedelta(hours=12)
HOUSEHOLD_IDLE = timedelta(days=7)
HOUSEHOLD_LIFETIME = timedelta(days=30)
# After the passphrase, the TOTP code must follow within this time, or sign in again.
SECOND_FACTOR_WINDOW = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class NewSession:
    """What the browser gets once: the token for the cookie and the CSRF token."""

    token: str
    csrf_token: str
    expires_at: datetime


def token_digest(token: str) -> str:
    """What is stored of a session token (or an access code): its SHA-256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(
    conn: sa.Connection,
    *,
    now: datetime,
    customer_id: int | None,
    staff_account_id: int | None = None,
    household_id: int | None = None,
    second_factor_done: bool,
    replacing: str | None = None,
) -> NewSession:
    """A new session for one staff account or one household; ends the one it replaces.

    `replacing` is the token of the session the browser held before signing
    in, if any. `second_factor_done` is False while a staff account's TOTP
    code is still due; such a session authenticates nobody until it is given.
    """
    if (staff_account_id is None) == (household_id is None):
        raise ValueError("a session belongs to exactly one staff account or one household")
    if replacing:
        end_session(conn, replacing, now=now)
    token = secrets.token_urlsafe(32)
    csrf_token = secrets.token_urlsafe(32)
    lifetime = STAFF_LIFETIME if staff_account_id is not None else HOUSEHOLD_LIFETIME
    expires_at = now + lifetime
    conn.execute(
        auth_session.insert().values(
            token_hash=token_digest(token),
            customer_id=customer_id,
            staff_account_id=staff_account_id,
            household_id=household_id,
            csrf_token=csrf_token,
            created_at=now,
            last_seen_at=now,
            expires_at=expires_at,
            second_factor_at=now if second_factor_done else None,
        )
    )
    return NewSession(token=token, csrf_token=csrf_token, expires_at=expires_at)


def end_session(conn: sa.Connection, token: str, *, now: datetime) -> None:
    """End the session of `token`, if it is one and still open."""
    conn.execute(
        auth_session.update()
        .where(auth_session.c.token_hash == token_digest(token), auth_session.c.ended_at.is_(None))
        .values(ended_at=now)
    )


def end_sessions(
    conn: sa.Connection,
    *,
    now: datetime,
    staff_account_id: int | None = None,
    household_id: int | None = None,
    keeping: str | None = None,
) -> int:
    """End every open session of one staff account or one household; how many were ended.

    For a passphrase change or reset, a disabled account, a household whose
    tenancy ended. `keeping` is the token of a session to leave open (the
    one that made the change).
    """
    return identities.end_sessions(
        conn,
        now=now,
        staff_account_id=staff_account_id,
        household_id=household_id,
        keeping_hash=token_digest(keeping) if keeping else None,
    )
