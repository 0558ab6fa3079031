"""Setting and deleting prices, as the API and the administration page make the change.

Each change checks its input (one clear message per problem: `UnusableInput`),
is kept to the caller's own customer by `openamr.store.prices`, and writes an
audit event in the same transaction (P9). Events carry ids only.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa

from openamr.access import AccessContext
from openamr.collect.admin import UnusableInput, customer_of, medium
from openamr.guard.audit import Target, record_access
from openamr.present.costs import MICRO, PRICE_UNITS
from openamr.store import prices as store

EARLIEST_DAY = date(2000, 1, 1)
LATEST_DAY = date(2100, 1, 1)
HIGHEST_PRICE = Decimal(100_000)  # per kWh, m3 or unit: anything above is a typing error
PRICE_TEXT = re.compile(r"^[0-9]{1,6}([.,][0-9]+)?$")
DAY_TEXT = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


def priced_medium(value: str) -> str:
    """A medium whose consumption can be priced. Raises UnusableInput."""
    chosen = medium(value).value
    if chosen not in PRICE_UNITS:
        raise UnusableInput(f"{chosen} has no consumption to price; prices are for " + _media())
    return chosen


def price_micro(value: str | int | Decimal) -> int:
    """A price per unit in kronor (1.25 or "1,25"), as millionths. Raises UnusableInput."""
    if isinstance(value, bool):
        raise UnusableInput("price must be a number of kronor such as 1.25")
    text = value.strip() if isinstance(value, str) else str(value)
    if isinstance(value, str) and not PRICE_TEXT.match(text):
        shown = repr(text) if len(text) <= 20 else f"of {len(text)} characters"
        raise UnusableInput(f"price {shown} is not a number of kronor such as 1.25 or 1,25")
    try:
        number = Decimal(text.replace(",", "."))
    except InvalidOperation:
        raise UnusableInput("price must be a number of kronor such as 1.25") from None
    if not number.is_finite():
        raise UnusableInput("price must be a number of kronor such as 1.25")
    if number < 0:
        raise UnusableInput("price must not be negative")
    if number > HIGHEST_PRICE:
        raise UnusableInput(f"price {number} is more than {HIGHEST_PRICE} kronor per unit")
    micro = number.scaleb(MICRO)
    if micro != micro.to_integral_value():
        raise UnusableInput(f"price {number} has more than {MICRO} decimals")
    return int(micro)


def first_day(value: str) -> date:
    """The day a price holds from, such as 2026-05-01. Raises UnusableInput."""
    text = value.strip()
    try:
        if not DAY_TEXT.match(text):
            raise ValueError(text)
        day = date.fromisoformat(text)
    except ValueError:
        shown = repr(text) if len(text) <= 20 else f"of {len(text)} characters"
        raise UnusableInput(f"valid_from {shown} is not a day such as 2026-05-01") from None
    if not EARLIEST_DAY <= day < LATEST_DAY:
        raise UnusableInput(f"valid_from {day.isoformat()} is not between 2000 and 2100")
    return day


def set_price(
    conn: sa.Connection,
    access: AccessContext,
    *,
    customer_id: int | None,
    medium_name: str,
    valid_from: str,
    price: str | int | Decimal,
    now: datetime,
) -> tuple[store.PriceRow, bool]:
    """Set a price from a day on (replacing that day's, if any); the row and whether it is new.
    Raises UnusableInput, UnableToFind, UnableToChange."""
    chosen = priced_medium(medium_name)
    row, created = store.set_price(
        conn,
        access=access,
        customer_id=customer_of(access, customer_id),
        medium=chosen,
        valid_from=first_day(valid_from),
        micro_per_unit=price_micro(price),
        unit=PRICE_UNITS[chosen].code,
        now=now,
    )
    record_access(
        conn, access, action="admin.price.set", now=now, target=Target(customer_id=row.customer_id)
    )
    return row, created


def delete_price(
    conn: sa.Connection, access: AccessContext, *, price_id: int, now: datetime
) -> store.PriceRow:
    """Delete one of the caller's prices. Raises UnableToFind."""
    row = store.delete_price(conn, access=access, price_id=price_id)
    record_access(
        conn,
        access,
        action="admin.price.delete",
        now=now,
        target=Target(customer_id=row.customer_id),
    )
    return row


def _media() -> str:
    return ", ".join(PRICE_UNITS)
