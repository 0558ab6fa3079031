"""Values of metering points over local periods: hourly rows filled and rolled up for reading."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from openamr.access import AccessContext
from openamr.store.queries import PointRow
from openamr.store.values import list_hourly_values
from openamr.validate import PeriodValue, Resolution, Status, aggregate_rows, local_span

# When values of several points are added up, the least certain status wins.
_STATUS_ORDER = [Status.MEASURED, Status.ESTIMATED, Status.REJECTED, Status.MISSING]


class UnableToReadValues(ValueError):
    """A request for values that cannot be answered as asked (bad period, mixed units)."""


@dataclass(frozen=True, slots=True)
class Series:
    """One metering point's (or a sum of points') values over consecutive local periods."""

    label: str
    medium: str
    unit: str
    metering_point_ids: tuple[int, ...]
    values: list[PeriodValue]


def point_series(
    conn: sa.Connection,
    points: Sequence[PointRow],
    *,
    access: AccessContext,
    first_day: date,
    end_day: date,
    resolution: Resolution,
) -> list[Series]:
    """One series per point, every period present (missing ones with status `missing`).

    The caller has resolved `points` through `access` already; the hours are
    read through it too, so a household (or staff under a grant) gets only
    its tenancy's hours: periods before its move-in, or a day it moved in
    during, come out as `missing`.
    """
    if end_day <= first_day:
        raise UnableToReadValues("the end date must be later than the start date")
    if not points:
        return []
    zone = ZoneInfo(points[0].time_zone)
    try:
        start, end = local_span(
            first_day=first_day, end_day=end_day, zone=zone, resolution=resolution
        )
    except ValueError as exc:
        raise UnableToReadValues(str(exc)) from None
    stored = list_hourly_values(
        conn, access=access, metering_point_ids=[p.id for p in points], start=start, end=end
    )
    series = []
    for point in points:
        values = aggregate_rows(
            stored[point.id],
            first_day=first_day,
            end_day=end_day,
            zone=ZoneInfo(point.time_zone),
            resolution=resolution,
        )
        series.append(Series(f"point {point.id}", point.medium, point.unit, (point.id,), values))
    return series


def total(label: str, parts: Sequence[Series]) -> Series:
    """The sum of series of one medium and unit, period by period. Raises UnableToReadValues."""
    if not parts:
        raise UnableToReadValues("there are no values to add up")
    units = {part.unit for part in parts}
    if len(units) != 1:
        raise UnableToReadValues(f"cannot add up values in different units: {sorted(units)}")
    values: list[PeriodValue] = []
    for column in zip(*(part.values for part in parts), strict=True):
        status = max((item.status for item in column), key=_STATUS_ORDER.index)
        known = status in (Status.MEASURED, Status.ESTIMATED)
        values.append(
            PeriodValue(
                start_at=column[0].start_at,
                end_at=column[0].end_at,
                value=sum(item.value or 0 for item in column) if known else None,
                status=status,
            )
        )
    ids = tuple(point for part in parts for point in part.metering_point_ids)
    return Series(label, parts[0].medium, parts[0].unit, ids, values)
