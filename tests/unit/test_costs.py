"""The cost of consumption: split at price changes (local midnights, DST days too), exact."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openamr.present.costs import (
    PRICE_UNITS,
    Tariff,
    UnableToSplit,
    cost_of,
    price_text,
    round_to_ore,
)
from openamr.validate import PeriodValue, Resolution, Status, local_periods

STOCKHOLM = ZoneInfo("Europe/Stockholm")
KWH = PRICE_UNITS["electricity"]
M3 = PRICE_UNITS["cold_water"]


def periods(
    first_day: date, end_day: date, resolution: Resolution, values: list[int] | int
) -> list[PeriodValue]:
    spans = local_periods(
        first_day=first_day, end_day=end_day, zone=STOCKHOLM, resolution=resolution
    )
    each = values if isinstance(values, list) else [values] * len(spans)
    return [
        PeriodValue(start, end, value, Status.MEASURED)
        for (start, end), value in zip(spans, each, strict=True)
    ]


def sek(text: str) -> int:
    """A price in kronor as the table keeps it: millionths."""
    return int(Decimal(text).scaleb(6))


def test_a_month_of_days_is_split_at_the_price_change_on_its_fifteenth() -> None:
    days = periods(date(2026, 5, 1), date(2026, 6, 1), Resolution.DAY, 10_000)  # 10 kWh a day
    tariffs = [Tariff(date(2026, 5, 15), sek("2.00")), Tariff(date(2026, 1, 1), sek("1.00"))]

    cost = cost_of(days, tariffs, zone=STOCKHOLM, unit=KWH)

    assert cost.amount == Decimal("480")  # 14 days at 10 kr, 17 days at 20 kr
    assert [(p.tariff.valid_from, p.until, p.quantity) for p in cost.parts] == [
        (date(2026, 1, 1), date(2026, 5, 15), 140_000),
        (date(2026, 5, 15), None, 170_000),
    ]


def test_a_month_that_spans_a_price_change_cannot_be_priced_as_one() -> None:
    months = periods(date(2026, 4, 1), date(2026, 6, 1), Resolution.MONTH, 300_000)
    changes_mid_may = [Tariff(date(2026, 1, 1), sek("1")), Tariff(date(2026, 5, 15), sek("2"))]
    with pytest.raises(UnableToSplit, match="2026-05-15"):
        cost_of(months, changes_mid_may, zone=STOCKHOLM, unit=KWH)
    # A change on the first of a month splits nothing.
    changes_on_the_first = [Tariff(date(2026, 1, 1), sek("1")), Tariff(date(2026, 5, 1), sek("2"))]
    cost = cost_of(months, changes_on_the_first, zone=STOCKHOLM, unit=KWH)
    assert cost.amount == Decimal(300 + 600)


@pytest.mark.parametrize(
    ("day", "hours"), [(date(2026, 3, 29), 23), (date(2026, 10, 25), 25)], ids=["spring", "autumn"]
)
def test_a_price_from_a_dst_day_starts_at_its_local_midnight(day: date, hours: int) -> None:
    before = date.fromordinal(day.toordinal() - 1)
    after = date.fromordinal(day.toordinal() + 1)
    values = periods(before, after, Resolution.HOUR, 1_000)  # 1 kWh an hour
    assert len(values) == 24 + hours
    tariffs = [Tariff(date(2026, 1, 1), sek("1.00")), Tariff(day, sek("3.00"))]

    cost = cost_of(values, tariffs, zone=STOCKHOLM, unit=KWH)

    # The day before: 24 hours at 1 kr; the DST day's 23 or 25 hours, from its first, at 3 kr.
    assert [p.quantity for p in cost.parts] == [24_000, hours * 1_000]
    assert cost.amount == Decimal(24 + 3 * hours)


def test_no_price_in_force_makes_the_cost_unavailable_never_zero() -> None:
    days = periods(date(2026, 4, 28), date(2026, 5, 3), Resolution.DAY, 5_000)
    from_may = [Tariff(date(2026, 5, 1), sek("1.50"))]

    partly = cost_of(days, from_may, zone=STOCKHOLM, unit=KWH)
    assert partly.amount is None
    assert partly.unpriced == 3  # 28, 29 and 30 April
    assert partly.parts[0].quantity == 10_000  # what the May price covers is still said

    assert cost_of(days, [], zone=STOCKHOLM, unit=KWH).amount is None
    assert cost_of(days[3:], from_may, zone=STOCKHOLM, unit=KWH).amount == Decimal("15.00")


def test_values_without_a_number_are_left_out_and_amounts_are_exact() -> None:
    days = periods(date(2026, 5, 1), date(2026, 5, 4), Resolution.DAY, [1, None, 2])  # type: ignore[list-item]
    cost = cost_of(days, [Tariff(date(2026, 5, 1), sek("0.123457"))], zone=STOCKHOLM, unit=M3)
    assert cost.quantity == 3  # litres
    assert cost.amount == Decimal("0.000370371")  # 3 L at 0.123457 kr/m3, to the last digit
    assert round_to_ore(Decimal("0.005")) == Decimal("0.01")
    assert round_to_ore(Decimal("12.344999")) == Decimal("12.34")


def test_prices_are_shown_as_set() -> None:
    assert [price_text(sek(text)) for text in ("1.25", "0.8734", "100", "0")] == [
        "1.25",
        "0.8734",
        "100.00",
        "0.00",
    ]


@settings(max_examples=60, deadline=None)
@given(
    hourly=st.lists(st.integers(0, 5_000), min_size=3 * 24 - 1, max_size=3 * 24 - 1),
    change=st.integers(0, 3),
    prices=st.tuples(st.integers(0, 5_000_000), st.integers(0, 5_000_000)),
)
def test_pricing_hours_or_their_days_costs_the_same(
    hourly: list[int], change: int, prices: tuple[int, int]
) -> None:
    # Three days round the spring change (71 hours), a second price from one of them.
    first, end = date(2026, 3, 28), date(2026, 3, 31)
    hours = periods(first, end, Resolution.HOUR, hourly)
    days = [
        PeriodValue(
            start,
            stop,
            sum(h.value or 0 for h in hours if start <= h.start_at < stop),
            Status.MEASURED,
        )
        for start, stop in local_periods(
            first_day=first, end_day=end, zone=STOCKHOLM, resolution=Resolution.DAY
        )
    ]
    tariffs = [
        Tariff(date(2026, 3, 1), prices[0]),
        Tariff(date.fromordinal(first.toordinal() + change), prices[1]),
    ]
    by_hour = cost_of(hours, tariffs, zone=STOCKHOLM, unit=KWH)
    by_day = cost_of(days, tariffs, zone=STOCKHOLM, unit=KWH)
    assert by_hour.amount == by_day.amount
    assert by_hour.amount == sum(
        (Decimal(p.quantity * p.tariff.micro_per_unit).scaleb(-9) for p in by_day.parts),
        Decimal(0),
    )
