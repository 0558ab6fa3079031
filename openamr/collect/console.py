"""What the operations console does beyond reading: completeness per day, attaching a meter heard,
and processing again the telegrams that waited.

Completeness is the share of a property's point-hours per local day that are
measured, estimated, rejected or missing: hours without a stored row are
missing, and a day has 23 or 25 hours at a daylight-saving change.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from openamr.access import AccessContext
from openamr.collect.admin import UnusableInput, instant, register_unit
from openamr.collect.telegrams import TelegramIngest, TelegramReport
from openamr.guard.audit import Target, record_access
from openamr.store import console as store
from openamr.store import telegrams as radio
from openamr.store.buildings import find_property
from openamr.store.meters import InstallationRow, create_meter, find_metering_point, install_meter
from openamr.units import MEDIUM_QUANTITIES, STORAGE_UNITS, Medium, Quantity
from openamr.validate import Resolution, local_span

# The register unit a meter attached from the console gets unless the form names another.
DEFAULT_REGISTER_UNITS: dict[Quantity, str] = {
    Quantity.ENERGY: "kWh",
    Quantity.VOLUME: "m3",
    Quantity.HCA: "units",
}


@dataclass(frozen=True, slots=True)
class DayCompleteness:
    """One property's local day: how many point-hours had each status."""

    day: date
    expected: int
    measured: int
    estimated: int
    rejected: int

    @property
    def missing(self) -> int:
        return max(self.expected - self.measured - self.estimated - self.rejected, 0)

    def share(self, status: str) -> float:
        """The share of the day's point-hours with `status`, 0.0 to 1.0 (0.0 if none expected)."""
        counts = {
            "measured": self.measured,
            "estimated": self.estimated,
            "rejected": self.rejected,
            "missing": self.missing,
        }
        return counts[status] / self.expected if self.expected else 0.0


def daily_completeness(
    conn: sa.Connection,
    *,
    access: AccessContext,
    properties: Sequence[store.PropertySummary],
    first_day: date,
    end_day: date,
) -> dict[int, list[DayCompleteness]]:
    """Each property's completeness for local days [first_day, end_day), by property id."""
    if not properties or end_day <= first_day:
        return {}
    spans = {
        prop.id: local_span(
            first_day=first_day,
            end_day=end_day,
            zone=ZoneInfo(prop.time_zone),
            resolution=Resolution.DAY,
        )
        for prop in properties
    }
    start = min(span[0] for span in spans.values())
    end = max(span[1] for span in spans.values())
    counts: dict[tuple[int, date], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    zones = {prop.id: ZoneInfo(prop.time_zone) for prop in properties}
    for row in store.count_hours_by_status(conn, access=access, start=start, end=end):
        zone = zones.get(row.property_id)
        if zone is None:
            continue
        counts[(row.property_id, row.start_at.astimezone(zone).date())][row.status] += row.hours
    found: dict[int, list[DayCompleteness]] = {}
    for prop in properties:
        zone = zones[prop.id]
        days = []
        day = first_day
        while day < end_day:
            hours = _hours_in(day, zone)
            tally = counts.get((prop.id, day), {})
            days.append(
                DayCompleteness(
                    day=day,
                    expected=prop.points * hours,
                    measured=tally.get("measured", 0),
                    estimated=tally.get("estimated", 0),
                    rejected=tally.get("rejected", 0),
                )
            )
            day += timedelta(days=1)
        found[prop.id] = days
    return found


def _hours_in(day: date, zone: ZoneInfo) -> int:
    start, end = local_span(
        first_day=day, end_day=day + timedelta(days=1), zone=zone, resolution=Resolution.DAY
    )
    return int((end - start).total_seconds()) // 3600


# --- attaching a meter heard to a metering point ------------------------------------------------


class UnableToAttach(ValueError):
    """The device heard cannot be attached as asked; the message says why."""


def attach_heard_device(
    conn: sa.Connection,
    access: AccessContext,
    *,
    manufacturer: str,
    device_id: str,
    point_id: int,
    installed_from: str,
    unit: str | None,
    now: datetime,
) -> InstallationRow:
    """Make a device heard but not in the register a meter, and install it on a point.

    `installed_from` is a local day at the property or a time with an offset.
    Raises UnableToAttach (an unknown device, one already a meter, bad input)
    and the register's UnableToFind / UnableToChange.
    """
    heard = {
        (row.manufacturer, row.device_id): row
        for row in radio.list_heard_devices(conn, access=access, unassigned_only=True)
    }
    device = heard.get((manufacturer.upper(), device_id))
    if device is None:
        raise UnableToAttach(f"no unassigned device {manufacturer.upper()} {device_id} was heard")
    point = find_metering_point(conn, access=access, point_id=point_id)
    if point.customer_id != device.customer_id:
        raise UnableToAttach(f"no metering point {point_id}")
    zone = find_property(conn, access=access, property_id=point.property_id).time_zone
    medium = Medium(point.medium)
    try:
        quantity = sorted(MEDIUM_QUANTITIES[medium])[0]
        chosen_unit = register_unit(
            unit or DEFAULT_REGISTER_UNITS.get(quantity, STORAGE_UNITS[quantity]), of=medium
        )
        start = instant(installed_from, field="installed_from", zone=zone)
    except UnusableInput as exc:
        raise UnableToAttach(str(exc)) from None
    created = create_meter(
        conn,
        access=access,
        customer_id=point.customer_id,
        identity=device.device_id,
        medium=medium.value,
        register_unit=chosen_unit,
        register_digits=None,
        manufacturer=device.manufacturer,
    )
    installation = install_meter(
        conn, access=access, meter_id=created.id, point_id=point.id, installed_at=start
    )
    record_access(
        conn,
        access,
        action="console.meter.attach",
        now=now,
        target=Target(
            customer_id=point.customer_id,
            property_id=point.property_id,
            apartment_id=point.apartment_id,
        ),
    )
    return installation


def process_device_telegrams(
    engine: Engine, ingest: TelegramIngest, *, customer_id: int, manufacturer: str, device_id: str
) -> TelegramReport:
    """Process again the device's telegrams that waited for it to be in the register."""
    ingest.forget_lookups()
    report = TelegramReport()
    after = 0
    while True:
        with engine.connect() as conn:
            batch = radio.list_telegrams(
                conn,
                customer_id=customer_id,
                states=(radio.UNASSIGNED, radio.FAILED),
                devices=[(manufacturer.upper(), device_id)],
                after_id=after,
                limit=1000,
            )
        if not batch:
            return report
        after = batch[-1].id
        report.add(ingest.process(batch))


def reprocess_waiting(ingest: TelegramIngest, access: AccessContext) -> TelegramReport:
    """Process again the caller's customers' telegrams whose reason for waiting is gone.

    A key added since, a layout learnt, a meter now in the register, a newer
    decoder: `TelegramIngest.reprocess_fixed` knows which; the rest keep their reason.
    """
    report = TelegramReport()
    for customer_id in sorted(access.customer_ids or ()):
        report.add(ingest.reprocess_fixed(customer_id=customer_id))
    return report
