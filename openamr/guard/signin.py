"""Signing in: staff by e-mail, passphrase and TOTP; households by handle and passphrase or passkey.

Every way in ends in `openamr.guard.sessions.start_session`, which rotates
the browser's session (the one it held before is ended). A staff account
with a TOTP secret (every platform account has one) gets a session that
authenticates nobody until the code is given (`give_second_factor`), which
rotates the session once more. A wrong passphrase and an unknown account
get the same answer, after the same argon2id work; a disabled account is
an unknown one. Failures count towards the limits of `openamr.guard.attempts`.

Each sign-in, failed sign-in and sign-out is an audit event. A failure on
an account that exists names it (``staff:12``); one on an account that does
not is ``anonymous``: what was typed is never written anywhere.

The exceptions::

    UnableToSignIn               401: wrong credentials (one message for all), or no
                                 second factor due
    SignInClosed                 403: right credentials, but the tenancy has ended
    SecondFactorUnavailable      503: the TOTP secret's master key is not configured
    TooManyAttempts              429 (openamr.guard.attempts)
    UnableToVerifyPasskey        400 (openamr.guard.passkeys)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from openamr.access import PLATFORM_ROLES, Role
from openamr.guard import attempts, passkeys, totp
from openamr.guard.attempts import committed
from openamr.guard.audit import Target, record
from openamr.guard.households import normalise_handle
from openamr.guard.keyring import Keyring, UnableToOpenSecret
from openamr.guard.passwords import verify_passphrase
from openamr.guard.sessions import (
    SECOND_FACTOR_WINDOW,
    NewSession,
    end_session,
    start_session,
    token_digest,
)
from openamr.settings import Settings
from openamr.store import identities as store
from openamr.store.identities import StaffAccountRow, TenancyRow

STAFF_REFUSAL = "the e-mail address or the passphrase is wrong"
HOUSEHOLD_REFUSAL = "the handle or the passphrase is wrong"
MAX_EMAIL_LENGTH = 254


class UnableToSignIn(Exception):
    """The credentials do not sign anyone in; the message never says which part was wrong."""


class SignInClosed(Exception):
    """The credentials are right, but their holder may no longer sign in (a tenancy ended)."""


class SecondFactorUnavailable(Exception):
    """The account's TOTP secret cannot be opened with the configured master keys."""


@dataclass(frozen=True, slots=True)
class StaffSignIn:
    staff_account_id: int
    role: Role
    customer_id: int | None
    totp_due: bool  # the session authenticates only after the TOTP code
    session: NewSession


@dataclass(frozen=True, slots=True)
class HouseholdSignIn:
    household_id: int
    handle: str
    tenancy: TenancyRow
    session: NewSession


def normalise_email(text: str) -> str:
    """An e-mail address as stored: trimmed and lower-cased."""
    return text.strip().lower()


# -- staff -------------------------------------------------------------------------------------


def sign_in_staff(
    engine: Engine,
    *,
    settings: Settings,
    email: str,
    passphrase: str,
    address: str,
    now: datetime,
    replacing: str | None = None,
) -> StaffSignIn:
    """Check a staff member's e-mail and passphrase and start a session.

    Raises UnableToSignIn (one message whatever was wrong), TooManyAttempts.
    """
    email = normalise_email(email)[: MAX_EMAIL_LENGTH + 1]
    keys = attempts.attempt_keys(settings, kind="staff", account=email, address=address)
    # Reads, then the slow hash outside any transaction, then the writes.
    with engine.connect() as conn:
        refused = attempts.refusal(conn, keys, settings=settings, now=now)
        account = store.find_staff_by_email(conn, email) if _plain(email) else None
    if account is not None and account.disabled_at is not None and account.disabled_at <= now:
        account = None
    if refused is not None:
        with engine.begin() as conn:
            _staff_failure(conn, account, now=now, outcome="denied")
        raise refused
    verified = verify_passphrase(account.passphrase_hash if account else None, passphrase)

    def work(conn: sa.Connection) -> StaffSignIn | Exception:
        attempts.record(conn, keys, succeeded=verified.ok, now=now)
        if account is None or not verified.ok:
            _staff_failure(conn, account, now=now, outcome="failed")
            return UnableToSignIn(STAFF_REFUSAL)
        role = Role(account.role)
        if role in PLATFORM_ROLES and account.totp_secret is None:
            # The schema forbids this; should a row ever lack it, it opens nothing.
            _staff_failure(conn, account, now=now, outcome="failed")
            return UnableToSignIn(STAFF_REFUSAL)
        if verified.new_hash is not None:
            store.set_staff_passphrase_hash(
                conn, staff_account_id=account.id, passphrase_hash=verified.new_hash
            )
        totp_due = account.totp_secret is not None
        session = start_session(
            conn,
            now=now,
            customer_id=account.customer_id,
            staff_account_id=account.id,
            second_factor_done=not totp_due,
            replacing=replacing,
        )
        _staff_event(
            conn, account, "session.passphrase_ok" if totp_due else "session.sign_in", now=now
        )
        return StaffSignIn(account.id, role, account.customer_id, totp_due, session)

    return committed(engine, work)


def give_second_factor(
    engine: Engine,
    *,
    settings: Settings,
    keyring: Keyring,
    token: str | None,
    code: str,
    address: str,
    now: datetime,
) -> StaffSignIn:
    """Check the TOTP code for the half-signed-in session of `token`; a new session if right.

    Raises UnableToSignIn (no such session waiting, or a wrong or used code),
    TooManyAttempts, SecondFactorUnavailable.
    """
    with engine.connect() as conn:
        session = None if not token else store.find_session(conn, token_hash=token_digest(token))
        account = (
            None
            if session is None or session.staff_account_id is None
            else store.get_staff_account(conn, session.staff_account_id)
        )
        if (
            session is None
            or account is None
            or account.totp_secret is None
            or session.second_factor_at is not None
            or session.ended_at is not None
            or session.expires_at <= now
            or now - session.created_at > SECOND_FACTOR_WINDOW
            or (account.disabled_at is not None and account.disabled_at <= now)
        ):
            raise UnableToSignIn(
                "no sign-in is waiting for a code (or it waited more than "
                f"{int(SECOND_FACTOR_WINDOW.total_seconds() // 60)} minutes): "
                "sign in with your e-mail address and passphrase first"
            )
        keys = attempts.attempt_keys(settings, kind="staff", account=account.email, address=address)
        refused = attempts.refusal(conn, keys, settings=settings, now=now)
    if refused is not None:
        raise refused
    staff, sealed = account, account.totp_secret  # narrowed, for the closure below
    try:
        secret = totp.unseal(keyring, sealed, email=staff.email)
    except UnableToOpenSecret as exc:
        raise SecondFactorUnavailable(
            "the second factor cannot be checked: its master key is not configured"
        ) from exc
    step = totp.matching_step(secret, code, now=now, last_step=staff.totp_last_step)
    pending_token = token or ""

    def work(conn: sa.Connection) -> StaffSignIn | Exception:
        accepted = step is not None and store.advance_totp_step(
            conn, staff_account_id=staff.id, step=step
        )
        attempts.record(conn, keys, succeeded=accepted, now=now)
        if not accepted:
            _staff_failure(conn, staff, now=now, outcome="failed")
            return UnableToSignIn(
                "the code is wrong, or was used already: wait for the next one and try again"
            )
        if keyring.can_seal and not keyring.secret_is_current(sealed):
            # Moved to the current master key as it is used, so old keys can be retired.
            store.set_staff_totp_secret(
                conn,
                staff_account_id=staff.id,
                sealed=totp.seal(keyring, secret, email=staff.email),
                new_secret=False,
            )
        session = start_session(
            conn,
            now=now,
            customer_id=staff.customer_id,
            staff_account_id=staff.id,
            second_factor_done=True,
            replacing=pending_token,
        )
        _staff_event(conn, staff, "session.sign_in", now=now)
        return StaffSignIn(staff.id, Role(staff.role), staff.customer_id, False, session)

    return committed(engine, work)


# -- households --------------------------------------------------------------------------------


def sign_in_household(
    engine: Engine,
    *,
    settings: Settings,
    handle: str,
    passphrase: str,
    address: str,
    now: datetime,
    replacing: str | None = None,
) -> HouseholdSignIn:
    """Check a household's handle and passphrase and start a session.

    Raises UnableToSignIn (one message whatever was wrong), SignInClosed
    (the tenancy has ended), TooManyAttempts.
    """
    handle = normalise_handle(handle)[:64]
    keys = attempts.attempt_keys(settings, kind="household", account=handle, address=address)
    with engine.connect() as conn:
        refused = attempts.refusal(conn, keys, settings=settings, now=now)
        home = store.find_household_by_handle(conn, handle=handle) if _plain(handle) else None
        tenancy = None if home is None else store.tenancy_of(conn, tenancy_id=home.tenancy_id)
    if refused is not None:
        with engine.begin() as conn:
            _household_failure(conn, home, tenancy, now=now, outcome="denied")
        raise refused
    verified = verify_passphrase(home.passphrase_hash if home else None, passphrase)

    def work(conn: sa.Connection) -> HouseholdSignIn | Exception:
        attempts.record(conn, keys, succeeded=verified.ok, now=now)
        if home is None or tenancy is None or not verified.ok:
            _household_failure(conn, home, tenancy, now=now, outcome="failed")
            return UnableToSignIn(HOUSEHOLD_REFUSAL)
        if tenancy.ended_by(now):
            _household_failure(conn, home, tenancy, now=now, outcome="denied")
            return SignInClosed("this household's tenancy has ended, and with it its sign-in (P1b)")
        if verified.new_hash is not None:
            store.set_household_passphrase_hash(
                conn, household_id=home.id, passphrase_hash=verified.new_hash
            )
        session = _household_session(conn, home.id, home.customer_id, now, replacing)
        _household_event(conn, home.id, tenancy, "session.sign_in", now=now)
        return HouseholdSignIn(home.id, home.handle, tenancy, session)

    return committed(engine, work)


def begin_passkey_sign_in(engine: Engine, *, settings: Settings, now: datetime) -> dict[str, Any]:
    """The options for signing in with any of this site's passkeys (no handle needed)."""
    with engine.begin() as conn:
        challenge = passkeys.begin_challenge(conn, purpose=passkeys.AUTHENTICATE, now=now)
    return passkeys.authentication_options(settings, challenge=challenge)


def sign_in_with_passkey(
    engine: Engine,
    *,
    settings: Settings,
    credential: Mapping[str, Any],
    address: str,
    now: datetime,
    replacing: str | None = None,
) -> HouseholdSignIn:
    """Verify a household's passkey answer and start a session.

    Raises UnableToVerifyPasskey, SignInClosed, TooManyAttempts.
    """
    keys = attempts.attempt_keys(settings, kind="passkey", account="passkey", address=address)

    def work(conn: sa.Connection) -> HouseholdSignIn | Exception:
        refused = attempts.refusal(conn, keys, settings=settings, now=now, check_account=False)
        if refused is not None:
            return refused
        try:
            _row, challenge = passkeys.take_challenge(
                conn, credential, purpose=passkeys.AUTHENTICATE, now=now
            )
            found = store.find_passkey(conn, credential_id=passkeys.credential_id_of(credential))
            home = (
                None
                if found is None
                else store.get_household(conn, household_id=found.household_id)
            )
            if found is None or home is None:
                raise passkeys.UnableToVerifyPasskey("this passkey is not registered with openamr")
            named = passkeys.user_handle_of(credential)
            if named is not None and named != home.handle:
                raise passkeys.UnableToVerifyPasskey("this passkey belongs to another household")
            sign_count = passkeys.verify_authentication(
                settings,
                credential,
                challenge=challenge,
                public_key=found.public_key,
                sign_count=found.sign_count,
            )
        except passkeys.UnableToVerifyPasskey as exc:
            attempts.record(conn, keys, succeeded=False, now=now)
            record(
                conn,
                actor="anonymous",
                role="anonymous",
                action="session.sign_in_failed",
                now=now,
                outcome="failed",
            )
            return exc
        tenancy = store.tenancy_of(conn, tenancy_id=home.tenancy_id)
        if tenancy is None or tenancy.ended_by(now):
            _household_failure(conn, home, tenancy, now=now, outcome="denied")
            return SignInClosed("this household's tenancy has ended, and with it its sign-in")
        if not store.record_passkey_use(
            conn,
            passkey_id=found.id,
            old_sign_count=found.sign_count,
            sign_count=sign_count,
            now=now,
        ):
            return passkeys.UnableToVerifyPasskey("this passkey was used at the same moment")
        attempts.record(conn, keys, succeeded=True, now=now)
        session = _household_session(conn, home.id, home.customer_id, now, replacing)
        _household_event(conn, home.id, tenancy, "session.sign_in", now=now)
        return HouseholdSignIn(home.id, home.handle, tenancy, session)

    return committed(engine, work)


# -- signing out -------------------------------------------------------------------------------


def sign_out(engine: Engine, *, token: str, now: datetime) -> bool:
    """End the session of `token`; False if it was none or had ended already."""
    with engine.begin() as conn:
        session = store.find_session(conn, token_hash=token_digest(token))
        if session is None or session.ended_at is not None:
            return False
        end_session(conn, token, now=now)
        if session.staff_account_id is not None:
            account = store.get_staff_account(conn, session.staff_account_id)
            if account is not None:
                _staff_event(conn, account, "session.sign_out", now=now)
        elif session.household_id is not None:
            home = store.get_household(conn, household_id=session.household_id)
            tenancy = None if home is None else store.tenancy_of(conn, tenancy_id=home.tenancy_id)
            if tenancy is not None:
                _household_event(conn, session.household_id, tenancy, "session.sign_out", now=now)
    return True


# -- the parts ---------------------------------------------------------------------------------


def _plain(typed: str) -> bool:
    """Whether what was typed can be looked up at all: no control characters (PostgreSQL
    refuses NUL in text), so a typing accident or a probe is an unknown account, not an error."""
    return not any(ord(char) < 32 or ord(char) == 127 for char in typed)


def _household_session(
    conn: sa.Connection, household_id: int, customer_id: int, now: datetime, replacing: str | None
) -> NewSession:
    return start_session(
        conn,
        now=now,
        customer_id=customer_id,
        household_id=household_id,
        second_factor_done=True,
        replacing=replacing,
    )


def _staff_event(
    conn: sa.Connection, account: StaffAccountRow, action: str, *, now: datetime
) -> None:
    record(
        conn,
        actor=f"staff:{account.id}",
        role=account.role,
        action=action,
        now=now,
        target=Target(customer_id=account.customer_id),
    )


def _staff_failure(
    conn: sa.Connection, account: StaffAccountRow | None, *, now: datetime, outcome: str
) -> None:
    record(
        conn,
        actor="anonymous" if account is None else f"staff:{account.id}",
        role="anonymous" if account is None else account.role,
        action="session.sign_in_failed",
        now=now,
        target=Target(customer_id=None if account is None else account.customer_id),
        outcome=outcome,
    )


def _household_event(
    conn: sa.Connection, household_id: int, tenancy: TenancyRow, action: str, *, now: datetime
) -> None:
    record(
        conn,
        actor=f"household:{household_id}",
        role=Role.HOUSEHOLD.value,
        action=action,
        now=now,
        target=_of(tenancy),
    )


def _household_failure(
    conn: sa.Connection,
    home: store.HouseholdRow | None,
    tenancy: TenancyRow | None,
    *,
    now: datetime,
    outcome: str,
) -> None:
    known = home is not None and tenancy is not None
    record(
        conn,
        actor=f"household:{home.id}" if home is not None and known else "anonymous",
        role=Role.HOUSEHOLD.value if known else "anonymous",
        action="session.sign_in_failed",
        now=now,
        target=_of(tenancy) if tenancy is not None and known else Target(),
        outcome=outcome,
    )


def _of(tenancy: TenancyRow) -> Target:
    return Target(
        customer_id=tenancy.customer_id,
        property_id=tenancy.property_id,
        apartment_id=tenancy.apartment_id,
        tenancy_id=tenancy.id,
    )
