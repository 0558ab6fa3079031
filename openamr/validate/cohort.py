"""The cohort screen of PRINCIPLES: when a group of apartments may be shown in aggregate.

Pure functions over per-apartment values, no I/O. It lives here, at the
bottom of the stages, because both callers stand above it: the store reads a
group's values and must screen them before anything leaves it (the household
page's comparison with similar apartments), and the research exports in
`share` will screen their cells with the same rule. `share` and `present`
are independent layers, so a module in either could not serve the other.

The rule: a group may be shown only if at least 15 apartments have data in
every period shown (an apartment without a value in one period is out of the
group for all of them, so that every period is the same fixed group), and no
apartment makes up more than 15 % of any value shown (a period where one
does is suppressed). Both numbers may be raised, never lowered.
"""

from __future__ import annotations

import enum
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Generic, TypeVar

MIN_MEMBERS = 15
MAX_SHARE = Fraction(15, 100)

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True, slots=True)
class CohortRule:
    """The screen's two numbers; configurable upward only (stricter), never below 15/15."""

    min_members: int = MIN_MEMBERS
    max_share: Fraction = MAX_SHARE

    def __post_init__(self) -> None:
        if self.min_members < MIN_MEMBERS or not 0 < self.max_share <= MAX_SHARE:
            raise ValueError(
                f"the cohort screen may only be made stricter than {MIN_MEMBERS} apartments "
                f"and {MAX_SHARE.numerator} %; got {self.min_members} and {self.max_share}"
            )


class Refusal(enum.StrEnum):
    """Why a group is not shown at all."""

    NO_PERIODS = "no_periods"  # nothing to show
    TOO_FEW = "too_few"  # fewer apartments than the rule's minimum have data in every period
    DOMINATED = "dominated"  # one apartment dominates every period: all suppressed


@dataclass(frozen=True, slots=True)
class ScreenedGroup(Generic[K]):
    """A group after the screen: who is in it, and each period's total where it may be shown.

    `members` are the apartments with data in every period; they are for the
    caller's own arithmetic (a household's position) and must never be shown
    or returned one by one. `totals[n]` is None where period n is suppressed.
    """

    members: tuple[K, ...]
    totals: tuple[int | None, ...]
    refusal: Refusal | None

    @property
    def passes(self) -> bool:
        return self.refusal is None


def screen(
    values: Mapping[K, Sequence[int | None]], *, periods: int, rule: CohortRule | None = None
) -> ScreenedGroup[K]:
    """Screen a group's per-apartment values, `periods` of them per apartment (None: no data).

    Raises ValueError when an apartment has another number of values than `periods`.
    """
    rule = rule or CohortRule()
    for key, row in values.items():
        if len(row) != periods:
            raise ValueError(f"{key!r} has {len(row)} values for {periods} periods")
    if periods == 0:
        return ScreenedGroup((), (), Refusal.NO_PERIODS)
    members = tuple(key for key, row in values.items() if all(v is not None for v in row))
    if len(members) < rule.min_members:
        return ScreenedGroup(members, (None,) * periods, Refusal.TOO_FEW)
    totals: list[int | None] = []
    for n in range(periods):
        column = [_known(values[key][n]) for key in members]
        totals.append(None if dominated(column, rule.max_share) else sum(column))
    refusal = Refusal.DOMINATED if all(total is None for total in totals) else None
    return ScreenedGroup(members, tuple(totals), refusal)


def dominated(column: Sequence[int], max_share: Fraction = MAX_SHARE) -> bool:
    """Whether one value makes up more than `max_share` of the column's total.

    Shares are of magnitudes, so that a negative value (a correction) cannot
    hide a dominant one; a column of zeros has no dominant value.
    """
    magnitude = sum(abs(value) for value in column)
    return any(
        abs(value) * max_share.denominator > max_share.numerator * magnitude for value in column
    )


def mean_per_member(total: int, members: int) -> int:
    """The mean per apartment in storage units, rounded half up: the group's total / its size.

    The mean, not the median: the screen guards totals (no apartment above 15 %
    of one), and a mean is a total divided by the group's size, where a median
    of an odd-sized group is one apartment's own value.
    """
    if members <= 0:
        raise ValueError("a mean of no apartments")
    quotient, remainder = divmod(total, members)
    return quotient + (1 if 2 * remainder >= members else 0)


class Position(enum.IntEnum):
    """Where a household's value lies among a group's: its quarter, lowest use first."""

    LOWEST = 1
    LOWER_MIDDLE = 2
    UPPER_MIDDLE = 3
    HIGHEST = 4


def position(own: int, group: Sequence[int]) -> Position:
    """The quarter of `group` that `own` falls in; ties count half below, half above.

    Only the quarter is given, not a rank: a rank among a known group says more
    about the neighbours than a household needs to compare itself.
    """
    if not group:
        raise ValueError("a position in an empty group")
    below = 2 * sum(1 for value in group if value < own) + sum(1 for value in group if value == own)
    share = Fraction(below, 2 * len(group))
    return Position(min(4, 1 + int(share * 4)))


def _known(value: int | None) -> int:
    if value is None:  # members have a value in every period
        raise ValueError("a member without a value")
    return value
