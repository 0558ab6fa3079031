"""The installation register as property owners keep it: one CSV row per meter installation."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TextIO

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from openamr.access import AccessContext
from openamr.collect.rejections import Rejection, keep_rejections
from openamr.store import portfolio as register
from openamr.timeutil import UnusableTimestamp, parse_instant
from openamr.units import MEDIUM_QUANTITIES, Medium, UnknownUnit, parse_unit

COLUMNS = (
    "customer",
    "property",
    "entrance",
    "apartment",
    "medium",
    "meter",
    "register_unit",
    "register_digits",
    "installed_at",
    "removed_at",
)
OPTIONAL_COLUMNS = ("manufacturer",)

APARTMENT_NUMBER = re.compile(r"^[0-9]{4}$")


class UnableToReadFile(ValueError):
    """A file whose header or encoding makes every row unusable."""


@dataclass(frozen=True, slots=True)
class Installation:
    """One validated row of the installation register."""

    customer: str
    property: str
    entrance: str
    apartment: str | None
    medium: Medium
    meter: str
    register_unit: str
    register_digits: int | None
    installed_at: datetime
    removed_at: datetime | None
    manufacturer: str | None = None


@dataclass
class PortfolioReport:
    """What an import did, row by row where it could not."""

    rows: int = 0
    created: dict[str, int] = field(default_factory=dict)
    errors: list[Rejection] = field(default_factory=list)

    def count(self, what: str, ensured: register.Ensured) -> None:
        if ensured.created:
            self.created[what] = self.created.get(what, 0) + 1


def read_portfolio_csv(stream: TextIO) -> Iterator[tuple[int, Mapping[str, str]]]:
    """(line number, row) pairs of a portfolio CSV. Raises UnableToReadFile on a bad header."""
    reader = csv.DictReader(stream)
    header = [name.strip() for name in reader.fieldnames or []]
    missing = [name for name in COLUMNS if name not in header]
    if missing:
        raise UnableToReadFile(
            f"the header lacks {', '.join(missing)}; expected columns: {','.join(COLUMNS)}"
        )
    reader.fieldnames = header
    for row in reader:
        yield reader.line_num, {key: (value or "").strip() for key, value in row.items() if key}


def parse_installation(row: Mapping[str, str]) -> Installation:
    """A validated installation. Raises ValueError with a reader-friendly reason."""
    for name in ("customer", "property", "entrance", "meter", "medium", "register_unit"):
        if not row.get(name):
            raise ValueError(f"{name} is empty")
    apartment = row.get("apartment") or None
    if apartment is not None and not APARTMENT_NUMBER.match(apartment):
        raise ValueError(
            f"apartment {apartment!r} is not a four-digit lägenhetsnummer such as 1102"
        )
    try:
        medium = Medium(row["medium"])
    except ValueError:
        raise ValueError(
            f"medium {row['medium']!r} is not one of {', '.join(m.value for m in Medium)}"
        ) from None
    try:
        unit = parse_unit(row["register_unit"])
    except UnknownUnit as exc:
        raise ValueError(str(exc)) from None
    if unit.quantity not in MEDIUM_QUANTITIES[medium]:
        raise ValueError(f"register unit {unit.symbol} does not measure {medium.value}")
    digits_text = row.get("register_digits", "")
    digits: int | None = None
    if digits_text:
        if not digits_text.isdigit() or not 1 <= int(digits_text) <= 15:
            raise ValueError(f"register_digits {digits_text!r} must be a whole number from 1 to 15")
        digits = int(digits_text)
    try:
        installed_at = parse_instant(row.get("installed_at", ""))
        removed_at = parse_instant(row["removed_at"]) if row.get("removed_at") else None
    except UnusableTimestamp as exc:
        raise ValueError(str(exc)) from None
    manufacturer = (row.get("manufacturer") or "").upper() or None
    if manufacturer is not None and not re.fullmatch(r"[A-Z@]{3}", manufacturer):
        raise ValueError(f"manufacturer {manufacturer!r} is not a three-letter M-Bus code")
    return Installation(
        customer=row["customer"],
        property=row["property"],
        entrance=row["entrance"],
        apartment=apartment,
        medium=medium,
        meter=row["meter"],
        register_unit=unit.symbol,
        register_digits=digits,
        installed_at=installed_at,
        removed_at=removed_at,
        manufacturer=manufacturer,
    )


def import_portfolio(
    engine: Engine,
    rows: Iterable[tuple[int, Mapping[str, str]]],
    *,
    access: AccessContext,
    source: str,
    time_zone: str,
    now: datetime,
) -> PortfolioReport:
    """Create or update everything the rows describe; safe to run again.

    Each row is its own transaction step: a bad row is reported with its line and
    kept as a rejected input, and the good rows around it are imported.
    """
    report = PortfolioReport()
    for line, row in rows:
        report.rows += 1
        try:
            item = parse_installation(row)
            with engine.begin() as conn:
                _import_one(conn, item, access=access, time_zone=time_zone, now=now, report=report)
        except (ValueError, register.UnableToRegister) as exc:
            report.errors.append(Rejection(line=line, reason=str(exc), payload=row))
    if report.errors:
        with engine.begin() as conn:
            keep_rejections(
                conn, report.errors, kind="installation", source=source, received_at=now
            )
    return report


def _import_one(
    conn: sa.Connection,
    item: Installation,
    *,
    access: AccessContext,
    time_zone: str,
    now: datetime,
    report: PortfolioReport,
) -> None:
    customer = register.ensure_customer(conn, name=item.customer, now=now)
    if not access.may_see(customer.id):
        raise register.UnableToRegister(f"not allowed to change customer {item.customer!r}")
    report.count("customers", customer)
    prop = register.ensure_property(
        conn, customer_id=customer.id, designation=item.property, time_zone=time_zone
    )
    report.count("properties", prop)
    entrance = register.ensure_entrance(
        conn, customer_id=customer.id, property_id=prop.id, address=item.entrance
    )
    report.count("entrances", entrance)
    apartment_id = None
    if item.apartment is not None:
        apartment = register.ensure_apartment(
            conn, customer_id=customer.id, entrance_id=entrance.id, number=item.apartment
        )
        report.count("apartments", apartment)
        apartment_id = apartment.id
    point = register.ensure_metering_point(
        conn,
        customer_id=customer.id,
        property_id=prop.id,
        apartment_id=apartment_id,
        medium=item.medium.value,
    )
    report.count("metering_points", point)
    meter = register.upsert_meter(
        conn,
        customer_id=customer.id,
        identity=item.meter,
        medium=item.medium.value,
        register_unit=item.register_unit,
        register_digits=item.register_digits,
        manufacturer=item.manufacturer,
    )
    report.count("meters", meter)
    installation = register.record_installation(
        conn,
        customer_id=customer.id,
        meter_id=meter.id,
        metering_point_id=point.id,
        installed_at=item.installed_at,
        removed_at=item.removed_at,
    )
    report.count("installations", installation)
