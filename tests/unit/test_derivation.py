"""Hourly values from register readings: worked examples of each rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from openamr.validate import (
    REGISTER_WENT_BACKWARDS,
    HourlyValue,
    MeterSpan,
    RegisterReading,
    Status,
    UnableToDeriveValues,
    derive_hourly_values,
)

DAY = datetime(2026, 3, 10, tzinfo=UTC)
LONG_AGO = DAY - timedelta(days=10)
WINDOW_START = DAY - timedelta(days=1)
WINDOW_END = DAY + timedelta(days=2)


def at(hour: int, minute: int = 0, second: int = 0) -> datetime:
    """A time on the test day; hours past 23 run into the next days."""
    return DAY + timedelta(hours=hour, minutes=minute, seconds=second)


def span(
    meter_id: int = 1,
    *,
    installed_at: datetime = LONG_AGO,
    removed_at: datetime | None = None,
    modulus: int | None = 10**8,
    cumulative: bool = True,
    restarts: bool = False,
) -> MeterSpan:
    return MeterSpan(
        meter_id=meter_id,
        installed_at=installed_at,
        removed_at=removed_at,
        modulus=modulus,
        cumulative=cumulative,
        restarts=restarts,
    )


def reading(when: datetime, value: int, meter_id: int = 1) -> RegisterReading:
    return RegisterReading(meter_id=meter_id, read_at=when, value=value)


def derive(
    readings: list[RegisterReading],
    spans: list[MeterSpan] | None = None,
    *,
    start: datetime = WINDOW_START,
    end: datetime = WINDOW_END,
) -> list[HourlyValue]:
    return derive_hourly_values(readings, spans or [span()], window_start=start, window_end=end)


def by_hour(values: list[HourlyValue]) -> dict[datetime, tuple[int | None, Status]]:
    return {value.start_at: (value.value, value.status) for value in values}


def test_readings_on_the_hour_give_their_differences_as_measured_hours() -> None:
    registers = [1000, 1012, 1012, 1040, 1041]
    readings = [reading(at(hour), value) for hour, value in enumerate(registers)]

    assert by_hour(derive(readings)) == {
        at(0): (12, Status.MEASURED),
        at(1): (0, Status.MEASURED),
        at(2): (28, Status.MEASURED),
        at(3): (1, Status.MEASURED),
    }


def test_readings_at_odd_minutes_interpolate_and_round_half_up_at_the_boundaries() -> None:
    # Register at 01:00 is 0 + 3 * 30/60 = 1.5 -> 2, at 02:00 3 + 1 * 30/60 = 3.5 -> 4,
    # at 03:00 4 + 5 * 30/60 = 6.5 -> 7. Rounding each hour instead would lose a unit.
    readings = [
        reading(at(0, 30), 0),
        reading(at(1, 30), 3),
        reading(at(2, 30), 4),
        reading(at(3, 30), 9),
    ]

    assert by_hour(derive(readings)) == {
        at(1): (2, Status.MEASURED),
        at(2): (3, Status.MEASURED),
    }


def test_hours_only_partly_between_readings_are_missing() -> None:
    readings = [reading(at(0, 7), 100), reading(at(1, 7), 160), reading(at(2, 7), 220)]

    values = derive(readings)

    assert [value.start_at for value in values] == [at(1)]
    assert values[0].value == 60


def test_a_five_hour_gap_is_estimated_and_adds_up_to_the_register_difference() -> None:
    readings = [
        reading(at(-1), 900),
        reading(at(0), 1000),
        reading(at(5), 2001),
        reading(at(6), 2050),
    ]

    hours = by_hour(derive(readings))

    assert hours[at(-1)] == (100, Status.MEASURED)
    assert [hours[at(hour)] for hour in range(5)] == [
        (200, Status.ESTIMATED),
        (200, Status.ESTIMATED),
        (201, Status.ESTIMATED),
        (200, Status.ESTIMATED),
        (200, Status.ESTIMATED),
    ]
    assert hours[at(5)] == (49, Status.MEASURED)


def test_a_gap_of_exactly_two_hours_is_still_measured() -> None:
    readings = [reading(at(0), 0), reading(at(2), 10), reading(at(4, 0, 1), 20)]

    hours = by_hour(derive(readings))

    assert hours[at(0)] == (5, Status.MEASURED)
    assert hours[at(1)] == (5, Status.MEASURED)
    assert hours[at(2)][1] is Status.ESTIMATED
    assert hours[at(3)][1] is Status.ESTIMATED


def test_an_hour_touched_by_a_long_gap_is_estimated_even_if_partly_measured() -> None:
    readings = [reading(at(0), 0), reading(at(0, 30), 10), reading(at(3, 30), 40)]

    hours = by_hour(derive(readings))

    assert hours[at(0)] == (15, Status.ESTIMATED)


def test_a_rollover_counts_the_consumption_across_zero() -> None:
    readings = [reading(at(0), 99_980), reading(at(1), 99_990), reading(at(2), 10)]

    hours = by_hour(derive(readings, [span(modulus=100_000)]))

    assert hours == {at(0): (10, Status.MEASURED), at(1): (20, Status.MEASURED)}


def test_a_large_drop_is_not_taken_for_a_rollover() -> None:
    # 50_000 -> 10 would be 50_010 units in one hour: more than half the register.
    readings = [reading(at(0), 50_000), reading(at(1), 10), reading(at(2), 30)]

    hours = by_hour(derive(readings, [span(modulus=100_000)]))

    assert hours == {at(0): (None, Status.REJECTED), at(1): (20, Status.MEASURED)}


def test_a_drop_without_modulus_is_never_a_rollover() -> None:
    readings = [reading(at(0), 99_990), reading(at(1), 10)]

    hours = by_hour(derive(readings, [span(modulus=None)]))

    assert hours == {at(0): (None, Status.REJECTED)}


def test_a_heat_cost_allocator_restarting_on_its_set_day_counts_from_zero_as_estimated() -> None:
    # 24:00 on the set day: the set-day value (the year's count) closes the old year;
    # the next reading counts from zero again.
    readings = [
        reading(at(22), 1_510),
        reading(at(24), 1_520),
        reading(at(26), 6),
        reading(at(27), 9),
    ]

    hours = by_hour(derive(readings, [span(modulus=10**6, restarts=True)]))

    assert hours == {
        at(22): (5, Status.MEASURED),
        at(23): (5, Status.MEASURED),
        at(24): (3, Status.ESTIMATED),
        at(25): (3, Status.ESTIMATED),
        at(26): (3, Status.MEASURED),
    }


def test_a_drop_of_a_register_that_does_not_restart_is_still_rejected() -> None:
    readings = [reading(at(0), 1_520), reading(at(1), 6), reading(at(2), 9)]

    restarting = by_hour(derive(readings, [span(modulus=10**6, restarts=True)]))
    not_restarting = by_hour(derive(readings, [span(modulus=10**6)]))

    assert restarting[at(0)] == (6, Status.ESTIMATED)
    assert not_restarting[at(0)] == (None, Status.REJECTED)
    assert restarting[at(1)] == not_restarting[at(1)] == (3, Status.MEASURED)


def test_a_register_that_goes_backwards_rejects_the_hours_it_spans() -> None:
    readings = [
        reading(at(0), 100),
        reading(at(1), 110),
        reading(at(2, 30), 90),
        reading(at(3), 95),
        reading(at(4), 99),
    ]

    values = derive(readings)

    assert by_hour(values) == {
        at(0): (10, Status.MEASURED),
        at(1): (None, Status.REJECTED),
        at(2): (None, Status.REJECTED),
        at(3): (4, Status.MEASURED),
    }
    assert {value.reason for value in values if value.status is Status.REJECTED} == {
        REGISTER_WENT_BACKWARDS
    }
    assert all(value.value is None or value.value >= 0 for value in values)


def test_a_meter_replacement_leaves_the_gap_missing_without_spike_or_double_count() -> None:
    old = span(1, removed_at=at(10))
    new = span(2, installed_at=at(10, 45))
    readings = [
        reading(at(8), 51_000, meter_id=1),
        reading(at(9), 51_010, meter_id=1),
        reading(at(10), 51_020, meter_id=1),
        reading(at(11), 51_020, meter_id=1),  # the old meter on the shelf, still sending
        reading(at(10, 45), 0, meter_id=2),
        reading(at(11), 5, meter_id=2),
        reading(at(12), 25, meter_id=2),
    ]

    assert by_hour(derive(readings, [new, old])) == {
        at(8): (10, Status.MEASURED),
        at(9): (10, Status.MEASURED),
        at(11): (20, Status.MEASURED),
    }


def test_a_replacement_within_an_hour_adds_both_meters_pieces() -> None:
    old = span(1, removed_at=at(10, 20))
    new = span(2, installed_at=at(10, 20))
    readings = [
        reading(at(9), 51_000, meter_id=1),
        reading(at(10), 51_010, meter_id=1),
        reading(at(10, 20), 51_013, meter_id=1),
        reading(at(10, 20), 7, meter_id=2),
        reading(at(11), 17, meter_id=2),
    ]

    assert by_hour(derive(readings, [old, new])) == {
        at(9): (10, Status.MEASURED),
        at(10): (13, Status.MEASURED),
    }


def test_readings_outside_the_span_are_ignored() -> None:
    readings = [reading(at(hour), 10 * hour) for hour in range(6)]

    hours = by_hour(derive(readings, [span(installed_at=at(1, 30), removed_at=at(4))]))

    assert hours == {at(2): (10, Status.MEASURED), at(3): (10, Status.MEASURED)}


def test_readings_of_meters_without_a_span_are_ignored() -> None:
    readings = [reading(at(0), 0), reading(at(1), 10), reading(at(1), 99, meter_id=2)]

    assert by_hour(derive(readings)) == {at(0): (10, Status.MEASURED)}


def test_a_single_reading_gives_nothing() -> None:
    assert derive([reading(at(3), 1234)]) == []


def test_no_spans_or_no_readings_give_nothing() -> None:
    assert derive([reading(at(0), 0), reading(at(1), 1)], [span(meter_id=9)]) == []
    assert derive([]) == []


def test_a_reading_on_the_hour_closes_that_hour_and_opens_the_next() -> None:
    readings = [
        reading(at(0, 30), 0),
        reading(at(1), 10),
        reading(at(2), 40),
        reading(at(2, 1), 41),
    ]

    values = derive(readings)

    assert by_hour(values) == {at(1): (30, Status.MEASURED)}
    assert values[0].start_at.tzinfo is UTC


def test_duplicates_count_once_and_the_larger_of_two_values_at_one_time_wins() -> None:
    readings = [
        reading(at(0), 0),
        reading(at(0), 0),
        reading(at(1), 10),
        reading(at(1), 12),
        reading(at(1), 10),
        reading(at(2), 20),
    ]

    forwards = derive(readings)
    backwards = derive(readings[::-1])

    assert by_hour(forwards) == {at(0): (12, Status.MEASURED), at(1): (8, Status.MEASURED)}
    assert backwards == forwards


def test_the_window_limits_the_hours_but_not_the_interpolation() -> None:
    readings = [reading(at(0), 0), reading(at(6), 600)]

    values = derive(readings, start=at(2), end=at(4))

    assert by_hour(values) == {at(2): (100, Status.ESTIMATED), at(3): (100, Status.ESTIMATED)}


def test_instantaneous_values_are_the_rounded_mean_of_the_hour() -> None:
    temperature = span(5, modulus=None, cumulative=False)
    readings = [
        reading(at(0, 5), 21_500, meter_id=5),
        reading(at(0, 25), 21_600, meter_id=5),
        reading(at(0, 45), 21_650, meter_id=5),
        reading(at(1, 0), 20_000, meter_id=5),
        reading(at(1, 59, 59), 20_001, meter_id=5),
        reading(at(3, 10), -1_500, meter_id=5),
        reading(at(3, 20), -1_501, meter_id=5),
    ]

    assert by_hour(derive(readings, [temperature])) == {
        at(0): (21_583, Status.MEASURED),
        at(1): (20_001, Status.MEASURED),  # 20_000.5 rounds up
        at(3): (-1_500, Status.MEASURED),  # -1_500.5 rounds up too
    }


def test_overlapping_installations_are_refused() -> None:
    spans = [span(1, removed_at=at(11)), span(2, installed_at=at(10))]

    with pytest.raises(UnableToDeriveValues, match="overlaps meter 2"):
        derive([reading(at(0), 0)], spans)


def test_a_point_mixing_cumulative_and_instantaneous_meters_is_refused() -> None:
    spans = [span(1, removed_at=at(0)), span(2, installed_at=at(0), cumulative=False)]

    with pytest.raises(UnableToDeriveValues, match="mixes"):
        derive([], spans)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (at(0, 30), at(2)),
        (at(0), at(2, 0, 1)),
        (at(2), at(0)),
        (at(0).replace(tzinfo=None), at(2)),
    ],
)
def test_a_window_that_is_not_whole_aware_hours_is_refused(start: datetime, end: datetime) -> None:
    with pytest.raises(ValueError, match="window"):
        derive([], start=start, end=end)


def test_a_naive_reading_time_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        derive([reading(at(0).replace(tzinfo=None), 0)])
