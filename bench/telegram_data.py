"""Wireless M-Bus water meters for the telegrams benchmark: their portfolio and their telegrams.

Each meter is a Kamstrup-flagged (KAM) cold-water meter with an 8-digit M-Bus
id, which is also its identity in the installation register. Once an hour, at
its own second of the hour (1 to 59 minutes past), it sends a short-TPL (CI 7A)
OMS telegram with two records: its volume register in litres (0 to 40 litres
more than an hour before) and its own clock, local time to the minute. About
30 % of the meters encrypt with security mode 5 (AES-128-CBC, IV from the link
address and the access number) under a key of their own. The gateway hears
each telegram 0 to 3 s after it was sent and forwards it with that time and a
signal strength: every meter's telegram of one hour before the next hour's, in
the order heard.

The encoder is the same small one the tests build telegrams with
(tests/telegram_builder.py), written again here so that the benchmark does not
depend on the tests.
"""

from __future__ import annotations

import csv
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.data import (
    CUSTOMER,
    INSTALLED_AT,
    LOCAL,
    PROPERTY,
    apartment_number,
    entrance_address,
)
from openamr.collect.portfolio import COLUMNS as PORTFOLIO_COLUMNS
from openamr.demo.telegrams import date_time, volume_litres, wmbus

MANUFACTURER = "KAM"
VERSION = 0x1B
COLD_WATER = 0x16  # EN 13757-7 device type
# The first hour every meter reports: local midnight of a winter Monday (UTC+1,
# so no clock change falls inside the run), after the meters were installed.
FIRST_HOUR = datetime(2026, 1, 12, tzinfo=LOCAL)
GATEWAY = "bench-gw-1"


def device_id(index: int) -> str:
    """The `index`th meter's M-Bus identification number: 8 decimal digits."""
    return f"{26_000_001 + index:08d}"


def wmbus_frame(
    records: bytes, *, device: str, access_number: int, key: bytes | None = None
) -> bytes:
    """A cold-water meter's wireless M-Bus telegram (see openamr.demo.telegrams.wmbus)."""
    return wmbus(
        records,
        manufacturer=MANUFACTURER,
        device_id=device,
        version=VERSION,
        device_type=COLD_WATER,
        access_number=access_number,
        key=key,
    )


@dataclass(frozen=True)
class WaterMeter:
    device: str
    key: bytes | None = field(repr=False)
    habit_s: int  # when in the hour it sends: at least a minute past, so never on the hour
    litres: int  # the register at the first hour
    rssi: int


@dataclass(frozen=True)
class TelegramSet:
    """The meters, and their telegrams as request bodies of the gateway, in sending order."""

    meters: list[WaterMeter]
    hours: int
    per_request: int
    bodies: list[bytes]  # JSON documents {"telegrams": [...]}, ready to post
    items: list[list[dict[str, object]]]  # the same, as parsed items, per request

    @property
    def telegrams(self) -> int:
        return len(self.meters) * self.hours

    @property
    def encrypted_meters(self) -> int:
        return sum(meter.key is not None for meter in self.meters)


def make_meters(count: int, *, encrypted_share: float, seed: int) -> list[WaterMeter]:
    rng = random.Random(seed)
    encrypted = set(rng.sample(range(count), round(count * encrypted_share)))
    return [
        WaterMeter(
            device=device_id(index),
            key=rng.randbytes(16) if index in encrypted else None,
            habit_s=rng.randint(60, 3_540),
            litres=rng.randint(10_000, 2_000_000),
            rssi=rng.randint(-95, -55),
        )
        for index in range(count)
    ]


def write_portfolio_csv(path: Path, meters: list[WaterMeter]) -> None:
    """One apartment, cold-water point and meter per device; `manufacturer` and `key` given."""
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow([*PORTFOLIO_COLUMNS, "manufacturer", "key"])
        installed = INSTALLED_AT.isoformat()
        for index, meter in enumerate(meters):
            writer.writerow(
                [
                    CUSTOMER,
                    PROPERTY,
                    entrance_address(index),
                    apartment_number(index),
                    "cold_water",
                    meter.device,
                    "m3",
                    "8",
                    installed,
                    "",
                    MANUFACTURER,
                    "" if meter.key is None else meter.key.hex().upper(),
                ]
            )


def _hour_items(
    meters: list[WaterMeter], registers: list[int], hour: int, rng: random.Random
) -> Iterator[dict[str, object]]:
    """Every meter's telegram of one hour, in the order the gateway hears them.

    `registers` holds each meter's volume in litres, moved on by the hour's use.
    """
    start = FIRST_HOUR + timedelta(hours=hour)
    heard = []
    for index, meter in enumerate(meters):
        registers[index] += rng.randint(0, 40)  # litres in the hour
        sent = start + timedelta(seconds=meter.habit_s)
        shown = sent.replace(second=0, tzinfo=None)  # the meter's clock: local, no seconds
        frame = wmbus_frame(
            volume_litres(registers[index]) + date_time(shown),
            device=meter.device,
            access_number=(int(meter.device) + hour) % 256,
            key=meter.key,
        )
        received_at = sent.astimezone(UTC) + timedelta(seconds=rng.randint(0, 3))
        heard.append((received_at, frame, meter.rssi + rng.randint(-3, 3)))
    heard.sort(key=lambda item: item[0])
    for received_at, frame, rssi in heard:
        yield {
            "hex": frame.hex().upper(),
            "received_at": received_at.isoformat().replace("+00:00", "Z"),
            "rssi": rssi,
        }


def make_telegrams(
    meters: list[WaterMeter], *, hours: int, per_request: int, seed: int
) -> TelegramSet:
    """Every meter's telegram of each hour, hour after hour, cut into requests of `per_request`."""
    rng = random.Random(seed)
    registers = [meter.litres for meter in meters]
    items = [item for hour in range(hours) for item in _hour_items(meters, registers, hour, rng)]
    batches = [items[start : start + per_request] for start in range(0, len(items), per_request)]
    bodies = [
        json.dumps({"gateway": GATEWAY, "telegrams": batch}, separators=(",", ":")).encode()
        for batch in batches
    ]
    return TelegramSet(meters, hours, per_request, bodies, batches)
