"""Writes and lookups of the installation register: get-or-create, so imports can run again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from openamr.store.schema import (
    apartment,
    customer,
    entrance,
    meter,
    meter_installation,
    metering_point,
    property_,
    reading,
    tenancy,
)


class UnableToRegister(ValueError):
    """An installation-register change that would make the register contradict itself."""


@dataclass(frozen=True, slots=True)
class Ensured:
    id: int
    created: bool


def ensure_customer(conn: sa.Connection, *, name: str, now: datetime) -> Ensured:
    found = conn.execute(sa.select(customer.c.id).where(customer.c.name == name)).scalar()
    if found is not None:
        return Ensured(found, created=False)
    new_id = conn.execute(
        customer.insert().values(name=name, created_at=now).returning(customer.c.id)
    ).scalar_one()
    return Ensured(new_id, created=True)


def ensure_property(
    conn: sa.Connection,
    *,
    customer_id: int,
    designation: str,
    time_zone: str,
    name: str | None = None,
) -> Ensured:
    """The customer's property of `designation`; a new one is called `name` (or its designation)."""
    found = conn.execute(
        sa.select(property_.c.id).where(
            property_.c.customer_id == customer_id, property_.c.designation == designation
        )
    ).scalar()
    if found is not None:
        return Ensured(found, created=False)
    new_id = conn.execute(
        property_.insert()
        .values(
            customer_id=customer_id,
            designation=designation,
            name=name or designation,
            time_zone=time_zone,
        )
        .returning(property_.c.id)
    ).scalar_one()
    return Ensured(new_id, created=True)


def ensure_entrance(
    conn: sa.Connection, *, customer_id: int, property_id: int, address: str
) -> Ensured:
    found = conn.execute(
        sa.select(entrance.c.id).where(
            entrance.c.property_id == property_id, entrance.c.address == address
        )
    ).scalar()
    if found is not None:
        return Ensured(found, created=False)
    new_id = conn.execute(
        entrance.insert()
        .values(customer_id=customer_id, property_id=property_id, address=address)
        .returning(entrance.c.id)
    ).scalar_one()
    return Ensured(new_id, created=True)


def ensure_apartment(
    conn: sa.Connection, *, customer_id: int, entrance_id: int, number: str
) -> Ensured:
    found = conn.execute(
        sa.select(apartment.c.id).where(
            apartment.c.entrance_id == entrance_id, apartment.c.number == number
        )
    ).scalar()
    if found is not None:
        return Ensured(found, created=False)
    new_id = conn.execute(
        apartment.insert()
        .values(customer_id=customer_id, entrance_id=entrance_id, number=number)
        .returning(apartment.c.id)
    ).scalar_one()
    return Ensured(new_id, created=True)


def ensure_metering_point(
    conn: sa.Connection,
    *,
    customer_id: int,
    property_id: int,
    apartment_id: int | None,
    medium: str,
) -> Ensured:
    """The point for one medium at one apartment, or at the property when `apartment_id` is None."""
    # An apartment belongs to one property, so its points are found by the
    # apartment alone: with the property in the filter too, SQLite chose the
    # property's index and scanned every point of it for each row imported.
    where = (
        [metering_point.c.property_id == property_id, metering_point.c.apartment_id.is_(None)]
        if apartment_id is None
        else [metering_point.c.apartment_id == apartment_id]
    )
    found = conn.execute(
        sa.select(metering_point.c.id)
        .where(*where, metering_point.c.medium == medium)
        .order_by(metering_point.c.id)
        .limit(1)
    ).scalar()
    if found is not None:
        return Ensured(found, created=False)
    new_id = conn.execute(
        metering_point.insert()
        .values(
            customer_id=customer_id,
            property_id=property_id,
            apartment_id=apartment_id,
            medium=medium,
        )
        .returning(metering_point.c.id)
    ).scalar_one()
    return Ensured(new_id, created=True)


def upsert_meter(
    conn: sa.Connection,
    *,
    customer_id: int,
    identity: str,
    medium: str,
    register_unit: str,
    register_digits: int | None,
    manufacturer: str | None = None,
) -> Ensured:
    """Create a meter, or update its description. Raises UnableToRegister.

    A meter that already has readings keeps its medium and register unit: the
    stored values were converted with them.
    """
    row = conn.execute(
        sa.select(meter).where(meter.c.customer_id == customer_id, meter.c.identity == identity)
    ).first()
    if row is None:
        new_id = conn.execute(
            meter.insert()
            .values(
                customer_id=customer_id,
                identity=identity,
                manufacturer=manufacturer,
                medium=medium,
                register_unit=register_unit,
                register_digits=register_digits,
            )
            .returning(meter.c.id)
        ).scalar_one()
        return Ensured(new_id, created=True)
    if (row.medium, row.register_unit) != (medium, register_unit):
        has_readings = conn.execute(
            sa.select(reading.c.meter_id).where(reading.c.meter_id == row.id).limit(1)
        ).first()
        if has_readings is not None:
            raise UnableToRegister(
                f"meter {identity} already has readings as {row.medium} in {row.register_unit}; "
                f"a meter measuring {medium} in {register_unit} needs its own identity"
            )
    changes = {
        "medium": medium,
        "register_unit": register_unit,
        "register_digits": register_digits,
        "manufacturer": manufacturer or row.manufacturer,
    }
    if any(getattr(row, key) != value for key, value in changes.items()):
        conn.execute(meter.update().where(meter.c.id == row.id).values(**changes))
    return Ensured(row.id, created=False)


def record_installation(
    conn: sa.Connection,
    *,
    customer_id: int,
    meter_id: int,
    metering_point_id: int,
    installed_at: datetime,
    removed_at: datetime | None,
) -> Ensured:
    """Record that a meter sits on a point for [installed_at, removed_at). Raises UnableToRegister.

    The same meter and installation time is the same installation (its removal
    time may be added later). A meter is on one point at a time, and a point has
    one meter at a time.
    """
    if removed_at is not None and removed_at <= installed_at:
        raise UnableToRegister("removed_at must be later than installed_at")
    same = conn.execute(
        sa.select(meter_installation).where(
            meter_installation.c.meter_id == meter_id,
            meter_installation.c.installed_at == installed_at,
        )
    ).first()
    _refuse_overlap(
        conn,
        column=meter_installation.c.meter_id,
        value=meter_id,
        installed_at=installed_at,
        removed_at=removed_at,
        ignore_id=same.id if same else None,
        what="the meter is already installed elsewhere",
    )
    _refuse_overlap(
        conn,
        column=meter_installation.c.metering_point_id,
        value=metering_point_id,
        installed_at=installed_at,
        removed_at=removed_at,
        ignore_id=same.id if same else None,
        what="the metering point already has another meter",
    )
    if same is None:
        new_id = conn.execute(
            meter_installation.insert()
            .values(
                customer_id=customer_id,
                meter_id=meter_id,
                metering_point_id=metering_point_id,
                installed_at=installed_at,
                removed_at=removed_at,
            )
            .returning(meter_installation.c.id)
        ).scalar_one()
        return Ensured(new_id, created=True)
    if (same.metering_point_id, same.removed_at) != (metering_point_id, removed_at):
        conn.execute(
            meter_installation.update()
            .where(meter_installation.c.id == same.id)
            .values(metering_point_id=metering_point_id, removed_at=removed_at)
        )
    return Ensured(same.id, created=False)


def _refuse_overlap(
    conn: sa.Connection,
    *,
    column: sa.Column[int],
    value: int,
    installed_at: datetime,
    removed_at: datetime | None,
    ignore_id: int | None,
    what: str,
) -> None:
    query = sa.select(meter_installation.c.installed_at, meter_installation.c.removed_at).where(
        column == value,
        sa.or_(
            meter_installation.c.removed_at.is_(None),
            meter_installation.c.removed_at > installed_at,
        ),
    )
    if removed_at is not None:
        query = query.where(meter_installation.c.installed_at < removed_at)
    if ignore_id is not None:
        query = query.where(meter_installation.c.id != ignore_id)
    clash = conn.execute(query.limit(1)).first()
    if clash is not None:
        until = clash.removed_at.isoformat() if clash.removed_at else "now"
        raise UnableToRegister(f"{what} from {clash.installed_at.isoformat()} until {until}")


def add_tenancy(
    conn: sa.Connection,
    *,
    customer_id: int,
    apartment_id: int,
    start_at: datetime,
    end_at: datetime | None,
) -> int:
    """A household's period in an apartment (no names). Raises UnableToRegister on overlap."""
    if end_at is not None and end_at <= start_at:
        raise UnableToRegister("a tenancy must end after it starts")
    query = sa.select(tenancy.c.id, tenancy.c.start_at, tenancy.c.end_at).where(
        tenancy.c.apartment_id == apartment_id,
        sa.or_(tenancy.c.end_at.is_(None), tenancy.c.end_at > start_at),
    )
    if end_at is not None:
        query = query.where(tenancy.c.start_at < end_at)
    clash = conn.execute(query.order_by(tenancy.c.start_at).limit(1)).first()
    if clash is not None:
        # Ids and instants only: a tenancy has nothing else, and nothing that names anyone.
        until = clash.end_at.isoformat() if clash.end_at else "no end (its household lives there)"
        raise UnableToRegister(
            f"the apartment already has tenancy {clash.id} in that period: from "
            f"{clash.start_at.isoformat()} until {until}"
        )
    tenancy_id: int = conn.execute(
        tenancy.insert()
        .values(
            customer_id=customer_id, apartment_id=apartment_id, start_at=start_at, end_at=end_at
        )
        .returning(tenancy.c.id)
    ).scalar_one()
    return tenancy_id
