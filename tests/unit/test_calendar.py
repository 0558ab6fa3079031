"""Local hours, days and months in Europe/Stockholm, DST days included, and their exact totals."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openamr.validate import (
    HourlyValue,
    MeterSpan,
    PeriodValue,
    RegisterReading,
    Resolution,
    Status,
    aggregate,
    derive_hourly_values,
    local_periods,
)

STOCKHOLM = ZoneInfo("Europe/Stockholm")
HOUR = timedelta(hours=1)
SPRING_FORWARD = date(2026, 3, 29)
FALL_BACK = date(2026, 10, 25)


def local_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=STOCKHOLM)


def utc_hours(first_day: date, end_day: date) -> list[datetime]:
    start = local_midnight(first_day).astimezone(UTC)
    end = local_midnight(end_day).astimezone(UTC)
    return [start + n * HOUR for n in range((end - start) // HOUR)]


def measured(hours: list[datetime], value: int = 1) -> list[HourlyValue]:
    return [HourlyValue(start_at=hour, value=value, status=Status.MEASURED) for hour in hours]


def periods(
    first_day: date, end_day: date, resolution: Resolution
) -> list[tuple[datetime, datetime]]:
    return local_periods(
        first_day=first_day, end_day=end_day, zone=STOCKHOLM, resolution=resolution
    )


def totals(
    hours: list[HourlyValue], first_day: date, end_day: date, resolution: Resolution
) -> list[PeriodValue]:
    return aggregate(
        hours, first_day=first_day, end_day=end_day, zone=STOCKHOLM, resolution=resolution
    )


def test_the_spring_forward_day_has_23_hours_and_skips_two_oclock() -> None:
    hours = periods(SPRING_FORWARD, SPRING_FORWARD + timedelta(days=1), Resolution.HOUR)

    assert len(hours) == 23
    assert [start.isoformat() for start, _end in hours[1:3]] == [
        "2026-03-29T01:00:00+01:00",
        "2026-03-29T03:00:00+02:00",
    ]
    assert hours[-1][1].isoformat() == "2026-03-30T00:00:00+02:00"


def test_the_fall_back_day_has_25_hours_with_two_distinct_two_oclocks() -> None:
    hours = periods(FALL_BACK, FALL_BACK + timedelta(days=1), Resolution.HOUR)

    assert len(hours) == 25
    assert [start.isoformat() for start, _end in hours[2:4]] == [
        "2026-10-25T02:00:00+02:00",
        "2026-10-25T02:00:00+01:00",
    ]
    assert all(end.astimezone(UTC) - start.astimezone(UTC) == HOUR for start, end in hours)


@pytest.mark.parametrize(("day", "length"), [(SPRING_FORWARD, 23), (FALL_BACK, 25)])
def test_a_dst_day_is_one_period_of_its_real_length(day: date, length: int) -> None:
    [(start, end)] = periods(day, day + timedelta(days=1), Resolution.DAY)

    assert start.isoformat()[:19] == f"{day}T00:00:00"
    assert end.astimezone(UTC) - start.astimezone(UTC) == length * HOUR


@pytest.mark.parametrize(("day", "length"), [(SPRING_FORWARD, 23), (FALL_BACK, 25)])
def test_a_dst_day_value_is_the_sum_of_its_hours(day: date, length: int) -> None:
    end_day = day + timedelta(days=1)
    hours = [
        HourlyValue(start_at=hour, value=index + 1, status=Status.MEASURED)
        for index, hour in enumerate(utc_hours(day, end_day))
    ]

    hourly = totals(hours, day, end_day, Resolution.HOUR)
    [daily] = totals(hours, day, end_day, Resolution.DAY)

    assert len(hourly) == length
    assert daily.value == sum(p.value or 0 for p in hourly) == sum(range(1, length + 1))
    assert daily.status is Status.MEASURED
    assert daily.start_at == local_midnight(day)


def test_derived_hours_over_the_fall_back_day_add_up_to_the_day_register_difference() -> None:
    start = local_midnight(FALL_BACK).astimezone(UTC)
    register = [10_000 + 7 * n * n for n in range(26)]
    readings = [
        RegisterReading(meter_id=1, read_at=start + n * HOUR, value=value)
        for n, value in enumerate(register)
    ]
    span = MeterSpan(meter_id=1, installed_at=start, removed_at=None, modulus=None)
    hours = derive_hourly_values(readings, [span], window_start=start, window_end=start + 25 * HOUR)

    [daily] = totals(hours, FALL_BACK, FALL_BACK + timedelta(days=1), Resolution.DAY)

    assert daily.value == register[25] - register[0]


@pytest.mark.parametrize(("month", "length"), [(3, 743), (10, 745), (6, 720)])
def test_a_month_sums_its_real_hours_dst_change_included(month: int, length: int) -> None:
    first_day = date(2026, month, 1)
    end_day = date(2026, month + 1, 1)
    hours = measured(utc_hours(first_day, end_day), value=3)

    [monthly] = totals(hours, first_day, end_day, Resolution.MONTH)

    assert len(hours) == length
    assert monthly.value == 3 * length
    assert (monthly.start_at, monthly.end_at) == (
        local_midnight(first_day),
        local_midnight(end_day),
    )


def test_months_run_to_their_own_end_and_cross_the_year() -> None:
    months = periods(date(2025, 11, 1), date(2026, 2, 15), Resolution.MONTH)

    assert [(start.date(), end.date()) for start, end in months] == [
        (date(2025, 11, 1), date(2025, 12, 1)),
        (date(2025, 12, 1), date(2026, 1, 1)),
        (date(2026, 1, 1), date(2026, 2, 1)),
        (date(2026, 2, 1), date(2026, 3, 1)),
    ]


def test_month_resolution_needs_the_first_of_a_month() -> None:
    with pytest.raises(ValueError, match="1st of a month"):
        periods(date(2026, 3, 15), date(2026, 5, 1), Resolution.MONTH)


def test_an_hour_late_in_the_utc_evening_belongs_to_the_next_local_day() -> None:
    hours = measured(utc_hours(date(2026, 1, 1), date(2026, 1, 3)))
    late = datetime(2026, 1, 1, 23, tzinfo=UTC)  # 00:00 on 2 January in Stockholm
    hours = [
        HourlyValue(start_at=h.start_at, value=100, status=h.status) if h.start_at == late else h
        for h in hours
    ]

    days = totals(hours, date(2026, 1, 1), date(2026, 1, 3), Resolution.DAY)

    assert [day.value for day in days] == [24, 123]


def test_hour_resolution_fills_absent_hours_as_missing() -> None:
    day = date(2026, 5, 4)
    present = utc_hours(day, day + timedelta(days=1))
    hours = measured(present[:5] + present[6:], value=2)

    periods_ = totals(hours, day, day + timedelta(days=1), Resolution.HOUR)

    assert len(periods_) == 24
    assert (periods_[5].value, periods_[5].status) == (None, Status.MISSING)
    assert periods_[5].start_at.isoformat() == "2026-05-04T05:00:00+02:00"
    assert all(p.value == 2 for i, p in enumerate(periods_) if i != 5)


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([Status.MEASURED, Status.MEASURED], (28, Status.MEASURED)),
        ([Status.MEASURED, Status.ESTIMATED], (28, Status.ESTIMATED)),
        ([Status.ESTIMATED, Status.REJECTED], (None, Status.REJECTED)),
        ([Status.REJECTED, None], (None, Status.MISSING)),
        ([Status.MEASURED, Status.MISSING], (None, Status.MISSING)),
    ],
)
def test_a_day_has_a_total_only_when_every_hour_has_a_value(
    statuses: list[Status | None], expected: tuple[int | None, Status]
) -> None:
    day = date(2026, 5, 4)
    all_hours = utc_hours(day, day + timedelta(days=1))
    hours = measured(all_hours[2:])  # 22 measured hours of 1, and two of 3 unless absent
    for hour, status in zip(all_hours[:2], statuses, strict=True):
        if status is not None:
            value = None if status in (Status.REJECTED, Status.MISSING) else 3
            hours.append(HourlyValue(start_at=hour, value=value, status=status))

    [daily] = totals(hours, day, day + timedelta(days=1), Resolution.DAY)

    assert (daily.value, daily.status) == expected


def test_two_different_values_for_one_hour_are_refused() -> None:
    hour = datetime(2026, 5, 4, 10, tzinfo=UTC)
    hours = measured([hour], value=1) + measured([hour], value=2)

    with pytest.raises(ValueError, match="two different values"):
        totals(hours, date(2026, 5, 4), date(2026, 5, 5), Resolution.DAY)


def test_a_zone_whose_midnight_is_not_a_utc_hour_is_refused() -> None:
    with pytest.raises(ValueError, match="not a whole UTC hour"):
        local_periods(
            first_day=date(2026, 1, 1),
            end_day=date(2026, 1, 2),
            zone=ZoneInfo("Asia/Kolkata"),
            resolution=Resolution.DAY,
        )


@settings(max_examples=40, deadline=None)
@given(
    st.dates(min_value=date(2025, 1, 1), max_value=date(2027, 12, 1)),
    st.lists(st.integers(0, 10_000), min_size=800, max_size=800),
)
def test_days_of_a_month_add_up_to_the_month(day: date, values: list[int]) -> None:
    first_day = day.replace(day=1)
    end_day = (first_day + timedelta(days=32)).replace(day=1)
    hours = [
        HourlyValue(start_at=hour, value=value, status=Status.MEASURED)
        for hour, value in zip(utc_hours(first_day, end_day), values, strict=False)
    ]

    days = totals(hours, first_day, end_day, Resolution.DAY)
    [monthly] = totals(hours, first_day, end_day, Resolution.MONTH)

    assert len(days) == (end_day - first_day).days
    assert sum(d.value or 0 for d in days) == monthly.value == sum(h.value or 0 for h in hours)
