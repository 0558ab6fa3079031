"""The cohort screen (PRINCIPLES): 15 apartments with data in every period, none above 15 %."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from openamr.validate.cohort import (
    CohortRule,
    Position,
    Refusal,
    dominated,
    mean_per_member,
    position,
    screen,
)


def group(size: int, periods: int = 3, value: int = 100) -> dict[str, list[int | None]]:
    return {f"apartment {n}": [value] * periods for n in range(size)}


def test_fourteen_apartments_are_too_few_and_fifteen_are_enough() -> None:
    fourteen = screen(group(14), periods=3)
    assert not fourteen.passes
    assert fourteen.refusal is Refusal.TOO_FEW
    assert fourteen.totals == (None, None, None)  # nothing of a refused group is shown
    fifteen = screen(group(15), periods=3)
    assert fifteen.passes
    assert fifteen.totals == (1500, 1500, 1500)
    assert len(fifteen.members) == 15


def test_an_apartment_without_data_in_one_period_is_out_of_every_period() -> None:
    values = group(16)
    values["apartment 0"][1] = None
    screened = screen(values, periods=3)
    assert screened.passes
    assert "apartment 0" not in screened.members
    # The same fifteen apartments in every period, so no two periods differ by one apartment.
    assert screened.totals == (1500, 1500, 1500)
    values["apartment 1"][2] = None
    assert screen(values, periods=3).refusal is Refusal.TOO_FEW


def test_a_period_where_one_apartment_makes_up_more_than_15_percent_is_suppressed() -> None:
    values = group(15)
    values["apartment 0"][1] = 5000  # 5000 of 6400: 78 %
    screened = screen(values, periods=3)
    assert screened.passes
    assert screened.totals == (1500, None, 1500)


def test_exactly_15_percent_is_allowed_and_a_little_more_is_not() -> None:
    # 17 apartments of 100 and one of 300: 300 / 2000 = 15 % exactly.
    assert not dominated([100] * 17 + [300])
    assert dominated([100] * 17 + [301])


def test_one_apartment_dominating_every_period_refuses_the_group() -> None:
    values = group(15)
    values["apartment 0"] = [10_000, 10_000, 10_000]
    screened = screen(values, periods=3)
    assert not screened.passes
    assert screened.refusal is Refusal.DOMINATED


def test_a_negative_correction_cannot_hide_a_dominant_apartment() -> None:
    # The sum is 13 · 100 + 1000 - 1000 = 1300, yet 1000 is 30 % of all that was used or taken back.
    assert dominated([100] * 13 + [1000, -1000])


def test_no_periods_and_ragged_rows() -> None:
    assert screen(group(20, periods=0), periods=0).refusal is Refusal.NO_PERIODS
    with pytest.raises(ValueError, match="2 values for 3 periods"):
        screen({"a": [1, 2]}, periods=3)


def test_the_rule_may_be_raised_but_not_lowered() -> None:
    stricter = CohortRule(min_members=20, max_share=Fraction(1, 10))
    assert screen(group(19), periods=3, rule=stricter).refusal is Refusal.TOO_FEW
    assert screen(group(20), periods=3, rule=stricter).passes
    with pytest.raises(ValueError, match="only be made stricter"):
        CohortRule(min_members=14)
    with pytest.raises(ValueError, match="only be made stricter"):
        CohortRule(max_share=Fraction(16, 100))


def test_the_mean_rounds_half_up_and_the_position_is_a_quarter() -> None:
    assert mean_per_member(10, 4) == 3  # 2.5
    assert mean_per_member(9, 4) == 2  # 2.25
    others = list(range(1, 21))  # 1 .. 20
    assert position(0, others) is Position.LOWEST
    assert position(8, others) is Position.LOWER_MIDDLE
    assert position(13, others) is Position.UPPER_MIDDLE
    assert position(100, others) is Position.HIGHEST


@given(
    st.lists(
        # Mostly values, now and then a period without data (-1 becomes None).
        st.lists(
            st.integers(-1, 10_000).map(lambda v: None if v < 0 else v), min_size=4, max_size=4
        ),
        min_size=10,
        max_size=40,
    )
)
def test_whatever_passes_has_15_members_with_data_and_nobody_above_15_percent(
    rows: list[list[int | None]],
) -> None:
    values = dict(enumerate(rows))
    screened = screen(values, periods=4)
    event(f"refusal: {screened.refusal}")
    if not screened.passes:
        assert all(total is None for total in screened.totals)
        return
    assert len(screened.members) >= 15
    for n, total in enumerate(screened.totals):
        if total is None:
            continue
        column = [values[key][n] for key in screened.members]
        assert all(value is not None for value in column)
        assert total == sum(value or 0 for value in column)
        assert all((value or 0) * 100 <= 15 * total for value in column)
