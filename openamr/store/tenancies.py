"""Tenancies: a household's period in an apartment, from its move-in to its move-out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from openamr.access import AccessContext
from openamr.store import portfolio
from openamr.store.buildings import find_apartment
from openamr.store.identities import (
    TENANCY_COLUMNS,
    TENANCY_FROM,
    TenancyRow,
    end_sessions,
    limit_sessions,
)
from openamr.store.ownership import UnableToChange, UnableToFind, own, valid_id
from openamr.store.schema import access_code, tenancy


@dataclass(frozen=True, slots=True)
class MoveOut:
    """A tenancy that ended, and what of its household's access ended with it at once."""

    tenancy: TenancyRow
    end_at: datetime  # the tenancy's end, as recorded
    sessions_ended: int
    access_codes_revoked: int


def _tenancy_query() -> sa.Select[Any]:
    return sa.select(*TENANCY_COLUMNS).select_from(TENANCY_FROM)


def list_tenancies(
    conn: sa.Connection, *, access: AccessContext, apartment_id: int
) -> list[TenancyRow]:
    """An apartment's tenancies, oldest first (periods only: a tenancy names nobody).
    Raises UnableToFind."""
    find_apartment(conn, access=access, apartment_id=apartment_id)
    query = (
        _tenancy_query()
        .where(tenancy.c.apartment_id == apartment_id, own(tenancy.c.customer_id, access))
        .order_by(tenancy.c.start_at, tenancy.c.id)
    )
    return [TenancyRow(*row) for row in conn.execute(query)]


def find_tenancy(conn: sa.Connection, *, access: AccessContext, tenancy_id: int) -> TenancyRow:
    """One of the caller's tenancies. Raises UnableToFind."""
    if not valid_id(tenancy_id):
        raise UnableToFind(f"no tenancy {tenancy_id}")
    row = conn.execute(
        _tenancy_query().where(tenancy.c.id == tenancy_id, own(tenancy.c.customer_id, access))
    ).first()
    if row is None:
        raise UnableToFind(f"no tenancy {tenancy_id}")
    return TenancyRow(*row)


def find_open_tenancy(
    conn: sa.Connection, *, access: AccessContext, apartment_id: int
) -> TenancyRow | None:
    """The apartment's tenancy without an end, if it has one. Raises UnableToFind."""
    find_apartment(conn, access=access, apartment_id=apartment_id)
    row = conn.execute(
        _tenancy_query().where(
            tenancy.c.apartment_id == apartment_id,
            tenancy.c.end_at.is_(None),
            own(tenancy.c.customer_id, access),
        )
    ).first()
    return None if row is None else TenancyRow(*row)


def move_in(
    conn: sa.Connection, *, access: AccessContext, apartment_id: int, start_at: datetime
) -> TenancyRow:
    """A new household's tenancy from `start_at`, without an end.

    Refuses any overlap: while a tenancy lasts (or ends after `start_at`), or
    a later one is recorded, its move-out comes first. Raises UnableToFind,
    UnableToChange.
    """
    flat = find_apartment(conn, access=access, apartment_id=apartment_id)
    try:
        tenancy_id = portfolio.add_tenancy(
            conn,
            customer_id=flat.customer_id,
            apartment_id=flat.id,
            start_at=start_at,
            end_at=None,
        )
    except portfolio.UnableToRegister as exc:
        raise UnableToChange(f"{exc}; record its move-out first") from None
    return find_tenancy(conn, access=access, tenancy_id=tenancy_id)


def move_out(
    conn: sa.Connection,
    *,
    access: AccessContext,
    tenancy_id: int,
    end_at: datetime,
    now: datetime,
) -> MoveOut:
    """End a tenancy at `end_at` (exclusive) and, with it, its household's access (P1b).

    Authentication refuses a household whose tenancy has ended on its own;
    this is the second lock. A move-out at or before `now` ends the
    household's sessions and revokes its unused access codes at once. One
    recorded ahead of time shortens them to end with the tenancy, so the
    household keeps its access until it moves. Raises UnableToFind,
    UnableToChange.
    """
    found = find_tenancy(conn, access=access, tenancy_id=tenancy_id)
    if found.end_at is not None:
        raise UnableToChange(f"tenancy {found.id} ended already at {found.end_at.isoformat()}")
    if end_at <= found.start_at:
        raise UnableToChange(
            f"tenancy {found.id} began at {found.start_at.isoformat()}; "
            "a move-out comes after the move-in"
        )
    conn.execute(tenancy.update().where(tenancy.c.id == found.id).values(end_at=end_at))
    unused_codes = sa.and_(
        access_code.c.tenancy_id == found.id,
        access_code.c.used_at.is_(None),
        access_code.c.revoked_at.is_(None),
    )
    limit_sessions(conn, tenancy_id=found.id, expires_at=end_at)
    conn.execute(
        access_code.update()
        .where(unused_codes, access_code.c.expires_at > end_at)
        .values(expires_at=end_at)
    )
    sessions_ended = codes_revoked = 0
    if end_at <= now:
        sessions_ended = end_sessions(conn, now=now, tenancy_id=found.id)
        codes_revoked = conn.execute(
            access_code.update().where(unused_codes).values(revoked_at=now)
        ).rowcount
    return MoveOut(
        tenancy=find_tenancy(conn, access=access, tenancy_id=tenancy_id),
        end_at=end_at,
        sessions_ended=sessions_ended,
        access_codes_revoked=codes_revoked,
    )
