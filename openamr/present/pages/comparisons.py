"""The household page's comparisons: its own earlier periods, and similar apartments (P2).

- Own history: the view's period beside the previous one (day, month or
  year) and beside the same period a year earlier (the year view has only the
  previous year). Periods are matched hour by hour, day by day or month by
  month, and a position counts only where both periods have a value: an
  ongoing month is compared with the same days of the other, and a period
  that lies partly before the move-in is compared over its part from the
  move-in on, shown as partial ("12 of 30 days"), because that part is the
  household's own and still says something; its earlier part is not the
  household's and is never read. A period wholly before the move-in is not
  shown, with the reason.
- Similar apartments: only in the month and year views (by day or by month,
  never by hour), only when a group passes the cohort screen, as the mean
  per apartment (`store.comparisons`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import sqlalchemy as sa

from openamr.access import AccessContext
from openamr.guard.reads import record_value_reads
from openamr.present.pages.periods import (
    RESOLUTION,
    DisplayUnit,
    Span,
    View,
    display_unit,
    format_number,
    in_unit,
)
from openamr.store.comparisons import (
    SimilarApartments,
    compare_with_similar,
    list_own_periods,
)
from openamr.store.queries import PointRow
from openamr.validate import PeriodValue, Status


@dataclass(frozen=True, slots=True)
class Period:
    """A period to name with the `period_name` macro: its view and first day."""

    view: View
    first_day: date


@dataclass(frozen=True, slots=True)
class HistoryRow:
    """The view's period against one earlier period of the household's own."""

    kind: str  # "previous" or "last_year"
    other: Period
    outcome: str  # "compared", "before_move_in" or "no_values"
    this_shown: str | None  # the view's period over the compared positions, as shown
    other_shown: str | None
    change: dict[str, Any] | None  # {"direction": "more"|"less"|"same", "percent": "12"}
    compared: int  # positions with a value in both periods
    of: int  # positions in the view's period
    from_move_in: bool  # the other period began before the move-in: compared from it on


@dataclass(frozen=True, slots=True)
class SimilarRow:
    label: dict[str, Any]
    own_shown: str | None
    mean_shown: str | None  # None: suppressed by the screen


@dataclass(frozen=True, slots=True)
class SimilarView:
    scope: str  # "property" or "customer"
    rows: list[SimilarRow]
    compared: int
    own_total: str | None
    mean_total: str | None
    position: int | None  # the quarter, 1 = the lowest use


@dataclass(frozen=True, slots=True)
class Comparison:
    """What the `_comparison.html` partial shows."""

    view: View
    unit: str
    history: list[HistoryRow]
    similar: SimilarView | None
    similar_offered: bool  # False in the day view: never by hour


def build_comparison(
    conn: sa.Connection,
    access: AccessContext,
    point: PointRow,
    span: Span,
    current: Sequence[PeriodValue],
    *,
    now: datetime,
    lang: str,
) -> Comparison | None:
    """The comparisons of one view of one point; None for a caller without a tenancy.

    `current` is the view's own values, as the page read them through `access`.
    """
    tenancy = access.tenancy
    if tenancy is None:
        return None
    resolution = RESOLUTION[span.view]
    unit = display_unit(point.unit, span.view)

    def read(first_day: date, end_day: date) -> list[PeriodValue]:
        return list_own_periods(
            conn,
            access=access,
            point=point,
            first_day=first_day,
            end_day=end_day,
            resolution=resolution,
        )

    history = []
    for kind, first_day, end_day in _earlier(span):
        other = read(first_day, end_day)
        if other and other[-1].end_at > tenancy.start_at:  # else nothing of the tenancy was read
            record_value_reads(
                conn,
                access,
                [point],
                first_day=first_day,
                end_day=end_day,
                resolution=resolution,
                now=now,
            )
        row = _history_row(
            kind, Period(span.view, first_day), current, other, tenancy.start_at, unit, lang
        )
        history.append(row)
    similar = None
    if span.view is not View.DAY:
        found = compare_with_similar(
            conn,
            access=access,
            point=point,
            first_day=span.first_day,
            end_day=span.end_day,
            resolution=resolution,
            own=current,
            now=now,
        )
        similar = None if found is None else _similar_view(found, span.view, unit, lang)
    return Comparison(
        view=span.view,
        unit=unit.symbol,
        history=history,
        similar=similar,
        similar_offered=span.view is not View.DAY,
    )


def _earlier(span: Span) -> list[tuple[str, date, date]]:
    """The earlier periods a view is compared with: (kind, first day, end day)."""
    first = span.first_day
    if span.view is View.DAY:
        return [
            ("previous", first - timedelta(days=1), first),
            ("last_year", _year_back(first), _year_back(first) + timedelta(days=1)),
        ]
    if span.view is View.MONTH:
        previous = (first - timedelta(days=1)).replace(day=1)
        return [
            ("previous", previous, first),
            (
                "last_year",
                first.replace(year=first.year - 1),
                span.end_day.replace(year=span.end_day.year - 1),
            ),
        ]
    return [("previous", first.replace(year=first.year - 1), first)]


def _year_back(day: date) -> date:
    """The same date a year earlier; 28 February for a 29th."""
    try:
        return day.replace(year=day.year - 1)
    except ValueError:
        return day.replace(year=day.year - 1, day=28)


def _key(value: PeriodValue, view: View) -> tuple[int, ...]:
    """Where a period lies in its view, to match it with the other period's: the hour (and
    which of a repeated hour), the day of the month, or the month."""
    start = value.start_at
    if view is View.DAY:
        return (start.hour, start.fold)
    if view is View.MONTH:
        return (start.day,)
    return (start.month,)


def _known(value: PeriodValue) -> bool:
    return value.value is not None and value.status in (Status.MEASURED, Status.ESTIMATED)


def _history_row(
    kind: str,
    other_period: Period,
    current: Sequence[PeriodValue],
    other: list[PeriodValue],
    move_in: datetime,
    unit: DisplayUnit,
    lang: str,
) -> HistoryRow:
    view = other_period.view
    if not other or other[-1].end_at <= move_in:
        return HistoryRow(
            kind, other_period, "before_move_in", None, None, None, 0, len(current), False
        )
    earlier = {_key(value, view): value for value in other if _known(value)}
    this_total = other_total = compared = 0
    for value in current:
        match = earlier.get(_key(value, view))
        if match is not None and _known(value):
            this_total += value.value or 0
            other_total += match.value or 0
            compared += 1
    from_move_in = other[0].start_at < move_in
    if not compared:
        return HistoryRow(
            kind, other_period, "no_values", None, None, None, 0, len(current), from_move_in
        )
    return HistoryRow(
        kind=kind,
        other=other_period,
        outcome="compared",
        this_shown=_shown(this_total, unit, lang),
        other_shown=_shown(other_total, unit, lang),
        change=_change(this_total, other_total, lang),
        compared=compared,
        of=len(current),
        from_move_in=from_move_in,
    )


def _change(this: int, other: int, lang: str) -> dict[str, Any] | None:
    """How much more or less, in whole per cent of the earlier period; None from nothing."""
    if other <= 0:
        return None
    percent = (Decimal(abs(this - other)) * 100 / other).quantize(Decimal(1), ROUND_HALF_UP)
    if percent == 0:
        return {"direction": "same", "percent": "0"}
    direction = "more" if this > other else "less"
    return {"direction": direction, "percent": format_number(percent, lang)}


def _similar_view(
    found: SimilarApartments, view: View, unit: DisplayUnit, lang: str
) -> SimilarView:
    rows = [
        SimilarRow(
            label=_label(period.start_at, view),
            own_shown=None if period.own is None else _shown(period.own, unit, lang),
            mean_shown=None if period.mean is None else _shown(period.mean, unit, lang),
        )
        for period in found.periods
    ]
    return SimilarView(
        scope=found.scope.value,
        rows=rows,
        compared=found.compared,
        own_total=None if found.own_total is None else _shown(found.own_total, unit, lang),
        mean_total=None if found.mean_total is None else _shown(found.mean_total, unit, lang),
        position=None if found.position is None else int(found.position),
    )


def _label(start: datetime, view: View) -> dict[str, Any]:
    """A row's label as the `row_label` macro reads it: a day, or a month."""
    if view is View.MONTH:
        return {"kind": "day", "day": start.day, "month": start.month, "weekday": start.weekday()}
    return {"kind": "month", "month": start.month, "year": start.year}


def _shown(value: int, unit: DisplayUnit, lang: str) -> str:
    return format_number(in_unit(value, unit), lang)
