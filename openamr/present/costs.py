"""What consumption costs: a period's values split at price changes and priced exactly.

Pure, no I/O. A price holds from the local midnight of its `valid_from`
until the next price's (half-open periods), so a value whose interval lies
within one local day always falls under one price: hours and days can be
priced as they are, and a month only when no price changes inside it (the
caller then prices its days instead; `UnableToSplit` says so). Amounts are
exact `Decimal`s of the currency; they are rounded to whole öre only for
display (`round_to_ore`).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import ROUND_HALF_UP, Decimal
from typing import Protocol
from zoneinfo import ZoneInfo

MICRO = 6  # prices are kept in millionths of the currency per unit


@dataclass(frozen=True, slots=True)
class PriceUnit:
    """What a medium is priced per, and how many storage units (10**exponent) make one."""

    code: str  # as stored: kWh, m3, units
    exponent: int  # storage units per one, as a power of ten (Wh per kWh: 3)


# Media whose consumption can be priced; temperature and humidity cannot.
PRICE_UNITS: dict[str, PriceUnit] = {
    "electricity": PriceUnit("kWh", 3),
    "heat": PriceUnit("kWh", 3),
    "cooling": PriceUnit("kWh", 3),
    "hot_water": PriceUnit("m3", 3),
    "cold_water": PriceUnit("m3", 3),
    "heat_cost_allocator": PriceUnit("units", 0),
}


class UnableToSplit(ValueError):
    """A value whose interval spans a price change: price its shorter periods instead."""


class Consumption(Protocol):
    """A value over a half-open interval, in storage units (a `PeriodValue` is one)."""

    @property
    def start_at(self) -> datetime: ...

    @property
    def end_at(self) -> datetime: ...

    @property
    def value(self) -> int | None: ...


@dataclass(frozen=True, slots=True)
class Tariff:
    """One price: from the local day `valid_from` on, `micro_per_unit` millionths per unit."""

    valid_from: date
    micro_per_unit: int

    @property
    def per_unit(self) -> Decimal:
        """The price per unit in the currency, exactly as set."""
        return Decimal(self.micro_per_unit).scaleb(-MICRO)


@dataclass(frozen=True, slots=True)
class CostPart:
    """The consumption of a period that fell under one price, and what it costs."""

    tariff: Tariff
    until: date | None  # the next price's first day; None when none follows
    quantity: int  # storage units
    amount: Decimal  # exact, in the currency


@dataclass(frozen=True, slots=True)
class Cost:
    """A period's cost: the parts under each price, and the consumption no price covers."""

    parts: tuple[CostPart, ...]
    unpriced: int  # how many of the values had no price in force
    quantity: int  # all the consumption, priced or not, in storage units

    @property
    def amount(self) -> Decimal | None:
        """The exact total; None when a value had no price (the cost is not known)."""
        if self.unpriced:
            return None
        return sum((part.amount for part in self.parts), Decimal(0))


def cost_of(
    values: Iterable[Consumption], tariffs: Sequence[Tariff], *, zone: ZoneInfo, unit: PriceUnit
) -> Cost:
    """The cost of `values` (those with a value), under `tariffs` read in `zone`.

    Each value is priced by the tariff in force at its start; a value that
    reaches past the next tariff's first midnight raises UnableToSplit.
    A value before the first tariff is counted in `unpriced`.
    """
    ordered = sorted(tariffs, key=lambda tariff: tariff.valid_from)
    starts = [_midnight(tariff.valid_from, zone) for tariff in ordered]
    quantities = [0] * len(ordered)
    used = [False] * len(ordered)
    unpriced = total = 0
    for value in values:
        if value.value is None:
            continue
        total += value.value
        index = bisect_right(starts, value.start_at) - 1
        following = starts[index + 1] if index + 1 < len(starts) else None
        if following is not None and value.end_at > following:
            raise UnableToSplit(
                f"the value from {value.start_at.isoformat()} spans the price change of "
                f"{ordered[index + 1].valid_from.isoformat()}"
            )
        if index < 0:
            unpriced += 1
        else:
            quantities[index] += value.value
            used[index] = True
    parts = tuple(
        CostPart(
            tariff=tariff,
            until=ordered[index + 1].valid_from if index + 1 < len(ordered) else None,
            quantity=quantities[index],
            amount=_amount(quantities[index], tariff, unit),
        )
        for index, tariff in enumerate(ordered)
        if used[index]
    )
    return Cost(parts=parts, unpriced=unpriced, quantity=total)


def round_to_ore(amount: Decimal) -> Decimal:
    """An amount rounded half up to whole öre (hundredths), for display only."""
    return amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def price_text(micro_per_unit: int) -> str:
    """A price as exactly as it was set, with at least two decimals: 1.25, 0.8734, 100.00."""
    number = Decimal(micro_per_unit).scaleb(-MICRO)
    decimals = max(2, -number.normalize().as_tuple().exponent)  # type: ignore[operator]
    return f"{number:.{decimals}f}"


def _amount(quantity: int, tariff: Tariff, unit: PriceUnit) -> Decimal:
    # Integer product, then a power-of-ten shift: exact at any size.
    return Decimal(quantity * tariff.micro_per_unit).scaleb(-(MICRO + unit.exponent))


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), zone).astimezone(UTC)
