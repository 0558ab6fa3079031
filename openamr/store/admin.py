"""Administration of the installation register: customers, buildings, points, meters, tenancies.

Every function takes the caller's `AccessContext` and keeps it to its own
customers in SQL. An object of another customer is answered exactly like one
that does not exist (`UnableToFind`), so that a customer administrator cannot
learn what other customers have by trying ids. Objects the portfolio import
also makes are created through `openamr.store.portfolio`, so that the two
ways in build the same register.

Deleting is for mistakes: only what nothing refers to any more can be
deleted (`UnableToChange` says what still refers to it). A tenancy is never
deleted; it ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from openamr.access import AccessContext, Role
from openamr.store import portfolio as register
from openamr.store.identities import TENANCY_COLUMNS, TENANCY_FROM, TenancyRow
from openamr.store.schema import (
    access_code,
    apartment,
    auth_session,
    customer,
    entrance,
    gateway,
    heard_device,
    hourly_value,
    household,
    meter,
    meter_installation,
    meter_key,
    metering_point,
    property_,
    reading,
    staff_account,
    telegram,
    tenancy,
)


class UnableToFind(LookupError):
    """No such object for this caller; whether another customer has one is not said."""


class UnableToChange(register.UnableToRegister):
    """A change the register refuses: a duplicate, an overlap, or an object still in use."""


# --- rows ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CustomerRow:
    id: int
    name: str
    created_at: datetime
    operations_hourly: bool
    properties: int
    apartments: int


@dataclass(frozen=True, slots=True)
class PropertyRow:
    id: int
    customer_id: int
    designation: str
    name: str
    time_zone: str
    entrances: int
    apartments: int


@dataclass(frozen=True, slots=True)
class EntranceRow:
    id: int
    customer_id: int
    property_id: int
    address: str
    apartments: int


@dataclass(frozen=True, slots=True)
class ApartmentRow:
    id: int
    customer_id: int
    property_id: int
    entrance_id: int
    entrance: str  # the entrance's address
    number: str
    time_zone: str  # the property's, for dates given as local days


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


@dataclass(frozen=True, slots=True)
class StaffRow:
    """A customer's staff account as its administrators see it: never a secret."""

    id: int
    customer_id: int
    email: str  # a business address
    role: str
    second_factor: bool
    created_at: datetime
    disabled_at: datetime | None


@dataclass(frozen=True, slots=True)
class MoveOut:
    """A tenancy that ended, and what of its household's access ended with it at once."""

    tenancy: TenancyRow
    end_at: datetime  # the tenancy's end, as recorded
    sessions_ended: int
    access_codes_revoked: int


# --- who may touch what -------------------------------------------------------------------------


def _own(column: sa.ColumnElement[int], access: AccessContext) -> sa.ColumnElement[bool]:
    """The SQL filter that keeps the caller to its own customers' rows."""
    if access.customer_ids is None:
        return sa.true()
    return column.in_(sorted(access.customer_ids))


def manages_customers(access: AccessContext) -> bool:
    """Whether the caller manages customers themselves: the platform's administrators and the
    installation's operator. Managing a customer (its name, its settings) is not seeing its data."""
    return access.customer_ids is None or access.role is Role.PLATFORM_ADMIN


def _customers_of(access: AccessContext) -> sa.ColumnElement[bool]:
    if manages_customers(access):
        return sa.true()
    return _own(customer.c.id, access)


@contextmanager
def _unique(message: str) -> Iterator[None]:
    """A unique constraint hit by a concurrent writer after our check: the same refusal."""
    try:
        yield
    except sa.exc.IntegrityError:
        raise UnableToChange(message) from None


@contextmanager
def _still_referred_to(what: str) -> Iterator[None]:
    """A deletion refused by a foreign key the checks above do not name (a disclosure that
    names the apartment, say): the same kind of refusal, not a server error."""
    try:
        yield
    except sa.exc.IntegrityError:
        raise UnableToChange(f"{what} is still referred to by other records; it stays") from None


def _count(conn: sa.Connection, table: sa.Table, *where: sa.ColumnElement[bool]) -> int:
    counted: int = conn.execute(
        sa.select(sa.func.count()).select_from(table).where(*where)
    ).scalar_one()
    return counted


# Ids are 32-bit integers in both databases: a larger one names nothing (and
# PostgreSQL would refuse to compare it with an integer column).
MAX_ID = 2**31 - 1


def _valid_id(value: int) -> bool:
    return 0 < value <= MAX_ID


def _own_customer(conn: sa.Connection, *, access: AccessContext, customer_id: int) -> int:
    """The id of one of the caller's own customers, for what it creates. Raises UnableToFind."""
    owner: int | None = None
    if _valid_id(customer_id):
        owner = conn.execute(
            sa.select(customer.c.id).where(
                customer.c.id == customer_id, _own(customer.c.id, access)
            )
        ).scalar()
    if owner is None:
        raise UnableToFind(f"no customer {customer_id}")
    return owner


def _any(conn: sa.Connection, column: sa.Column[int], value: int) -> int:
    """1 if a row has `value` in `column`, else 0: for the big tables without a foreign key
    (reading, hourly_value, telegram; a key would slow every insert), one probe, not a count."""
    found = conn.execute(sa.select(column).where(column == value).limit(1)).first()
    return 0 if found is None else 1


def _refuse_if_used(what: str, uses: dict[str, int]) -> None:
    """Raise UnableToChange naming everything that still refers to `what`."""
    used = [f"{count} {name}" for name, count in uses.items() if count]
    if used:
        raise UnableToChange(f"{what} still has {', '.join(used)}; delete or move those first")


# --- customers ----------------------------------------------------------------------------------


def _customer_query() -> sa.Select[Any]:
    properties = (
        sa.select(sa.func.count(property_.c.id))
        .where(property_.c.customer_id == customer.c.id)
        .scalar_subquery()
    )
    apartments = (
        sa.select(sa.func.count(apartment.c.id))
        .where(apartment.c.customer_id == customer.c.id)
        .scalar_subquery()
    )
    return sa.select(
        customer.c.id,
        customer.c.name,
        customer.c.created_at,
        customer.c.operations_hourly,
        properties,
        apartments,
    )


def list_customers(conn: sa.Connection, *, access: AccessContext) -> list[CustomerRow]:
    """The customers the caller manages (all of them) or belongs to, by name."""
    query = _customer_query().where(_customers_of(access)).order_by(customer.c.name)
    return [CustomerRow(*row) for row in conn.execute(query)]


def find_customer(
    conn: sa.Connection,
    *,
    access: AccessContext,
    customer_id: int | None = None,
    name: str | None = None,
) -> CustomerRow:
    """One customer by id or name. Raises UnableToFind."""
    query = _customer_query().where(_customers_of(access))
    if customer_id is not None and not _valid_id(customer_id):
        raise UnableToFind(f"no customer {customer_id}")
    if customer_id is not None:
        query = query.where(customer.c.id == customer_id)
    if name is not None:
        query = query.where(customer.c.name == name)
    row = conn.execute(query).first()
    if row is None:
        raise UnableToFind(f"no customer {customer_id if name is None else repr(name)}")
    return CustomerRow(*row)


def create_customer(
    conn: sa.Connection, *, access: AccessContext, name: str, now: datetime
) -> CustomerRow:
    """A new customer. Raises PermissionError for a caller that does not manage customers,
    UnableToChange for a name in use."""
    if not manages_customers(access):
        raise PermissionError("only platform administrators create customers")
    message = f"there is a customer named {name!r} already"
    with _unique(message):
        ensured = register.ensure_customer(conn, name=name, now=now)
    if not ensured.created:
        raise UnableToChange(message)
    return find_customer(conn, access=access, customer_id=ensured.id)


def rename_customer(
    conn: sa.Connection, *, access: AccessContext, customer_id: int, name: str
) -> CustomerRow:
    """Give a customer another name. Raises UnableToFind, UnableToChange for a name in use."""
    found = find_customer(conn, access=access, customer_id=customer_id)
    if found.name == name:
        return found
    message = f"there is a customer named {name!r} already"
    if conn.execute(sa.select(customer.c.id).where(customer.c.name == name)).first():
        raise UnableToChange(message)
    with _unique(message):
        conn.execute(customer.update().where(customer.c.id == found.id).values(name=name))
    return find_customer(conn, access=access, customer_id=customer_id)


def set_operations_hourly(
    conn: sa.Connection, *, access: AccessContext, customer_id: int, enabled: bool
) -> CustomerRow:
    """Whether the customer's operations staff may see hourly values (P5). Raises UnableToFind."""
    found = find_customer(conn, access=access, customer_id=customer_id)
    conn.execute(
        customer.update().where(customer.c.id == found.id).values(operations_hourly=enabled)
    )
    return find_customer(conn, access=access, customer_id=customer_id)


# --- properties ---------------------------------------------------------------------------------


def _property_query() -> sa.Select[Any]:
    entrances = (
        sa.select(sa.func.count(entrance.c.id))
        .where(entrance.c.property_id == property_.c.id)
        .scalar_subquery()
    )
    apartments = (
        sa.select(sa.func.count(apartment.c.id))
        .join(entrance, entrance.c.id == apartment.c.entrance_id)
        .where(entrance.c.property_id == property_.c.id)
        .scalar_subquery()
    )
    return sa.select(
        property_.c.id,
        property_.c.customer_id,
        property_.c.designation,
        property_.c.name,
        property_.c.time_zone,
        entrances,
        apartments,
    )


def list_properties(
    conn: sa.Connection,
    *,
    access: AccessContext,
    customer_id: int | None = None,
    designation: str | None = None,
) -> list[PropertyRow]:
    """The caller's properties, by designation; optionally one customer's, or one designation."""
    query = _property_query().where(_own(property_.c.customer_id, access))
    if customer_id is not None:
        query = query.where(property_.c.customer_id == customer_id)
    if designation is not None:
        query = query.where(property_.c.designation == designation)
    return [
        PropertyRow(*row)
        for row in conn.execute(query.order_by(property_.c.designation, property_.c.id))
    ]


def find_property(conn: sa.Connection, *, access: AccessContext, property_id: int) -> PropertyRow:
    """One of the caller's properties. Raises UnableToFind."""
    if not _valid_id(property_id):
        raise UnableToFind(f"no property {property_id}")
    row = conn.execute(
        _property_query().where(
            property_.c.id == property_id, _own(property_.c.customer_id, access)
        )
    ).first()
    if row is None:
        raise UnableToFind(f"no property {property_id}")
    return PropertyRow(*row)


def create_property(
    conn: sa.Connection,
    *,
    access: AccessContext,
    customer_id: int,
    designation: str,
    name: str | None,
    time_zone: str,
) -> PropertyRow:
    """A new property of one of the caller's customers. Raises UnableToFind, UnableToChange."""
    owner = _own_customer(conn, access=access, customer_id=customer_id)
    message = f"the customer has a property {designation!r} already"
    with _unique(message):
        ensured = register.ensure_property(
            conn, customer_id=owner, designation=designation, time_zone=time_zone, name=name
        )
    if not ensured.created:
        raise UnableToChange(message)
    return find_property(conn, access=access, property_id=ensured.id)


def update_property(
    conn: sa.Connection,
    *,
    access: AccessContext,
    property_id: int,
    designation: str | None = None,
    name: str | None = None,
) -> PropertyRow:
    """Change a property's designation or name. Raises UnableToFind, UnableToChange."""
    found = find_property(conn, access=access, property_id=property_id)
    changes: dict[str, str] = {}
    if designation is not None and designation != found.designation:
        message = f"the customer has a property {designation!r} already"
        clash = conn.execute(
            sa.select(property_.c.id).where(
                property_.c.customer_id == found.customer_id,
                property_.c.designation == designation,
            )
        ).first()
        if clash is not None:
            raise UnableToChange(message)
        changes["designation"] = designation
    if name is not None and name != found.name:
        changes["name"] = name
    if changes:
        with _unique(f"the customer has a property {designation!r} already"):
            conn.execute(property_.update().where(property_.c.id == found.id).values(**changes))
    return find_property(conn, access=access, property_id=property_id)


def delete_property(conn: sa.Connection, *, access: AccessContext, property_id: int) -> PropertyRow:
    """Delete a property nothing refers to any more. Raises UnableToFind, UnableToChange."""
    found = find_property(conn, access=access, property_id=property_id)
    _refuse_if_used(
        f"property {found.id}",
        {
            "entrances": found.entrances,
            "metering points": _count(
                conn, metering_point, metering_point.c.property_id == found.id
            ),
            "gateways": _count(conn, gateway, gateway.c.property_id == found.id),
        },
    )
    with _still_referred_to(f"property {found.id}"):
        conn.execute(property_.delete().where(property_.c.id == found.id))
    return found


# --- entrances ----------------------------------------------------------------------------------


def _entrance_query() -> sa.Select[Any]:
    apartments = (
        sa.select(sa.func.count(apartment.c.id))
        .where(apartment.c.entrance_id == entrance.c.id)
        .scalar_subquery()
    )
    return sa.select(
        entrance.c.id,
        entrance.c.customer_id,
        entrance.c.property_id,
        entrance.c.address,
        apartments,
    )


def list_entrances(
    conn: sa.Connection, *, access: AccessContext, property_id: int
) -> list[EntranceRow]:
    """The entrances of one of the caller's properties. Raises UnableToFind."""
    find_property(conn, access=access, property_id=property_id)
    query = (
        _entrance_query()
        .where(entrance.c.property_id == property_id, _own(entrance.c.customer_id, access))
        .order_by(entrance.c.address)
    )
    return [EntranceRow(*row) for row in conn.execute(query)]


def find_entrance(conn: sa.Connection, *, access: AccessContext, entrance_id: int) -> EntranceRow:
    """One of the caller's entrances. Raises UnableToFind."""
    if not _valid_id(entrance_id):
        raise UnableToFind(f"no entrance {entrance_id}")
    row = conn.execute(
        _entrance_query().where(entrance.c.id == entrance_id, _own(entrance.c.customer_id, access))
    ).first()
    if row is None:
        raise UnableToFind(f"no entrance {entrance_id}")
    return EntranceRow(*row)


def create_entrance(
    conn: sa.Connection, *, access: AccessContext, property_id: int, address: str
) -> EntranceRow:
    """A new entrance (belägenhetsadress) of a property. Raises UnableToFind, UnableToChange."""
    found = find_property(conn, access=access, property_id=property_id)
    message = f"property {found.id} has an entrance {address!r} already"
    with _unique(message):
        ensured = register.ensure_entrance(
            conn, customer_id=found.customer_id, property_id=found.id, address=address
        )
    if not ensured.created:
        raise UnableToChange(message)
    return find_entrance(conn, access=access, entrance_id=ensured.id)


def rename_entrance(
    conn: sa.Connection, *, access: AccessContext, entrance_id: int, address: str
) -> EntranceRow:
    """Give an entrance another address. Raises UnableToFind, UnableToChange."""
    found = find_entrance(conn, access=access, entrance_id=entrance_id)
    if address == found.address:
        return found
    message = f"property {found.property_id} has an entrance {address!r} already"
    clash = conn.execute(
        sa.select(entrance.c.id).where(
            entrance.c.property_id == found.property_id, entrance.c.address == address
        )
    ).first()
    if clash is not None:
        raise UnableToChange(message)
    with _unique(message):
        conn.execute(entrance.update().where(entrance.c.id == found.id).values(address=address))
    return find_entrance(conn, access=access, entrance_id=entrance_id)


def delete_entrance(conn: sa.Connection, *, access: AccessContext, entrance_id: int) -> EntranceRow:
    """Delete an entrance without apartments. Raises UnableToFind, UnableToChange."""
    found = find_entrance(conn, access=access, entrance_id=entrance_id)
    _refuse_if_used(f"entrance {found.id}", {"apartments": found.apartments})
    with _still_referred_to(f"entrance {found.id}"):
        conn.execute(entrance.delete().where(entrance.c.id == found.id))
    return found


# --- apartments ---------------------------------------------------------------------------------


def _apartment_query() -> sa.Select[Any]:
    return (
        sa.select(
            apartment.c.id,
            apartment.c.customer_id,
            entrance.c.property_id,
            apartment.c.entrance_id,
            entrance.c.address,
            apartment.c.number,
            property_.c.time_zone,
        )
        .join(entrance, entrance.c.id == apartment.c.entrance_id)
        .join(property_, property_.c.id == entrance.c.property_id)
    )


def list_apartments(
    conn: sa.Connection, *, access: AccessContext, entrance_id: int
) -> list[ApartmentRow]:
    """The apartments of one of the caller's entrances, by number. Raises UnableToFind."""
    find_entrance(conn, access=access, entrance_id=entrance_id)
    query = (
        _apartment_query()
        .where(apartment.c.entrance_id == entrance_id, _own(apartment.c.customer_id, access))
        .order_by(apartment.c.number)
    )
    return [ApartmentRow(*row) for row in conn.execute(query)]


def find_apartment(
    conn: sa.Connection, *, access: AccessContext, apartment_id: int
) -> ApartmentRow:
    """One of the caller's apartments. Raises UnableToFind."""
    if not _valid_id(apartment_id):
        raise UnableToFind(f"no apartment {apartment_id}")
    row = conn.execute(
        _apartment_query().where(
            apartment.c.id == apartment_id, _own(apartment.c.customer_id, access)
        )
    ).first()
    if row is None:
        raise UnableToFind(f"no apartment {apartment_id}")
    return ApartmentRow(*row)


def create_apartment(
    conn: sa.Connection, *, access: AccessContext, entrance_id: int, number: str
) -> ApartmentRow:
    """A new apartment at an entrance; its number is unique there. Raises UnableToFind,
    UnableToChange."""
    found = find_entrance(conn, access=access, entrance_id=entrance_id)
    message = f"entrance {found.id} has an apartment {number} already"
    with _unique(message):
        ensured = register.ensure_apartment(
            conn, customer_id=found.customer_id, entrance_id=found.id, number=number
        )
    if not ensured.created:
        raise UnableToChange(message)
    return find_apartment(conn, access=access, apartment_id=ensured.id)


def renumber_apartment(
    conn: sa.Connection, *, access: AccessContext, apartment_id: int, number: str
) -> ApartmentRow:
    """Give an apartment another lägenhetsnummer. Raises UnableToFind, UnableToChange."""
    found = find_apartment(conn, access=access, apartment_id=apartment_id)
    if number == found.number:
        return found
    message = f"entrance {found.entrance_id} has an apartment {number} already"
    clash = conn.execute(
        sa.select(apartment.c.id).where(
            apartment.c.entrance_id == found.entrance_id, apartment.c.number == number
        )
    ).first()
    if clash is not None:
        raise UnableToChange(message)
    with _unique(message):
        conn.execute(apartment.update().where(apartment.c.id == found.id).values(number=number))
    return find_apartment(conn, access=access, apartment_id=apartment_id)


def delete_apartment(
    conn: sa.Connection, *, access: AccessContext, apartment_id: int
) -> ApartmentRow:
    """Delete an apartment without metering points or tenancies. Raises UnableToFind,
    UnableToChange. (A tenancy is history the household's data depends on; it is never
    deleted with its apartment.)"""
    found = find_apartment(conn, access=access, apartment_id=apartment_id)
    _refuse_if_used(
        f"apartment {found.id}",
        {
            "metering points": _count(
                conn, metering_point, metering_point.c.apartment_id == found.id
            ),
            "tenancies": _count(conn, tenancy, tenancy.c.apartment_id == found.id),
        },
    )
    with _still_referred_to(f"apartment {found.id}"):
        conn.execute(apartment.delete().where(apartment.c.id == found.id))
    return found


# --- metering points ----------------------------------------------------------------------------

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
    query = sa.select(*_POINT_COLUMNS).where(_own(metering_point.c.customer_id, access))
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
    if not _valid_id(point_id):
        raise UnableToFind(f"no metering point {point_id}")
    row = conn.execute(
        sa.select(*_POINT_COLUMNS).where(
            metering_point.c.id == point_id, _own(metering_point.c.customer_id, access)
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
    ensured = register.ensure_metering_point(
        conn, customer_id=owner, property_id=at_property, apartment_id=apartment_id, medium=medium
    )
    if not ensured.created:
        raise UnableToChange(f"{where} has a {medium} metering point already ({ensured.id})")
    return find_metering_point(conn, access=access, point_id=ensured.id)


def delete_metering_point(conn: sa.Connection, *, access: AccessContext, point_id: int) -> PointRow:
    """Delete a point that never had a meter or a value. Raises UnableToFind, UnableToChange."""
    found = find_metering_point(conn, access=access, point_id=point_id)
    _refuse_if_used(
        f"metering point {found.id}",
        {
            "installations": _count(
                conn, meter_installation, meter_installation.c.metering_point_id == found.id
            ),
            "hourly values": _any(conn, hourly_value.c.metering_point_id, found.id),
        },
    )
    with _still_referred_to(f"metering point {found.id}"):
        conn.execute(metering_point.delete().where(metering_point.c.id == found.id))
    return found


# --- meters -------------------------------------------------------------------------------------

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
    query = sa.select(*_METER_COLUMNS).where(_own(meter.c.customer_id, access))
    if customer_id is not None:
        query = query.where(meter.c.customer_id == customer_id)
    if identity is not None:
        query = query.where(meter.c.identity == identity)
    return [MeterRow(*row) for row in conn.execute(query.order_by(meter.c.identity, meter.c.id))]


def find_meter(conn: sa.Connection, *, access: AccessContext, meter_id: int) -> MeterRow:
    """One of the caller's meters. Raises UnableToFind."""
    if not _valid_id(meter_id):
        raise UnableToFind(f"no meter {meter_id}")
    row = conn.execute(
        sa.select(*_METER_COLUMNS).where(meter.c.id == meter_id, _own(meter.c.customer_id, access))
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
    owner = _own_customer(conn, access=access, customer_id=customer_id)
    message = f"the customer has a meter {identity!r} already"
    if conn.execute(
        sa.select(meter.c.id).where(meter.c.customer_id == owner, meter.c.identity == identity)
    ).first():
        raise UnableToChange(message)
    with _unique(message):
        ensured = register.upsert_meter(
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
        with _unique(f"the customer has a meter {identity!r} already"):
            conn.execute(meter.update().where(meter.c.id == found.id).values(**changes))
    return find_meter(conn, access=access, meter_id=meter_id)


def delete_meter(conn: sa.Connection, *, access: AccessContext, meter_id: int) -> MeterRow:
    """Delete a meter that was never installed, read or heard; its key goes with it.
    Raises UnableToFind, UnableToChange."""
    found = find_meter(conn, access=access, meter_id=meter_id)

    _refuse_if_used(
        f"meter {found.id}",
        {
            "installations": _count(
                conn, meter_installation, meter_installation.c.meter_id == found.id
            ),
            "readings": _any(conn, reading.c.meter_id, found.id),
            "telegrams": _any(conn, telegram.c.meter_id, found.id),
            "devices heard as it": _any(conn, heard_device.c.meter_id, found.id),
        },
    )
    with _still_referred_to(f"meter {found.id}"):
        conn.execute(meter_key.delete().where(meter_key.c.meter_id == found.id))
        conn.execute(meter.delete().where(meter.c.id == found.id))
    return found


# --- installations ------------------------------------------------------------------------------

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
    query = sa.select(*_INSTALLATION_COLUMNS).where(_own(meter_installation.c.customer_id, access))
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
    if not _valid_id(installation_id):
        raise UnableToFind(f"no installation {installation_id}")
    row = conn.execute(
        sa.select(*_INSTALLATION_COLUMNS).where(
            meter_installation.c.id == installation_id,
            _own(meter_installation.c.customer_id, access),
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
    ensured = register.record_installation(
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
    register.record_installation(
        conn,
        customer_id=found.customer_id,
        meter_id=found.meter_id,
        metering_point_id=found.metering_point_id,
        installed_at=found.installed_at,
        removed_at=removed_at,
    )
    return find_installation(conn, access=access, installation_id=installation_id)


# --- tenancies ----------------------------------------------------------------------------------


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
        .where(tenancy.c.apartment_id == apartment_id, _own(tenancy.c.customer_id, access))
        .order_by(tenancy.c.start_at, tenancy.c.id)
    )
    return [TenancyRow(*row) for row in conn.execute(query)]


def find_tenancy(conn: sa.Connection, *, access: AccessContext, tenancy_id: int) -> TenancyRow:
    """One of the caller's tenancies. Raises UnableToFind."""
    if not _valid_id(tenancy_id):
        raise UnableToFind(f"no tenancy {tenancy_id}")
    row = conn.execute(
        _tenancy_query().where(tenancy.c.id == tenancy_id, _own(tenancy.c.customer_id, access))
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
            _own(tenancy.c.customer_id, access),
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
        tenancy_id = register.add_tenancy(
            conn,
            customer_id=flat.customer_id,
            apartment_id=flat.id,
            start_at=start_at,
            end_at=None,
        )
    except register.UnableToRegister as exc:
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
    households = sa.select(household.c.id).where(household.c.tenancy_id == found.id)
    open_sessions = sa.and_(
        auth_session.c.household_id.in_(households), auth_session.c.ended_at.is_(None)
    )
    unused_codes = sa.and_(
        access_code.c.tenancy_id == found.id,
        access_code.c.used_at.is_(None),
        access_code.c.revoked_at.is_(None),
    )
    conn.execute(
        auth_session.update()
        .where(open_sessions, auth_session.c.expires_at > end_at)
        .values(expires_at=end_at)
    )
    conn.execute(
        access_code.update()
        .where(unused_codes, access_code.c.expires_at > end_at)
        .values(expires_at=end_at)
    )
    sessions_ended = codes_revoked = 0
    if end_at <= now:
        sessions_ended = conn.execute(
            auth_session.update().where(open_sessions).values(ended_at=now)
        ).rowcount
        codes_revoked = conn.execute(
            access_code.update().where(unused_codes).values(revoked_at=now)
        ).rowcount
    return MoveOut(
        tenancy=find_tenancy(conn, access=access, tenancy_id=tenancy_id),
        end_at=end_at,
        sessions_ended=sessions_ended,
        access_codes_revoked=codes_revoked,
    )


# --- a customer's staff -------------------------------------------------------------------------

_STAFF_COLUMNS = (
    staff_account.c.id,
    staff_account.c.customer_id,
    staff_account.c.email,
    staff_account.c.role,
    staff_account.c.totp_secret.is_not(None),
    staff_account.c.created_at,
    staff_account.c.disabled_at,
)


def list_staff(conn: sa.Connection, *, access: AccessContext) -> list[StaffRow]:
    """The staff accounts of the caller's customers, by e-mail (platform staff are not among
    them: they belong to no customer)."""
    query = sa.select(*_STAFF_COLUMNS).where(
        staff_account.c.customer_id.is_not(None), _own(staff_account.c.customer_id, access)
    )
    return [StaffRow(*row) for row in conn.execute(query.order_by(staff_account.c.email))]


def find_staff(conn: sa.Connection, *, access: AccessContext, staff_id: int) -> StaffRow:
    """One staff account of the caller's customers. Raises UnableToFind."""
    if not _valid_id(staff_id):
        raise UnableToFind(f"no staff account {staff_id}")
    row = conn.execute(
        sa.select(*_STAFF_COLUMNS).where(
            staff_account.c.id == staff_id,
            staff_account.c.customer_id.is_not(None),
            _own(staff_account.c.customer_id, access),
        )
    ).first()
    if row is None:
        raise UnableToFind(f"no staff account {staff_id}")
    return StaffRow(*row)
