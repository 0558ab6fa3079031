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
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
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


@dataclass(frozen=True, slots=True)
class MeterClock:
    meter_time: datetime  # naive, as the meter shows it
    at: datetime  # aware UTC, as interpreted
    drift_s: int  # meter clock minus reception, in seconds
    trusted: bool
    standard_time: bool  # the meter keeps standard time in summer too


def read_clock(telegram: Telegram, *, received_at: datetime, zone: ZoneInfo) -> MeterClock | None:
    """The meter's own clock from the telegram, interpreted in `zone`, if it gives one."""
    shown = next(
        (
            record.value
            for record in telegram.records
            if record.quantity == "date_time"
            and record.storage == 0
            and isinstance(record.value, datetime)
        ),
        None,
    )
    if shown is None:
        return None
    meter_time = shown.replace(tzinfo=None)
    wall = _as_utc(meter_time, zone, standard_time=False)
    standard = _as_utc(meter_time, zone, standard_time=True)
    standard_time = abs(standard - received_at) < abs(wall - received_at)
    at = standard if standard_time else wall
    drift = at - received_at
    return MeterClock(
        meter_time=meter_time,
        at=at,
        drift_s=round(drift.total_seconds()),
        trusted=abs(drift) <= TRUSTED_DRIFT,
        standard_time=standard_time,
    )


def _as_utc(shown: datetime, zone: ZoneInfo, *, standard_time: bool) -> datetime:
    """A naive meter time in `zone`, read as wall-clock time or as standard time all year."""
    local = shown.replace(tzinfo=zone)
    offset = local.utcoffset() or timedelta()
    if standard_time:
        offset -= local.dst() or timedelta()
    return (shown - offset).replace(tzinfo=UTC)


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
        yield ReadingInput(None, identity, at.isoformat(), str(value), unit)


def _plain(record: Record) -> bool:
    return record.tariff == 0 and record.subunit == 0 and record.function is Function.INSTANTANEOUS


def _historic_instant(point: datetime | date, zone: ZoneInfo, clock: MeterClock | None) -> datetime:
    """A storage's time point in the meter's clock, as UTC; a bare date means its end (24:00)."""
    if isinstance(point, datetime):
        shown = point.replace(tzinfo=None)
    else:
        # A due-date value is the register at the end of that day.
        shown = datetime.combine(point + timedelta(days=1), time())
    standard_time = clock is not None and clock.trusted and clock.standard_time
    return _as_utc(shown, zone, standard_time=standard_time)
