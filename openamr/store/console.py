"""Reads of the operations console: meter-centric data of the caller's own customers.

Every query takes the caller's access context and keeps it to its own
customers in SQL (`customer_id IN (...)`), so a customer's staff never see
another customer's properties, meters, devices or telegrams, whatever id a
URL names. Nothing here reads an apartment's consumption values: those go
through `openamr.present.series` and are audited (`openamr.guard.reads`).
Completeness counts hours by status per property, an aggregate over many
points that names no household and holds no value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from openamr.access import AccessContext
from openamr.store.schema import (
    apartment,
    entrance,
    gateway,
    heard_device,
    hourly_value,
    meter,
    meter_installation,
    metering_point,
    property_,
    reading,
    telegram,
)
from openamr.store.telegrams import FAILED, UNASSIGNED


def _own(column: sa.ColumnElement[int], access: AccessContext) -> sa.ColumnElement[bool]:
    """The caller's own customers' rows (the installation's operator: every customer's)."""
    if access.customer_ids is None:
        return sa.true()
    return column.in_(sorted(access.customer_ids))


def _in_force(now: datetime) -> sa.ColumnElement[bool]:
    """An installation in force at `now`: half-open [installed_at, removed_at)."""
    return sa.and_(
        meter_installation.c.installed_at <= now,
        sa.or_(meter_installation.c.removed_at.is_(None), meter_installation.c.removed_at > now),
    )


# --- the portfolio ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PropertySummary:
    id: int
    customer_id: int
    designation: str
    name: str
    time_zone: str
    apartments: int
    points: int
    meters: int  # installed now


def list_property_summaries(
    conn: sa.Connection, *, access: AccessContext, now: datetime, property_id: int | None = None
) -> list[PropertySummary]:
    """The caller's properties with how many apartments, metering points and meters each has."""
    apartments = (
        sa.select(sa.func.count(apartment.c.id))
        .join(entrance, entrance.c.id == apartment.c.entrance_id)
        .where(entrance.c.property_id == property_.c.id)
        .scalar_subquery()
    )
    points = (
        sa.select(sa.func.count(metering_point.c.id))
        .where(metering_point.c.property_id == property_.c.id)
        .scalar_subquery()
    )
    meters = (
        sa.select(sa.func.count(sa.distinct(meter_installation.c.meter_id)))
        .join(metering_point, metering_point.c.id == meter_installation.c.metering_point_id)
        .where(metering_point.c.property_id == property_.c.id, _in_force(now))
        .scalar_subquery()
    )
    query = (
        sa.select(
            property_.c.id,
            property_.c.customer_id,
            property_.c.designation,
            property_.c.name,
            property_.c.time_zone,
            apartments,
            points,
            meters,
        )
        .where(_own(property_.c.customer_id, access))
        .order_by(property_.c.designation, property_.c.id)
    )
    if property_id is not None:
        query = query.where(property_.c.id == property_id)
    return [PropertySummary(*row) for row in conn.execute(query)]


@dataclass(frozen=True, slots=True)
class HourCount:
    """How many of a property's point-hours starting at `start_at` have `status`."""

    property_id: int
    start_at: datetime
    status: str
    hours: int


def count_hours_by_status(
    conn: sa.Connection, *, access: AccessContext, start: datetime, end: datetime
) -> list[HourCount]:
    """Stored hourly values in [start, end) of the caller's properties, counted by hour and status.

    Hours with no row are missing; the caller counts them from the points.
    """
    query = (
        sa.select(
            metering_point.c.property_id,
            hourly_value.c.start_at,
            hourly_value.c.status,
            sa.func.count(),
        )
        .join(metering_point, metering_point.c.id == hourly_value.c.metering_point_id)
        .where(
            hourly_value.c.start_at >= start,
            hourly_value.c.start_at < end,
            _own(hourly_value.c.customer_id, access),
            _own(metering_point.c.customer_id, access),
        )
        .group_by(metering_point.c.property_id, hourly_value.c.start_at, hourly_value.c.status)
    )
    return [HourCount(*row) for row in conn.execute(query)]


# --- a property ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlacedPoint:
    """A metering point where it is, and the meter on it now, if any."""

    point_id: int
    medium: str
    entrance: str | None  # None for a property-level point (a building's main meter)
    apartment_id: int | None
    apartment_number: str | None
    meter_id: int | None
    meter_identity: str | None
    manufacturer: str | None


def list_placed_points(
    conn: sa.Connection, *, access: AccessContext, property_id: int, now: datetime
) -> list[PlacedPoint]:
    """The property's points by entrance and apartment number, each with its meter now.

    Apartments without a point are listed too, with `point_id` 0, so that the
    console shows the whole building.
    """
    installed = (
        sa.select(
            meter_installation.c.metering_point_id,
            meter.c.id.label("meter_id"),
            meter.c.identity,
            meter.c.manufacturer,
        )
        .join(meter, meter.c.id == meter_installation.c.meter_id)
        .where(_in_force(now), _own(meter.c.customer_id, access))
        .subquery()
    )
    places = (
        sa.select(
            apartment.c.id.label("apartment_id"),
            apartment.c.number,
            entrance.c.address,
        )
        .join(entrance, entrance.c.id == apartment.c.entrance_id)
        .where(entrance.c.property_id == property_id, _own(apartment.c.customer_id, access))
        .subquery()
    )
    with_points = (
        sa.select(
            metering_point.c.id,
            metering_point.c.medium,
            places.c.address,
            metering_point.c.apartment_id,
            places.c.number,
            installed.c.meter_id,
            installed.c.identity,
            installed.c.manufacturer,
        )
        .select_from(
            metering_point.outerjoin(
                places, places.c.apartment_id == metering_point.c.apartment_id
            ).outerjoin(installed, installed.c.metering_point_id == metering_point.c.id)
        )
        .where(
            metering_point.c.property_id == property_id,
            _own(metering_point.c.customer_id, access),
        )
    )
    found = [PlacedPoint(*row) for row in conn.execute(with_points)]
    with_point = {row.apartment_id for row in found}
    for row in conn.execute(sa.select(places)):
        if row.apartment_id not in with_point:
            found.append(
                PlacedPoint(0, "", row.address, row.apartment_id, row.number, None, None, None)
            )
    return sorted(
        found,
        key=lambda p: (p.entrance is None, p.entrance or "", p.apartment_number or "", p.medium),
    )


@dataclass(frozen=True, slots=True)
class FreePoint:
    """A metering point with no meter on it now: where an unassigned meter can go."""

    point_id: int
    customer_id: int
    property_id: int
    designation: str
    medium: str
    entrance: str | None
    apartment_number: str | None


def list_free_points(
    conn: sa.Connection, *, access: AccessContext, now: datetime, medium: str | None = None
) -> list[FreePoint]:
    """The caller's metering points without a meter installed at `now`."""
    taken = sa.select(meter_installation.c.metering_point_id).where(_in_force(now))
    query = (
        sa.select(
            metering_point.c.id,
            metering_point.c.customer_id,
            metering_point.c.property_id,
            property_.c.designation,
            metering_point.c.medium,
            entrance.c.address,
            apartment.c.number,
        )
        .select_from(
            metering_point.join(property_, property_.c.id == metering_point.c.property_id)
            .outerjoin(apartment, apartment.c.id == metering_point.c.apartment_id)
            .outerjoin(entrance, entrance.c.id == apartment.c.entrance_id)
        )
        .where(_own(metering_point.c.customer_id, access), metering_point.c.id.not_in(taken))
        .order_by(
            property_.c.designation, entrance.c.address, apartment.c.number, metering_point.c.id
        )
    )
    if medium is not None:
        query = query.where(metering_point.c.medium == medium)
    return [FreePoint(*row) for row in conn.execute(query)]


# --- a meter ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MeterDetail:
    """A meter, where it is now, and what its latest telegram said of itself."""

    id: int
    customer_id: int
    identity: str
    manufacturer: str | None
    medium: str
    register_unit: str
    point_id: int | None
    property_id: int | None
    designation: str | None
    time_zone: str | None  # of the property it is installed at
    entrance: str | None
    apartment_id: int | None
    apartment_number: str | None
    last_seen_at: datetime | None
    rssi: int | None
    status: int | None
    flags: tuple[str, ...]
    telegrams: int


def find_meter_detail(
    conn: sa.Connection, *, access: AccessContext, meter_id: int, now: datetime
) -> MeterDetail | None:
    """The meter if it is the caller's customer's, else None."""
    query = (
        sa.select(
            meter.c.id,
            meter.c.customer_id,
            meter.c.identity,
            meter.c.manufacturer,
            meter.c.medium,
            meter.c.register_unit,
            metering_point.c.id.label("point_id"),
            property_.c.id.label("property_id"),
            property_.c.designation,
            property_.c.time_zone,
            entrance.c.address,
            apartment.c.id.label("apartment_id"),
            apartment.c.number,
            heard_device.c.last_seen_at,
            heard_device.c.rssi,
            heard_device.c.status,
            heard_device.c.flags,
            heard_device.c.telegrams,
        )
        .select_from(
            meter.outerjoin(
                meter_installation,
                sa.and_(meter_installation.c.meter_id == meter.c.id, _in_force(now)),
            )
            .outerjoin(
                metering_point, metering_point.c.id == meter_installation.c.metering_point_id
            )
            .outerjoin(property_, property_.c.id == metering_point.c.property_id)
            .outerjoin(apartment, apartment.c.id == metering_point.c.apartment_id)
            .outerjoin(entrance, entrance.c.id == apartment.c.entrance_id)
            .outerjoin(
                heard_device,
                sa.and_(
                    heard_device.c.customer_id == meter.c.customer_id,
                    heard_device.c.meter_id == meter.c.id,
                ),
            )
        )
        .where(meter.c.id == meter_id, _own(meter.c.customer_id, access))
        .order_by(heard_device.c.last_seen_at.desc())
        .limit(1)
    )
    row = conn.execute(query).first()
    if row is None:
        return None
    return MeterDetail(
        id=row.id,
        customer_id=row.customer_id,
        identity=row.identity,
        manufacturer=row.manufacturer,
        medium=row.medium,
        register_unit=row.register_unit,
        point_id=row.point_id,
        property_id=row.property_id,
        designation=row.designation,
        time_zone=row.time_zone,
        entrance=row.address,
        apartment_id=row.apartment_id,
        apartment_number=row.number,
        last_seen_at=row.last_seen_at,
        rssi=row.rssi,
        status=row.status,
        flags=_flags(row.flags),
        telegrams=row.telegrams or 0,
    )


def _flags(text: str | None) -> tuple[str, ...]:
    return tuple(flag for flag in (text or "").split(",") if flag)


@dataclass(frozen=True, slots=True)
class RegisterReading:
    read_at: datetime
    value: int  # in the storage unit of the meter's quantity (Wh, L, ...)


def list_latest_readings(
    conn: sa.Connection, *, access: AccessContext, meter_id: int, limit: int = 5
) -> list[RegisterReading]:
    """The meter's latest register readings, newest first (the register, not a consumption)."""
    query = (
        sa.select(reading.c.read_at, reading.c.value)
        .where(reading.c.meter_id == meter_id, _own(reading.c.customer_id, access))
        .order_by(reading.c.read_at.desc())
        .limit(limit)
    )
    return [RegisterReading(*row) for row in conn.execute(query)]


@dataclass(frozen=True, slots=True)
class FlaggedMeter:
    """A device heard whose latest telegram raised a flag (leak, burst, dry, ...)."""

    customer_id: int
    manufacturer: str
    device_id: str
    meter_id: int | None
    last_seen_at: datetime
    flags: tuple[str, ...]


def list_flagged_devices(conn: sa.Connection, *, access: AccessContext) -> list[FlaggedMeter]:
    """Devices of the caller's customers whose latest telegram carries flags, latest first."""
    query = (
        sa.select(
            heard_device.c.customer_id,
            heard_device.c.manufacturer,
            heard_device.c.device_id,
            heard_device.c.meter_id,
            heard_device.c.last_seen_at,
            heard_device.c.flags,
        )
        .where(
            _own(heard_device.c.customer_id, access),
            heard_device.c.flags.is_not(None),
            heard_device.c.flags != "",
        )
        .order_by(heard_device.c.last_seen_at.desc(), heard_device.c.device_id)
    )
    return [
        FlaggedMeter(
            customer_id=row.customer_id,
            manufacturer=row.manufacturer,
            device_id=row.device_id,
            meter_id=row.meter_id,
            last_seen_at=row.last_seen_at,
            flags=_flags(row.flags),
        )
        for row in conn.execute(query)
    ]


# --- telegrams that could not be used -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UndecodedTelegram:
    id: int
    customer_id: int
    gateway: str
    received_at: datetime
    manufacturer: str | None
    device_id: str | None
    state: str  # failed or unassigned
    cause: str | None
    reason: str | None


def list_undecoded_telegrams(
    conn: sa.Connection,
    *,
    access: AccessContext,
    states: Sequence[str] = (FAILED, UNASSIGNED),
    limit: int = 200,
) -> list[UndecodedTelegram]:
    """The caller's telegrams that could not be decoded or filed, newest first, with why."""
    query = (
        sa.select(
            telegram.c.id,
            telegram.c.customer_id,
            gateway.c.identity,
            telegram.c.received_at,
            telegram.c.manufacturer,
            telegram.c.device_id,
            telegram.c.state,
            telegram.c.cause,
            telegram.c.reason,
        )
        .join(gateway, gateway.c.id == telegram.c.gateway_id)
        .where(_own(telegram.c.customer_id, access), telegram.c.state.in_(list(states)))
        .order_by(telegram.c.received_at.desc(), telegram.c.id.desc())
        .limit(limit)
    )
    return [UndecodedTelegram(*row) for row in conn.execute(query)]


def count_undecoded_telegrams(
    conn: sa.Connection, *, access: AccessContext
) -> dict[tuple[str, str], int]:
    """How many of the caller's telegrams wait, by (state, cause or state)."""
    query = (
        sa.select(telegram.c.state, telegram.c.cause, sa.func.count())
        .where(_own(telegram.c.customer_id, access), telegram.c.state.in_([FAILED, UNASSIGNED]))
        .group_by(telegram.c.state, telegram.c.cause)
    )
    return {(row[0], row[1] or row[0]): row[2] for row in conn.execute(query)}


# --- search -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SearchHit:
    kind: str  # "meter", "property" or "apartment"
    id: int  # the meter's, the property's; for an apartment, its property's
    label: str
    detail: str


def _like(text: str) -> str:
    """`text` as a LIKE pattern matching it anywhere, its own % and _ taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search(
    conn: sa.Connection, *, access: AccessContext, text: str, limit: int = 50
) -> list[SearchHit]:
    """Meters by id, properties by designation or name, apartments by number: the caller's own."""
    needle = text.strip()
    if not needle:
        return []
    pattern = _like(needle.lower())
    hits: list[SearchHit] = []
    meters = (
        sa.select(meter.c.id, meter.c.identity, meter.c.manufacturer, meter.c.medium)
        .where(
            _own(meter.c.customer_id, access),
            sa.func.lower(meter.c.identity).like(pattern, escape="\\"),
        )
        .order_by(meter.c.identity)
        .limit(limit)
    )
    hits += [
        SearchHit("meter", row.id, row.identity, f"{row.manufacturer or ''} {row.medium}".strip())
        for row in conn.execute(meters)
    ]
    properties = (
        sa.select(property_.c.id, property_.c.designation, property_.c.name)
        .where(
            _own(property_.c.customer_id, access),
            sa.or_(
                sa.func.lower(property_.c.designation).like(pattern, escape="\\"),
                sa.func.lower(property_.c.name).like(pattern, escape="\\"),
            ),
        )
        .order_by(property_.c.designation)
        .limit(limit)
    )
    hits += [
        SearchHit("property", row.id, row.designation, row.name) for row in conn.execute(properties)
    ]
    apartments = (
        sa.select(property_.c.id, property_.c.designation, entrance.c.address, apartment.c.number)
        .join(entrance, entrance.c.id == apartment.c.entrance_id)
        .join(property_, property_.c.id == entrance.c.property_id)
        .where(_own(apartment.c.customer_id, access), apartment.c.number == needle)
        .order_by(property_.c.designation, entrance.c.address)
        .limit(limit)
    )
    hits += [
        SearchHit("apartment", row.id, f"{row.address} {row.number}", row.designation)
        for row in conn.execute(apartments)
    ]
    return hits
