"""Access codes and households: how whoever lives in an apartment gets in, without a name (P1).

A customer administrator issues an access code for a tenancy (a *letter*,
printed and put in the apartment's letterbox); the household redeems it
once and gets its own credential: a passphrase on a generated handle, or a
passkey. Redeeming the first letter creates the tenancy's household; a later
letter for the same tenancy (a replacement) adds a credential to that same
household, or sets a new passphrase, and never makes a second household. A
signed-in household makes *device* codes on its page to add a passkey on, or
simply sign in from, another device. Nothing personal is asked at any step.

Codes are 24 characters of Crockford's base32 (120 bits; shown in groups of
four, read back ignoring case, spaces, dashes and the letters people mistake
for digits), single use, and expiring: letters after `Settings.access_code_days`
(90 by default), device codes after 15 minutes. Only their SHA-256 is
stored: with more than 112 bits a plain digest is enough (ASVS 5.0 6.5.2).
Issuing a letter revokes the tenancy's letters not yet used (a lost letter
stops working when its replacement is printed), and a device code the
household's unused device codes. A code works only while its tenancy has not
ended: a move ends access (P1b), and a new tenancy's code leads to the new
household, never to the previous one.

The exceptions::

    UnableToIssueAccessCode       no such tenancy for the issuer, or it has ended
    UnableToRedeem                a code that cannot be redeemed as asked
     ├── CodeNotRecognised        malformed, or no code of ours (400)
     ├── CodeNoLongerValid        used, replaced, expired, or its tenancy ended (410)
     └── WrongCredentialForCode   a letter without a credential, a device code with a passphrase
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from openamr.access import AccessContext, Role
from openamr.guard import attempts, passkeys
from openamr.guard.attempts import committed
from openamr.guard.audit import Target, record, record_access
from openamr.guard.passwords import check_new_passphrase, hash_passphrase
from openamr.guard.sessions import NewSession, end_sessions, start_session, token_digest
from openamr.settings import Settings
from openamr.store import identities as store
from openamr.store.identities import AccessCodeRow, HouseholdRow, TenancyRow

LETTER = "letter"
DEVICE = "device"
KINDS = (LETTER, DEVICE)
LETTER_ISSUERS = frozenset({Role.CUSTOMER_ADMIN, Role.OPERATOR})
DEVICE_CODE_LIFETIME = timedelta(minutes=15)

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's base32: no I, L, O, U
CODE_LENGTH = 24  # 120 bits
GROUP = 4
HANDLE_LENGTH = 12  # after the 'h': 60 bits, not guessable, short enough to note down
# Read back as written on paper: the letters people mistake for digits count as those digits.
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})

# Where a household redeems its code: the web page of the web issue. The code
# is not part of the link (a URL is logged and kept by browsers); it is typed.
REDEEM_PATH = "/household"


class UnableToIssueAccessCode(ValueError):
    """An access code that cannot be issued as asked."""


class UnableToRedeem(Exception):
    """An access code that cannot be redeemed as asked."""


class CodeNotRecognised(UnableToRedeem):
    """Not a code at all, or no code of ours."""


class CodeNoLongerValid(UnableToRedeem):
    """A real code that no longer opens anything."""


class WrongCredentialForCode(UnableToRedeem):
    """A code redeemed for a credential it does not give."""


@dataclass(frozen=True, slots=True)
class IssuedCode:
    """An access code, returned once: only its digest is kept."""

    code: str  # grouped for reading, e.g. 7K3Q-DM9X-…
    kind: str
    tenancy_id: int
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Redemption:
    """A redeemed code: the household it opened, and the session it started."""

    household_id: int
    handle: str
    created: bool  # the tenancy's household was made now
    tenancy: TenancyRow
    session: NewSession


@dataclass(frozen=True, slots=True)
class PasskeyRedemption:
    """A redemption waiting for its passkey: the browser's registration options."""

    handle: str
    options: dict[str, Any]


# -- codes -------------------------------------------------------------------------------------


def new_code() -> str:
    """A fresh code of 24 characters (120 bits), ungrouped."""
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def grouped(code: str) -> str:
    """The code in groups of four, as printed: 7K3Q-DM9X-…"""
    return "-".join(code[i : i + GROUP] for i in range(0, len(code), GROUP))


def normalise_code(text: str) -> str | None:
    """The code as stored (upper case, no separators), or None if it cannot be one."""
    if len(text) > 4 * CODE_LENGTH:
        return None
    code = "".join(text.split()).replace("-", "").upper().translate(_READ_AS)
    if len(code) != CODE_LENGTH or any(char not in ALPHABET for char in code):
        return None
    return code


def code_digest(code: str) -> str:
    return token_digest(code)


def new_handle() -> str:
    """A household's handle: 'h' and 12 random base32 characters, lower case."""
    return "h" + "".join(secrets.choice(ALPHABET) for _ in range(HANDLE_LENGTH)).lower()


def normalise_handle(text: str) -> str:
    """A handle as typed: case, spaces and dashes do not matter."""
    return "".join(text.split()).replace("-", "").lower().translate(str.maketrans("oil", "011"))


def issue_access_code(
    conn: sa.Connection,
    *,
    tenancy_id: int,
    issued_by: AccessContext,
    now: datetime,
    kind: str,
    valid_for: timedelta | None = None,
) -> IssuedCode:
    """A new access code for the tenancy, returned once; written to the audit log.

    A letter is issued by customer staff or the operator (valid for
    `valid_for`, 90 days unless said otherwise), a device code by the
    tenancy's own household (15 minutes). The tenancy is looked up within
    what `issued_by` may see. Raises UnableToIssueAccessCode.
    """
    if kind not in KINDS:
        raise UnableToIssueAccessCode(f"an access code is a {' or a '.join(KINDS)}, not {kind!r}")
    if kind == DEVICE and not issued_by.is_household:
        raise UnableToIssueAccessCode("device codes are made by the household on its own page")
    if kind == LETTER and issued_by.role not in LETTER_ISSUERS:
        raise UnableToIssueAccessCode("letters are issued by the customer's administrators")
    tenancy = store.get_tenancy(conn, tenancy_id=tenancy_id, access=issued_by)
    if tenancy is None:
        raise UnableToIssueAccessCode(f"no tenancy {tenancy_id}")
    if tenancy.ended_by(now):
        raise UnableToIssueAccessCode(f"tenancy {tenancy_id} has ended; a code would open nothing")
    if kind == DEVICE and store.find_household_by_tenancy(conn, tenancy_id=tenancy_id) is None:
        raise UnableToIssueAccessCode("the tenancy has no household yet")
    if valid_for is not None:
        lifetime = valid_for
    else:
        lifetime = DEVICE_CODE_LIFETIME if kind == DEVICE else timedelta(days=90)
    if lifetime <= timedelta(0):
        raise UnableToIssueAccessCode("an access code must be valid for some time")
    store.revoke_unused_codes(conn, tenancy_id=tenancy.id, kind=kind, now=now)
    code = new_code()
    expires_at = now + lifetime
    store.insert_access_code(
        conn,
        customer_id=tenancy.customer_id,
        tenancy_id=tenancy.id,
        kind=kind,
        code_hash=code_digest(code),
        issued_by=issued_by.actor,
        now=now,
        expires_at=expires_at,
    )
    record_access(conn, issued_by, action=f"access_code.issue_{kind}", now=now, target=_of(tenancy))
    return IssuedCode(code=grouped(code), kind=kind, tenancy_id=tenancy.id, expires_at=expires_at)


def issue_device_code(engine: Engine, *, access: AccessContext, now: datetime) -> IssuedCode:
    """A device code for the signed-in household's own tenancy."""
    if access.tenancy is None or not access.is_household:
        raise UnableToIssueAccessCode("only a signed-in household makes device codes")
    with engine.begin() as conn:
        return issue_access_code(
            conn, tenancy_id=access.tenancy.tenancy_id, issued_by=access, now=now, kind=DEVICE
        )


# -- redemption --------------------------------------------------------------------------------


def redeem_with_passphrase(
    engine: Engine,
    *,
    settings: Settings,
    code: str,
    passphrase: str,
    address: str,
    now: datetime,
    replacing: str | None = None,
) -> Redemption:
    """Redeem a letter: the household gets (or replaces) its passphrase, and a session.

    A replaced passphrase ends the household's other sessions. Raises
    UnableToRedeem, UnableToSetPassphrase, TooManyAttempts.
    """
    check_new_passphrase(passphrase)
    # A code that opens nothing is refused before the slow hash, which is then
    # made outside any transaction; the code is checked again when it is used.
    committed(
        engine,
        lambda conn: _open_code(conn, settings=settings, code=code, address=address, now=now),
    )
    new_hash = hash_passphrase(passphrase)

    def work(conn: sa.Connection) -> Redemption | Exception:
        opened = _open_code(conn, settings=settings, code=code, address=address, now=now)
        if isinstance(opened, Exception):
            return opened
        row, tenancy = opened
        if row.kind != LETTER:
            return WrongCredentialForCode(
                "a device code adds a passkey or signs in; a passphrase is set with a letter"
            )
        if not store.use_access_code(conn, code_id=row.id, now=now):
            return CodeNoLongerValid("this access code has just been used")
        home, created = _household_for(conn, tenancy, now=now)
        store.set_household_passphrase_hash(conn, household_id=home.id, passphrase_hash=new_hash)
        if not created:
            # A new passphrase locks out whoever knew the old one.
            end_sessions(conn, now=now, household_id=home.id)
        actor = f"household:{home.id}"
        _household_event(conn, actor, "access_code.redeem", tenancy, now)
        _household_event(conn, actor, "credential.passphrase_set", tenancy, now)
        session = _start(conn, home, now=now, replacing=replacing)
        return Redemption(home.id, home.handle, created, tenancy, session)

    return committed(engine, work)


def redeem_for_session(
    engine: Engine,
    *,
    settings: Settings,
    code: str,
    address: str,
    now: datetime,
    replacing: str | None = None,
) -> Redemption:
    """Redeem a device code to sign in on this device. Raises UnableToRedeem, TooManyAttempts."""

    def work(conn: sa.Connection) -> Redemption | Exception:
        opened = _open_code(conn, settings=settings, code=code, address=address, now=now)
        if isinstance(opened, Exception):
            return opened
        row, tenancy = opened
        if row.kind != DEVICE:
            return WrongCredentialForCode(
                "a letter's code gives the household a passphrase or a passkey; choose one"
            )
        home = store.find_household_by_tenancy(conn, tenancy_id=tenancy.id)
        if home is None or not store.use_access_code(conn, code_id=row.id, now=now):
            return CodeNoLongerValid("this access code has just been used")
        _household_event(conn, f"household:{home.id}", "access_code.redeem", tenancy, now)
        session = _start(conn, home, now=now, replacing=replacing)
        return Redemption(home.id, home.handle, False, tenancy, session)

    return committed(engine, work)


def begin_passkey_redemption(
    engine: Engine, *, settings: Settings, code: str, address: str, now: datetime
) -> PasskeyRedemption:
    """Start registering a passkey with a letter or device code; the code is not used up yet.

    The tenancy's household is made now if it has none, without a credential:
    the code is used up only when the passkey is verified
    (`finish_passkey_redemption`), so an interrupted registration can be
    started again with the same code. Raises UnableToRedeem, TooManyAttempts.
    """

    def work(conn: sa.Connection) -> PasskeyRedemption | Exception:
        opened = _open_code(conn, settings=settings, code=code, address=address, now=now)
        if isinstance(opened, Exception):
            return opened
        row, tenancy = opened
        home, _created = _household_for(conn, tenancy, now=now)
        challenge = passkeys.begin_challenge(
            conn,
            purpose=passkeys.REGISTER,
            now=now,
            customer_id=home.customer_id,
            household_id=home.id,
            access_code_id=row.id,
        )
        options = passkeys.registration_options(
            settings,
            handle=home.handle,
            challenge=challenge,
            exclude=store.list_credential_ids(conn, household_id=home.id),
        )
        return PasskeyRedemption(handle=home.handle, options=options)

    return committed(engine, work)


def finish_passkey_redemption(
    engine: Engine,
    *,
    settings: Settings,
    credential: Mapping[str, Any],
    address: str,
    now: datetime,
    replacing: str | None = None,
) -> Redemption:
    """Verify the passkey registered with a code, use the code up, and start a session.

    Raises UnableToVerifyPasskey, UnableToRedeem, TooManyAttempts.
    """

    def work(conn: sa.Connection) -> Redemption | Exception:
        keys = attempts.attempt_keys(settings, kind="code", account="passkey", address=address)
        refused = attempts.refusal(conn, keys, settings=settings, now=now, check_account=False)
        if refused is not None:
            return refused
        try:
            challenge_row, challenge = passkeys.take_challenge(
                conn, credential, purpose=passkeys.REGISTER, now=now
            )
        except passkeys.UnableToVerifyPasskey as exc:
            attempts.record(conn, keys, succeeded=False, now=now)
            return exc
        if challenge_row.access_code_id is None or challenge_row.household_id is None:
            return passkeys.UnableToVerifyPasskey(
                "this passkey request was made from a household's page, not with an access code"
            )
        row = store.get_access_code(conn, code_id=challenge_row.access_code_id)
        home = store.get_household(conn, household_id=challenge_row.household_id)
        tenancy = None if row is None else store.tenancy_of(conn, tenancy_id=row.tenancy_id)
        if row is None or home is None or tenancy is None:
            return CodeNotRecognised("the access code of this passkey request no longer exists")
        invalid = _why_invalid(row, tenancy, now=now)
        if invalid is not None:
            return invalid
        try:
            new = passkeys.verify_registration(settings, credential, challenge=challenge)
        except passkeys.UnableToVerifyPasskey as exc:
            attempts.record(conn, keys, succeeded=False, now=now)
            return exc
        if not store.use_access_code(conn, code_id=row.id, now=now):
            return CodeNoLongerValid("this access code has just been used")
        if store.find_passkey(conn, credential_id=new.credential_id) is not None:
            return passkeys.UnableToVerifyPasskey("this passkey is registered already")
        store.insert_passkey(
            conn,
            customer_id=home.customer_id,
            household_id=home.id,
            credential_id=new.credential_id,
            public_key=new.public_key,
            sign_count=new.sign_count,
            now=now,
        )
        actor = f"household:{home.id}"
        _household_event(conn, actor, "access_code.redeem", tenancy, now)
        _household_event(conn, actor, "credential.passkey_add", tenancy, now)
        session = _start(conn, home, now=now, replacing=replacing)
        return Redemption(home.id, home.handle, False, tenancy, session)

    return committed(engine, work)


def begin_passkey_addition(
    engine: Engine, *, settings: Settings, access: AccessContext, now: datetime
) -> dict[str, Any]:
    """Registration options for a passkey the signed-in household adds from its page."""
    home = _own_household(engine, access)
    with engine.begin() as conn:
        challenge = passkeys.begin_challenge(
            conn,
            purpose=passkeys.REGISTER,
            now=now,
            customer_id=home.customer_id,
            household_id=home.id,
        )
        return passkeys.registration_options(
            settings,
            handle=home.handle,
            challenge=challenge,
            exclude=store.list_credential_ids(conn, household_id=home.id),
        )


def finish_passkey_addition(
    engine: Engine,
    *,
    settings: Settings,
    access: AccessContext,
    credential: Mapping[str, Any],
    now: datetime,
) -> None:
    """Keep a passkey the signed-in household registered. Raises UnableToVerifyPasskey."""
    home = _own_household(engine, access)

    def work(conn: sa.Connection) -> Exception | None:
        try:
            challenge_row, challenge = passkeys.take_challenge(
                conn, credential, purpose=passkeys.REGISTER, now=now
            )
            if challenge_row.household_id != home.id or challenge_row.access_code_id is not None:
                raise passkeys.UnableToVerifyPasskey(
                    "this passkey request was not made from this household's page"
                )
            new = passkeys.verify_registration(settings, credential, challenge=challenge)
        except passkeys.UnableToVerifyPasskey as exc:
            return exc
        if store.find_passkey(conn, credential_id=new.credential_id) is not None:
            return passkeys.UnableToVerifyPasskey("this passkey is registered already")
        store.insert_passkey(
            conn,
            customer_id=home.customer_id,
            household_id=home.id,
            credential_id=new.credential_id,
            public_key=new.public_key,
            sign_count=new.sign_count,
            now=now,
        )
        record_access(conn, access, action="credential.passkey_add", now=now, target=_scope(access))
        return None

    committed(engine, work)


# -- the parts ---------------------------------------------------------------------------------


def _open_code(
    conn: sa.Connection, *, settings: Settings, code: str, address: str, now: datetime
) -> tuple[AccessCodeRow, TenancyRow] | Exception:
    """The code's row and tenancy if it may be redeemed now; else the refusal to answer.

    Failures are counted against the client's address (a code has 120 bits,
    so this stops nobody honest and slows anyone trying codes at random).
    """
    normalised = normalise_code(code)
    digest = code_digest(normalised) if normalised else "malformed"
    keys = attempts.attempt_keys(settings, kind="code", account=digest, address=address)
    refused = attempts.refusal(conn, keys, settings=settings, now=now, check_account=False)
    if refused is not None:
        return refused
    row = None if normalised is None else store.find_access_code(conn, code_hash=digest)
    tenancy = None if row is None else store.tenancy_of(conn, tenancy_id=row.tenancy_id)
    if row is None or tenancy is None:
        attempts.record(conn, keys, succeeded=False, now=now)
        record(
            conn,
            actor="anonymous",
            role="anonymous",
            action="access_code.redeem_failed",
            now=now,
            outcome="denied",
        )
        if normalised is None:
            return CodeNotRecognised(
                f"an access code is {CODE_LENGTH} letters and digits, as printed on the letter"
            )
        return CodeNotRecognised("no access code matches; check it against the letter")
    invalid = _why_invalid(row, tenancy, now=now)
    if invalid is not None:
        attempts.record(conn, keys, succeeded=False, now=now)
        record(
            conn,
            actor="anonymous",
            role="anonymous",
            action="access_code.redeem_failed",
            now=now,
            target=_of(tenancy),
            outcome="denied",
        )
        return invalid
    return row, tenancy


def _why_invalid(row: AccessCodeRow, tenancy: TenancyRow, *, now: datetime) -> Exception | None:
    if tenancy.ended_by(now):
        return CodeNoLongerValid(
            "the tenancy this access code was issued for has ended; it opens nothing any more"
        )
    if row.used_at is not None:
        return CodeNoLongerValid(
            "this access code has been used already; sign in with your passkey or passphrase, "
            "or ask your landlord for a new letter"
        )
    if row.revoked_at is not None:
        return CodeNoLongerValid(
            "this access code was replaced by a newer one; use the code of the newest letter"
            if row.kind == LETTER
            else "this device code was replaced by a newer one; use the newest"
        )
    if row.expires_at <= now:
        return CodeNoLongerValid(
            f"this access code expired on {row.expires_at.date().isoformat()}; "
            "ask your landlord for a new letter"
            if row.kind == LETTER
            else "this device code has expired; make a new one on your page"
        )
    return None


def _household_for(
    conn: sa.Connection, tenancy: TenancyRow, *, now: datetime
) -> tuple[HouseholdRow, bool]:
    """The tenancy's household, made now (with a new handle and no credential) if it has none."""
    found = store.find_household_by_tenancy(conn, tenancy_id=tenancy.id)
    if found is not None:
        return found, False
    handle = new_handle()
    household_id = store.insert_household(
        conn, customer_id=tenancy.customer_id, tenancy_id=tenancy.id, handle=handle, now=now
    )
    _household_event(conn, f"household:{household_id}", "household.create", tenancy, now)
    return HouseholdRow(household_id, tenancy.customer_id, tenancy.id, handle, None), True


def _own_household(engine: Engine, access: AccessContext) -> HouseholdRow:
    household_id = principal_id(access, "household")
    with engine.connect() as conn:
        home = (
            None if household_id is None else store.get_household(conn, household_id=household_id)
        )
    if home is None or access.tenancy is None or home.tenancy_id != access.tenancy.tenancy_id:
        raise passkeys.UnableToVerifyPasskey("only a signed-in household adds passkeys to itself")
    return home


def principal_id(access: AccessContext, kind: str) -> int | None:
    """The id in an actor such as ``household:7``, if the actor is of that kind."""
    prefix, _, number = access.actor.partition(":")
    return int(number) if prefix == kind and number.isdigit() else None


def _start(
    conn: sa.Connection, home: HouseholdRow, *, now: datetime, replacing: str | None
) -> NewSession:
    session = start_session(
        conn,
        now=now,
        customer_id=home.customer_id,
        household_id=home.id,
        second_factor_done=True,
        replacing=replacing,
    )
    tenancy = store.tenancy_of(conn, tenancy_id=home.tenancy_id)
    if tenancy is not None:
        _household_event(conn, f"household:{home.id}", "session.sign_in", tenancy, now)
    return session


def _household_event(
    conn: sa.Connection, actor: str, action: str, tenancy: TenancyRow, now: datetime
) -> None:
    record(
        conn, actor=actor, role=Role.HOUSEHOLD.value, action=action, now=now, target=_of(tenancy)
    )


def _of(tenancy: TenancyRow) -> Target:
    return Target(
        customer_id=tenancy.customer_id,
        property_id=tenancy.property_id,
        apartment_id=tenancy.apartment_id,
        tenancy_id=tenancy.id,
    )


def _scope(access: AccessContext) -> Target:
    if access.tenancy is None:
        return Target()
    return Target(
        customer_id=access.tenancy.customer_id,
        apartment_id=access.tenancy.apartment_id,
        tenancy_id=access.tenancy.tenancy_id,
    )
