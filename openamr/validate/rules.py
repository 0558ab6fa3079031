"""Exact hourly values from register readings, each measured, estimated or rejected."""

from __future__ import annotations

import enum
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from itertools import pairwise

ESTIMATION_GAP = timedelta(hours=2)
REGISTER_WENT_BACKWARDS = "register_went_backwards"

_HOUR_S = 3600
_DAY_S = 86400
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Status(enum.StrEnum):
    MEASURED = "measured"
    ESTIMATED = "estimated"
    MISSING = "missing"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class RegisterReading:
    meter_id: int
    read_at: datetime  # aware UTC, whole seconds
    value: int  # register value in the storage unit (Wh, L, ...), as read: not unwrapped


@dataclass(frozen=True, slots=True)
class MeterSpan:
    """A meter's installation on one metering point.

    Readings count for [installed_at, removed_at], closed at both ends: the
    closing reading at removed_at counts, and so does an opening one at
    installed_at.
    """

    meter_id: int
    installed_at: datetime
    removed_at: datetime | None
    modulus: int | None  # the register wraps to 0 here (10**digits in storage units); None: never
    cumulative: bool = True  # False for instantaneous quantities (room temperature, humidity)
    # The register starts again from zero on its own (a heat cost allocator on its set day):
    # a drop is then a restart, not a register going backwards.
    restarts: bool = False


@dataclass(frozen=True, slots=True)
class HourlyValue:
    start_at: datetime  # aware UTC start of the clock hour
    value: int | None  # None when rejected (or missing)
    status: Status
    reason: str | None = None  # machine-readable, for rejected values


class UnableToDeriveValues(ValueError):
    """The spans of a metering point contradict each other, so no value would be trustworthy."""


# (start of the hour in epoch seconds, value, status, reason): the form the
# ingest hot path writes, without a datetime or an object per hour.
HourRow = tuple[int, int | None, str, str | None]

_MEASURED = Status.MEASURED.value
_ESTIMATED = Status.ESTIMATED.value
_REJECTED = Status.REJECTED.value


def derive_hourly_values(
    readings: Iterable[RegisterReading],
    spans: Sequence[MeterSpan],
    *,
    window_start: datetime,
    window_end: datetime,
) -> list[HourlyValue]:
    """The measured, estimated and rejected clock hours of one metering point in a window.

    See `derive_hour_rows`, which this returns as HourlyValue objects.
    """
    return [
        HourlyValue(_utc(start), value, Status(status), reason)
        for start, value, status, reason in derive_hour_rows(
            readings, spans, window_start=window_start, window_end=window_end
        )
    ]


def derive_hour_rows(
    readings: Iterable[RegisterReading],
    spans: Sequence[MeterSpan],
    *,
    window_start: datetime,
    window_end: datetime,
) -> list[HourRow]:
    """The measured, estimated and rejected clock hours of one metering point in a window.

    Hours in [window_start, window_end) that are missing are left out, and the
    result is sorted by `start_at`. Readings may come in any order and with
    duplicates; readings of a meter outside its spans are ignored. Cumulative
    registers are interpolated linearly between readings and rounded at hour
    boundaries, so any run of returned hours adds up exactly to the register
    difference over it; instantaneous quantities give the mean of the hour's
    readings. A drop is a rollover where the register's modulus explains it, a
    restart from zero (estimated hours) for registers that restart, and
    otherwise rejects the hours it spans.

    Raises ValueError for a window that is not whole aware hours or a naive or
    fractional reading time, and UnableToDeriveValues when spans overlap or mix
    cumulative and instantaneous meters.
    """
    first_hour = _whole_hour(window_start, "window_start")
    end_hour = _whole_hour(window_end, "window_end")
    if end_hour < first_hour:
        raise ValueError(f"window_end {window_end} is before window_start {window_start}")
    ordered = _ordered_spans(spans)
    if not ordered or end_hour == first_hour:
        return []
    by_meter = _values_by_time(readings, {span.meter_id for span in ordered})
    return _hours(ordered, by_meter, first_hour, end_hour)


def derive_hour_rows_by_second(
    values: Mapping[int, Mapping[int, int]],
    spans: Sequence[MeterSpan],
    *,
    first_hour: int,
    end_hour: int,
) -> list[HourRow]:
    """`derive_hour_rows` for readings as {meter: {epoch second: value}} and a window of epoch
    hours: the form ingest holds them in, without a datetime or an object per reading.

    Raises ValueError for a window that is not whole hours, and UnableToDeriveValues
    as derive_hour_rows does.
    """
    if first_hour % _HOUR_S or end_hour % _HOUR_S or end_hour < first_hour:
        raise ValueError(f"the window {first_hour}-{end_hour} is not whole hours in order")
    ordered = _ordered_spans(spans)
    if not ordered or end_hour == first_hour:
        return []
    return _hours(ordered, values, first_hour, end_hour)


def _hours(
    ordered: list[MeterSpan],
    by_meter: Mapping[int, Mapping[int, int]],
    first_hour: int,
    end_hour: int,
) -> list[HourRow]:
    runs = _runs_in_spans(ordered, by_meter)
    if ordered[0].cumulative:
        return _cumulative_hours(runs, first_hour, end_hour)
    return _instantaneous_hours(runs, first_hour, end_hour)


# The ingest derives the same few windows, over the same spans, for thousands of
# points a batch: what is worked out from a window's bounds or a span is kept.
@lru_cache(maxsize=1 << 12)
def _whole_hour(moment: datetime, name: str) -> int:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, got {moment!r}")
    age = moment - _EPOCH
    seconds = age.days * _DAY_S + age.seconds
    if age.microseconds or seconds % _HOUR_S:
        raise ValueError(f"{name} must be a whole UTC hour, got {moment.isoformat()}")
    return seconds


def _epoch_seconds(moment: datetime, *, round_up: bool) -> int:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"span times must be aware datetimes, got {moment!r}")
    age = moment - _EPOCH
    seconds = age.days * _DAY_S + age.seconds
    return seconds + 1 if round_up and age.microseconds else seconds


@lru_cache(maxsize=1 << 16)
def _span_bounds(span: MeterSpan) -> tuple[int, int | None]:
    """A span, checked on its own: the epoch seconds its readings start (rounded up) and end."""
    _epoch_seconds(span.installed_at, round_up=False)
    removed = None
    if span.removed_at is not None:
        removed = _epoch_seconds(span.removed_at, round_up=False)
        if span.removed_at < span.installed_at:
            raise UnableToDeriveValues(
                f"meter {span.meter_id} is removed at {span.removed_at.isoformat()}, "
                f"before it is installed at {span.installed_at.isoformat()}"
            )
    if span.modulus is not None and span.modulus <= 0:
        raise UnableToDeriveValues(f"meter {span.meter_id} has modulus {span.modulus}")
    return _epoch_seconds(span.installed_at, round_up=True), removed


def _ordered_spans(spans: Sequence[MeterSpan]) -> list[MeterSpan]:
    for span in spans:
        _span_bounds(span)
    if len(spans) == 1:
        return [spans[0]]  # a point's usual case: one meter, nothing to overlap
    ordered = sorted(spans, key=lambda span: span.installed_at)
    # Overlapping installations would count the same consumption twice; a shared
    # instant is fine because intervals are half-open at their end.
    for before, after in pairwise(ordered):
        if before.removed_at is None or before.removed_at > after.installed_at:
            until = "open end" if before.removed_at is None else before.removed_at.isoformat()
            raise UnableToDeriveValues(
                f"meter {before.meter_id} (installed {before.installed_at.isoformat()}, "
                f"{until}) overlaps meter {after.meter_id} "
                f"(installed {after.installed_at.isoformat()})"
            )
    if len({span.cumulative for span in ordered}) > 1:
        raise UnableToDeriveValues("a metering point mixes cumulative and instantaneous meters")
    return ordered


def _values_by_time(
    readings: Iterable[RegisterReading], meter_ids: set[int]
) -> dict[int, dict[int, int]]:
    """Each wanted meter's readings as {epoch second: value}, one value per second."""
    by_meter: dict[int, dict[int, int]] = {meter_id: {} for meter_id in meter_ids}
    find = by_meter.get
    for reading in readings:
        values = find(reading.meter_id)
        if values is None:
            continue
        try:
            age = reading.read_at - _EPOCH
        except TypeError:
            raise ValueError(
                f"reading of meter {reading.meter_id} has a naive time {reading.read_at!r}"
            ) from None
        if age.microseconds:
            raise ValueError(
                f"reading of meter {reading.meter_id} at {reading.read_at.isoformat()} "
                "is not a whole second"
            )
        second = age.days * _DAY_S + age.seconds
        value = reading.value
        known = values.get(second)
        # Two values at one instant: keep the larger, so the result is the same
        # whatever order the readings arrive in (a resend, two gateways).
        if known is None or value > known:
            values[second] = value
    return by_meter


_Run = tuple[MeterSpan, list[tuple[int, int]]]


def _runs_in_spans(
    ordered: list[MeterSpan], by_meter: Mapping[int, Mapping[int, int]]
) -> list[_Run]:
    """The readings inside each span, sorted by time; spans in time order, so all runs are too."""
    sorted_by_meter: dict[int, list[tuple[int, int]]] = {}
    runs: list[_Run] = []
    for span in ordered:
        readings = sorted_by_meter.get(span.meter_id)
        if readings is None:
            readings = sorted(by_meter.get(span.meter_id, {}).items())
            sorted_by_meter[span.meter_id] = readings
        installed, removed = _span_bounds(span)
        low = bisect_left(readings, installed, key=_time) if readings else 0
        high = len(readings)
        if removed is not None:
            high = bisect_right(readings, removed, key=_time)
        runs.append((span, readings[low:high]))
    return runs


def _time(reading: tuple[int, int]) -> int:
    return reading[0]


def _cumulative_hours(runs: list[_Run], first_hour: int, end_hour: int) -> list[HourRow]:
    # The hot path of ingest: integer seconds throughout, one pass over the
    # intervals in time order with the current hour's totals in local variables.
    gap = int(ESTIMATION_GAP.total_seconds())
    out: list[HourRow] = []
    append = out.append
    hour = -1  # no hour yet
    value = covered = 0
    estimated = rejected = False
    for span, readings in runs:
        modulus = span.modulus
        half = modulus // 2 if modulus is not None else 0
        restarts = span.restarts
        # A long history seen through a short window: one bisection skips what ends before it.
        begin = max(bisect_right(readings, first_hour, key=_time) - 1, 0)
        for (t0, v0), (t1, v1) in pairwise(readings[begin:]):
            if t1 <= first_hour:
                continue
            if t0 >= end_hour:
                break
            delta = v1 - v0
            restarted = False
            if delta < 0:
                if modulus is not None and delta % modulus <= half:
                    delta += modulus  # the register rolled over to zero
                elif restarts:
                    # Counted from zero since a restart somewhere in the interval: what
                    # came before it is in the set-day reading, when the meter sent one
                    # (it closes the interval before). Where in the interval it fell is
                    # not known, so its hours are estimated.
                    delta, restarted = v1, True
            start = t0 if t0 > first_hour else first_hour
            stop = t1 if t1 < end_hour else end_hour
            boundary = start - start % _HOUR_S
            if delta < 0:
                # A register that went backwards proves no consumption: every hour
                # the interval touches is rejected rather than given a guess.
                while boundary < stop:
                    if boundary != hour:
                        _close_hour(out, hour, value, covered, estimated, rejected)
                        hour, value, covered, estimated = boundary, 0, 0, False
                    rejected = True
                    boundary += _HOUR_S
                continue
            length = t1 - t0
            long_gap = length > gap or restarted
            twice_length = 2 * length
            # Offsets are rounded half up at hour boundaries only, so the pieces of
            # one interval add up to exactly delta.
            low = 0 if start == t0 else (2 * delta * (start - t0) + length) // twice_length
            while boundary < stop:
                following = boundary + _HOUR_S
                if following >= t1:
                    end, high = t1, delta
                else:
                    end = following
                    high = (2 * delta * (following - t0) + length) // twice_length
                if boundary != hour:
                    # _close_hour, written out: this line runs once per hour of every point.
                    if rejected:
                        append((hour, None, _REJECTED, REGISTER_WENT_BACKWARDS))
                    elif covered == _HOUR_S:
                        append((hour, value, _ESTIMATED if estimated else _MEASURED, None))
                    hour, value, covered = boundary, high - low, end - start
                    estimated, rejected = long_gap, False
                else:
                    value += high - low
                    covered += end - start
                    estimated = estimated or long_gap
                low, start, boundary = high, end, following
    _close_hour(out, hour, value, covered, estimated, rejected)
    return out


def _close_hour(
    out: list[HourRow], hour: int, value: int, covered: int, estimated: bool, rejected: bool
) -> None:
    if rejected:
        out.append((hour, None, _REJECTED, REGISTER_WENT_BACKWARDS))
    elif covered == _HOUR_S:  # intervals never overlap, so this is the whole hour
        out.append((hour, value, _ESTIMATED if estimated else _MEASURED, None))


def _instantaneous_hours(runs: list[_Run], first_hour: int, end_hour: int) -> list[HourRow]:
    out: list[HourRow] = []
    hour = -1
    total = count = 0
    for _span, readings in runs:
        low = bisect_left(readings, first_hour, key=_time)
        high = bisect_left(readings, end_hour, key=_time)
        for second, value in readings[low:high]:
            boundary = second - second % _HOUR_S
            if boundary != hour:
                _close_mean(out, hour, total, count)
                hour, total, count = boundary, value, 1
            else:
                total += value
                count += 1
    _close_mean(out, hour, total, count)
    return out


def _close_mean(out: list[HourRow], hour: int, total: int, count: int) -> None:
    if count:
        # floor(mean + 1/2) is half up for negative values too (an outdoor temperature)
        mean = (2 * total + count) // (2 * count)
        out.append((hour, mean, _MEASURED, None))


# One ingest batch derives the same few hundred hours for every meter it holds.
@lru_cache(maxsize=1 << 16)
def _utc(second: int) -> datetime:
    return datetime.fromtimestamp(second, UTC)
