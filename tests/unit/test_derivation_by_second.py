"""The ingest's form of the derivation (readings by epoch second) gives what the public one does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openamr.validate import MeterSpan, RegisterReading, derive_hour_rows
from openamr.validate.rules import derive_hour_rows_by_second

BASE_S = 1_792_800_000  # 2026-10-24 00:00 UTC
BASE = datetime.fromtimestamp(BASE_S, UTC)


@st.composite
def points(draw: st.DrawFn) -> tuple[list[MeterSpan], dict[int, dict[int, int]]]:
    """One or two meters on a point (a replacement at a drawn instant), with readings of
    each around its span, going up, down (backwards or a rollover) or staying."""
    cumulative = draw(st.booleans())
    replaced_at = draw(st.integers(3600, 40 * 3600))
    spans = [
        MeterSpan(
            meter_id=meter_id,
            installed_at=BASE + timedelta(seconds=installed),
            removed_at=None if removed is None else BASE + timedelta(seconds=removed),
            modulus=draw(st.sampled_from([None, 1000, 10**6])),
            cumulative=cumulative,
            restarts=draw(st.booleans()),
        )
        for meter_id, installed, removed in draw(
            st.sampled_from(
                [[(1, 0, None)], [(1, 0, replaced_at), (2, replaced_at, None)]],
            )
        )
    ]
    values: dict[int, dict[int, int]] = {}
    for span in spans:
        seconds = draw(
            st.lists(st.integers(-7200, 48 * 3600), min_size=2, max_size=40, unique=True)
        )
        values[span.meter_id] = {
            BASE_S + second: draw(st.integers(-5, 2000)) for second in sorted(seconds)
        }
    return spans, values


@settings(max_examples=200, deadline=None)
@given(point=points(), first=st.integers(-2, 30), length=st.integers(1, 30))
def test_readings_by_second_derive_the_same_hours_as_reading_objects(
    point: tuple[list[MeterSpan], dict[int, dict[int, int]]], first: int, length: int
) -> None:
    spans, values = point
    readings = [
        RegisterReading(meter_id, datetime.fromtimestamp(second, UTC), value)
        for meter_id, by_second in values.items()
        for second, value in by_second.items()
    ]
    lo = BASE_S + first * 3600
    hi = lo + length * 3600
    expected = derive_hour_rows(
        readings,
        spans,
        window_start=datetime.fromtimestamp(lo, UTC),
        window_end=datetime.fromtimestamp(hi, UTC),
    )
    assert derive_hour_rows_by_second(values, spans, first_hour=lo, end_hour=hi) == expected


@pytest.mark.parametrize(("lo", "hi"), [(BASE_S + 60, BASE_S + 3600), (BASE_S + 3600, BASE_S)])
def test_a_window_that_is_not_whole_hours_in_order_is_refused(lo: int, hi: int) -> None:
    span = MeterSpan(meter_id=1, installed_at=BASE, removed_at=None, modulus=None)
    with pytest.raises(ValueError, match="not whole hours"):
        derive_hour_rows_by_second({1: {}}, [span], first_hour=lo, end_hour=hi)
