"""The household page's cost line: the period's consumption priced by the customer's prices.

The customer's administrators set a price per medium from a local day on
(`openamr.store.prices`); the page shows what the period's known values
cost at those prices, exactly, rounded to whole öre only here, and which
prices it used. Where a value has no price in force the cost is "not
available", never a guess. A year's months are priced as they are, unless a
price changes inside one: then that month's days are read and priced.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from openamr.access import AccessContext, TenancyScope
from openamr.present.costs import (
    PRICE_UNITS,
    Cost,
    Tariff,
    UnableToSplit,
    cost_of,
    price_text,
    round_to_ore,
)
from openamr.present.pages.periods import Span, View, format_number, is_known, within_tenancy
from openamr.present.series import point_series
from openamr.store.prices import list_prices
from openamr.store.queries import PointRow
from openamr.validate import PeriodValue, Resolution


@dataclass(frozen=True, slots=True)
class PriceShown:
    """One price the cost used, as the page says it."""

    price: str  # in the page's language: 1,25
    unit: str  # kWh, m3 or units (a message key's ending)
    first_day: date
    last_day: date | None  # inclusive; None while no later price is set


@dataclass(frozen=True, slots=True)
class CostShown:
    """The period's cost as the page shows it; `amount` None: not available."""

    amount: str | None  # rounded to öre, in the page's language: 30,00
    exact: str | None  # the exact amount, for machines (a data attribute)
    prices: tuple[PriceShown, ...]


def period_cost(
    conn: sa.Connection,
    *,
    access: AccessContext,
    point: PointRow,
    span: Span,
    values: list[PeriodValue],
    tenancy: TenancyScope,
    now: datetime,
    lang: str,
) -> CostShown | None:
    """The cost of the view's known values; None for a medium that has no price (temperature)
    or a period without a known value."""
    unit = PRICE_UNITS.get(point.medium)
    if unit is None:
        return None
    tariffs = [
        Tariff(row.valid_from, row.micro_per_unit)
        for row in list_prices(
            conn, access=access, customer_id=point.customer_id, medium=point.medium
        )
    ]
    zone = ZoneInfo(point.time_zone)
    known = [
        value
        for value in within_tenancy(
            values, start_at=tenancy.start_at, end_at=tenancy.end_at, now=now
        )
        if is_known(value.status)
    ]
    if not known:
        return None
    try:
        cost = cost_of(known, tariffs, zone=zone, unit=unit)
    except UnableToSplit:
        if span.view is not View.YEAR:  # hours and days lie within one local day: never here
            raise
        cost = cost_of(
            _split_months(conn, access=access, point=point, months=known, tariffs=tariffs),
            tariffs,
            zone=zone,
            unit=unit,
        )
    return _shown(cost, unit.code, lang)


def _split_months(
    conn: sa.Connection,
    *,
    access: AccessContext,
    point: PointRow,
    months: list[PeriodValue],
    tariffs: list[Tariff],
) -> list[PeriodValue]:
    """The known months of a year view, those a price change falls inside replaced by their
    days (a known month has every day known). Only those months' days are read."""
    zone = ZoneInfo(point.time_zone)
    changes = [
        datetime.combine(tariff.valid_from, time(), zone).astimezone(UTC) for tariff in tariffs
    ]
    split = [m for m in months if any(m.start_at < change < m.end_at for change in changes)]
    [series] = point_series(
        conn,
        [point],
        access=access,
        first_day=split[0].start_at.date(),
        end_day=split[-1].end_at.date(),
        resolution=Resolution.DAY,
    )
    days = [
        day
        for day in series.values
        if any(month.start_at <= day.start_at and day.end_at <= month.end_at for month in split)
    ]
    return [month for month in months if month not in split] + days


def _shown(cost: Cost, unit: str, lang: str) -> CostShown:
    prices = tuple(
        PriceShown(
            price=_in_language(price_text(part.tariff.micro_per_unit), lang),
            unit=unit,
            first_day=part.tariff.valid_from,
            last_day=None if part.until is None else part.until - timedelta(days=1),
        )
        for part in cost.parts
    )
    amount = cost.amount
    if amount is None:
        return CostShown(amount=None, exact=None, prices=prices)
    return CostShown(
        amount=format_number(round_to_ore(amount), lang), exact=f"{amount:f}", prices=prices
    )


def _in_language(text: str, lang: str) -> str:
    return text.replace(".", ",") if lang == "sv" else text
