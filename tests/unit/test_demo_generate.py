"""The demo generator: deterministic, inside every installation, realistic, and free of names."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import astuple
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openamr.demo import (
    DemoCase,
    DemoPortfolio,
    InstallationRow,
    ReadingRow,
    generate_demo,
)

STOCKHOLM = ZoneInfo("Europe/Stockholm")
END = datetime(2026, 3, 10, 5, tzinfo=UTC)
KINDS = {"running_toilet", "silent_meter", "rollover", "meter_replacement", "move_out", "move_in"}
DECIMALS = {
    ("electricity", "kWh"): 2,
    ("heat", "kWh"): 1,
    ("heat", "MWh"): 3,
    ("heat", "GJ"): 3,
    ("hot_water", "m3"): 3,
    ("cold_water", "m3"): 3,
    ("cold_water", "L"): 0,
    ("heat_cost_allocator", "units"): 0,
}

Readings = dict[str, list[ReadingRow]]


def by_meter(portfolio: DemoPortfolio) -> Readings:
    found: Readings = defaultdict(list)
    for row in portfolio.readings():
        found[row.meter].append(row)
    return dict(found)


@pytest.fixture(scope="module")
def demo() -> DemoPortfolio:
    return generate_demo(seed=7, end=END, scale=0.05)


@pytest.fixture(scope="module")
def readings(demo: DemoPortfolio) -> Readings:
    return by_meter(demo)


def installation(demo: DemoPortfolio, meter: str) -> InstallationRow:
    (row,) = [item for item in demo.installations if item.meter == meter]
    return row


def case(demo: DemoPortfolio, kind: str) -> DemoCase:
    (found,) = [item for item in demo.cases if item.kind == kind]
    return found


def local_hour(row: ReadingRow) -> int:
    return row.timestamp.astimezone(STOCKHOLM).hour


# -- invariants, checked on the fixture and on generated inputs ---------------


def check_inside_installations(demo: DemoPortfolio, readings: Readings, end: datetime) -> None:
    installed = {row.meter: row for row in demo.installations}
    assert set(readings) <= set(installed)
    for meter, rows in readings.items():
        item = installed[meter]
        for row in rows:
            assert row.timestamp.utcoffset() == timedelta(0)
            assert row.timestamp.microsecond == 0
            assert item.installed_at <= row.timestamp < end, (meter, row)
            assert item.removed_at is None or row.timestamp <= item.removed_at, (meter, row)


def check_registers(demo: DemoPortfolio, readings: Readings) -> None:
    """Registers rise, except where a documented small register wraps to zero."""
    rollovers = {item.meter for item in demo.cases if item.kind == "rollover"}
    for meter, rows in readings.items():
        item = installation(demo, meter)
        modulus = Decimal(10) ** item.register_digits
        for earlier, later in pairwise(rows):
            assert earlier.timestamp < later.timestamp, meter
            assert 0 <= later.value < modulus, (meter, later)
            if later.value < earlier.value:
                assert meter in rollovers, (meter, earlier, later)
                assert earlier.value - later.value > modulus / 2, (meter, earlier, later)


def check_tenancies(demo: DemoPortfolio) -> None:
    periods = defaultdict(list)
    for tenancy in demo.tenancies:
        assert tenancy.end_at is None or tenancy.start_at < tenancy.end_at
        key = (tenancy.property, tenancy.entrance, tenancy.apartment)
        periods[key].append((tenancy.start_at, tenancy.end_at))
    for spans in periods.values():
        spans.sort()
        for (_start, end), (next_start, _next_end) in pairwise(spans):
            assert end is not None
            assert end <= next_start
        assert spans[-1][1] is None  # someone lives in every apartment now


# -- the tests ---------------------------------------------------------------


def test_the_same_seed_and_end_give_the_same_portfolio(demo: DemoPortfolio) -> None:
    again = generate_demo(seed=7, end=END, scale=0.05)

    assert again.installations == demo.installations
    assert again.tenancies == demo.tenancies
    assert again.cases == demo.cases
    assert list(again.readings()) == list(demo.readings())


def test_another_seed_gives_another_portfolio(demo: DemoPortfolio) -> None:
    other = generate_demo(seed=8, end=END, scale=0.05)

    assert {row.meter for row in other.installations} != {row.meter for row in demo.installations}


def test_readings_lie_inside_their_meters_installations(
    demo: DemoPortfolio, readings: Readings
) -> None:
    check_inside_installations(demo, readings, END)
    assert set(readings) == {row.meter for row in demo.installations}


def test_registers_never_fall_except_across_the_rollover(
    demo: DemoPortfolio, readings: Readings
) -> None:
    check_registers(demo, readings)


def test_values_carry_the_resolution_of_their_unit(demo: DemoPortfolio, readings: Readings) -> None:
    for meter, rows in readings.items():
        item = installation(demo, meter)
        exponents = {row.value.as_tuple().exponent for row in rows}
        assert exponents == {-DECIMALS[(item.medium, item.register_unit)]}, meter
        assert {row.unit for row in rows} == {item.register_unit}


def test_apartments_are_four_digit_numbers_unique_per_entrance(demo: DemoPortfolio) -> None:
    points = [
        (row.property, row.entrance, row.apartment, row.medium)
        for row in demo.installations
        if row.removed_at is None
    ]
    assert len(points) == len(set(points))  # one current meter per apartment and medium
    for _property, _entrance, apartment, _medium in points:
        if apartment:
            assert re.fullmatch(r"(09|[1-9][0-9])(0[1-9]|[1-9][0-9])", apartment), apartment
    apartments = {point[:3] for point in points if point[2]}
    tenancies = {(row.property, row.entrance, row.apartment) for row in demo.tenancies}
    assert apartments == tenancies


def test_each_property_has_a_main_heat_meter_and_apartments_their_meters(
    demo: DemoPortfolio,
) -> None:
    media = defaultdict(set)
    for row in demo.installations:
        if row.removed_at is None:
            media[(row.property, row.apartment)].add(row.medium)
    properties = {row.property for row in demo.installations}
    assert len(properties) == 5
    assert len({row.customer for row in demo.installations}) == 2
    for designation in properties:
        assert "heat" in media[(designation, "")]
    for (_property, apartment), found in media.items():
        if apartment:
            assert found in (
                {"electricity", "hot_water", "cold_water", "heat"},
                {"electricity", "hot_water", "cold_water", "heat_cost_allocator"},
            )


def test_tenancies_do_not_overlap_and_start_before_the_readings(demo: DemoPortfolio) -> None:
    check_tenancies(demo)
    start = END - timedelta(days=13 * 31)
    ended = [row for row in demo.tenancies if row.end_at is not None]
    assert len(ended) == 1
    moved = (ended[0].property, ended[0].entrance, ended[0].apartment)
    for row in demo.tenancies:
        if (row.property, row.entrance, row.apartment) != moved:
            assert row.start_at < start


def test_every_case_is_recorded(demo: DemoPortfolio) -> None:
    assert {item.kind for item in demo.cases} == KINDS
    for item in demo.cases:
        assert installation(demo, item.meter).medium == item.medium
        assert item.description


def test_the_running_toilet_keeps_water_flowing_at_night(
    demo: DemoPortfolio, readings: Readings
) -> None:
    leaking = case(demo, "running_toilet").meter
    night_use: dict[str, list[Decimal]] = defaultdict(list)
    for meter, rows in readings.items():
        if installation(demo, meter).medium != "cold_water":
            continue
        recent = [row for row in rows if row.timestamp > END - timedelta(days=10)]
        for earlier, later in pairwise(recent):
            if local_hour(earlier) in (1, 2, 3) and local_hour(later) in (2, 3, 4):
                night_use[meter].append(later.value - earlier.value)

    assert night_use[leaking]
    assert all(used > 0 for used in night_use[leaking])
    others = [used for meter, values in night_use.items() if meter != leaking for used in values]
    assert others
    assert all(used == 0 for used in others)


def test_the_silent_meter_stops_reporting_weeks_before_the_end(
    demo: DemoPortfolio, readings: Readings
) -> None:
    silent = case(demo, "silent_meter").meter

    assert readings[silent][-1].timestamp < END - timedelta(days=14)
    assert installation(demo, silent).removed_at is None
    others = [
        rows
        for meter, rows in readings.items()
        if meter != silent and installation(demo, meter).removed_at is None
    ]
    assert all(rows[-1].timestamp > END - timedelta(days=2) for rows in others)


def test_the_rollover_meter_wraps_once(demo: DemoPortfolio, readings: Readings) -> None:
    meter = case(demo, "rollover").meter
    rows = readings[meter]
    falls = [later for earlier, later in pairwise(rows) if later.value < earlier.value]

    assert installation(demo, meter).register_digits == 5
    assert len(falls) == 1


def test_the_replaced_meter_hands_over_at_one_instant(
    demo: DemoPortfolio, readings: Readings
) -> None:
    new_meter = case(demo, "meter_replacement").meter
    new = installation(demo, new_meter)
    (old,) = [
        row
        for row in demo.installations
        if (row.property, row.entrance, row.apartment, row.medium)
        == (new.property, new.entrance, new.apartment, new.medium)
        and row.meter != new_meter
    ]

    assert old.removed_at == new.installed_at
    assert new.removed_at is None
    assert readings[old.meter][-1].timestamp == old.removed_at
    assert readings[new_meter][0].timestamp == new.installed_at
    assert readings[new_meter][0].value < 1
    assert readings[old.meter][-1].value > 100


def test_the_move_leaves_a_few_empty_days(demo: DemoPortfolio, readings: Readings) -> None:
    out, in_ = case(demo, "move_out"), case(demo, "move_in")
    assert (out.property, out.entrance, out.apartment) == (
        in_.property,
        in_.entrance,
        in_.apartment,
    )
    spans = sorted(
        (row.start_at, row.end_at)
        for row in demo.tenancies
        if (row.property, row.entrance, row.apartment)
        == (out.property, out.entrance, out.apartment)
    )

    assert len(spans) == 2
    (_first_start, ended), (started, open_end) = spans
    assert ended is not None
    assert open_end is None
    assert timedelta(days=40) < END - ended < timedelta(days=90)
    assert timedelta(days=1) <= started - ended <= timedelta(days=10)
    hot_water = [
        row.value
        for row in readings[installation_of(demo, out, "hot_water")]
        if ended + timedelta(hours=12) <= row.timestamp < started
    ]
    assert hot_water
    assert min(hot_water) == max(hot_water)  # nobody showers in an empty apartment


def installation_of(demo: DemoPortfolio, where: DemoCase, medium: str) -> str:
    (meter,) = [
        row.meter
        for row in demo.installations
        if (row.property, row.entrance, row.apartment, row.medium)
        == (where.property, where.entrance, where.apartment, medium)
    ]
    return meter


def test_use_follows_the_day_and_the_season(demo: DemoPortfolio, readings: Readings) -> None:
    use: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for meter, rows in readings.items():
        item = installation(demo, meter)
        if item.apartment == "" or item.meter in {case.meter for case in demo.cases}:
            continue
        for earlier, later in pairwise(rows):
            if later.timestamp - earlier.timestamp > timedelta(hours=2):
                month = earlier.timestamp.astimezone(STOCKHOLM).month
                if earlier.timestamp.astimezone(STOCKHOLM).hour == 0 and month in (1, 7):
                    use[(item.medium, f"month {month}")] += later.value - earlier.value
                continue
            hour = local_hour(earlier)
            period = "night" if hour in (1, 2, 3) else "evening" if hour in (18, 19) else ""
            if period:
                use[(item.medium, period)] += later.value - earlier.value

    assert use[("hot_water", "night")] == 0
    assert use[("hot_water", "evening")] > 0
    assert use[("electricity", "evening")] > 2 * use[("electricity", "night")] > 0
    for medium in ("heat", "heat_cost_allocator"):
        assert use[(medium, "month 1")] > 10 * use[(medium, "month 7")]


def test_no_field_holds_a_name_or_contact_details(demo: DemoPortfolio) -> None:
    names = {
        "anna", "eva", "maria", "karin", "sara", "lena", "emma", "kerstin", "ingrid", "lars",
        "mikael", "erik", "anders", "johan", "per", "karl", "peter", "jan", "andersson",
        "johansson", "karlsson", "nilsson", "eriksson", "larsson", "olsson", "persson",
        "svensson", "gustafsson", "pettersson", "jonsson", "jansson", "hansson",
    }  # fmt: skip
    texts = [
        value
        for rows in (demo.installations, demo.tenancies, demo.cases)
        for row in rows
        for value in astuple(row)
        if isinstance(value, str)
    ]
    assert texts
    for text in texts:
        assert "@" not in text, text
        assert not re.search(r"(\+46|\b0)7\d[\s-]?\d{3}[\s-]?\d{2}[\s-]?\d{2}\b", text), text
        assert not re.search(r"\b(19|20)?\d{6}[-+]\d{4}\b", text), text  # personnummer
        assert not names & {word.lower() for word in re.findall(r"\w+", text)}, text


def test_full_size_portfolio_has_about_300_apartments() -> None:
    portfolio = generate_demo(end=END)
    apartments = {
        (row.property, row.entrance, row.apartment)
        for row in portfolio.installations
        if row.apartment
    }

    assert 280 <= len(apartments) <= 320
    assert len(portfolio.installations) == 4 * len(apartments) + 5 + 1  # main heat, replacement
    assert len({row.meter for row in portfolio.installations}) == len(portfolio.installations)


def test_a_naive_end_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        generate_demo(end=datetime(2026, 3, 10, 5))


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32),
    end=st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2030, 12, 31)),
    months=st.integers(1, 3),
)
def test_invariants_hold_for_any_seed_end_and_short_period(
    seed: int, end: datetime, months: int
) -> None:
    aware = end.replace(tzinfo=UTC)
    portfolio = generate_demo(seed=seed, end=aware, months=months, scale=0.02)
    readings = by_meter(portfolio)

    check_inside_installations(portfolio, readings, aware)
    check_registers(portfolio, readings)
    check_tenancies(portfolio)
    assert {item.kind for item in portfolio.cases} == KINDS
