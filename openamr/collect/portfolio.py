"""The installation register as property owners keep it: one CSV row per meter installation.

Two optional columns describe a wireless M-Bus meter: `manufacturer`, its
three-letter FLAG code, and `key`, its AES-128 key in 32 hexadecimal digits.
A key is sealed under the configured master key before it reaches the
database, and it is never repeated in a reason, a rejected row or a log.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import TextIO

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from openamr.access import AccessContext
from openamr.collect.rejections import Rejection, keep_rejections
from openamr.db import is_sqlite
from openamr.guard.keyring import (
    Keyring,
    KeyringError,
    UnableToOpenKey,
    UnableToSealKey,
    parse_meter_key,
)
from openamr.store import keys as key_store
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
OPTIONAL_COLUMNS = ("manufacturer", "key")

APARTMENT_NUMBER = re.compile(r"^[0-9]{4}$")
MANUFACTURER = re.compile(r"^[A-Z]{3}$")  # the M-Bus FLAG code, such as KAM
# Rows per transaction. Each row is a SAVEPOINT inside it, so that a bad row
# is undone alone; a transaction per row cost a commit (on PostgreSQL a flush
# to disk) per row. Fewer than the 64 subtransactions PostgreSQL tracks per
# session in shared memory: beyond that every other session's snapshots get
# slower (subtransaction overflow), and 1,000 rows a chunk was not faster.
CHUNK_ROWS = 50
# What a rejected row keeps of its key cell: that one was given, not what it was.
KEY_WITHHELD = "(given; not kept)"


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
    key: bytes | None = field(default=None, repr=False)  # the meter's AES-128 key, in clear


@dataclass
class PortfolioReport:
    """What an import did, row by row where it could not."""

    rows: int = 0
    created: dict[str, int] = field(default_factory=dict)
    keys_set: int = 0  # meter keys stored, new or changed
    errors: list[Rejection] = field(default_factory=list)


@dataclass
class _Row:
    """What one row did, taken into the report (and the look-up cache) only once it is kept."""

    created: list[str] = field(default_factory=list)
    found: dict[tuple[object, ...], int] = field(default_factory=dict)
    key_set: bool = False

    def count(self, what: str, ensured: register.Ensured) -> int:
        if ensured.created:
            self.created.append(what)
        return ensured.id


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
    if manufacturer is not None and not MANUFACTURER.match(manufacturer):
        # A long value may be a key in the wrong column: say what it is, not what it says.
        shown = (
            repr(manufacturer) if len(manufacturer) <= 8 else f"of {len(manufacturer)} characters"
        )
        raise ValueError(
            f"manufacturer {shown} is not a three-letter M-Bus code (A to Z, such as KAM)"
        )
    try:
        key = parse_meter_key(row["key"]) if row.get("key") else None
    except UnableToSealKey as exc:
        raise ValueError(str(exc)) from None
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
        key=key,
    )


def import_portfolio(
    engine: Engine,
    rows: Iterable[tuple[int, Mapping[str, str]]],
    *,
    access: AccessContext,
    source: str,
    time_zone: str,
    now: datetime,
    keyring: Keyring | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> PortfolioReport:
    """Create or update everything the rows describe; safe to run again.

    Rows are imported `chunk_rows` to a transaction, each row in a SAVEPOINT of
    its own: a bad row is undone alone, reported with its line and kept as a
    rejected input, and the good rows around it are imported. A row with a key
    is sealed with `keyring`; without a master key such a row is rejected.
    An empty key cell leaves the meter's stored key as it is.
    """
    report = PortfolioReport()
    # Ids the import has found or made, so that the rows of one entrance do not
    # look up their customer, property and entrance again. Only rows that were
    # kept add to it: a row undone to its SAVEPOINT takes its new rows with it.
    known: dict[tuple[object, ...], int] = {}
    numbered = iter(rows)
    while chunk := list(islice(numbered, chunk_rows)):
        with engine.begin() as conn:
            if is_sqlite(conn):
                # pysqlite opens a transaction only at the first INSERT or UPDATE;
                # a SAVEPOINT before that opens one of its own, which its RELEASE
                # commits, one per row. BEGIN makes the chunk one transaction.
                conn.exec_driver_sql("BEGIN")
            for line, row in chunk:
                report.rows += 1
                try:
                    item = parse_installation(row)
                    if item.key is not None and (keyring is None or not keyring.can_seal):
                        raise ValueError(
                            "the row has a key, and no master key is configured to seal it "
                            "(OPENAMR_MASTER_KEYS or OPENAMR_MASTER_KEY_FILE); the row was "
                            "not imported"
                        )
                    with conn.begin_nested():
                        done = _import_one(
                            conn,
                            item,
                            access=access,
                            time_zone=time_zone,
                            now=now,
                            known=known,
                            keyring=keyring,
                        )
                except (ValueError, register.UnableToRegister, KeyringError) as exc:
                    report.errors.append(
                        Rejection(line=line, reason=str(exc), payload=_without_key(row))
                    )
                    continue
                known.update(done.found)
                for what in done.created:
                    report.created[what] = report.created.get(what, 0) + 1
                report.keys_set += done.key_set
    if report.errors:
        with engine.begin() as conn:
            keep_rejections(
                conn, report.errors, kind="installation", source=source, received_at=now
            )
    return report


def _without_key(row: Mapping[str, str]) -> dict[str, str]:
    """The row as a rejected input keeps it: a key cell only says that there was one."""
    return {name: KEY_WITHHELD if name == "key" and value else value for name, value in row.items()}


def _import_one(
    conn: sa.Connection,
    item: Installation,
    *,
    access: AccessContext,
    time_zone: str,
    now: datetime,
    known: Mapping[tuple[object, ...], int],
    keyring: Keyring | None,
) -> _Row:
    done = _Row()

    def ensure(
        what: str, cache_key: tuple[object, ...], make: Callable[[], register.Ensured]
    ) -> int:
        found = known.get(cache_key)
        if found is None:
            found = done.count(what, make())
            done.found[cache_key] = found
        return found

    customer_id = ensure(
        "customers",
        ("customer", item.customer),
        lambda: register.ensure_customer(conn, name=item.customer, now=now),
    )
    if not access.may_see(customer_id):
        raise register.UnableToRegister(f"not allowed to change customer {item.customer!r}")
    property_id = ensure(
        "properties",
        ("property", customer_id, item.property),
        lambda: register.ensure_property(
            conn, customer_id=customer_id, designation=item.property, time_zone=time_zone
        ),
    )
    entrance_id = ensure(
        "entrances",
        ("entrance", property_id, item.entrance),
        lambda: register.ensure_entrance(
            conn, customer_id=customer_id, property_id=property_id, address=item.entrance
        ),
    )
    apartment_id = None
    if item.apartment is not None:
        number = item.apartment
        apartment_id = ensure(
            "apartments",
            ("apartment", entrance_id, number),
            lambda: register.ensure_apartment(
                conn, customer_id=customer_id, entrance_id=entrance_id, number=number
            ),
        )
    point_id = done.count(
        "metering_points",
        register.ensure_metering_point(
            conn,
            customer_id=customer_id,
            property_id=property_id,
            apartment_id=apartment_id,
            medium=item.medium.value,
        ),
    )
    meter_id = done.count(
        "meters",
        register.upsert_meter(
            conn,
            customer_id=customer_id,
            identity=item.meter,
            medium=item.medium.value,
            register_unit=item.register_unit,
            register_digits=item.register_digits,
            manufacturer=item.manufacturer,
        ),
    )
    done.count(
        "installations",
        register.record_installation(
            conn,
            customer_id=customer_id,
            meter_id=meter_id,
            metering_point_id=point_id,
            installed_at=item.installed_at,
            removed_at=item.removed_at,
        ),
    )
    if item.key is not None and keyring is not None:
        done.key_set = _set_key(
            conn, keyring, item.key, meter_id=meter_id, customer_id=customer_id, now=now
        )
    return done


def _set_key(
    conn: sa.Connection,
    keyring: Keyring,
    key: bytes,
    *,
    meter_id: int,
    customer_id: int,
    now: datetime,
) -> bool:
    """Seal and store a meter's key unless it has it already; True if stored.

    Loading the same file again leaves `set_at` alone, so it does not look like
    a new key to what re-processes telegrams that waited for one.
    """
    access = AccessContext.system("import", customer_id)
    stored = key_store.list_sealed_keys(conn, [meter_id], access=access).get(meter_id)
    if stored is not None:
        try:
            if keyring.unseal(stored, meter_id=meter_id, customer_id=customer_id) == key:
                return False
        except UnableToOpenKey:
            pass  # sealed under a master key no longer configured: replace it
    sealed = keyring.seal(key, meter_id=meter_id, customer_id=customer_id)
    key_store.put_meter_key(
        conn, meter_id=meter_id, customer_id=customer_id, sealed=sealed, now=now
    )
    return True
