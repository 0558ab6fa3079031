"""The customers of the installation: their names and their settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from openamr.access import AccessContext, Role
from openamr.store import portfolio
from openamr.store.ownership import UnableToChange, UnableToFind, own, unique, valid_id
from openamr.store.schema import apartment, customer, property_


@dataclass(frozen=True, slots=True)
class CustomerRow:
    id: int
    name: str
    created_at: datetime
    operations_hourly: bool
    properties: int
    apartments: int


def manages_customers(access: AccessContext) -> bool:
    """Whether the caller manages customers themselves: the platform's administrators and the
    installation's operator. Managing a customer (its name, its settings) is not seeing its data."""
    return access.customer_ids is None or access.role is Role.PLATFORM_ADMIN


def _customers_of(access: AccessContext) -> sa.ColumnElement[bool]:
    if manages_customers(access):
        return sa.true()
    return own(customer.c.id, access)


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
    if customer_id is not None and not valid_id(customer_id):
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
    with unique(message):
        ensured = portfolio.ensure_customer(conn, name=name, now=now)
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
    with unique(message):
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
