"""The register's buildings: properties, their entrances and the apartments there."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from openamr.access import AccessContext
from openamr.store import portfolio
from openamr.store.ownership import (
    UnableToChange,
    UnableToFind,
    count_rows,
    own,
    own_customer,
    refuse_if_used,
    still_referred_to,
    unique,
    valid_id,
)
from openamr.store.schema import apartment, entrance, gateway, metering_point, property_, tenancy


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


# --- properties ----------------------------------------------------------------------------------


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
    query = _property_query().where(own(property_.c.customer_id, access))
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
    if not valid_id(property_id):
        raise UnableToFind(f"no property {property_id}")
    row = conn.execute(
        _property_query().where(property_.c.id == property_id, own(property_.c.customer_id, access))
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
    owner = own_customer(conn, access=access, customer_id=customer_id)
    message = f"the customer has a property {designation!r} already"
    with unique(message):
        ensured = portfolio.ensure_property(
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
        with unique(f"the customer has a property {designation!r} already"):
            conn.execute(property_.update().where(property_.c.id == found.id).values(**changes))
    return find_property(conn, access=access, property_id=property_id)


def delete_property(conn: sa.Connection, *, access: AccessContext, property_id: int) -> PropertyRow:
    """Delete a property nothing refers to any more. Raises UnableToFind, UnableToChange."""
    found = find_property(conn, access=access, property_id=property_id)
    refuse_if_used(
        f"property {found.id}",
        {
            "entrances": found.entrances,
            "metering points": count_rows(
                conn, metering_point, metering_point.c.property_id == found.id
            ),
            "gateways": count_rows(conn, gateway, gateway.c.property_id == found.id),
        },
    )
    with still_referred_to(f"property {found.id}"):
        conn.execute(property_.delete().where(property_.c.id == found.id))
    return found


# --- entrances -----------------------------------------------------------------------------------


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
        .where(entrance.c.property_id == property_id, own(entrance.c.customer_id, access))
        .order_by(entrance.c.address)
    )
    return [EntranceRow(*row) for row in conn.execute(query)]


def find_entrance(conn: sa.Connection, *, access: AccessContext, entrance_id: int) -> EntranceRow:
    """One of the caller's entrances. Raises UnableToFind."""
    if not valid_id(entrance_id):
        raise UnableToFind(f"no entrance {entrance_id}")
    row = conn.execute(
        _entrance_query().where(entrance.c.id == entrance_id, own(entrance.c.customer_id, access))
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
    with unique(message):
        ensured = portfolio.ensure_entrance(
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
    with unique(message):
        conn.execute(entrance.update().where(entrance.c.id == found.id).values(address=address))
    return find_entrance(conn, access=access, entrance_id=entrance_id)


def delete_entrance(conn: sa.Connection, *, access: AccessContext, entrance_id: int) -> EntranceRow:
    """Delete an entrance without apartments. Raises UnableToFind, UnableToChange."""
    found = find_entrance(conn, access=access, entrance_id=entrance_id)
    refuse_if_used(f"entrance {found.id}", {"apartments": found.apartments})
    with still_referred_to(f"entrance {found.id}"):
        conn.execute(entrance.delete().where(entrance.c.id == found.id))
    return found


# --- apartments ----------------------------------------------------------------------------------


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
        .where(apartment.c.entrance_id == entrance_id, own(apartment.c.customer_id, access))
        .order_by(apartment.c.number)
    )
    return [ApartmentRow(*row) for row in conn.execute(query)]


def find_apartment(
    conn: sa.Connection, *, access: AccessContext, apartment_id: int
) -> ApartmentRow:
    """One of the caller's apartments. Raises UnableToFind."""
    if not valid_id(apartment_id):
        raise UnableToFind(f"no apartment {apartment_id}")
    row = conn.execute(
        _apartment_query().where(
            apartment.c.id == apartment_id, own(apartment.c.customer_id, access)
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
    with unique(message):
        ensured = portfolio.ensure_apartment(
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
    with unique(message):
        conn.execute(apartment.update().where(apartment.c.id == found.id).values(number=number))
    return find_apartment(conn, access=access, apartment_id=apartment_id)


def delete_apartment(
    conn: sa.Connection, *, access: AccessContext, apartment_id: int
) -> ApartmentRow:
    """Delete an apartment without metering points or tenancies. Raises UnableToFind,
    UnableToChange. (A tenancy is history the household's data depends on; it is never
    deleted with its apartment.)"""
    found = find_apartment(conn, access=access, apartment_id=apartment_id)
    refuse_if_used(
        f"apartment {found.id}",
        {
            "metering points": count_rows(
                conn, metering_point, metering_point.c.apartment_id == found.id
            ),
            "tenancies": count_rows(conn, tenancy, tenancy.c.apartment_id == found.id),
        },
    )
    with still_referred_to(f"apartment {found.id}"):
        conn.execute(apartment.delete().where(apartment.c.id == found.id))
    return found
