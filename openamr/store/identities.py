"""Reads and writes of identities: staff accounts, households, access codes, passkeys, attempts.

Lookups that establish who someone is (an e-mail, a handle, a passkey's
credential id, the digest of an access code or session token) are by their
nature not scoped: nobody is known yet. Everything a signed-in caller or the
command line does takes the `AccessContext` and is filtered by its customers
(and a household's by its own tenancy) in SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from openamr.access import AccessContext
from openamr.store.schema import (
    access_code,
    apartment,
    auth_session,
    customer,
    entrance,
    gateway,
    household,
    passkey,
    property_,
    sign_in_attempt,
    staff_account,
    tenancy,
    webauthn_challenge,
)

# -- rows ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StaffAccountRow:
    id: int
    customer_id: int | None
    role: str
    email: str
    passphrase_hash: str
    totp_secret: bytes | None  # sealed
    totp_last_step: int | None
    disabled_at: datetime | None


@dataclass(frozen=True, slots=True)
class TenancyRow:
    """A tenancy and where it is: ids and its period, nothing that names anyone."""

    id: int
    customer_id: int
    property_id: int
    apartment_id: int
    start_at: datetime
    end_at: datetime | None

    def ended_by(self, now: datetime) -> bool:
        """True once the household has moved out."""
        return self.end_at is not None and self.end_at <= now


@dataclass(frozen=True, slots=True)
class HouseholdRow:
    id: int
    customer_id: int
    tenancy_id: int
    handle: str
    passphrase_hash: str | None


@dataclass(frozen=True, slots=True)
class AccessCodeRow:
    id: int
    customer_id: int
    tenancy_id: int
    kind: str
    issued_at: datetime
    expires_at: datetime
    used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class SessionRow:
    token_hash: str
    customer_id: int | None
    staff_account_id: int | None
    household_id: int | None
    csrf_token: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    second_factor_at: datetime | None
    ended_at: datetime | None


@dataclass(frozen=True, slots=True)
class PasskeyRow:
    id: int
    customer_id: int
    household_id: int
    credential_id: bytes
    public_key: bytes
    sign_count: int


@dataclass(frozen=True, slots=True)
class ChallengeRow:
    id: int
    purpose: str
    customer_id: int | None
    household_id: int | None
    access_code_id: int | None
    expires_at: datetime
    used_at: datetime | None


@dataclass(frozen=True, slots=True)
class HouseholdPlace:
    """Where a household lives and for how long, as its own page shows it."""

    customer: str
    property_designation: str
    entrance_address: str
    apartment_number: str
    tenancy_id: int
    start_at: datetime
    end_at: datetime | None


@dataclass(frozen=True, slots=True)
class ApartmentRef:
    id: int
    customer_id: int
    property_id: int
    customer: str
    property_designation: str
    entrance_address: str
    number: str


@dataclass(frozen=True, slots=True)
class GatewayRef:
    id: int
    customer_id: int
    identity: str


def _customers(column: sa.ColumnElement[int], access: AccessContext) -> sa.ColumnElement[bool]:
    if access.customer_ids is None:
        return sa.true()
    return column.in_(sorted(access.customer_ids))


# -- customers ---------------------------------------------------------------------------


def find_customer_id(conn: sa.Connection, *, name: str, access: AccessContext) -> int | None:
    found: int | None = conn.execute(
        sa.select(customer.c.id).where(customer.c.name == name, _customers(customer.c.id, access))
    ).scalar()
    return found


def customer_name(conn: sa.Connection, *, customer_id: int, access: AccessContext) -> str | None:
    found: str | None = conn.execute(
        sa.select(customer.c.name).where(
            customer.c.id == customer_id, _customers(customer.c.id, access)
        )
    ).scalar()
    return found


# -- staff accounts ----------------------------------------------------------------------

_STAFF_COLUMNS = (
    staff_account.c.id,
    staff_account.c.customer_id,
    staff_account.c.role,
    staff_account.c.email,
    staff_account.c.passphrase_hash,
    staff_account.c.totp_secret,
    staff_account.c.totp_last_step,
    staff_account.c.disabled_at,
)


def find_staff_by_email(conn: sa.Connection, email: str) -> StaffAccountRow | None:
    """The account of a (lower-cased) e-mail address, disabled or not; for sign-in."""
    row = conn.execute(sa.select(*_STAFF_COLUMNS).where(staff_account.c.email == email)).first()
    return None if row is None else StaffAccountRow(*row)


def get_staff_account(conn: sa.Connection, staff_account_id: int) -> StaffAccountRow | None:
    row = conn.execute(
        sa.select(*_STAFF_COLUMNS).where(staff_account.c.id == staff_account_id)
    ).first()
    return None if row is None else StaffAccountRow(*row)


def insert_staff_account(
    conn: sa.Connection,
    *,
    customer_id: int | None,
    role: str,
    email: str,
    passphrase_hash: str,
    totp_secret: bytes | None,
    now: datetime,
) -> int:
    new_id: int = conn.execute(
        staff_account.insert()
        .values(
            customer_id=customer_id,
            role=role,
            email=email,
            passphrase_hash=passphrase_hash,
            totp_secret=totp_secret,
            created_at=now,
        )
        .returning(staff_account.c.id)
    ).scalar_one()
    return new_id


def set_staff_passphrase_hash(
    conn: sa.Connection, *, staff_account_id: int, passphrase_hash: str
) -> None:
    conn.execute(
        staff_account.update()
        .where(staff_account.c.id == staff_account_id)
        .values(passphrase_hash=passphrase_hash)
    )


def set_staff_totp_secret(
    conn: sa.Connection, *, staff_account_id: int, sealed: bytes, new_secret: bool
) -> None:
    """Store a sealed TOTP secret; a new secret forgets the last accepted step."""
    values: dict[str, object] = {"totp_secret": sealed}
    if new_secret:
        values["totp_last_step"] = None
    conn.execute(
        staff_account.update().where(staff_account.c.id == staff_account_id).values(**values)
    )


def advance_totp_step(conn: sa.Connection, *, staff_account_id: int, step: int) -> bool:
    """Record `step` as the last accepted; False when it is not newer (a code used twice).

    One conditional UPDATE, so two requests with the same code cannot both pass.
    """
    result = conn.execute(
        staff_account.update()
        .where(
            staff_account.c.id == staff_account_id,
            sa.or_(staff_account.c.totp_last_step.is_(None), staff_account.c.totp_last_step < step),
        )
        .values(totp_last_step=step)
    )
    return result.rowcount == 1


def disable_staff_account(conn: sa.Connection, *, staff_account_id: int, now: datetime) -> None:
    conn.execute(
        staff_account.update()
        .where(staff_account.c.id == staff_account_id, staff_account.c.disabled_at.is_(None))
        .values(disabled_at=now)
    )


# -- apartments and tenancies ------------------------------------------------------------

# A tenancy with where it is, as TenancyRow holds it: for every module that reads tenancies.
TENANCY_COLUMNS = (
    tenancy.c.id,
    tenancy.c.customer_id,
    entrance.c.property_id,
    tenancy.c.apartment_id,
    tenancy.c.start_at,
    tenancy.c.end_at,
)
TENANCY_FROM = tenancy.join(apartment, apartment.c.id == tenancy.c.apartment_id).join(
    entrance, entrance.c.id == apartment.c.entrance_id
)


def _tenancy_scope(access: AccessContext) -> sa.ColumnElement[bool]:
    condition = _customers(tenancy.c.customer_id, access)
    if access.is_household:
        # A household reaches its own tenancy and no other.
        own = access.tenancy.tenancy_id if access.tenancy is not None else -1
        condition = sa.and_(condition, tenancy.c.id == own)
    return condition


def get_tenancy(
    conn: sa.Connection, *, tenancy_id: int, access: AccessContext
) -> TenancyRow | None:
    row = conn.execute(
        sa.select(*TENANCY_COLUMNS)
        .select_from(TENANCY_FROM)
        .where(tenancy.c.id == tenancy_id, _tenancy_scope(access))
    ).first()
    return None if row is None else TenancyRow(*row)


def tenancy_of(conn: sa.Connection, *, tenancy_id: int) -> TenancyRow | None:
    """The tenancy an access code, household or passkey belongs to; for sign-in only."""
    row = conn.execute(
        sa.select(*TENANCY_COLUMNS).select_from(TENANCY_FROM).where(tenancy.c.id == tenancy_id)
    ).first()
    return None if row is None else TenancyRow(*row)


def find_apartments(
    conn: sa.Connection,
    *,
    access: AccessContext,
    designation: str,
    number: str,
    entrance_address: str | None = None,
    customer_name: str | None = None,
) -> list[ApartmentRef]:
    """The apartments of this number in properties of this designation that `access` sees."""
    query = (
        sa.select(
            apartment.c.id,
            apartment.c.customer_id,
            property_.c.id,
            customer.c.name,
            property_.c.designation,
            entrance.c.address,
            apartment.c.number,
        )
        .select_from(
            apartment.join(entrance, entrance.c.id == apartment.c.entrance_id)
            .join(property_, property_.c.id == entrance.c.property_id)
            .join(customer, customer.c.id == apartment.c.customer_id)
        )
        .where(
            property_.c.designation == designation,
            apartment.c.number == number,
            _customers(apartment.c.customer_id, access),
        )
        .order_by(customer.c.name, entrance.c.address)
    )
    if entrance_address is not None:
        query = query.where(entrance.c.address == entrance_address)
    if customer_name is not None:
        query = query.where(customer.c.name == customer_name)
    return [ApartmentRef(*row) for row in conn.execute(query)]


def current_tenancy(
    conn: sa.Connection, *, apartment_id: int, now: datetime, access: AccessContext
) -> TenancyRow | None:
    """The apartment's tenancy at `now` or, if none has begun, the next to begin."""
    row = conn.execute(
        sa.select(*TENANCY_COLUMNS)
        .select_from(TENANCY_FROM)
        .where(
            tenancy.c.apartment_id == apartment_id,
            sa.or_(tenancy.c.end_at.is_(None), tenancy.c.end_at > now),
            _tenancy_scope(access),
        )
        .order_by(tenancy.c.start_at)
        .limit(1)
    ).first()
    return None if row is None else TenancyRow(*row)


def household_place(conn: sa.Connection, *, household_id: int) -> HouseholdPlace | None:
    """Where the household lives, for its own page (GET /api/v1/session)."""
    row = conn.execute(
        sa.select(
            customer.c.name,
            property_.c.designation,
            entrance.c.address,
            apartment.c.number,
            tenancy.c.id,
            tenancy.c.start_at,
            tenancy.c.end_at,
        )
        .select_from(
            household.join(tenancy, tenancy.c.id == household.c.tenancy_id)
            .join(apartment, apartment.c.id == tenancy.c.apartment_id)
            .join(entrance, entrance.c.id == apartment.c.entrance_id)
            .join(property_, property_.c.id == entrance.c.property_id)
            .join(customer, customer.c.id == household.c.customer_id)
        )
        .where(household.c.id == household_id)
    ).first()
    return None if row is None else HouseholdPlace(*row)


# -- access codes ------------------------------------------------------------------------

_CODE_COLUMNS = (
    access_code.c.id,
    access_code.c.customer_id,
    access_code.c.tenancy_id,
    access_code.c.kind,
    access_code.c.issued_at,
    access_code.c.expires_at,
    access_code.c.used_at,
    access_code.c.revoked_at,
)


def insert_access_code(
    conn: sa.Connection,
    *,
    customer_id: int,
    tenancy_id: int,
    kind: str,
    code_hash: str,
    issued_by: str,
    now: datetime,
    expires_at: datetime,
) -> int:
    new_id: int = conn.execute(
        access_code.insert()
        .values(
            customer_id=customer_id,
            tenancy_id=tenancy_id,
            kind=kind,
            code_hash=code_hash,
            issued_by=issued_by,
            issued_at=now,
            expires_at=expires_at,
        )
        .returning(access_code.c.id)
    ).scalar_one()
    return new_id


def revoke_unused_codes(conn: sa.Connection, *, tenancy_id: int, kind: str, now: datetime) -> int:
    """Revoke the tenancy's codes of `kind` that are neither used nor revoked; how many."""
    result = conn.execute(
        access_code.update()
        .where(
            access_code.c.tenancy_id == tenancy_id,
            access_code.c.kind == kind,
            access_code.c.used_at.is_(None),
            access_code.c.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    return result.rowcount


def find_access_code(conn: sa.Connection, *, code_hash: str) -> AccessCodeRow | None:
    row = conn.execute(
        sa.select(*_CODE_COLUMNS).where(access_code.c.code_hash == code_hash)
    ).first()
    return None if row is None else AccessCodeRow(*row)


def get_access_code(conn: sa.Connection, *, code_id: int) -> AccessCodeRow | None:
    row = conn.execute(sa.select(*_CODE_COLUMNS).where(access_code.c.id == code_id)).first()
    return None if row is None else AccessCodeRow(*row)


def use_access_code(conn: sa.Connection, *, code_id: int, now: datetime) -> bool:
    """Mark the code used, if it still is usable; False if another request was first.

    One conditional UPDATE: of two redemptions at once, exactly one wins.
    """
    result = conn.execute(
        access_code.update()
        .where(
            access_code.c.id == code_id,
            access_code.c.used_at.is_(None),
            access_code.c.revoked_at.is_(None),
            access_code.c.expires_at > now,
        )
        .values(used_at=now)
    )
    return result.rowcount == 1


# -- households --------------------------------------------------------------------------

_HOUSEHOLD_COLUMNS = (
    household.c.id,
    household.c.customer_id,
    household.c.tenancy_id,
    household.c.handle,
    household.c.passphrase_hash,
)


def find_household_by_tenancy(conn: sa.Connection, *, tenancy_id: int) -> HouseholdRow | None:
    row = conn.execute(
        sa.select(*_HOUSEHOLD_COLUMNS).where(household.c.tenancy_id == tenancy_id)
    ).first()
    return None if row is None else HouseholdRow(*row)


def find_household_by_handle(conn: sa.Connection, *, handle: str) -> HouseholdRow | None:
    row = conn.execute(sa.select(*_HOUSEHOLD_COLUMNS).where(household.c.handle == handle)).first()
    return None if row is None else HouseholdRow(*row)


def get_household(conn: sa.Connection, *, household_id: int) -> HouseholdRow | None:
    row = conn.execute(sa.select(*_HOUSEHOLD_COLUMNS).where(household.c.id == household_id)).first()
    return None if row is None else HouseholdRow(*row)


def insert_household(
    conn: sa.Connection, *, customer_id: int, tenancy_id: int, handle: str, now: datetime
) -> int:
    new_id: int = conn.execute(
        household.insert()
        .values(customer_id=customer_id, tenancy_id=tenancy_id, handle=handle, created_at=now)
        .returning(household.c.id)
    ).scalar_one()
    return new_id


def set_household_passphrase_hash(
    conn: sa.Connection, *, household_id: int, passphrase_hash: str
) -> None:
    conn.execute(
        household.update()
        .where(household.c.id == household_id)
        .values(passphrase_hash=passphrase_hash)
    )


# -- passkeys ----------------------------------------------------------------------------

_PASSKEY_COLUMNS = (
    passkey.c.id,
    passkey.c.customer_id,
    passkey.c.household_id,
    passkey.c.credential_id,
    passkey.c.public_key,
    passkey.c.sign_count,
)


def insert_passkey(
    conn: sa.Connection,
    *,
    customer_id: int,
    household_id: int,
    credential_id: bytes,
    public_key: bytes,
    sign_count: int,
    now: datetime,
) -> int:
    new_id: int = conn.execute(
        passkey.insert()
        .values(
            customer_id=customer_id,
            household_id=household_id,
            credential_id=credential_id,
            public_key=public_key,
            sign_count=sign_count,
            created_at=now,
        )
        .returning(passkey.c.id)
    ).scalar_one()
    return new_id


def find_passkey(conn: sa.Connection, *, credential_id: bytes) -> PasskeyRow | None:
    row = conn.execute(
        sa.select(*_PASSKEY_COLUMNS).where(passkey.c.credential_id == credential_id)
    ).first()
    return None if row is None else PasskeyRow(*row)


def list_credential_ids(conn: sa.Connection, *, household_id: int) -> list[bytes]:
    return list(
        conn.execute(
            sa.select(passkey.c.credential_id)
            .where(passkey.c.household_id == household_id)
            .order_by(passkey.c.id)
        ).scalars()
    )


def record_passkey_use(
    conn: sa.Connection, *, passkey_id: int, old_sign_count: int, sign_count: int, now: datetime
) -> bool:
    """Store the authenticator's new signature counter; False if another use came first."""
    result = conn.execute(
        passkey.update()
        .where(passkey.c.id == passkey_id, passkey.c.sign_count == old_sign_count)
        .values(sign_count=sign_count, last_used_at=now)
    )
    return result.rowcount == 1


# -- passkey challenges ------------------------------------------------------------------


def insert_challenge(
    conn: sa.Connection,
    *,
    challenge_hash: str,
    purpose: str,
    customer_id: int | None,
    household_id: int | None,
    access_code_id: int | None,
    now: datetime,
    expires_at: datetime,
) -> None:
    # Challenges live minutes; those past their time go as new ones come.
    conn.execute(webauthn_challenge.delete().where(webauthn_challenge.c.expires_at < now))
    conn.execute(
        webauthn_challenge.insert().values(
            challenge_hash=challenge_hash,
            purpose=purpose,
            customer_id=customer_id,
            household_id=household_id,
            access_code_id=access_code_id,
            created_at=now,
            expires_at=expires_at,
        )
    )


def find_challenge(conn: sa.Connection, *, challenge_hash: str) -> ChallengeRow | None:
    row = conn.execute(
        sa.select(
            webauthn_challenge.c.id,
            webauthn_challenge.c.purpose,
            webauthn_challenge.c.customer_id,
            webauthn_challenge.c.household_id,
            webauthn_challenge.c.access_code_id,
            webauthn_challenge.c.expires_at,
            webauthn_challenge.c.used_at,
        ).where(webauthn_challenge.c.challenge_hash == challenge_hash)
    ).first()
    return None if row is None else ChallengeRow(*row)


def take_challenge(conn: sa.Connection, *, challenge_id: int, now: datetime) -> bool:
    """Use the challenge up, if it is still open; False if it was used or has expired."""
    result = conn.execute(
        webauthn_challenge.update()
        .where(
            webauthn_challenge.c.id == challenge_id,
            webauthn_challenge.c.used_at.is_(None),
            webauthn_challenge.c.expires_at > now,
        )
        .values(used_at=now)
    )
    return result.rowcount == 1


# -- sessions ----------------------------------------------------------------------------


def find_session(conn: sa.Connection, *, token_hash: str) -> SessionRow | None:
    """The session of a token's digest, open or not; callers apply the limits."""
    row = conn.execute(
        sa.select(
            auth_session.c.token_hash,
            auth_session.c.customer_id,
            auth_session.c.staff_account_id,
            auth_session.c.household_id,
            auth_session.c.csrf_token,
            auth_session.c.created_at,
            auth_session.c.last_seen_at,
            auth_session.c.expires_at,
            auth_session.c.second_factor_at,
            auth_session.c.ended_at,
        ).where(auth_session.c.token_hash == token_hash)
    ).first()
    return None if row is None else SessionRow(**row._mapping)


def _open_sessions(
    *, staff_account_id: int | None, household_id: int | None, tenancy_id: int | None
) -> sa.ColumnElement[bool]:
    """The open sessions of one staff account, one household or the households of a tenancy."""
    if [staff_account_id, household_id, tenancy_id].count(None) != 2:
        raise ValueError("name exactly one staff account, one household or one tenancy")
    if staff_account_id is not None:
        whose = auth_session.c.staff_account_id == staff_account_id
    elif household_id is not None:
        whose = auth_session.c.household_id == household_id
    else:
        households = sa.select(household.c.id).where(household.c.tenancy_id == tenancy_id)
        whose = auth_session.c.household_id.in_(households)
    return sa.and_(whose, auth_session.c.ended_at.is_(None))


def end_sessions(
    conn: sa.Connection,
    *,
    now: datetime,
    staff_account_id: int | None = None,
    household_id: int | None = None,
    tenancy_id: int | None = None,
    keeping_hash: str | None = None,
) -> int:
    """End every open session of one staff account, one household or the households of one
    tenancy; how many were ended. `keeping_hash` is the digest of a session's token to leave
    open. Raises ValueError unless exactly one of the three is named."""
    query = auth_session.update().where(
        _open_sessions(
            staff_account_id=staff_account_id, household_id=household_id, tenancy_id=tenancy_id
        )
    )
    if keeping_hash:
        query = query.where(auth_session.c.token_hash != keeping_hash)
    return conn.execute(query.values(ended_at=now)).rowcount


def limit_sessions(conn: sa.Connection, *, tenancy_id: int, expires_at: datetime) -> None:
    """Let the open sessions of a tenancy's households last until `expires_at` at the latest."""
    conn.execute(
        auth_session.update()
        .where(
            _open_sessions(staff_account_id=None, household_id=None, tenancy_id=tenancy_id),
            auth_session.c.expires_at > expires_at,
        )
        .values(expires_at=expires_at)
    )


# -- sign-in attempts --------------------------------------------------------------------


def count_failures(
    conn: sa.Connection, *, account_digest: str, address_digest: str, since: datetime
) -> tuple[int, int]:
    """Failed attempts since `since`: for the account after its last success, and from the address.

    A success resets the account's count (its owner got in), never the
    address's: one could otherwise reset it by signing in to an account of
    one's own between guesses at others.
    """
    # By id, not by time: the order of attempts within one second is kept too.
    last_success = (
        sa.select(sa.func.coalesce(sa.func.max(sign_in_attempt.c.id), 0))
        .where(sign_in_attempt.c.account_digest == account_digest, sign_in_attempt.c.succeeded)
        .scalar_subquery()
    )
    by_account = sa.select(sa.func.count()).where(
        sign_in_attempt.c.account_digest == account_digest,
        sign_in_attempt.c.at >= since,
        sa.not_(sign_in_attempt.c.succeeded),
        sign_in_attempt.c.id > last_success,
    )
    by_address = sa.select(sa.func.count()).where(
        sign_in_attempt.c.address_digest == address_digest,
        sign_in_attempt.c.at >= since,
        sa.not_(sign_in_attempt.c.succeeded),
    )
    return conn.execute(by_account).scalar_one(), conn.execute(by_address).scalar_one()


def oldest_failure_since(
    conn: sa.Connection, *, account_digest: str, address_digest: str, since: datetime
) -> datetime | None:
    """The oldest failure still counted for this account or address, to say when to retry."""
    found: datetime | None = conn.execute(
        sa.select(sa.func.min(sign_in_attempt.c.at)).where(
            sa.or_(
                sign_in_attempt.c.account_digest == account_digest,
                sign_in_attempt.c.address_digest == address_digest,
            ),
            sign_in_attempt.c.at >= since,
            sa.not_(sign_in_attempt.c.succeeded),
        )
    ).scalar()
    return found


def record_attempt(
    conn: sa.Connection,
    *,
    account_digest: str,
    address_digest: str,
    succeeded: bool,
    now: datetime,
    forget_before: datetime,
) -> None:
    """Record one attempt, and forget this account's and address's attempts older than needed."""
    for column, digest in (
        (sign_in_attempt.c.account_digest, account_digest),
        (sign_in_attempt.c.address_digest, address_digest),
    ):
        conn.execute(
            sign_in_attempt.delete().where(column == digest, sign_in_attempt.c.at < forget_before)
        )
    conn.execute(
        sign_in_attempt.insert().values(
            at=now,
            account_digest=account_digest,
            address_digest=address_digest,
            succeeded=succeeded,
        )
    )


# -- gateways ----------------------------------------------------------------------------


def set_gateway_token(
    conn: sa.Connection, *, identity: str, token_hash: str | None, access: AccessContext
) -> GatewayRef | None:
    """Give the gateway a new token digest, or none (revoked); None if `access` sees no gateway."""
    row = conn.execute(
        sa.select(gateway.c.id, gateway.c.customer_id, gateway.c.identity).where(
            gateway.c.identity == identity, _customers(gateway.c.customer_id, access)
        )
    ).first()
    if row is None:
        return None
    conn.execute(gateway.update().where(gateway.c.id == row.id).values(token_hash=token_hash))
    return GatewayRef(*row)
