"""Reads of the installation register, always through the caller's access context."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from openamr.access import AccessContext
from openamr.store.schema import (
    access_grant_medium,
    apartment,
    customer,
    entrance,
    meter,
    meter_installation,
    metering_point,
    property_,
    tenancy,
)
from openamr.units import STORAGE_UNITS, parse_unit


@dataclass(frozen=True, slots=True)
class PropertyRow:
    id: int
    customer_id: int
    customer: str
    designation: str
    name: str
    time_zone: str
    apartments: int


@dataclass(frozen=True, slots=True)
class ApartmentRow:
    id: int
    customer_id: int
    property_id: int
    entrance: str
    number: str


@dataclass(frozen=True, slots=True)
class PointRow:
    id: int
    customer_id: int
    property_id: int
    apartment_id: int | None
    medium: str
    unit: str  # the storage unit its values are in
    time_zone: str


@dataclass(frozen=True, slots=True)
class TenancySpan:
    """A tenancy as the audit of a read needs it: which household's period a read touched."""

    id: int
    apartment_id: int
    start_at: datetime
    end_at: datetime | None


def _visible(column: sa.ColumnElement[int], access: AccessContext) -> sa.ColumnElement[bool]:
    """The SQL filter that keeps the caller to its own customers."""
    if access.customer_ids is None:
        return sa.true()
    return column.in_(sorted(access.customer_ids))


def _visible_apartment(
    column: sa.ColumnElement[int | None], access: AccessContext
) -> sa.ColumnElement[bool]:
    """A household, or staff under a grant, reaches one apartment only: its tenancy's."""
    if access.tenancy is None:
        return sa.true()
    return column == access.tenancy.apartment_id


def _visible_point(access: AccessContext) -> sa.ColumnElement[bool]:
    """Metering points the caller may see: its customers', its tenancy's, its grant's media."""
    clause = sa.and_(
        _visible(metering_point.c.customer_id, access),
        _visible_apartment(metering_point.c.apartment_id, access),
    )
    if access.grant_id is not None:
        # A grant opens the media of its scope, nothing else of the apartment.
        clause = sa.and_(
            clause,
            metering_point.c.medium.in_(
                sa.select(access_grant_medium.c.medium).where(
                    access_grant_medium.c.grant_id == access.grant_id
                )
            ),
        )
    return clause


def tenancy_window(
    access: AccessContext, start: datetime, end: datetime
) -> tuple[datetime, datetime]:
    """[start, end) narrowed to the caller's tenancy, if it has one (P1b); may come out empty.

    A household, or staff under a grant, reads nothing from before the
    tenancy began or from its end on: the previous and the next household's
    hours are not theirs.
    """
    if access.tenancy is None:
        return start, end
    start = max(start, access.tenancy.start_at)
    if access.tenancy.end_at is not None:
        end = min(end, access.tenancy.end_at)
    return start, end


def list_tenancies_in(
    conn: sa.Connection, *, apartment_ids: list[int], start: datetime, end: datetime
) -> list[TenancySpan]:
    """The tenancies of these apartments that overlap [start, end), oldest first."""
    if not apartment_ids:
        return []
    query = (
        sa.select(tenancy.c.id, tenancy.c.apartment_id, tenancy.c.start_at, tenancy.c.end_at)
        .where(
            tenancy.c.apartment_id.in_(sorted(set(apartment_ids))),
            tenancy.c.start_at < end,
            sa.or_(tenancy.c.end_at.is_(None), tenancy.c.end_at > start),
        )
        .order_by(tenancy.c.apartment_id, tenancy.c.start_at)
    )
    return [TenancySpan(*row) for row in conn.execute(query)]


def list_properties(
    conn: sa.Connection,
    *,
    access: AccessContext,
    designation: str | None = None,
    property_id: int | None = None,
) -> list[PropertyRow]:
    """Properties the caller may see, optionally one by designation or id."""
    count = (
        sa.select(sa.func.count(apartment.c.id))
        .join(entrance, entrance.c.id == apartment.c.entrance_id)
        .where(entrance.c.property_id == property_.c.id)
        .scalar_subquery()
    )
    query = (
        sa.select(
            property_.c.id,
            property_.c.customer_id,
            customer.c.name,
            property_.c.designation,
            property_.c.name,
            property_.c.time_zone,
            count,
        )
        .join(customer, customer.c.id == property_.c.customer_id)
        .where(_visible(property_.c.customer_id, access))
        .order_by(customer.c.name, property_.c.designation)
    )
    if access.tenancy is not None:
        query = query.where(
            property_.c.id
            == sa.select(entrance.c.property_id)
            .join(apartment, apartment.c.entrance_id == entrance.c.id)
            .where(apartment.c.id == access.tenancy.apartment_id)
            .scalar_subquery()
        )
    if designation is not None:
        query = query.where(property_.c.designation == designation)
    if property_id is not None:
        query = query.where(property_.c.id == property_id)
    return [PropertyRow(*row) for row in conn.execute(query)]


def list_apartments(
    conn: sa.Connection,
    *,
    access: AccessContext,
    property_id: int,
    entrance_address: str | None = None,
    number: str | None = None,
) -> list[ApartmentRow]:
    query = (
        sa.select(
            apartment.c.id,
            apartment.c.customer_id,
            entrance.c.property_id,
            entrance.c.address,
            apartment.c.number,
        )
        .join(entrance, entrance.c.id == apartment.c.entrance_id)
        .where(
            entrance.c.property_id == property_id,
            _visible(apartment.c.customer_id, access),
            _visible_apartment(apartment.c.id, access),
        )
        .order_by(entrance.c.address, apartment.c.number)
    )
    if entrance_address is not None:
        query = query.where(entrance.c.address == entrance_address)
    if number is not None:
        query = query.where(apartment.c.number == number)
    return [ApartmentRow(*row) for row in conn.execute(query)]


def get_apartment(
    conn: sa.Connection, *, access: AccessContext, apartment_id: int
) -> ApartmentRow | None:
    query = (
        sa.select(
            apartment.c.id,
            apartment.c.customer_id,
            entrance.c.property_id,
            entrance.c.address,
            apartment.c.number,
        )
        .join(entrance, entrance.c.id == apartment.c.entrance_id)
        .where(
            apartment.c.id == apartment_id,
            _visible(apartment.c.customer_id, access),
            _visible_apartment(apartment.c.id, access),
        )
    )
    row = conn.execute(query).first()
    return ApartmentRow(*row) if row else None


def list_metering_points(
    conn: sa.Connection,
    *,
    access: AccessContext,
    property_id: int | None = None,
    apartment_id: int | None = None,
    property_level: bool = False,
    medium: str | None = None,
    point_id: int | None = None,
) -> list[PointRow]:
    """Metering points the caller may see, filtered by place and medium."""
    query = (
        sa.select(
            metering_point.c.id,
            metering_point.c.customer_id,
            metering_point.c.property_id,
            metering_point.c.apartment_id,
            metering_point.c.medium,
            property_.c.time_zone,
        )
        .join(property_, property_.c.id == metering_point.c.property_id)
        .where(_visible_point(access))
        .order_by(metering_point.c.id)
    )
    if point_id is not None:
        query = query.where(metering_point.c.id == point_id)
    if property_id is not None:
        query = query.where(metering_point.c.property_id == property_id)
    if apartment_id is not None:
        query = query.where(metering_point.c.apartment_id == apartment_id)
    if property_level:
        query = query.where(metering_point.c.apartment_id.is_(None))
    if medium is not None:
        query = query.where(metering_point.c.medium == medium)
    rows = conn.execute(query).all()
    units = _point_units(conn, [row.id for row in rows])
    return [
        PointRow(
            id=row.id,
            customer_id=row.customer_id,
            property_id=row.property_id,
            apartment_id=row.apartment_id,
            medium=row.medium,
            unit=units.get(row.id, ""),
            time_zone=row.time_zone,
        )
        for row in rows
    ]


def _point_units(conn: sa.Connection, point_ids: list[int]) -> dict[int, str]:
    """Each point's storage unit, from the register unit of the meters installed on it."""
    if not point_ids:
        return {}
    query = (
        sa.select(meter_installation.c.metering_point_id, meter.c.register_unit)
        .join(meter, meter.c.id == meter_installation.c.meter_id)
        .where(meter_installation.c.metering_point_id.in_(point_ids))
        .order_by(meter_installation.c.installed_at)
    )
    return {
        row.metering_point_id: STORAGE_UNITS[parse_unit(row.register_unit).quantity]
        for row in conn.execute(query)
    }
