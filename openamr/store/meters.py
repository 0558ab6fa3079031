"""The register's metering: points, meters, and which meter was on which point when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from openamr.access import AccessContext
from openamr.store import portfolio
from openamr.store.buildings import find_apartment, find_property
from openamr.store.ownership import (
    UnableToChange,
    UnableToFind,
    any_row,
    count_rows,
    own,
    own_customer,
    refuse_if_used,
    still_referred_to,
    unique,
    valid_id,
)
from openamr.store.schema import (
    heard_device,
    hourly_value,
    meter,
    meter_installation,
    meter_key,
    metering_point,
    reading,
    telegram,
)


@dataclass(frozen=True, slots=True)
class PointRow:
    id: int
    customer_id: int
    property_id: int
    apartment_id: int | None
    medium: str


@dataclass(frozen=True, slots=True)
class MeterRow:
    id: int
    customer_id: int
    identity: str
    manufacturer: str | None
    medium: str
    register_unit: str
    register_digits: int | None


@dataclass(frozen=True, slots=True)
class InstallationRow:
    id: int
    customer_id: int
    meter_id: int
    metering_point_id: int
    installed_at: datetime
    removed_at: datetime | None


# --- metering points -----------------------------------------------------------------------------


_POINT_COLUMNS = (
    metering_point.c.id,
    metering_point.c.customer_id,
    metering_point.c.property_id,
    metering_point.c.apartment_id,
    metering_point.c.medium,
)


def list_metering_points(
    conn: sa.Connection,
    *,
    access: AccessContext,
    property_id: int | None = None,
    apartment_id: int | None = None,
) -> list[PointRow]:
    """The caller's metering points of a property (all of them, the apartments' too) or of an
    apartment. Raises UnableToFind for a property or apartment the caller does not have."""
    query = sa.select(*_POINT_COLUMNS).where(own(metering_point.c.customer_id, access))
    if property_id is not None:
        find_property(conn, access=access, property_id=property_id)
        query = query.where(metering_point.c.property_id == property_id)
    if apartment_id is not None:
        find_apartment(conn, access=access, apartment_id=apartment_id)
        query = query.where(metering_point.c.apartment_id == apartment_id)
    order = (metering_point.c.apartment_id.is_not(None), metering_point.c.apartment_id)
    return [
        PointRow(*row)
        for row in conn.execute(
            query.order_by(*order, metering_point.c.medium, metering_point.c.id)
        )
    ]


def find_metering_point(conn: sa.Connection, *, access: AccessContext, point_id: int) -> PointRow:
    """One of the caller's metering points. Raises UnableToFind."""
    if not valid_id(point_id):
        raise UnableToFind(f"no metering point {point_id}")
    row = conn.execute(
        sa.select(*_POINT_COLUMNS).where(
            metering_point.c.id == point_id, own(metering_point.c.customer_id, access)
        )
    ).first()
    if row is None:
        raise UnableToFind(f"no metering point {point_id}")
    return PointRow(*row)


def create_metering_point(
    conn: sa.Connection,
    *,
    access: AccessContext,
    medium: str,
    property_id: int | None = None,
    apartment_id: int | None = None,
) -> PointRow:
    """A point for one medium at an apartment, or at a property (its building's own meters).

    As in the portfolio import, an apartment or property has one point per
    medium. Raises UnableToFind, UnableToChange.
    """
    if apartment_id is not None and property_id is None:
        flat = find_apartment(conn, access=access, apartment_id=apartment_id)
        owner, at_property, where = flat.customer_id, flat.property_id, f"apartment {flat.id}"
    elif property_id is not None and apartment_id is None:
        prop = find_property(conn, access=access, property_id=property_id)
        owner, at_property, where = prop.customer_id, prop.id, f"property {prop.id}"
    else:
        raise ValueError("a metering point is at an apartment or at a property")
    ensured = portfolio.ensure_metering_point(
        conn, customer_id=owner, property_id=at_property, apartment_id=apartment_id, medium=medium
    )
    if not ensured.created:
        raise UnableToChange(f"{where} has a {medium} metering point already ({ensured.id})")
    return find_metering_point(conn, access=access, point_id=ensured.id)


def delete_metering_point(conn: sa.Connection, *, access: AccessContext, point_id: int) -> PointRow:
    """Delete a point that never had a meter or a value. Raises UnableToFind, UnableToChange."""
    found = find_metering_point(conn, access=access, point_id=point_id)
    refuse_if_used(
        f"metering point {found.id}",
        {
            "installations": count_rows(
                conn, meter_installation, meter_installation.c.metering_point_id == found.id
            ),
            "hourly values": any_row(conn, hourly_value.c.metering_point_id, found.id),
        },
    )
    with still_referred_to(f"metering point {found.id}"):
        conn.execute(metering_point.delete().where(metering_point.c.id == found.id))
    return found


# --- meters --------------------------------------------------------------------------------------


_METER_COLUMNS = (
    meter.c.id,
    meter.c.customer_id,
    meter.c.identity,
    meter.c.manufacturer,
    meter.c.medium,
    meter.c.register_unit,
    meter.c.register_digits,
)


def list_meters(
    conn: sa.Connection,
    *,
    access: AccessContext,
    customer_id: int | None = None,
    identity: str | None = None,
) -> list[MeterRow]:
    """The caller's meters by identity; optionally one customer's, or one identity."""
    query = sa.select(*_METER_COLUMNS).where(own(meter.c.customer_id, access))
    if customer_id is not None:
        query = query.where(meter.c.customer_id == customer_id)
    if identity is not None:
        query = query.where(meter.c.identity == identity)
    return [MeterRow(*row) for row in conn.execute(query.order_by(meter.c.identity, meter.c.id))]


def find_meter(conn: sa.Connection, *, access: AccessContext, meter_id: int) -> MeterRow:
    """One of the caller's meters. Raises UnableToFind."""
    if not valid_id(meter_id):
        raise UnableToFind(f"no meter {meter_id}")
    row = conn.execute(
        sa.select(*_METER_COLUMNS).where(meter.c.id == meter_id, own(meter.c.customer_id, access))
    ).first()
    if row is None:
        raise UnableToFind(f"no meter {meter_id}")
    return MeterRow(*row)


def create_meter(
    conn: sa.Connection,
    *,
    access: AccessContext,
    customer_id: int,
    identity: str,
    medium: str,
    register_unit: str,
    register_digits: int | None,
    manufacturer: str | None,
) -> MeterRow:
    """A new meter of one of the caller's customers. Raises UnableToFind, UnableToChange."""
    owner = own_customer(conn, access=access, customer_id=customer_id)
    message = f"the customer has a meter {identity!r} already"
    if conn.execute(
        sa.select(meter.c.id).where(meter.c.customer_id == owner, meter.c.identity == identity)
    ).first():
        raise UnableToChange(message)
    with unique(message):
        ensured = portfolio.upsert_meter(
            conn,
            customer_id=owner,
            identity=identity,
            medium=medium,
            register_unit=register_unit,
            register_digits=register_digits,
            manufacturer=manufacturer,
        )
    return find_meter(conn, access=access, meter_id=ensured.id)


def update_meter(
    conn: sa.Connection,
    *,
    access: AccessContext,
    meter_id: int,
    identity: str | None = None,
    manufacturer: str | None = None,
) -> MeterRow:
    """Correct a meter's identity or M-Bus manufacturer code. Raises UnableToFind, UnableToChange.

    Medium and unit are not changed here: stored readings were converted with
    them, and a meter measuring something else is another meter.
    """
    found = find_meter(conn, access=access, meter_id=meter_id)
    changes: dict[str, str] = {}
    if identity is not None and identity != found.identity:
        message = f"the customer has a meter {identity!r} already"
        if conn.execute(
            sa.select(meter.c.id).where(
                meter.c.customer_id == found.customer_id, meter.c.identity == identity
            )
        ).first():
            raise UnableToChange(message)
        changes["identity"] = identity
    if manufacturer is not None and manufacturer != found.manufacturer:
        changes["manufacturer"] = manufacturer
    if changes:
        with unique(f"the customer has a meter {identity!r} already"):
            conn.execute(meter.update().where(meter.c.id == found.id).values(**changes))
    return find_meter(conn, access=access, meter_id=meter_id)


def delete_meter(conn: sa.Connection, *, access: AccessContext, meter_id: int) -> MeterRow:
    """Delete a meter that was never installed, read or heard; its key goes with it.
    Raises UnableToFind, UnableToChange."""
    found = find_meter(conn, access=access, meter_id=meter_id)

    refuse_if_used(
        f"meter {found.id}",
        {
            "installations": count_rows(
                conn, meter_installation, meter_installation.c.meter_id == found.id
            ),
            "readings": any_row(conn, reading.c.meter_id, found.id),
            "telegrams": any_row(conn, telegram.c.meter_id, found.id),
            "devices heard as it": any_row(conn, heard_device.c.meter_id, found.id),
        },
    )
    with still_referred_to(f"meter {found.id}"):
        conn.execute(meter_key.delete().where(meter_key.c.meter_id == found.id))
        conn.execute(meter.delete().where(meter.c.id == found.id))
    return found


# --- installations -------------------------------------------------------------------------------


_INSTALLATION_COLUMNS = (
    meter_installation.c.id,
    meter_installation.c.customer_id,
    meter_installation.c.meter_id,
    meter_installation.c.metering_point_id,
    meter_installation.c.installed_at,
    meter_installation.c.removed_at,
)


def list_installations(
    conn: sa.Connection,
    *,
    access: AccessContext,
    meter_id: int | None = None,
    point_id: int | None = None,
) -> list[InstallationRow]:
    """Where a meter has been, or which meters a point has had, oldest first.
    Raises UnableToFind for a meter or point the caller does not have."""
    query = sa.select(*_INSTALLATION_COLUMNS).where(own(meter_installation.c.customer_id, access))
    if meter_id is not None:
        find_meter(conn, access=access, meter_id=meter_id)
        query = query.where(meter_installation.c.meter_id == meter_id)
    if point_id is not None:
        find_metering_point(conn, access=access, point_id=point_id)
        query = query.where(meter_installation.c.metering_point_id == point_id)
    order = (meter_installation.c.installed_at, meter_installation.c.id)
    return [InstallationRow(*row) for row in conn.execute(query.order_by(*order))]


def find_installation(
    conn: sa.Connection, *, access: AccessContext, installation_id: int
) -> InstallationRow:
    """One of the caller's installations. Raises UnableToFind."""
    if not valid_id(installation_id):
        raise UnableToFind(f"no installation {installation_id}")
    row = conn.execute(
        sa.select(*_INSTALLATION_COLUMNS).where(
            meter_installation.c.id == installation_id,
            own(meter_installation.c.customer_id, access),
        )
    ).first()
    if row is None:
        raise UnableToFind(f"no installation {installation_id}")
    return InstallationRow(*row)


def install_meter(
    conn: sa.Connection,
    *,
    access: AccessContext,
    meter_id: int,
    point_id: int,
    installed_at: datetime,
) -> InstallationRow:
    """Put a meter on a point from `installed_at`. Raises UnableToFind, UnableToChange.

    A meter is on one point at a time, a point has one meter at a time, and a
    meter measures the medium of its point.
    """
    found_meter = find_meter(conn, access=access, meter_id=meter_id)
    point = find_metering_point(conn, access=access, point_id=point_id)
    if found_meter.customer_id != point.customer_id:
        raise UnableToChange(
            f"meter {found_meter.id} and metering point {point.id} belong to different customers"
        )
    if found_meter.medium != point.medium:
        raise UnableToChange(
            f"meter {found_meter.id} measures {found_meter.medium}; "
            f"metering point {point.id} is for {point.medium}"
        )
    same = conn.execute(
        sa.select(meter_installation.c.id).where(
            meter_installation.c.meter_id == found_meter.id,
            meter_installation.c.installed_at == installed_at,
        )
    ).scalar()
    if same is not None:
        raise UnableToChange(
            f"meter {found_meter.id} is installed from {installed_at.isoformat()} already "
            f"(installation {same})"
        )
    ensured = portfolio.record_installation(
        conn,
        customer_id=point.customer_id,
        meter_id=found_meter.id,
        metering_point_id=point.id,
        installed_at=installed_at,
        removed_at=None,
    )
    return find_installation(conn, access=access, installation_id=ensured.id)


def remove_meter(
    conn: sa.Connection, *, access: AccessContext, installation_id: int, removed_at: datetime
) -> InstallationRow:
    """Take a meter off its point at `removed_at`. Raises UnableToFind, UnableToChange."""
    found = find_installation(conn, access=access, installation_id=installation_id)
    if found.removed_at is not None:
        raise UnableToChange(
            f"installation {found.id} ended already at {found.removed_at.isoformat()}"
        )
    if removed_at <= found.installed_at:
        raise UnableToChange(
            f"installation {found.id} began at {found.installed_at.isoformat()}; "
            "a meter is removed after it was installed"
        )
    portfolio.record_installation(
        conn,
        customer_id=found.customer_id,
        meter_id=found.meter_id,
        metering_point_id=found.metering_point_id,
        installed_at=found.installed_at,
        removed_at=removed_at,
    )
    return find_installation(conn, access=access, installation_id=installation_id)
