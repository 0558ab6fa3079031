"""Reads for authentication: whom a session or a gateway token belongs to, in one query each.

Authentication runs on every request, so each lookup is one indexed query
(the session by the primary key of its token's digest, the gateway by the
unique digest of its token) that brings everything the decision needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from openamr.store.schema import auth_session, customer, gateway, household, staff_account, tenancy


@dataclass(frozen=True, slots=True)
class SessionPrincipal:
    """A session row and who holds it: a staff account or a household (and its tenancy)."""

    token_hash: str
    csrf_token: str
    last_seen_at: datetime
    expires_at: datetime
    second_factor_at: datetime | None
    ended_at: datetime | None
    staff_account_id: int | None
    staff_role: str | None
    staff_customer_id: int | None
    staff_disabled_at: datetime | None
    household_id: int | None
    tenancy_id: int | None
    apartment_id: int | None
    tenancy_customer_id: int | None
    tenancy_start_at: datetime | None
    tenancy_end_at: datetime | None
    operations_hourly: bool  # of the staff account's customer; False for platform staff


@dataclass(frozen=True, slots=True)
class GatewayPrincipal:
    id: int
    customer_id: int


def find_session(conn: sa.Connection, token_hash: str) -> SessionPrincipal | None:
    """The session whose token has this digest, with its holder; None if there is none."""
    query = (
        sa.select(
            auth_session.c.token_hash,
            auth_session.c.csrf_token,
            auth_session.c.last_seen_at,
            auth_session.c.expires_at,
            auth_session.c.second_factor_at,
            auth_session.c.ended_at,
            staff_account.c.id.label("staff_account_id"),
            staff_account.c.role.label("staff_role"),
            staff_account.c.customer_id.label("staff_customer_id"),
            staff_account.c.disabled_at.label("staff_disabled_at"),
            household.c.id.label("household_id"),
            tenancy.c.id.label("tenancy_id"),
            tenancy.c.apartment_id,
            tenancy.c.customer_id.label("tenancy_customer_id"),
            tenancy.c.start_at.label("tenancy_start_at"),
            tenancy.c.end_at.label("tenancy_end_at"),
            customer.c.operations_hourly,
        )
        .select_from(auth_session)
        .outerjoin(staff_account, staff_account.c.id == auth_session.c.staff_account_id)
        .outerjoin(customer, customer.c.id == staff_account.c.customer_id)
        .outerjoin(household, household.c.id == auth_session.c.household_id)
        .outerjoin(tenancy, tenancy.c.id == household.c.tenancy_id)
        .where(auth_session.c.token_hash == token_hash)
    )
    row = conn.execute(query).first()
    if row is None:
        return None
    fields = dict(row._mapping)
    fields["operations_hourly"] = bool(fields["operations_hourly"])  # None for platform staff
    return SessionPrincipal(**fields)


def touch_session(conn: sa.Connection, token_hash: str, *, now: datetime) -> None:
    """Note that the session was used at `now` (the idle limit counts from here)."""
    conn.execute(
        auth_session.update()
        .where(auth_session.c.token_hash == token_hash, auth_session.c.last_seen_at < now)
        .values(last_seen_at=now)
    )


def find_gateway_principal(conn: sa.Connection, token_hash: str) -> GatewayPrincipal | None:
    """The gateway whose bearer token has this digest; None if none has."""
    row = conn.execute(
        sa.select(gateway.c.id, gateway.c.customer_id).where(gateway.c.token_hash == token_hash)
    ).first()
    return None if row is None else GatewayPrincipal(id=row.id, customer_id=row.customer_id)
