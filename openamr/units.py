"""Media, quantities and units: how a register value becomes an exact integer.

Energy and volume are stored as integers in a storage unit (Wh, L, ...) so that
every sum over hours, days and months is exact. A unit knows how many storage
units one of it is; powers of ten convert exactly, GJ and MJ are rounded half
up to the watt-hour at the register, never at a difference.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from fractions import Fraction
from functools import lru_cache


class Quantity(enum.StrEnum):
    ENERGY = "energy"
    VOLUME = "volume"
    HCA = "hca"
    TEMPERATURE = "temperature"
    HUMIDITY = "humidity"


STORAGE_UNITS: dict[Quantity, str] = {
    Quantity.ENERGY: "Wh",
    Quantity.VOLUME: "L",
    Quantity.HCA: "units",
    Quantity.TEMPERATURE: "m°C",
    Quantity.HUMIDITY: "m%RH",
}


class Medium(enum.StrEnum):
    ELECTRICITY = "electricity"
    HEAT = "heat"
    COOLING = "cooling"
    HOT_WATER = "hot_water"
    COLD_WATER = "cold_water"
    HEAT_COST_ALLOCATOR = "heat_cost_allocator"
    ROOM_CLIMATE = "room_climate"


MEDIUM_QUANTITIES: dict[Medium, frozenset[Quantity]] = {
    Medium.ELECTRICITY: frozenset({Quantity.ENERGY}),
    Medium.HEAT: frozenset({Quantity.ENERGY}),
    Medium.COOLING: frozenset({Quantity.ENERGY}),
    Medium.HOT_WATER: frozenset({Quantity.VOLUME}),
    Medium.COLD_WATER: frozenset({Quantity.VOLUME}),
    Medium.HEAT_COST_ALLOCATOR: frozenset({Quantity.HCA}),
    Medium.ROOM_CLIMATE: frozenset({Quantity.TEMPERATURE, Quantity.HUMIDITY}),
}

CUMULATIVE_QUANTITIES = frozenset({Quantity.ENERGY, Quantity.VOLUME, Quantity.HCA})
# Registers that start again from zero on their own: a heat cost allocator
# (EN 834) keeps the year's count, stores it as its set-day value and restarts
# at 0 on its yearly set day.
RESTARTING_QUANTITIES = frozenset({Quantity.HCA})


class UnknownUnit(ValueError):
    """A unit symbol openamr does not know."""


class UnusableValue(ValueError):
    """A register value that is not a finite decimal number."""


@dataclass(frozen=True, slots=True)
class Unit:
    """A unit as meters and files write it, and its size in storage units."""

    symbol: str
    quantity: Quantity
    size: Fraction  # storage units per one of this unit

    @property
    def storage_unit(self) -> str:
        return STORAGE_UNITS[self.quantity]

    @property
    def cumulative(self) -> bool:
        return self.quantity in CUMULATIVE_QUANTITIES

    @property
    def restarts(self) -> bool:
        """Whether registers of this unit start again from zero (yearly, for allocators)."""
        return self.quantity in RESTARTING_QUANTITIES

    def to_storage(self, value: Decimal | str) -> int:
        """The value in storage units, rounded half up. Raises UnusableValue."""
        if isinstance(value, str) and self.size.denominator == 1:
            exact = _plain_decimal(value, self.size.numerator)
            if exact is not None:
                return exact
        try:
            number = value if isinstance(value, Decimal) else Decimal(value.strip())
        except InvalidOperation as exc:
            raise UnusableValue(f"value {str(value)[:40]!r} is not a number") from exc
        if not number.is_finite():
            raise UnusableValue(f"value {str(value)[:40]!r} is not a finite number")
        if self.size.denominator == 1:
            return int((number * self.size.numerator).to_integral_value(ROUND_HALF_UP))
        return _round_half_up(Fraction(number) * self.size)


_DECIMALS = {10**power: power for power in range(10)}


def _plain_decimal(text: str, scale: int) -> int | None:
    """`12345.678` kWh as 12345678 Wh by the digits alone, where that is exact; else None.

    Files and gateways write most values this way, and Decimal arithmetic was
    the largest single cost of checking a reading. Anything else (an exponent,
    more decimals than the unit's power of ten, a sign) takes the Decimal path.
    """
    decimals = _DECIMALS.get(scale)
    if decimals is None:
        return None
    whole, dot, fraction = text.strip().partition(".")
    if not whole.isdecimal() or not whole.isascii():
        return None
    if not dot:
        return int(whole) * scale
    if not fraction.isdecimal() or not fraction.isascii() or len(fraction) > decimals:
        return None
    return int(whole) * scale + int(fraction.ljust(decimals, "0"))


def _round_half_up(value: Fraction) -> int:
    quotient, remainder = divmod(value.numerator, value.denominator)
    return quotient + (1 if 2 * remainder >= value.denominator else 0)


_WH_PER_JOULE = Fraction(1, 3600)

_UNITS: tuple[Unit, ...] = (
    Unit("Wh", Quantity.ENERGY, Fraction(1)),
    Unit("kWh", Quantity.ENERGY, Fraction(1000)),
    Unit("MWh", Quantity.ENERGY, Fraction(1_000_000)),
    Unit("GWh", Quantity.ENERGY, Fraction(1_000_000_000)),
    Unit("kJ", Quantity.ENERGY, 1000 * _WH_PER_JOULE),
    Unit("MJ", Quantity.ENERGY, 1_000_000 * _WH_PER_JOULE),
    Unit("GJ", Quantity.ENERGY, 1_000_000_000 * _WH_PER_JOULE),
    Unit("L", Quantity.VOLUME, Fraction(1)),
    Unit("m3", Quantity.VOLUME, Fraction(1000)),
    Unit("units", Quantity.HCA, Fraction(1)),
    Unit("°C", Quantity.TEMPERATURE, Fraction(1000)),
    Unit("%RH", Quantity.HUMIDITY, Fraction(1000)),
)

# Spellings seen in spreadsheets and gateway exports, mapped to one symbol.
_ALIASES: dict[str, str] = {
    "wh": "Wh",
    "kwh": "kWh",
    "mwh": "MWh",
    "gwh": "GWh",
    "kj": "kJ",
    "mj": "MJ",
    "gj": "GJ",
    "l": "L",
    "litre": "L",
    "liter": "L",
    "m3": "m3",
    "m³": "m3",
    "m^3": "m3",
    "units": "units",
    "unit": "units",
    "hca": "units",
    "°c": "°C",
    "c": "°C",
    "degc": "°C",
    "%rh": "%RH",
    "rh": "%RH",
    "%": "%RH",
}

_BY_SYMBOL = {unit.symbol: unit for unit in _UNITS}


def parse_unit(symbol: str) -> Unit:
    """The unit for a symbol as written (`kWh`, `KWH`, `m³`, `l`). Raises UnknownUnit."""
    canonical = _ALIASES.get(symbol.strip().lower())
    if canonical is None:
        known = ", ".join(unit.symbol for unit in _UNITS)
        raise UnknownUnit(f"unknown unit {symbol[:20]!r}; known units: {known}")
    return _BY_SYMBOL[canonical]


# Asked for every meter of every batch; the answers are few.
@lru_cache(maxsize=256)
def register_modulus(unit: Unit, digits: int | None) -> int | None:
    """Where a register of `digits` digits in `unit` wraps, in storage units."""
    if digits is None or not unit.cumulative:
        return None
    return _round_half_up(Fraction(10**digits) * unit.size)
