"""Access grants and disclosures in SQL: the rows, and the few writes that change them.

The rules (who may ask, who may answer, what status a grant has at a given
instant) are in `openamr.guard.grants`; this module only reads and writes.
Every change is a conditional UPDATE on the state it expects, so that two
answers racing for the same grant cannot both win: the loser changes no row.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from openamr.store.identities import TENANCY_COLUMNS, TENANCY_FROM, TenancyRow
from openamr.store.schema import (
    access_grant,
    access_grant_medium,
    apartment,
    customer,
    disclosure,
    entrance,
    tenancy,
)


@dataclass(frozen=True, slots=True)
class GrantRow:
    id: int
    customer_id: int
    property_id: int
    apartment_id: int
    tenancy_id: int
    requested_by: int
    requester_role: str
    ticket: str
    reason: str
    duration_s: int
    requested_at: datetime
    decision: str | None
    decided_at: datetime | None
    second_approver: int | None
    second_approved_at: datetime | None
    ended_at: datetime | None
    closed_as: str | None
    tenancy_start_at: datetime
    tenancy_end_at: datetime | None
    media: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DisclosureRow:
    id: int
    customer_id: int
    apartment_id: int | None
    tenancy_id: int | None
    period_start_at: datetime
    period_end_at: datetime
    media: tuple[str, ...]
    legal_basis: str
    authority: str
    recorded_by: int
    recorded_at: datetime


def find_tenancy_at(conn: sa.Connection, *, apartment_id: int, at: datetime) -> TenancyRow | None:
    """The tenancy of the apartment that covers `at`, if there is one (at most one can)."""
    row = conn.execute(
        sa.select(*TENANCY_COLUMNS)
        .select_from(TENANCY_FROM)
        .where(
            tenancy.c.apartment_id == apartment_id,
            tenancy.c.start_at <= at,
            sa.or_(tenancy.c.end_at.is_(None), tenancy.c.end_at > at),
        )
    ).first()
    return None if row is None else TenancyRow(*row)


def customer_exists(conn: sa.Connection, *, customer_id: int) -> bool:
    return (
        conn.execute(sa.select(customer.c.id).where(customer.c.id == customer_id)).first()
        is not None
    )


def find_apartment_customer(conn: sa.Connection, *, apartment_id: int) -> int | None:
    """The customer of an apartment, or None if there is no such apartment."""
    found: int | None = conn.execute(
        sa.select(apartment.c.customer_id).where(apartment.c.id == apartment_id)
    ).scalar_one_or_none()
    return found


def insert_grant(
    conn: sa.Connection,
    *,
    at: TenancyRow,
    requested_by: int,
    requester_role: str,
    ticket: str,
    reason: str,
    duration_s: int,
    media: Collection[str],
    now: datetime,
) -> int:
    """A new request for the tenancy `at`; its id."""
    grant_id: int = conn.execute(
        access_grant.insert()
        .values(
            customer_id=at.customer_id,
            apartment_id=at.apartment_id,
            tenancy_id=at.id,
            requested_by=requested_by,
            requester_role=requester_role,
            ticket=ticket,
            reason=reason,
            duration_s=duration_s,
            requested_at=now,
        )
        .returning(access_grant.c.id)
    ).scalar_one()
    conn.execute(
        access_grant_medium.insert(),
        [
            {"grant_id": grant_id, "medium": medium, "customer_id": at.customer_id}
            for medium in sorted(set(media))
        ],
    )
    return grant_id


def _grant_query() -> sa.Select[Any]:
    return (
        sa.select(
            access_grant.c.id,
            access_grant.c.customer_id,
            entrance.c.property_id,
            access_grant.c.apartment_id,
            access_grant.c.tenancy_id,
            access_grant.c.requested_by,
            access_grant.c.requester_role,
            access_grant.c.ticket,
            access_grant.c.reason,
            access_grant.c.duration_s,
            access_grant.c.requested_at,
            access_grant.c.decision,
            access_grant.c.decided_at,
            access_grant.c.second_approver,
            access_grant.c.second_approved_at,
            access_grant.c.ended_at,
            access_grant.c.closed_as,
            tenancy.c.start_at.label("tenancy_start_at"),
            tenancy.c.end_at.label("tenancy_end_at"),
        )
        .join(tenancy, tenancy.c.id == access_grant.c.tenancy_id)
        .join(apartment, apartment.c.id == access_grant.c.apartment_id)
        .join(entrance, entrance.c.id == apartment.c.entrance_id)
        .order_by(access_grant.c.id)
    )


def list_grants(
    conn: sa.Connection,
    *,
    grant_id: int | None = None,
    requested_by: int | None = None,
    tenancy_id: int | None = None,
    requester_role: str | None = None,
    unclosed: bool = False,
) -> list[GrantRow]:
    """Grants matching every filter given, oldest first."""
    query = _grant_query()
    if grant_id is not None:
        query = query.where(access_grant.c.id == grant_id)
    if requested_by is not None:
        query = query.where(access_grant.c.requested_by == requested_by)
    if tenancy_id is not None:
        query = query.where(access_grant.c.tenancy_id == tenancy_id)
    if requester_role is not None:
        query = query.where(access_grant.c.requester_role == requester_role)
    if unclosed:
        query = query.where(access_grant.c.closed_as.is_(None))
    rows = conn.execute(query).all()
    media = _media(conn, [row.id for row in rows])
    return [GrantRow(**dict(row._mapping), media=media.get(row.id, ())) for row in rows]


def _media(conn: sa.Connection, grant_ids: Sequence[int]) -> dict[int, tuple[str, ...]]:
    if not grant_ids:
        return {}
    found: dict[int, list[str]] = defaultdict(list)
    for start in range(0, len(grant_ids), 500):
        query = (
            sa.select(access_grant_medium.c.grant_id, access_grant_medium.c.medium)
            .where(access_grant_medium.c.grant_id.in_(grant_ids[start : start + 500]))
            .order_by(access_grant_medium.c.grant_id, access_grant_medium.c.medium)
        )
        for grant_id, medium in conn.execute(query):
            found[grant_id].append(medium)
    return {grant_id: tuple(media) for grant_id, media in found.items()}


def set_decision(conn: sa.Connection, *, grant_id: int, decision: str, now: datetime) -> bool:
    """Record the household's answer, unless one is recorded already; whether it was."""
    values: dict[str, Any] = {"decision": decision, "decided_at": now}
    if decision == "denied":
        values |= {"closed_as": "denied", "closed_at": now}  # its audit event is written now
    changed = conn.execute(
        access_grant.update()
        .where(
            access_grant.c.id == grant_id,
            access_grant.c.decision.is_(None),
            access_grant.c.closed_as.is_(None),
        )
        .values(**values)
    ).rowcount
    return bool(changed)


def set_second_approval(
    conn: sa.Connection, *, grant_id: int, approver: int, now: datetime
) -> bool:
    """Record the second platform approval, unless one is recorded already; whether it was."""
    changed = conn.execute(
        access_grant.update()
        .where(access_grant.c.id == grant_id, access_grant.c.second_approver.is_(None))
        .values(second_approver=approver, second_approved_at=now)
    ).rowcount
    return bool(changed)


def set_ended(conn: sa.Connection, *, grant_id: int, now: datetime) -> bool:
    """End a grant at the household's wish, unless it is ended already; whether it was."""
    changed = conn.execute(
        access_grant.update()
        .where(access_grant.c.id == grant_id, access_grant.c.ended_at.is_(None))
        .values(ended_at=now, closed_as="ended", closed_at=now)
    ).rowcount
    return bool(changed)


def set_closed(conn: sa.Connection, *, grant_id: int, closed_as: str, now: datetime) -> bool:
    """Note that the audit log has the grant's end; False if another request noted it first."""
    changed = conn.execute(
        access_grant.update()
        .where(access_grant.c.id == grant_id, access_grant.c.closed_as.is_(None))
        .values(closed_as=closed_as, closed_at=now)
    ).rowcount
    return bool(changed)


def insert_disclosure(
    conn: sa.Connection,
    *,
    customer_id: int,
    apartment_id: int | None,
    tenancy_id: int | None,
    period_start_at: datetime,
    period_end_at: datetime,
    media: Collection[str],
    legal_basis: str,
    authority: str,
    recorded_by: int,
    now: datetime,
) -> int:
    """Record a disclosure; its id."""
    disclosure_id: int = conn.execute(
        disclosure.insert()
        .values(
            customer_id=customer_id,
            apartment_id=apartment_id,
            tenancy_id=tenancy_id,
            period_start_at=period_start_at,
            period_end_at=period_end_at,
            media=",".join(sorted(set(media))),
            legal_basis=legal_basis,
            authority=authority,
            recorded_by=recorded_by,
            recorded_at=now,
        )
        .returning(disclosure.c.id)
    ).scalar_one()
    return disclosure_id


def list_disclosures(
    conn: sa.Connection, *, disclosure_id: int | None = None
) -> list[DisclosureRow]:
    """Recorded disclosures, newest first, or the one of `disclosure_id`."""
    query = sa.select(
        disclosure.c.id,
        disclosure.c.customer_id,
        disclosure.c.apartment_id,
        disclosure.c.tenancy_id,
        disclosure.c.period_start_at,
        disclosure.c.period_end_at,
        disclosure.c.media,
        disclosure.c.legal_basis,
        disclosure.c.authority,
        disclosure.c.recorded_by,
        disclosure.c.recorded_at,
    ).order_by(disclosure.c.id.desc())
    if disclosure_id is not None:
        query = query.where(disclosure.c.id == disclosure_id)
    return [
        DisclosureRow(
            id=row.id,
            customer_id=row.customer_id,
            apartment_id=row.apartment_id,
            tenancy_id=row.tenancy_id,
            period_start_at=row.period_start_at,
            period_end_at=row.period_end_at,
            media=tuple(row.media.split(",")),
            legal_basis=row.legal_basis,
            authority=row.authority,
            recorded_by=row.recorded_by,
            recorded_at=row.recorded_at,
        )
        for row in conn.execute(query)
    ]
