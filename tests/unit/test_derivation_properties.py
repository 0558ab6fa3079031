"""Properties of the hourly derivation that must hold for any readings: totals, order, window."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from openamr.validate import (
    ESTIMATION_GAP,
    HourlyValue,
    MeterSpan,
    RegisterReading,
    Status,
    derive_hourly_values,
)

BASE = datetime(2026, 10, 20, tzinfo=UTC)
HOUR = timedelta(hours=1)
SECOND = timedelta(seconds=1)
PROPERTIES = settings(max_examples=150, deadline=None)


@dataclass(frozen=True)
class History:
    """One meter's readings, in time order, with the consumption between them."""

    times: list[datetime]
    values: list[int]  # as read, wrapped at the modulus
    increments: list[int]  # the true consumption of each interval


def floor_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0)


def ceil_hour(moment: datetime) -> datetime:
    floor = floor_hour(moment)
    return floor if floor == moment else floor + HOUR


def hours_between(start: datetime, end: datetime) -> list[datetime]:
    return [start + n * HOUR for n in range((end - start) // HOUR)]


@st.composite
def histories(
    draw: st.DrawFn,
    *,
    start: datetime = BASE,
    modulus: int | None = None,
    max_readings: int = 30,
) -> History:
    """Readings 1 minute to 6 hours apart; whole-hour steps are common, so many fall on the hour."""
    offset = draw(st.one_of(st.just(0), st.integers(0, 7199)))
    gaps = draw(
        st.lists(
            st.one_of(st.integers(1, 6).map(lambda h: 60 * h), st.integers(1, 360)),
            min_size=1,
            max_size=max_readings,
        )
    )
    most = modulus // 2 if modulus is not None else 10**6
    increments = draw(st.lists(st.integers(0, most), min_size=len(gaps), max_size=len(gaps)))
    first = draw(st.integers(0, (modulus or 10**9) - 1))
    times = [start + timedelta(seconds=offset)]
    for gap in gaps:
        times.append(times[-1] + timedelta(minutes=gap))
    totals = [first]
    for increment in increments:
        totals.append(totals[-1] + increment)
    values = [total % modulus if modulus is not None else total for total in totals]
    return History(times=times, values=values, increments=increments)


def readings_of(history: History, meter_id: int = 1) -> list[RegisterReading]:
    return [
        RegisterReading(meter_id=meter_id, read_at=time, value=value)
        for time, value in zip(history.times, history.values, strict=True)
    ]


def open_span(meter_id: int = 1, modulus: int | None = None) -> MeterSpan:
    return MeterSpan(meter_id=meter_id, installed_at=BASE, removed_at=None, modulus=modulus)


def derive_all(
    readings: list[RegisterReading],
    spans: list[MeterSpan],
    *,
    start: datetime = BASE - 2 * HOUR,
    end: datetime = BASE + timedelta(days=15),
) -> list[HourlyValue]:
    return derive_hourly_values(readings, spans, window_start=start, window_end=end)


def register_at(history: History, moment: datetime) -> int:
    """The register at a moment between readings, by the rule, computed with exact fractions."""
    for (t0, v0), (t1, v1) in pairwise(zip(history.times, history.values, strict=True)):
        if t0 <= moment <= t1:
            share = (v1 - v0) * Fraction((moment - t0) // SECOND, (t1 - t0) // SECOND)
            return v0 + math.floor(share + Fraction(1, 2))
    raise AssertionError(f"{moment} is outside the readings")


@PROPERTIES
@given(histories())
def test_hours_add_up_to_the_interpolated_register_difference(history: History) -> None:
    values = derive_all(readings_of(history), [open_span()])

    first, last = ceil_hour(history.times[0]), floor_hour(history.times[-1])
    expected_hours = hours_between(first, last)
    assert [value.start_at for value in values] == expected_hours
    running = 0
    for value, hour in zip(values, expected_hours, strict=True):
        assert value.value is not None
        running += value.value
        assert running == register_at(history, hour + HOUR) - register_at(history, first)


@PROPERTIES
@given(histories())
def test_between_readings_on_the_hour_the_hours_add_up_to_their_difference(
    history: History,
) -> None:
    by_hour = {
        value.start_at: value.value for value in derive_all(readings_of(history), [open_span()])
    }

    on_the_hour = [
        (time, value)
        for time, value in zip(history.times, history.values, strict=True)
        if time == floor_hour(time)
    ]
    for (ta, va), (tb, vb) in pairwise(on_the_hour):
        assert sum(by_hour[hour] or 0 for hour in hours_between(ta, tb)) == vb - va


@PROPERTIES
@given(histories())
def test_an_hour_is_estimated_exactly_when_a_long_gap_touches_it(history: History) -> None:
    values = derive_all(readings_of(history), [open_span()])

    long_gaps = [(t0, t1) for t0, t1 in pairwise(history.times) if t1 - t0 > ESTIMATION_GAP]
    for value in values:
        touched = any(t0 < value.start_at + HOUR and value.start_at < t1 for t0, t1 in long_gaps)
        assert value.status is (Status.ESTIMATED if touched else Status.MEASURED)


@st.composite
def messy_inputs(draw: st.DrawFn) -> tuple[list[RegisterReading], list[MeterSpan]]:
    """Two meters one after the other; registers wrap or go backwards; same-time conflicts."""
    old = draw(histories(modulus=10_000, max_readings=15))
    new_start = old.times[-1] + timedelta(minutes=draw(st.integers(0, 300)))
    new = draw(histories(start=new_start, modulus=100_000, max_readings=15))
    readings = readings_of(old, 1) + readings_of(new, 2)
    glitches = draw(st.lists(st.tuples(st.integers(0, len(readings) - 1), st.integers(0, 99_999))))
    for index, value in glitches:
        readings.append(RegisterReading(readings[index].meter_id, readings[index].read_at, value))
    spans = [
        MeterSpan(meter_id=1, installed_at=BASE, removed_at=old.times[-1], modulus=10_000),
        MeterSpan(meter_id=2, installed_at=new.times[0], removed_at=None, modulus=100_000),
    ]
    return readings, spans


@PROPERTIES
@given(messy_inputs(), st.data())
def test_order_and_duplicates_do_not_change_the_result(
    inputs: tuple[list[RegisterReading], list[MeterSpan]], data: st.DataObject
) -> None:
    readings, spans = inputs
    copies = data.draw(st.lists(st.sampled_from(readings), max_size=10))
    shuffled = data.draw(st.permutations(readings + copies))

    assert derive_all(shuffled, spans[::-1]) == derive_all(readings, spans)


@PROPERTIES
@given(
    histories(modulus=1_000, max_readings=20),
    st.integers(0, 300),
    histories(start=BASE + timedelta(days=2), modulus=100_000, max_readings=20),
)
def test_rollovers_and_a_replacement_never_give_negative_or_extra_consumption(
    old: History, pause_minutes: int, new: History
) -> None:
    # The new meter starts after the old one is removed, pause_minutes later.
    shift = old.times[-1] + timedelta(minutes=pause_minutes) - new.times[0]
    new = History([time + shift for time in new.times], new.values, new.increments)
    spans = [
        MeterSpan(meter_id=1, installed_at=BASE, removed_at=old.times[-1], modulus=1_000),
        MeterSpan(meter_id=2, installed_at=new.times[0], removed_at=None, modulus=100_000),
    ]

    values = derive_all(readings_of(old, 1) + readings_of(new, 2), spans)

    assert all(value.status is not Status.REJECTED for value in values)
    assert all(value.value is not None and value.value >= 0 for value in values)
    assert sum(value.value or 0 for value in values) <= sum(old.increments) + sum(new.increments)


@PROPERTIES
@given(messy_inputs(), st.integers(-3, 200), st.integers(0, 200))
def test_only_hours_of_the_window_come_back_sorted_and_as_in_a_wider_window(
    inputs: tuple[list[RegisterReading], list[MeterSpan]], offset: int, length: int
) -> None:
    readings, spans = inputs
    start = BASE + offset * HOUR
    end = start + length * HOUR

    values = derive_all(readings, spans, start=start, end=end)

    starts = [value.start_at for value in values]
    assert all(start <= moment < end for moment in starts)
    assert starts == sorted(set(starts))
    wider = derive_all(readings, spans, start=BASE - 5 * HOUR, end=BASE + timedelta(days=20))
    assert values == [value for value in wider if start <= value.start_at < end]
