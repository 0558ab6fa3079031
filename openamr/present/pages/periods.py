"""The household page's periods and units: which days a view covers, and numbers people read.

Pure functions, no I/O. A view is a day (hourly values), a month (daily
values) or a year (monthly values). A view never starts before the
household's move-in day nor after today, and offers no navigation past
either: the queries refuse what lies outside the tenancy anyway, the page
does not tempt anyone to look.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from openamr.validate import PeriodValue, Resolution, Status


class View(enum.StrEnum):
    DAY = "day"
    MONTH = "month"
    YEAR = "year"


RESOLUTION = {View.DAY: Resolution.HOUR, View.MONTH: Resolution.DAY, View.YEAR: Resolution.MONTH}


@dataclass(frozen=True, slots=True)
class Span:
    """The local days one view covers, and where its navigation leads (None: nowhere)."""

    view: View
    day: date  # the day asked for, within [first_day, end_day)
    first_day: date
    end_day: date
    previous: date | None
    next: date | None


def parse_view(text: str | None) -> View:
    """The view asked for; a day when the query says nothing usable."""
    try:
        return View(text or View.DAY)
    except ValueError:
        return View.DAY


def parse_day(text: str | None, default: date) -> date:
    """The day asked for; `default` when the query says nothing usable."""
    try:
        return date.fromisoformat(text) if text else default
    except ValueError:
        return default


def span_of(view: View, day: date, *, move_in: date, today: date) -> Span:
    """The view of `day`, with `day` held within [move_in, today]."""
    day = min(max(day, move_in), max(today, move_in))
    if view is View.DAY:
        first, end = day, day + timedelta(days=1)
        before = first - timedelta(days=1)
    elif view is View.MONTH:
        first = day.replace(day=1)
        end = (first + timedelta(days=32)).replace(day=1)
        before = (first - timedelta(days=1)).replace(day=1)
    else:
        first, end = day.replace(month=1, day=1), day.replace(year=day.year + 1, month=1, day=1)
        before = first.replace(year=first.year - 1)
    return Span(
        view=view,
        day=day,
        first_day=first,
        end_day=end,
        previous=max(before, move_in) if first > move_in else None,
        next=end if end <= today else None,
    )


def within_tenancy(
    values: list[PeriodValue], *, start_at: datetime, end_at: datetime | None, now: datetime
) -> list[PeriodValue]:
    """The periods that overlap the tenancy and have begun: nothing before the move-in."""
    return [
        value
        for value in values
        if value.end_at > start_at
        and value.start_at < now
        and (end_at is None or value.start_at < end_at)
    ]


@dataclass(frozen=True, slots=True)
class DisplayUnit:
    """How a storage unit is shown in one view: symbol, storage units per one, decimals."""

    symbol: str
    per_unit: int
    decimals: int


def display_unit(storage_unit: str, view: View) -> DisplayUnit:
    """kWh for energy; litres for hours and days, m³ for months; others as they are."""
    if storage_unit == "Wh":
        return DisplayUnit("kWh", 1000, {View.DAY: 2, View.MONTH: 1, View.YEAR: 0}[view])
    if storage_unit == "L":
        return DisplayUnit("m³", 1000, 1) if view is View.YEAR else DisplayUnit("l", 1, 0)
    if storage_unit == "m°C":
        return DisplayUnit("°C", 1000, 1)
    if storage_unit == "m%RH":
        return DisplayUnit("%", 1000, 1)
    return DisplayUnit(storage_unit, 1, 0)


def in_unit(value: int, unit: DisplayUnit) -> Decimal:
    """`value` (storage units) in the display unit, rounded half up to its decimals."""
    exponent = Decimal(1).scaleb(-unit.decimals)
    return (Decimal(value) / unit.per_unit).quantize(exponent, rounding=ROUND_HALF_UP)


def format_number(number: Decimal, lang: str) -> str:
    """A number as the language writes it: `1 234,5` in Swedish, `1,234.5` in English."""
    text = f"{number:,}"
    if lang == "sv":
        # Swedish groups with a (non-breaking) space and marks decimals with a comma.
        text = text.replace(",", "\u00a0").replace(".", ",")
    return text


def is_known(status: Status) -> bool:
    """Whether a period has a number to show (measured or estimated)."""
    return status in (Status.MEASURED, Status.ESTIMATED)
