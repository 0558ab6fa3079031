"""Reads for the administration pages: a property's apartments with their tenancy, meters in place.

The administration pages need the register as a person managing it sees it
at once: every apartment of a property with the tenancy that is in force or
next to begin (a period, nothing that names anyone, P1), and every meter with
where it is installed now. One statement each, instead of a query per row.
Both keep the caller to its own customers in SQL, as `openamr.store.ownership` has it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.selectable import NamedFromClause

from openamr.access import AccessContext
from openamr.store.buildings import find_property
from openamr.store.schema import (
    apartment,
    entrance,
    meter,
    meter_installation,
    metering_point,
    property_,
    tenancy,
)


@dataclass(frozen=True, slots=True)
class ApartmentTenancy:
    """An apartment of a property, and its tenancy in force now or next to begin (if any)."""

    id: int
    entrance_id: int
    entrance: str  # the entrance's address
    number: str
    tenancy_id: int | None
    start_at: datetime | None
    end_at: datetime | None


@dataclass(frozen=True, slots=True)
class MeterPlace:
    """A meter, and the metering point it is installed on now (None while it is on none)."""

    id: int
    identity: str
    manufacturer: str | None
    medium: str
    register_unit: str
    register_digits: int | None
    point_id: int | None
    property_designation: str | None
    entrance: str | None
    apartment_number: str | None  # None for a property-level point


def _own(column: sa.ColumnElement[int], access: AccessContext) -> sa.ColumnElement[bool]:
    if access.customer_ids is None:
        return sa.true()
    return column.in_(sorted(access.customer_ids))


def list_property_apartments(
    conn: sa.Connection, *, access: AccessContext, property_id: int, now: datetime
) -> list[ApartmentTenancy]:
    """A property's apartments by entrance and number, each with its tenancy at `now` or, if
    none has begun, the next one. Raises UnableToFind for a property the caller does not have."""
    find_property(conn, access=access, property_id=property_id)

    def not_ended(table: NamedFromClause) -> sa.ColumnElement[bool]:
        return sa.and_(
            sa.or_(table.c.end_at.is_(None), table.c.end_at > now),
            _own(table.c.customer_id, access),
        )

    in_force = (
        sa.select(tenancy.c.id, tenancy.c.apartment_id, tenancy.c.start_at, tenancy.c.end_at)
        .where(not_ended(tenancy))
        .subquery()
    )
    # Tenancies never overlap, so the one not yet ended with the earliest start is the one
    # in force now or, before a move-in, the next.
    other = tenancy.alias("other")
    earliest = (
        sa.select(sa.func.min(other.c.start_at))
        .where(other.c.apartment_id == apartment.c.id, not_ended(other))
        .correlate(apartment)
        .scalar_subquery()
    )
    query = (
        sa.select(
            apartment.c.id,
            apartment.c.entrance_id,
            entrance.c.address,
            apartment.c.number,
            in_force.c.id,
            in_force.c.start_at,
            in_force.c.end_at,
        )
        .join(entrance, entrance.c.id == apartment.c.entrance_id)
        .outerjoin(
            in_force,
            sa.and_(in_force.c.apartment_id == apartment.c.id, in_force.c.start_at == earliest),
        )
        .where(entrance.c.property_id == property_id, _own(apartment.c.customer_id, access))
        .order_by(entrance.c.address, apartment.c.number)
    )
    return [ApartmentTenancy(*row) for row in conn.execute(query)]


def list_meter_places(
    conn: sa.Connection,
    *,
    access: AccessContext,
    now: datetime,
    uninstalled_only: bool = False,
    media: Collection[str] | None = None,
) -> list[MeterPlace]:
    """The caller's meters by identity, each with the point it is installed on at `now`;
    optionally only those on no point (to install), or of some media."""
    installed = (
        sa.select(meter_installation.c.meter_id, meter_installation.c.metering_point_id)
        .where(
            meter_installation.c.installed_at <= now,
            sa.or_(
                meter_installation.c.removed_at.is_(None), meter_installation.c.removed_at > now
            ),
            _own(meter_installation.c.customer_id, access),
        )
        .subquery()
    )
    query = (
        sa.select(
            meter.c.id,
            meter.c.identity,
            meter.c.manufacturer,
            meter.c.medium,
            meter.c.register_unit,
            meter.c.register_digits,
            installed.c.metering_point_id,
            property_.c.designation,
            entrance.c.address,
            apartment.c.number,
        )
        .select_from(
            meter.outerjoin(installed, installed.c.meter_id == meter.c.id)
            .outerjoin(metering_point, metering_point.c.id == installed.c.metering_point_id)
            .outerjoin(property_, property_.c.id == metering_point.c.property_id)
            .outerjoin(apartment, apartment.c.id == metering_point.c.apartment_id)
            .outerjoin(entrance, entrance.c.id == apartment.c.entrance_id)
        )
        .where(_own(meter.c.customer_id, access))
        .order_by(meter.c.identity, meter.c.id)
    )
    if uninstalled_only:
        query = query.where(installed.c.meter_id.is_(None))
    if media is not None:
        query = query.where(meter.c.medium.in_(sorted(media)))
    rows: Iterable[Any] = conn.execute(query)  # ten columns: past SQLAlchemy's typed rows
    return [MeterPlace(*row) for row in rows]
