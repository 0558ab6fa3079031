"""Which records of a decoded telegram become register readings, and at what time."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from openamr.collect.mbus.model import Device, Function, Record, Telegram
from openamr.collect.telegram_readings import read_clock, register_readings
from openamr.units import Quantity

STOCKHOLM = ZoneInfo("Europe/Stockholm")
DEVICE = Device("KAM", "76348799", 0x1B, 0x16, "cold water")


def _telegram(*records: Record) -> Telegram:
    return Telegram(
        device=DEVICE,
        link="wmbus",
        ci=0x7A,
        access_number=1,
        status=0,
        security="none",
        records=records,
    )


def _readings(telegram: Telegram, received_at: datetime) -> list[tuple[str, str, str]]:
    clock = read_clock(telegram, received_at=received_at, zone=STOCKHOLM)
    return [
        (item.timestamp, item.value, item.unit)
        for item in register_readings(
            telegram,
            identity="76348799",
            quantity=Quantity.VOLUME,
            received_at=received_at,
            zone=STOCKHOLM,
            clock=clock,
        )
    ]


def test_the_current_register_is_taken_at_the_reception_time_without_a_meter_clock() -> None:
    received = datetime(2026, 1, 15, 10, 7, 42, tzinfo=UTC)
    telegram = _telegram(
        Record("volume", Decimal("6.408"), "m3"),
        Record("volume", Decimal("6.100"), "m3", function=Function.MAXIMUM),
        Record("volume", Decimal("1.000"), "m3", tariff=1),
        Record("flow_temperature", Decimal("12"), "°C"),
    )
    assert _readings(telegram, received) == [("2026-01-15T10:07:42+00:00", "6.408", "m3")]


def test_a_meter_on_standard_time_in_summer_is_read_as_such_and_its_drift_recorded() -> None:
    # 12:05 summer time in Stockholm is 10:05 UTC; the meter shows 11:04 (standard time).
    received = datetime(2026, 7, 1, 10, 5, 30, tzinfo=UTC)
    telegram = _telegram(
        Record("date_time", datetime(2026, 7, 1, 11, 4), None),
        Record("volume", Decimal("10.5"), "m3"),
    )
    clock = read_clock(telegram, received_at=received, zone=STOCKHOLM)
    assert clock is not None
    assert clock.standard_time
    assert clock.drift_s == -90
    assert _readings(telegram, received) == [("2026-07-01T10:04:00+00:00", "10.5", "m3")]


def test_a_meter_following_summer_time_is_read_in_wall_clock_time() -> None:
    received = datetime(2026, 7, 1, 10, 5, 30, tzinfo=UTC)
    telegram = _telegram(
        Record("date_time", datetime(2026, 7, 1, 12, 5), None),
        Record("volume", Decimal("10.5"), "m3"),
    )
    clock = read_clock(telegram, received_at=received, zone=STOCKHOLM)
    assert clock is not None
    assert not clock.standard_time
    assert clock.drift_s == -30


def test_a_clock_far_off_is_recorded_but_not_believed() -> None:
    received = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
    telegram = _telegram(
        Record("date_time", datetime(2000, 1, 1, 0, 0), None),
        Record("volume", Decimal("10.5"), "m3"),
    )
    clock = read_clock(telegram, received_at=received, zone=STOCKHOLM)
    assert clock is not None
    assert not clock.trusted
    assert clock.drift_s < -800_000_000
    assert _readings(telegram, received) == [("2026-01-15T10:00:00+00:00", "10.5", "m3")]


def test_a_due_date_value_is_a_reading_at_the_end_of_its_day_and_future_dates_are_not() -> None:
    received = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
    telegram = _telegram(
        Record("volume", Decimal("10.5"), "m3"),
        Record("date", date(2025, 12, 31), None, storage=1),
        Record("volume", Decimal("9.25"), "m3", storage=1, at=date(2025, 12, 31)),
        Record("volume", Decimal("12"), "m3", storage=2, at=date(2026, 12, 31)),
        Record("volume", Decimal("8"), "m3", storage=3),  # no time point: not a reading
    )
    assert _readings(telegram, received) == [
        ("2026-01-15T10:00:00+00:00", "10.5", "m3"),
        ("2025-12-31T23:00:00+00:00", "9.25", "m3"),
    ]


def test_heat_cost_allocator_units_and_energy_meters_pick_their_own_quantity() -> None:
    received = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
    telegram = _telegram(
        Record("volume", Decimal("1.5"), "m3"),
        Record("energy", Decimal("123.456"), "kWh"),
        Record("hca_units", 321, None),
    )
    energy = list(
        register_readings(
            telegram,
            identity="x",
            quantity=Quantity.ENERGY,
            received_at=received,
            zone=STOCKHOLM,
            clock=None,
        )
    )
    units = list(
        register_readings(
            telegram,
            identity="x",
            quantity=Quantity.HCA,
            received_at=received,
            zone=STOCKHOLM,
            clock=None,
        )
    )
    assert [(r.value, r.unit) for r in energy] == [("123.456", "kWh")]
    assert [(r.value, r.unit) for r in units] == [("321", "units")]


def test_the_elements_of_a_compact_profile_are_a_log_not_readings() -> None:
    received = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
    telegram = _telegram(
        Record("volume", Decimal("10.5"), "m3"),
        Record(
            "volume",
            Decimal("0"),
            "m3",
            storage=9,
            at=date(2025, 10, 1),
            description="Volume 10^-3 m3; compact profile with register numbers; element 2 of 14, "
            "absolute value",
        ),
    )
    assert _readings(telegram, received) == [("2026-01-15T10:00:00+00:00", "10.5", "m3")]
