"""Prices of a customer's media: reads and writes, kept to the caller's own customers in SQL.

A price is identified by its customer, medium and first day: setting a price
for a day that has one replaces it. Another customer's price is answered
exactly like one that does not exist (`UnableToFind`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa

from openamr.access import AccessContext
from openamr.db import MAX_ROW_ID
from openamr.store.ownership import UnableToChange, UnableToFind
from openamr.store.schema import customer, price

__all__ = [
    "PriceRow",
    "UnableToChange",
    "UnableToFind",
    "delete_price",
    "find_price",
    "list_prices",
    "set_price",
]


@dataclass(frozen=True, slots=True)
class PriceRow:
    id: int
    customer_id: int
    medium: str
    valid_from: date  # a local day: the price holds from its midnight until the next price's
    micro_per_unit: int  # millionths of the currency per unit
    unit: str  # kWh, m3 or units
    currency: str
    set_by: str  # the actor who set it, such as staff:12
    set_at: datetime

    @property
    def per_unit(self) -> Decimal:
        """The price per unit in the currency, exactly."""
        return Decimal(self.micro_per_unit).scaleb(-6)


_COLUMNS = (
    price.c.id,
    price.c.customer_id,
    price.c.medium,
    price.c.valid_from,
    price.c.micro_per_unit,
    price.c.unit,
    price.c.currency,
    price.c.set_by,
    price.c.set_at,
)


def _own(access: AccessContext) -> sa.ColumnElement[bool]:
    if access.customer_ids is None:
        return sa.true()
    return price.c.customer_id.in_(sorted(access.customer_ids))


def list_prices(
    conn: sa.Connection,
    *,
    access: AccessContext,
    customer_id: int | None = None,
    medium: str | None = None,
) -> list[PriceRow]:
    """The prices of the caller's customers, by customer, medium and first day."""
    query = sa.select(*_COLUMNS).where(_own(access))
    if customer_id is not None:
        query = query.where(price.c.customer_id == customer_id)
    if medium is not None:
        query = query.where(price.c.medium == medium)
    query = query.order_by(price.c.customer_id, price.c.medium, price.c.valid_from)
    return [PriceRow(*row) for row in conn.execute(query)]


def find_price(conn: sa.Connection, *, access: AccessContext, price_id: int) -> PriceRow:
    """One of the caller's prices. Raises UnableToFind."""
    row = None
    if 0 < price_id <= MAX_ROW_ID:
        row = conn.execute(sa.select(*_COLUMNS).where(price.c.id == price_id, _own(access))).first()
    if row is None:
        raise UnableToFind(f"no price {price_id}")
    return PriceRow(*row)


def set_price(
    conn: sa.Connection,
    *,
    access: AccessContext,
    customer_id: int,
    medium: str,
    valid_from: date,
    micro_per_unit: int,
    unit: str,
    now: datetime,
) -> tuple[PriceRow, bool]:
    """Set the price of `medium` from `valid_from` on; the row, and whether it is new.

    Raises UnableToFind for a customer that is not the caller's, UnableToChange
    when a concurrent writer set the same day's price first.
    """
    own_customer = None
    if 0 < customer_id <= MAX_ROW_ID:
        allowed = (
            sa.true()
            if access.customer_ids is None
            else customer.c.id.in_(sorted(access.customer_ids))
        )
        own_customer = conn.execute(
            sa.select(customer.c.id).where(customer.c.id == customer_id, allowed)
        ).scalar()
    if own_customer is None:
        raise UnableToFind(f"no customer {customer_id}")
    key = (
        price.c.customer_id == customer_id,
        price.c.medium == medium,
        price.c.valid_from == valid_from,
    )
    values = {
        "micro_per_unit": micro_per_unit,
        "unit": unit,
        "set_by": access.actor,
        "set_at": now,
    }
    existing = conn.execute(sa.select(price.c.id).where(*key)).scalar()
    if existing is not None:
        conn.execute(price.update().where(price.c.id == existing).values(**values))
        return find_price(conn, access=access, price_id=existing), False
    try:
        made: int = conn.execute(
            price.insert()
            .values(customer_id=customer_id, medium=medium, valid_from=valid_from, **values)
            .returning(price.c.id)
        ).scalar_one()
    except sa.exc.IntegrityError:
        raise UnableToChange(
            f"the {medium} price from {valid_from.isoformat()} was set at the same moment by "
            "someone else; look at the list and try again"
        ) from None
    return find_price(conn, access=access, price_id=made), True


def delete_price(conn: sa.Connection, *, access: AccessContext, price_id: int) -> PriceRow:
    """Delete one of the caller's prices (the one before it then holds on). Raises UnableToFind."""
    found = find_price(conn, access=access, price_id=price_id)
    conn.execute(price.delete().where(price.c.id == found.id))
    return found
