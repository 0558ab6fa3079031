"""Register readings in: parse, check, store once, and re-derive every hour they touch.

The same path serves the API, the command line and the re-processing of
rejected rows. Readings are taken in batches, each one transaction: a batch is
either stored with its hourly values or not at all, and sending it again is
harmless because a reading is keyed by meter and instant.
"""

from __future__ import annotations

import csv
import logging
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from itertools import islice
from typing import NamedTuple, TextIO

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from openamr.access import AccessContext
from openamr.collect.rejections import Rejection, keep_rejections
from openamr.db import to_epoch
from openamr.store import readings as store
from openamr.store import values as hourly
from openamr.timeutil import UnusableTimestamp, parse_instant
from openamr.units import Unit, UnknownUnit, UnusableValue, parse_unit
from openamr.validate import MeterSpan, UnableToDeriveValues, derive_hour_rows_by_second

logger = logging.getLogger(__name__)

CSV_COLUMNS = ("meter", "timestamp", "value", "unit")
ATTEMPTS = 5  # tries of a batch that meets concurrent writers of the same readings
HOUR = 3600


class UnableToReadReadings(ValueError):
    """Input whose framing (header, encoding, JSON shape) makes every row unusable."""


class ReadingInput(NamedTuple):
    """One reading as received: text fields, and where it stood in its file or request."""

    line: int | None
    meter: str
    # Text as received; an aware datetime where a decoder already read the time
    # (telegrams), so that it is not written out and parsed again.
    timestamp: str | datetime
    value: str | Decimal
    unit: str

    def payload(self) -> dict[str, str]:
        stamp = self.timestamp
        return {
            "meter": self.meter,
            "timestamp": stamp if isinstance(stamp, str) else stamp.isoformat(),
            "value": str(self.value),
            "unit": self.unit,
        }


@dataclass
class IngestReport:
    """What became of the readings: counts, and each rejected row with its reason."""

    received: int = 0
    stored: int = 0
    duplicates: int = 0
    revised: int = 0
    rejected: int = 0
    hours_written: int = 0
    errors: list[Rejection] = field(default_factory=list)
    max_errors: int = 1000

    def reject(self, rejection: Rejection) -> None:
        self.rejected += 1
        if len(self.errors) < self.max_errors:
            self.errors.append(rejection)

    def as_dict(self) -> dict[str, object]:
        return {
            "received": self.received,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "revised": self.revised,
            "rejected": self.rejected,
            "hours_written": self.hours_written,
            "errors": [{"line": item.line, "reason": item.reason} for item in self.errors],
            "errors_truncated": self.rejected > len(self.errors),
        }


def read_readings_csv(stream: TextIO) -> Iterator[ReadingInput]:
    """Readings from CSV text with the header `meter,timestamp,value,unit`, one by one."""
    reader = csv.reader(stream)
    try:
        header = [name.strip().lstrip("\ufeff") for name in next(reader)]
    except StopIteration:
        return
    try:
        positions = [header.index(name) for name in CSV_COLUMNS]
    except ValueError:
        raise UnableToReadReadings(
            f"the CSV header must name the columns {','.join(CSV_COLUMNS)}; it has "
            f"{','.join(header)[:200]}"
        ) from None
    width = max(positions) + 1
    meter_at, time_at, value_at, unit_at = positions
    for row in reader:
        if not row:
            continue
        if len(row) < width:
            row = row + [""] * (width - len(row))
        yield ReadingInput(
            reader.line_num, row[meter_at], row[time_at], row[value_at], row[unit_at]
        )


def readings_from_items(items: Iterable[object]) -> Iterator[ReadingInput]:
    """Readings from parsed JSON objects; an object that is not one becomes a rejectable row."""
    for number, item in enumerate(items, start=1):
        if not isinstance(item, Mapping):
            yield ReadingInput(number, "", "", "", "")
            continue
        value = item.get("value", "")
        yield ReadingInput(
            number,
            str(item.get("meter", "")),
            str(item.get("timestamp", "")),
            value if isinstance(value, Decimal) else str(value),
            str(item.get("unit", "")),
        )


class _Accepted(NamedTuple):
    line: int | None
    meter: store.MeterInfo
    read_at: datetime
    read_at_s: int  # the same instant in epoch seconds
    value: int
    point_id: int


class _Resolver:
    """Meter lookups and unit parsing, cached across the batches of one import."""

    def __init__(self, access: AccessContext) -> None:
        self.access = access
        self.meters: dict[str, list[store.MeterInfo]] = {}
        self.units: dict[str, Unit] = {}

    def load(self, conn: sa.Connection, identities: Iterable[str]) -> None:
        unknown = {identity for identity in identities if identity not in self.meters}
        if unknown:
            found = store.find_meters(conn, unknown, access=self.access)
            for identity in unknown:
                self.meters[identity] = found.get(identity, [])

    def unit(self, symbol: str) -> Unit:
        unit = self.units.get(symbol)
        if unit is None:
            unit = self.units[symbol] = parse_unit(symbol)
        return unit

    def check(self, item: ReadingInput) -> _Accepted | str:
        """The accepted reading, or the reason it cannot be used."""
        identity = item.meter.strip()
        if not identity:
            return "meter is empty"
        candidates = self.meters.get(identity, [])
        if not candidates:
            return f"unknown meter {identity!r}; load it with `openamr import portfolio` first"
        if len(candidates) > 1:
            return f"meter {identity!r} is registered for more than one customer"
        meter = candidates[0]
        try:
            stamp = item.timestamp
            read_at = parse_instant(stamp) if isinstance(stamp, str) else _as_instant(stamp)
            unit = self.unit(item.unit)
        except (UnusableTimestamp, UnknownUnit) as exc:
            return str(exc)
        if unit.quantity is not meter.unit.quantity:
            return (
                f"unit {unit.symbol} does not measure {meter.medium} "
                f"(meter {identity} registers {meter.unit.symbol})"
            )
        try:
            value = unit.to_storage(item.value)
        except UnusableValue as exc:
            return str(exc)
        if unit.cumulative and value < 0:
            return f"register value {item.value} is negative"
        point_id = meter.point_at(read_at)
        if point_id is None:
            return _not_installed(meter, read_at)
        return _Accepted(item.line, meter, read_at, to_epoch(read_at), value, point_id)


def _as_instant(moment: datetime) -> datetime:
    """An aware datetime as parse_instant gives a timestamp: UTC, whole seconds."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise UnusableTimestamp(f"timestamp {moment.isoformat()} has no offset")
    if moment.microsecond:
        moment = moment.replace(microsecond=0)
    return moment if moment.tzinfo is UTC else moment.astimezone(UTC)


def _not_installed(meter: store.MeterInfo, read_at: datetime) -> str:
    if not meter.installations:
        return f"meter {meter.identity!r} is not installed on any metering point"
    first = meter.installations[0]
    if read_at < first.installed_at:
        return (
            f"reading at {read_at.isoformat()} is before meter {meter.identity!r} was installed "
            f"({first.installed_at.isoformat()})"
        )
    return f"meter {meter.identity!r} was not installed at {read_at.isoformat()}"


class ReadingIngest:
    """One import: batches of readings in, one report out, meter look-ups cached between batches."""

    def __init__(
        self,
        engine: Engine,
        *,
        access: AccessContext,
        source: str,
        now: datetime,
        max_errors: int = 1000,
        keep_rejected: bool = True,
    ) -> None:
        self.engine = engine
        self.source = source
        self.now = now
        self.keep_rejected = keep_rejected
        self.report = IngestReport(max_errors=max_errors)
        self._resolver = _Resolver(access)
        # Each point's meter installations, read once per import: a time-ordered
        # stream touches every point in every batch.
        self._spans: dict[int, list[MeterSpan]] = {}

    def know_meters(self, meters: Mapping[str, list[store.MeterInfo]]) -> None:
        """Meters the caller has just looked up with store.find_meters under the same access,
        so that checking the readings does not look them up again."""
        self._resolver.meters.update(meters)

    def add_batch(self, batch: Sequence[ReadingInput]) -> list[Rejection]:
        """Store one batch in one transaction; returns the batch's rejected rows."""
        if not batch:
            return []
        return self._store(self._check(batch))

    def add_all(
        self, rows: Iterable[ReadingInput], *, batch_size: int, window: int | None = None
    ) -> IngestReport:
        """Store every row, batch by batch, and return the report.

        Rows are taken `window` at a time (five batches by default) and grouped by
        meter before they are cut into batches. Deriving costs about the same per
        point whether a batch brings it one reading or a hundred, so a
        time-ordered stream (every meter's reading of one hour, then the next
        hour) would otherwise pay that cost for every single reading. The
        grouping is stable, so a meter's rows keep their order and a later row
        still wins over an earlier one for the same instant. Memory stays
        bounded by the window.
        """
        # Checking the next batch in a thread while this one is stored was tried and
        # measured: no faster, because the writer then waits for the GIL after each
        # row that SQLite steps without it.
        iterator = iter(rows)
        window = max(window or 5 * batch_size, batch_size)
        while taken := list(islice(iterator, window)):
            taken.sort(key=_by_meter)
            for start in range(0, len(taken), batch_size):
                self.add_batch(taken[start : start + batch_size])
        self.report.errors.sort(key=_by_line)
        return self.report

    def _check(self, batch: Sequence[ReadingInput]) -> _Checked:
        resolver = self._resolver
        with self.engine.connect() as conn:
            resolver.load(conn, (item.meter.strip() for item in batch))
        checked = _Checked(received=len(batch))
        for item in batch:
            outcome = resolver.check(item)
            if isinstance(outcome, str):
                candidates = resolver.meters.get(item.meter.strip(), [])
                customer = candidates[0].customer_id if len(candidates) == 1 else None
                checked.rejections.append(Rejection(item.line, outcome, item.payload(), customer))
            else:
                key = (outcome.meter.id, outcome.read_at_s)
                earlier = checked.accepted.get(key)
                if earlier is not None and earlier.value == outcome.value:
                    checked.repeated += 1
                # Within one batch the later row wins, as a later batch would.
                checked.accepted[key] = outcome
        return checked

    def _store(self, checked: _Checked) -> list[Rejection]:
        # Bulk inserts go to the driver directly, so its own IntegrityError can come
        # through as well as SQLAlchemy's wrapper of it.
        conflicts = (sa.exc.IntegrityError, self.engine.dialect.loaded_dbapi.IntegrityError)
        for attempt in range(1, ATTEMPTS + 1):
            try:
                with self.engine.begin() as conn:
                    outcome = _store_and_derive(
                        conn,
                        checked.accepted,
                        source=self.source,
                        now=self.now,
                        spans=self._spans,
                    )
                    if self.keep_rejected:
                        keep_rejections(
                            conn,
                            checked.rejections,
                            kind="reading",
                            source=self.source,
                            received_at=self.now,
                        )
                break
            except conflicts:
                # Another writer stored some of these readings between our look-up and
                # our insert; the next attempt sees them and counts them as duplicates.
                if attempt == ATTEMPTS:
                    raise
        report = self.report
        report.received += checked.received
        report.stored += outcome.stored
        report.duplicates += outcome.duplicates + checked.repeated
        report.revised += outcome.revised
        report.hours_written += outcome.hours_written
        for rejection in checked.rejections:
            report.reject(rejection)
        return checked.rejections


def _by_meter(item: ReadingInput) -> str:
    return item.meter


def _by_line(rejection: Rejection) -> int:
    return rejection.line or 0


@dataclass
class _Checked:
    """A batch after checking: what can be stored, and what cannot and why."""

    received: int
    accepted: dict[tuple[int, int], _Accepted] = field(default_factory=dict)  # meter, second
    rejections: list[Rejection] = field(default_factory=list)
    repeated: int = 0


def record_readings(
    engine: Engine,
    rows: Iterable[ReadingInput],
    *,
    access: AccessContext,
    source: str,
    now: datetime,
    batch_size: int = 20_000,
    max_errors: int = 1000,
    keep_rejected: bool = True,
) -> IngestReport:
    """Store readings once each and re-derive the hourly values they touch.

    A reading that cannot be used is reported with its line and reason and, with
    `keep_rejected`, kept as a rejected input so that it can be re-processed.
    """
    ingest = ReadingIngest(
        engine,
        access=access,
        source=source,
        now=now,
        max_errors=max_errors,
        keep_rejected=keep_rejected,
    )
    return ingest.add_all(rows, batch_size=batch_size)


def _store_and_derive(
    conn: sa.Connection,
    accepted: Mapping[tuple[int, int], _Accepted],
    *,
    source: str,
    now: datetime,
    spans: dict[int, list[MeterSpan]],
) -> IngestReport:
    """Store what is new or changed in `accepted` and re-derive the hours it touches.

    `accepted` is keyed by meter and epoch second. `spans` caches each point's
    installations across the batches of an import.
    """
    result = IngestReport()
    if not accepted:
        return result
    bounds: dict[int, tuple[int, int]] = {}
    for meter_id, second in accepted:
        known = bounds.get(meter_id)
        if known is None:
            bounds[meter_id] = (second, second)
        elif second < known[0] or second > known[1]:
            bounds[meter_id] = (min(known[0], second), max(known[1], second))
    # Everything stored that deriving these meters' hours can need, in one statement;
    # the rest of this function is arithmetic on it.
    stored = store.list_readings_to_rederive(conn, [(m, lo, hi) for m, (lo, hi) in bounds.items()])
    stored_values = {(meter_id, second): value for meter_id, second, value in stored}

    new: list[store.NewReading] = []
    revised: list[tuple[store.NewReading, int]] = []
    changed: list[_Accepted] = []
    for key, item in accepted.items():
        previous = stored_values.get(key)
        if previous == item.value:
            result.duplicates += 1
            continue
        row = store.NewReading(
            item.meter.id, item.read_at, item.read_at_s, item.meter.customer_id, item.value
        )
        if previous is None:
            new.append(row)
        else:
            revised.append((row, previous))
        changed.append(item)
    result.stored = len(new)
    result.revised = len(revised)
    if changed:
        stored_times: dict[int, list[int]] = defaultdict(list)
        for meter_id, second, _value in stored:
            stored_times[meter_id].append(second)
        for times in stored_times.values():
            times.sort()
        windows = _windows_to_derive(changed, stored_times)
        unknown = [point_id for point_id in windows if point_id not in spans]
        if unknown:
            found = hourly.list_spans(conn, unknown)
            for point_id in unknown:
                spans[point_id] = found.get(point_id, [])
        covered = _covered(bounds, stored_times)
        inserts, updates, deletes = _derive(conn, windows, accepted, stored_values, covered, spans)
        result.hours_written = len(inserts) + len(updates) + len(deletes)
    store.insert_readings(conn, new, received_at=now)
    store.revise_readings(conn, revised, received_at=now, source=source)
    if changed:
        hourly.write_hour_rows(conn, inserts=inserts, updates=updates, deletes=deletes)
    return result


def _windows_to_derive(
    changed: Iterable[_Accepted], stored_times: Mapping[int, list[int]]
) -> dict[int, tuple[int, int]]:
    """Per point, the whole hours (epoch seconds, half-open) whose values can change.

    A new or changed reading alters the register's course from the stored reading
    before it to the one after it, so those neighbours bound the hours to re-derive.
    """
    span: dict[int, tuple[int, int]] = {}
    meters: dict[int, set[int]] = defaultdict(set)
    for item in changed:
        moment = item.read_at_s
        known = span.get(item.point_id)
        if known is None:
            span[item.point_id] = (moment, moment)
        elif moment < known[0] or moment > known[1]:
            span[item.point_id] = (min(known[0], moment), max(known[1], moment))
        meters[item.point_id].add(item.meter.id)
    windows: dict[int, tuple[int, int]] = {}
    for point_id, (first, last) in span.items():
        for meter_id in meters[point_id]:
            first, last = _neighbours(stored_times.get(meter_id, ()), first, last)
        windows[point_id] = (first - first % HOUR, last - last % HOUR + HOUR)
    return windows


def _neighbours(times: Sequence[int], first: int, last: int) -> tuple[int, int]:
    """The time in sorted `times` nearest before `first` and after `last` (or those themselves)."""
    before = bisect_left(times, first)
    after = bisect_right(times, last)
    return (
        times[before - 1] if before else first,
        times[after] if after < len(times) else last,
    )


def _covered(
    bounds: Mapping[int, tuple[int, int]], stored_times: Mapping[int, list[int]]
) -> dict[int, tuple[int, int]]:
    """Per meter of the batch, the hours [lo, hi] whose derivation its stored readings cover.

    store.list_readings_to_rederive returned, for the meter's new readings in
    [first, last], every stored reading in the hours from the neighbour before
    `first` to the one after `last`, and the nearest reading beyond those hours
    on either side. Any window inside those hours finds there all it needs.
    """
    covered: dict[int, tuple[int, int]] = {}
    for meter_id, (first, last) in bounds.items():
        before, after = _neighbours(stored_times.get(meter_id, ()), first, last)
        covered[meter_id] = (before - before % HOUR, after - after % HOUR + HOUR)
    return covered


def _derive(
    conn: sa.Connection,
    windows: Mapping[int, tuple[int, int]],
    accepted: Mapping[tuple[int, int], _Accepted],
    stored: Mapping[tuple[int, int], int],
    covered: Mapping[int, tuple[int, int]],
    spans: Mapping[int, list[MeterSpan]],
) -> tuple[list[hourly.StoredHour], list[hourly.StoredHour], list[tuple[int, int]]]:
    """Hourly rows to insert, update and delete so the windows match the readings.

    Deriving a window needs every meter ever on the point, with its readings in
    the window and one on either side. For the meters of the batch that is
    already in `stored` when the window lies inside what `covered` says; only
    the others (a meter replaced on the point, a window widened by another
    meter's neighbours) are read here.
    """
    missing = [
        (span.meter_id, lo, hi)
        for point_id, (lo, hi) in windows.items()
        for span in spans[point_id]
        if (cover := covered.get(span.meter_id)) is None or lo < cover[0] or hi > cover[1]
    ]
    known = dict(stored)
    if missing:
        for meter_id, second, value in store.list_readings_around(conn, missing):
            known[(meter_id, second)] = value
    for key, item in accepted.items():
        known[key] = item.value
    # Each meter's readings by epoch second, as the derivation takes them: one value
    # per second already, because `known` is keyed by meter and second.
    by_meter: dict[int, dict[int, int]] = defaultdict(dict)
    for (meter_id, second), value in known.items():
        by_meter[meter_id][second] = value

    customer_of = {item.point_id: item.meter.customer_id for item in accepted.values()}
    window_list = [(point_id, lo, hi) for point_id, (lo, hi) in windows.items()]
    existing = hourly.list_hour_rows(conn, window_list)
    inserts: list[hourly.StoredHour] = []
    updates: list[hourly.StoredHour] = []
    derived: set[tuple[int, int]] = set()
    skipped: set[int] = set()
    for point_id, lo, hi in window_list:
        try:
            hours = derive_hour_rows_by_second(
                by_meter, spans.get(point_id, []), first_hour=lo, end_hour=hi
            )
        except UnableToDeriveValues as exc:
            # A register that contradicts itself (overlapping installations) must not
            # stop the import: the readings are stored, the point's hours wait for a fix.
            logger.warning("metering point %s: hourly values not derived: %s", point_id, exc)
            skipped.add(point_id)
            continue
        customer_id = customer_of[point_id]
        if not existing:
            # Nothing stored in any window (a first load): every hour is an insert.
            inserts += [(point_id, customer_id, *hour) for hour in hours]
            continue
        for second, hour_value, status, reason in hours:
            hour_key = (point_id, second)
            derived.add(hour_key)
            before = existing.get(hour_key)
            if before is None:
                inserts.append((point_id, customer_id, second, hour_value, status, reason))
            elif before != (hour_value, status, reason):
                updates.append((point_id, customer_id, second, hour_value, status, reason))
    deletes = [key for key in existing if key not in derived and key[0] not in skipped]
    return inserts, updates, deletes
