"""Synthetic but plausible inputs: a portfolio of electricity meters and their hourly readings.

Every meter reads a few minutes past each hour (its own habit, with a minute of
jitter either way), and its register only ever goes up, by 0.05 to 1.5 kWh an
hour. Timestamps are written in local winter time (+01:00, Europe/Stockholm in
January, so no clock change falls inside the run), values in kWh with three
decimals, as a gateway export gives them.
"""

from __future__ import annotations

import csv
import enum
import random
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from openamr.collect.portfolio import COLUMNS as PORTFOLIO_COLUMNS

HOUR = 3600
LOCAL = timezone(timedelta(hours=1))
FIRST_HOUR = datetime(2026, 1, 12, tzinfo=LOCAL)
INSTALLED_AT = datetime(2026, 1, 1, tzinfo=LOCAL)
TIME_ZONE = "Europe/Stockholm"
CUSTOMER = "Bench Fastigheter AB"
PROPERTY = "BENCH 1:1"
APARTMENTS_PER_ENTRANCE = 100  # floors 10-19, doors 01-10


class Order(enum.StrEnum):
    """The order of rows in a readings file."""

    METER_MAJOR = "meter-major"  # each meter's readings together: a file export
    TIME_MAJOR = "time-major"  # every meter's reading of one hour together: a gateway stream


def meter_identity(index: int) -> str:
    return f"BENCH{index + 1:08d}"


def entrance_address(index: int) -> str:
    """The entrance of the `index`th apartment (a property's entrances hold 100 each)."""
    return f"Mätargatan {index // APARTMENTS_PER_ENTRANCE + 1}"


def apartment_number(index: int) -> str:
    """A lägenhetsnummer, unique within the entrance: floor 10-19, door 01-10."""
    within = index % APARTMENTS_PER_ENTRANCE
    return f"{10 + within // 10}{within % 10 + 1:02d}"


def write_portfolio_csv(path: Path, meters: int) -> None:
    """One row per meter, each on its own apartment's electricity point."""
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(PORTFOLIO_COLUMNS)
        installed = INSTALLED_AT.isoformat()
        for index in range(meters):
            writer.writerow(
                [
                    CUSTOMER,
                    PROPERTY,
                    entrance_address(index),
                    apartment_number(index),
                    "electricity",
                    meter_identity(index),
                    "kWh",
                    "8",
                    installed,
                    "",
                ]
            )


@dataclass(frozen=True)
class ReadingSeries:
    """Every meter's reading times (epoch seconds) and register values (Wh), meter by meter."""

    meters: int
    per_meter: int
    times: array[int]
    values: array[int]

    @property
    def count(self) -> int:
        return self.meters * self.per_meter

    def positions(self, order: Order, hours: int) -> Iterator[int]:
        """Indexes into `times` and `values` of each meter's first `hours` readings, in order."""
        if order is Order.METER_MAJOR:
            for first in range(0, self.count, self.per_meter):
                yield from range(first, first + hours)
            return
        for hour in range(hours):
            yield from range(hour, self.count, self.per_meter)


@dataclass(frozen=True)
class ReadingsFile:
    """A readings CSV: every meter's first `hours` readings in one row order."""

    path: Path
    order: Order
    hours: int
    readings: int


def make_series(*, meters: int, per_meter: int, seed: int) -> ReadingSeries:
    rng = random.Random(seed)
    first = int(FIRST_HOUR.timestamp())
    times: array[int] = array("q")
    values: array[int] = array("q")
    for _meter in range(meters):
        habit = rng.randint(120, 540)  # this meter's usual second past the hour
        value = rng.randint(1_000_000, 60_000_000)  # Wh on the register
        for hour in range(per_meter):
            times.append(first + hour * HOUR + habit + rng.randint(-60, 60))
            value += rng.randint(50, 1_500)
            values.append(value)
    return ReadingSeries(meters, per_meter, times, values)


def write_readings_csv(path: Path, series: ReadingSeries, order: Order, hours: int) -> ReadingsFile:
    """The readings as `meter,timestamp,value,unit` rows, kWh with three decimals."""
    identities = [meter_identity(index) for index in range(series.meters)]
    times, values, per_meter = series.times, series.values, series.per_meter
    with path.open("w", encoding="utf-8", newline="") as stream:
        stream.write("meter,timestamp,value,unit\n")
        lines = []
        for position in series.positions(order, hours):
            stamp = datetime.fromtimestamp(times[position], LOCAL).isoformat()
            wh = values[position]
            lines.append(
                f"{identities[position // per_meter]},{stamp},{wh // 1000}.{wh % 1000:03d},kWh\n"
            )
            if len(lines) >= 100_000:
                stream.writelines(lines)
                lines.clear()
        stream.writelines(lines)
    return ReadingsFile(path, order, hours, series.meters * hours)


def raw_rows_epoch(series: ReadingSeries, file: ReadingsFile) -> list[tuple[int, int, int]]:
    """(meter, epoch second, Wh) in file order: what SQLite stores."""
    times, values, per_meter = series.times, series.values, series.per_meter
    return [
        (position // per_meter + 1, times[position], values[position])
        for position in series.positions(file.order, file.hours)
    ]


def raw_rows_datetime(series: ReadingSeries, file: ReadingsFile) -> list[tuple[int, datetime, int]]:
    """(meter, aware UTC datetime, Wh) in file order: what psycopg sends to PostgreSQL."""
    times, values, per_meter = series.times, series.values, series.per_meter
    return [
        (position // per_meter + 1, datetime.fromtimestamp(times[position], UTC), values[position])
        for position in series.positions(file.order, file.hours)
    ]
