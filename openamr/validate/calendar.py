"""Local hours, days and months of a time zone, and exact sums of hourly values over them."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from itertools import pairwise
from typing import NamedTuple
from zoneinfo import ZoneInfo

from openamr.validate.rules import HourlyValue, HourRow, Status

_HOUR_S = 3600
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Resolution(enum.StrEnum):
    HOUR = "hour"
    DAY = "day"
    MONTH = "month"


class PeriodValue(NamedTuple):
    """One local period's value. A named tuple: a year of hours makes 8,760 of
    them per read, and a frozen dataclass took twice as long to build."""

    start_at: datetime  # aware, in the local zone
    end_at: datetime
    value: int | None  # None unless every hour of the period has a value
    status: Status


def local_periods(
    *, first_day: date, end_day: date, zone: ZoneInfo, resolution: Resolution
) -> list[tuple[datetime, datetime]]:
    """The half-open local periods from first_day 00:00 to end_day 00:00 in `zone`.

    HOUR gives every real clock hour (23 on a spring-forward day, 25 on a
    fall-back day); DAY every local day; MONTH every month that starts in the
    range, each to its own end. Raises ValueError when end_day is before
    first_day, when first_day is not the 1st for MONTH, or when a period
    boundary is not a whole UTC hour (a zone with a half-hour offset), since
    hourly values could not then be summed into it exactly.
    """
    return [
        (_local(start, zone), _local(end, zone))
        for start, end in _period_bounds(first_day, end_day, zone, resolution)
    ]


def local_span(
    *, first_day: date, end_day: date, zone: ZoneInfo, resolution: Resolution
) -> tuple[datetime, datetime]:
    """The UTC instants that `local_periods` would cover, without building every period."""
    bounds = _period_bounds(first_day, end_day, zone, resolution)
    if not bounds:
        start = datetime.fromtimestamp(_midnight(first_day, zone), UTC)
        return start, start
    return (
        datetime.fromtimestamp(bounds[0][0], UTC),
        datetime.fromtimestamp(bounds[-1][1], UTC),
    )


def aggregate(
    hours: Iterable[HourlyValue],
    *,
    first_day: date,
    end_day: date,
    zone: ZoneInfo,
    resolution: Resolution,
) -> list[PeriodValue]:
    """One value per local period (see `local_periods`), absent hours counting as missing.

    A period's value is the exact sum of its hours. Its status is MISSING if any
    hour is missing, else REJECTED if any is rejected (both with value None),
    else ESTIMATED if any is estimated, else MEASURED. Hours outside the periods
    are ignored. Raises ValueError as `local_periods` does, for an hour that does
    not start on a whole aware hour, and for two different values of one hour.
    """
    rows = [
        (_whole_hour(hour.start_at), hour.value, hour.status.value, hour.reason) for hour in hours
    ]
    return aggregate_rows(
        rows, first_day=first_day, end_day=end_day, zone=zone, resolution=resolution
    )


def aggregate_rows(
    rows: Iterable[HourRow],
    *,
    first_day: date,
    end_day: date,
    zone: ZoneInfo,
    resolution: Resolution,
) -> list[PeriodValue]:
    """`aggregate` for hours as (epoch second, value, status, reason) rows, as they are stored."""
    bounds = _period_bounds(first_day, end_day, zone, resolution)
    if not bounds:
        return []
    first, last = bounds[0][0], bounds[-1][1]
    # Keyed by UTC second: the two 02:00 hours of a fall-back day are equal as
    # local datetimes of one zone (Python ignores fold when comparing them).
    by_second: dict[int, HourRow] = {}
    for row in rows:
        second = row[0]
        if second % _HOUR_S:
            raise ValueError(f"an hourly value starts at {second}, not a whole hour")
        if first <= second < last:
            known = by_second.setdefault(second, row)
            if known != row:
                raise ValueError(
                    f"two different values for the hour {datetime.fromtimestamp(second, UTC)}"
                )
    periods: list[PeriodValue] = []
    if resolution is Resolution.HOUR:
        # A year of hours is 8,760 periods per point; their local boundaries are
        # the same for every point, so they come from a cache, and the common
        # case (every hour stored) pairs the rows with them without a lookup.
        edges = _hour_edges(first_day, end_day, zone)
        if len(by_second) == len(bounds):
            ordered = [by_second[start] for start, _end in bounds]
            return [
                PeriodValue(edges[n], edges[n + 1], row[1], _STATUSES[row[2]])
                for n, row in enumerate(ordered)
            ]
        missing = (None, Status.MISSING)
        for n, (start, _end) in enumerate(bounds):
            found = by_second.get(start)
            value, status = missing if found is None else (found[1], _STATUSES[found[2]])
            periods.append(PeriodValue(edges[n], edges[n + 1], value, status))
        return periods
    for start, end in bounds:
        value, status = _combine(by_second.get(second) for second in range(start, end, _HOUR_S))
        periods.append(PeriodValue(_local(start, zone), _local(end, zone), value, status))
    return periods


@lru_cache(maxsize=64)
def _hour_edges(first_day: date, end_day: date, zone: ZoneInfo) -> tuple[datetime, ...]:
    """The local datetimes of every hour boundary from first_day to end_day, in order."""
    bounds = _period_bounds(first_day, end_day, zone, Resolution.HOUR)
    if not bounds:
        return ()
    return (*(_local(start, zone) for start, _end in bounds), _local(bounds[-1][1], zone))


_STATUSES = {status.value: status for status in Status}


def _combine(hours: Iterable[HourRow | None]) -> tuple[int | None, Status]:
    total = 0
    rejected = estimated = False
    for hour in hours:
        if hour is not None and hour[2] == Status.REJECTED:
            rejected = True
            continue
        if hour is None or hour[1] is None or hour[2] == Status.MISSING:
            # A hole leaves no total worth showing, whatever else is wrong in the period.
            return None, Status.MISSING
        total += hour[1]
        estimated = estimated or hour[2] == Status.ESTIMATED
    if rejected:
        return None, Status.REJECTED
    return total, Status.ESTIMATED if estimated else Status.MEASURED


# A read computes the same bounds twice (its UTC span, then its periods), and
# every point of a request, and most requests, ask for the same few ranges.
@lru_cache(maxsize=256)
def _period_bounds(
    first_day: date, end_day: date, zone: ZoneInfo, resolution: Resolution
) -> tuple[tuple[int, int], ...]:
    if end_day < first_day:
        raise ValueError(f"end_day {end_day} is before first_day {first_day}")
    if resolution is Resolution.MONTH:
        if first_day.day != 1:
            raise ValueError(
                f"month resolution needs first_day on the 1st of a month, got {first_day}"
            )
        starts = []
        day = first_day
        while day < end_day:
            starts.append(day)
            day = date(day.year + day.month // 12, day.month % 12 + 1, 1)
        starts.append(day)
    else:
        starts = [first_day + timedelta(days=n) for n in range((end_day - first_day).days + 1)]
    midnights = [_midnight(day, zone) for day in starts]
    bounds = tuple(pairwise(midnights))
    if resolution is Resolution.HOUR:
        return tuple(
            (second, second + _HOUR_S)
            for start, end in bounds
            for second in range(start, end, _HOUR_S)
        )
    return bounds


def _midnight(day: date, zone: ZoneInfo) -> int:
    # A midnight skipped by a clock change resolves (fold=0) to the first instant
    # of the day; a repeated one to its first occurrence.
    second = int(datetime.combine(day, time(), tzinfo=zone).timestamp())
    if second % _HOUR_S:
        raise ValueError(
            f"{day} 00:00 in {zone.key} is not a whole UTC hour; "
            "hourly values cannot be summed into its days exactly"
        )
    return second


def _whole_hour(moment: datetime) -> int:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"an hourly value starts at a naive datetime {moment!r}")
    age = moment - _EPOCH
    second = age.days * 86400 + age.seconds
    if age.microseconds or second % _HOUR_S:
        raise ValueError(f"an hourly value starts at {moment.isoformat()}, not a whole hour")
    return second


# Reading a year of hours converts the same 8,760 instants for every point.
@lru_cache(maxsize=1 << 17)
def _local(second: int, zone: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(second, zone)
