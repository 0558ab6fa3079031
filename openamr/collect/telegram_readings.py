"""From a decoded telegram to register readings of its meter: which records, at what time.

Pure rules, no I/O. A meter's register is the record of the meter's own
quantity (energy for electricity, heat and cooling meters, volume for water,
units for heat cost allocators, temperature or humidity for room sensors) in
storage 0, tariff 0, subunit 0, as an instantaneous value. Records of the same
quantity in a later storage that carry their own time point (due-date values,
month-end values) are historic readings at that time point; the elements of
a compact profile (a meter's monthly log) are not.

The meter's clock: a telegram's date-time record (storage 0) is the meter's own
clock, naive. Many Swedish meters keep standard time all year, others follow
summer time; the clock is read in the property's zone both ways, and the
reading nearest the reception time wins. The difference to the reception time
is the clock's drift, recorded per telegram and per device. A clock more than
:data:`TRUSTED_DRIFT` away from the reception time is not believed: the
current values are then taken at the reception time.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import NamedTuple
from zoneinfo import ZoneInfo

from openamr.collect.mbus.model import Function, Record, Telegram
from openamr.collect.mbus.profile import is_profile_element
from openamr.collect.readings import ReadingInput
from openamr.units import Quantity

TRUSTED_DRIFT = timedelta(hours=2)

# The decoder's record quantities that carry each register quantity.
REGISTER_RECORDS: dict[Quantity, tuple[str, ...]] = {
    Quantity.ENERGY: ("energy",),
    Quantity.VOLUME: ("volume",),
    Quantity.HCA: ("hca_units", "hca"),
    Quantity.TEMPERATURE: ("external_temperature", "flow_temperature", "temperature"),
    Quantity.HUMIDITY: ("relative_humidity",),
}

# Record units as the core's unit parser spells them.
_UNIT_SYMBOLS = {None: "units", "m³": "m3"}


class MeterClock(NamedTuple):
    meter_time: datetime  # naive, as the meter shows it
    at: datetime  # aware UTC, as interpreted
    drift_s: int  # meter clock minus reception, in seconds
    trusted: bool
    standard_time: bool  # the meter keeps standard time in summer too


def read_clock(telegram: Telegram, *, received_at: datetime, zone: ZoneInfo) -> MeterClock | None:
    """The meter's own clock from the telegram, interpreted in `zone`, if it gives one."""
    shown = None
    for record in telegram.records:
        if (
            record.quantity == "date_time"
            and record.storage == 0
            and isinstance(record.value, datetime)
        ):
            shown = record.value
            break
    if shown is None:
        return None
    meter_time = shown if shown.tzinfo is None else shown.replace(tzinfo=None)
    wall, standard = _instants(meter_time, meter_time.fold, zone)
    wall_drift = wall - received_at
    standard_drift = standard - received_at
    standard_time = abs(standard_drift) < abs(wall_drift)
    drift = standard_drift if standard_time else wall_drift
    return MeterClock(
        meter_time,
        standard if standard_time else wall,
        round(drift.total_seconds()),
        abs(drift) <= TRUSTED_DRIFT,
        standard_time,
    )


def _as_utc(shown: datetime, zone: ZoneInfo, *, standard_time: bool) -> datetime:
    """A naive meter time in `zone`, read as wall-clock time or as standard time all year."""
    return _instants(shown, shown.fold, zone)[standard_time]


# Reading a naive time in a zone takes microseconds: the zone's offset past the
# transitions its file lists comes from its rule, and each datetime.replace costs
# about two on CPython 3.11. Meters' clocks show whole minutes, and a batch holds
# the same minutes many times over, so the answers are kept.
@lru_cache(maxsize=1 << 14)
def _instants(shown: datetime, fold: int, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """`shown` in `zone` as aware UTC, read as wall-clock time and as standard time.

    `fold` is `shown.fold`, which datetime equality (and so the cache) ignores.
    """
    local = shown.replace(tzinfo=zone)
    offset = local.utcoffset() or timedelta()
    dst = local.dst() or timedelta()
    return (shown - offset).replace(tzinfo=UTC), (shown - offset + dst).replace(tzinfo=UTC)


def register_readings(
    telegram: Telegram,
    *,
    identity: str,
    quantity: Quantity,
    received_at: datetime,
    zone: ZoneInfo,
    clock: MeterClock | None,
) -> Iterator[ReadingInput]:
    """The meter's register readings in this telegram, as the core's pipeline takes them."""
    for at, value, unit in register_values(
        telegram, quantity=quantity, received_at=received_at, zone=zone, clock=clock
    ):
        yield ReadingInput(None, identity, at.isoformat(), str(value), unit)


def register_values(
    telegram: Telegram,
    *,
    quantity: Quantity,
    received_at: datetime,
    zone: ZoneInfo,
    clock: MeterClock | None,
) -> Iterator[tuple[datetime, Decimal | int, str]]:
    """The meter's register values in this telegram: (aware UTC instant, value, unit symbol).

    What :func:`register_readings` writes out as text; the telegram pipeline
    hands these to the core as they are, without writing and parsing them again.
    """
    names = REGISTER_RECORDS[quantity]
    now_at = clock.at if clock is not None and clock.trusted else received_at
    current_taken = False
    for record in telegram.records:
        if record.quantity not in names or not _plain(record):
            continue
        value = record.value
        if not isinstance(value, Decimal | int) or isinstance(value, bool):
            continue
        unit = _UNIT_SYMBOLS.get(record.unit, record.unit)
        if unit is None:
            continue
        if record.storage == 0:
            if current_taken:
                continue  # a meter's first register of its quantity is its register
            current_taken = True
            at = now_at
        else:
            if record.at is None or is_profile_element(record):
                # A profile's elements are a meter's monthly log, not register
                # readings: allocators log zeros for months before a reset.
                continue
            at = _historic_instant(record.at, zone, clock)
            if at > received_at:
                continue  # a time point in the future is a set date, not a reading
        yield at, value, unit


def _plain(record: Record) -> bool:
    return record.tariff == 0 and record.subunit == 0 and record.function is Function.INSTANTANEOUS


def _historic_instant(point: datetime | date, zone: ZoneInfo, clock: MeterClock | None) -> datetime:
    """A storage's time point in the meter's clock, as UTC; a bare date means its end (24:00)."""
    if isinstance(point, datetime):
        shown = point if point.tzinfo is None else point.replace(tzinfo=None)
    else:
        # A due-date value is the register at the end of that day.
        shown = datetime.combine(point + timedelta(days=1), time())
    standard_time = clock is not None and clock.trusted and clock.standard_time
    return _as_utc(shown, zone, standard_time=standard_time)
