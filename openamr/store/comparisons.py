"""Reads for the household's comparisons: its own earlier periods, and similar apartments.

Both reads take the household's access context (or that of staff under its
grant) and answer for its one tenancy:

- `list_own_periods`: the apartment's own values over any local days, read
  through the context, so nothing from before the move-in or from the
  move-out on: a period that is partly outside the tenancy comes out
  `missing`, as one wholly outside does.
- `compare_with_similar`: the other apartments of the same property with a
  point of the same medium (else those of the same customer), as a mean per
  apartment per period, and only once the group has passed the cohort screen
  (`validate.cohort`). The apartments' own values are read and screened here
  and never leave this module: callers get means, a position by quarter, and
  the scope of the group.

What the screen does not cover: a group is fixed within one view, but the
month view (days) and the year view (months) of the same month, or one view
read a month apart, may each have a different group, if an apartment has a
gap in one and not the other. Their means, times the group's size, would
then differ by the apartments that are in one group only. The page shows no
group size and rounds the means to the view's decimals, which blurs but does
not rule that out; fixed groups per year, or the noise P8 plans for research
exports, would.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from openamr.access import AccessContext, TenancyScope
from openamr.store.driver import CHUNK
from openamr.store.queries import PointRow
from openamr.store.schema import hourly_value, metering_point
from openamr.store.values import list_hourly_values
from openamr.validate import PeriodValue, Resolution, Status, aggregate_rows, local_periods
from openamr.validate.cohort import (
    CohortRule,
    Position,
    ScreenedGroup,
    mean_per_member,
    position,
    screen,
)

_KNOWN = (Status.MEASURED.value, Status.ESTIMATED.value)
_HOUR_S = 3600


class UnableToCompare(ValueError):
    """A comparison that may not be made: no tenancy, another apartment's point, hourly values."""


class Scope(enum.StrEnum):
    """Which apartments a household is compared with."""

    PROPERTY = "property"  # the other apartments of its property
    CUSTOMER = "customer"  # the other apartments of its landlord, when the property's are too few


@dataclass(frozen=True, slots=True)
class SimilarPeriod:
    """One period of a comparison with similar apartments."""

    start_at: datetime  # local, in the property's zone
    end_at: datetime
    own: int | None  # the household's value in storage units; None when missing
    mean: int | None  # the mean per similar apartment; None where the screen suppressed it


@dataclass(frozen=True, slots=True)
class SimilarApartments:
    """A comparison with similar apartments that passed the cohort screen.

    `periods` are the view's periods that have ended and lie wholly in the
    tenancy. `compared` counts those with both the household's value and the
    group's mean; `own_total`, `mean_total` and `position` are over those
    periods only (None when there are none).
    """

    scope: Scope
    periods: tuple[SimilarPeriod, ...]
    compared: int
    own_total: int | None
    mean_total: int | None
    position: Position | None


def list_own_periods(
    conn: sa.Connection,
    *,
    access: AccessContext,
    point: PointRow,
    first_day: date,
    end_day: date,
    resolution: Resolution,
) -> list[PeriodValue]:
    """The apartment's own values of `point` per local period of [first_day, end_day).

    Read through `access`, so only within its tenancy: hours before the
    move-in are absent, and a day or month they fall in is `missing`. Raises
    UnableToCompare without a tenancy or for a point of another apartment.
    """
    _own_point(access, point)
    zone = ZoneInfo(point.time_zone)
    bounds = local_periods(first_day=first_day, end_day=end_day, zone=zone, resolution=resolution)
    if not bounds:
        return []
    stored = list_hourly_values(
        conn, access=access, metering_point_ids=[point.id], start=bounds[0][0], end=bounds[-1][1]
    )
    return aggregate_rows(
        stored[point.id], first_day=first_day, end_day=end_day, zone=zone, resolution=resolution
    )


def compare_with_similar(
    conn: sa.Connection,
    *,
    access: AccessContext,
    point: PointRow,
    first_day: date,
    end_day: date,
    resolution: Resolution,
    own: Sequence[PeriodValue],
    now: datetime,
    rule: CohortRule | None = None,
) -> SimilarApartments | None:
    """The household's values beside the mean of similar apartments, if a group passes the screen.

    `own` is the household's own values of the view, as the caller has read them through
    `access` already (`list_own_periods`, or the page's series): they are not read again.

    Similar apartments are the other apartments of the property with a point
    of `point`'s medium; when those fail the screen, the other apartments of
    the customer. The household's own apartment is never in the group: its
    earlier tenants' values are not the household's, and comparing with the
    others is what the household asks. None when no group passes or no
    period of the view has ended within the tenancy. Raises UnableToCompare
    for hourly values (P2: daily or coarser only), without a tenancy, or for
    another apartment's point.
    """
    if resolution is Resolution.HOUR:
        raise UnableToCompare("similar apartments are compared by day or month, never by hour")
    tenancy = _own_point(access, point)
    zone = ZoneInfo(point.time_zone)
    bounds = local_periods(first_day=first_day, end_day=end_day, zone=zone, resolution=resolution)
    shown = [
        (start, end)
        for start, end in bounds
        if start >= tenancy.start_at
        and end <= now
        and (tenancy.end_at is None or end <= tenancy.end_at)
    ]
    if not shown:
        return None
    known = {
        value.start_at: value.value if value.status in (Status.MEASURED, Status.ESTIMATED) else None
        for value in own
    }
    own_values = [known.get(start) for start, _end in shown]
    tried: set[frozenset[int]] = set()
    for scope in Scope:
        points = _similar_points(conn, tenancy=tenancy, point=point, scope=scope)
        apartments = frozenset(points.values())
        if apartments in tried:
            continue  # the customer's apartments are the property's: screened already
        tried.add(apartments)
        values = _apartment_values(conn, tenancy.customer_id, points, shown)
        group = screen(values, periods=len(shown), rule=rule)
        if group.passes:
            return _compared(scope, shown, own_values, group, values)
    return None


def _compared(
    scope: Scope,
    shown: Sequence[tuple[datetime, datetime]],
    own_values: Sequence[int | None],
    group: ScreenedGroup[int],
    values: dict[int, list[int | None]],
) -> SimilarApartments:
    """The means and the household's position; the members' own values stay here."""
    members = len(group.members)
    periods = tuple(
        SimilarPeriod(
            start_at=start,
            end_at=end,
            own=own,
            mean=None if total is None else mean_per_member(total, members),
        )
        for (start, end), own, total in zip(shown, own_values, group.totals, strict=True)
    )
    compared = [
        n
        for n, (own, total) in enumerate(zip(own_values, group.totals, strict=True))
        if own is not None and total is not None
    ]
    if not compared:
        return SimilarApartments(scope, periods, 0, None, None, None)
    # A sum of periods in which no apartment exceeds the share exceeds it in none either.
    own_total = sum(own_values[n] or 0 for n in compared)
    group_total = sum(group.totals[n] or 0 for n in compared)
    member_totals = [sum(values[key][n] or 0 for n in compared) for key in group.members]
    return SimilarApartments(
        scope=scope,
        periods=periods,
        compared=len(compared),
        own_total=own_total,
        mean_total=mean_per_member(group_total, members),
        position=position(own_total, member_totals),
    )


def _own_point(access: AccessContext, point: PointRow) -> TenancyScope:
    tenancy = access.tenancy
    if tenancy is None:
        raise UnableToCompare("comparisons are a household's, of its own tenancy")
    if point.apartment_id != tenancy.apartment_id or not access.may_see(point.customer_id):
        raise UnableToCompare(f"metering point {point.id} is not the household's")
    return tenancy


def _similar_points(
    conn: sa.Connection, *, tenancy: TenancyScope, point: PointRow, scope: Scope
) -> dict[int, int]:
    """The medium's points at the customer's (or property's) other apartments: their apartments."""
    query = sa.select(metering_point.c.id, metering_point.c.apartment_id).where(
        metering_point.c.customer_id == tenancy.customer_id,
        metering_point.c.medium == point.medium,
        metering_point.c.apartment_id.is_not(None),
        metering_point.c.apartment_id != tenancy.apartment_id,
    )
    if scope is Scope.PROPERTY:
        query = query.where(metering_point.c.property_id == point.property_id)
    return {row.id: row.apartment_id for row in conn.execute(query)}


def _apartment_values(
    conn: sa.Connection,
    customer_id: int,
    points: dict[int, int],
    periods: Sequence[tuple[datetime, datetime]],
) -> dict[int, list[int | None]]:
    """Each apartment's total per period; None for a period in which any of its points lacks
    a known value for any hour."""
    sums = _point_sums(conn, customer_id, sorted(points), periods)
    # Timestamps, not `end - start`: two datetimes of one zone subtract as wall clocks,
    # which makes a 25-hour day 24 hours long.
    hours = [(int(end.timestamp()) - int(start.timestamp())) // _HOUR_S for start, end in periods]
    values: dict[int, list[int | None]] = {}
    for point_id, apartment_id in points.items():
        row = values.setdefault(apartment_id, [0] * len(periods))
        for n, wanted in enumerate(hours):
            found = sums.get((point_id, n))
            current = row[n]
            if found is None or found[1] != wanted or current is None:
                row[n] = None
            else:
                row[n] = current + found[0]
    return values


def _point_sums(
    conn: sa.Connection,
    customer_id: int,
    point_ids: Sequence[int],
    periods: Sequence[tuple[datetime, datetime]],
) -> dict[tuple[int, int], tuple[int, int]]:
    """(point, period index) -> (sum of known hours, number of known hours), summed in SQL."""
    found: dict[tuple[int, int], tuple[int, int]] = {}
    if not point_ids or not periods:
        return found
    column = hourly_value.c
    for start in range(0, len(point_ids), CHUNK):
        # The period of each hour, as its index; grouped outside the subquery, since
        # PostgreSQL cannot see that two CASEs with their own parameters are the same.
        period = sa.case(
            *((column.start_at < end, n) for n, (_start, end) in enumerate(periods))
        ).label("period")
        hours = (
            sa.select(column.metering_point_id, period, column.value)
            .where(
                column.customer_id == customer_id,
                column.metering_point_id.in_(point_ids[start : start + CHUNK]),
                column.start_at >= periods[0][0],
                column.start_at < periods[-1][1],
                column.status.in_(_KNOWN),
                column.value.is_not(None),
            )
            .subquery()
        )
        query = sa.select(
            hours.c.metering_point_id,
            hours.c.period,
            sa.func.sum(hours.c.value),
            sa.func.count(),
        ).group_by(hours.c.metering_point_id, hours.c.period)
        for point_id, n, total, count in conn.execute(query):
            if n is not None:
                found[(point_id, int(n))] = (int(total), int(count))
    return found
