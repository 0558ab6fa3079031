"""Ingest: a readings file through openamr's own path, against the raw database on the same rows.

openamr's path is the one `openamr import readings` and the API take:
`ReadingIngest(...).add_all(read_readings_csv(file), batch_size=...)`, which
parses, checks, stores each reading and derives the hourly values it touches.
The raw baseline only stores pre-built (meter, time, value) tuples in a bare
table keyed by (meter, time): PostgreSQL `COPY` through psycopg's `write_row`,
SQLite `executemany` into a `WITHOUT ROWID` table with epoch seconds. Both
commit once per batch of the same size, each in a fresh database.

A third figure, parse + raw, feeds the same raw insert from the CSV file
through the least parsing a correct importer needs (csv, ISO 8601, decimal):
it shows how much of the gap to raw is the text itself rather than openamr.
"""

from __future__ import annotations

import csv
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from itertools import islice
from pathlib import Path
from time import perf_counter
from typing import Any

from bench.data import (
    TIME_ZONE,
    ReadingSeries,
    ReadingsFile,
    meter_identity,
    raw_rows_datetime,
    raw_rows_epoch,
)
from bench.scratch import Scratch, SQLiteScratch
from openamr.access import AccessContext
from openamr.collect.portfolio import import_portfolio, read_portfolio_csv
from openamr.collect.readings import IngestReport, ReadingIngest, read_readings_csv
from openamr.settings import Settings
from openamr.store.migrations import upgrade

ACCESS = AccessContext.operator("bench")


@dataclass(frozen=True)
class IngestFigure:
    """One database and row order: openamr's rate, the raw rate around it, and their ratio."""

    database: str
    order: str
    hours: int  # readings per meter
    readings: int
    batch_size: int
    seconds: float
    raw_seconds: tuple[float, ...]  # one raw run before openamr's, one after
    parse_raw_seconds: float  # the raw run fed by a minimal parser of the same file
    hours_written: int

    @property
    def rate(self) -> float:
        return self.readings / self.seconds

    @property
    def raw_rate(self) -> float:
        return self.readings / (sum(self.raw_seconds) / len(self.raw_seconds))

    @property
    def ratio(self) -> float:
        return self.rate / self.raw_rate

    @property
    def parse_raw_rate(self) -> float:
        return self.readings / self.parse_raw_seconds

    def as_dict(self) -> dict[str, object]:
        return {
            "database": self.database,
            "order": self.order,
            "readings_per_meter": self.hours,
            "readings": self.readings,
            "batch_size": self.batch_size,
            "seconds": round(self.seconds, 3),
            "readings_per_second": round(self.rate),
            "raw_seconds": [round(s, 3) for s in self.raw_seconds],
            "raw_readings_per_second": round(self.raw_rate),
            "ratio_to_raw": round(self.ratio, 3),
            "parse_raw_seconds": round(self.parse_raw_seconds, 3),
            "parse_raw_readings_per_second": round(self.parse_raw_rate),
            "ratio_to_parse_raw": round(self.rate / self.parse_raw_rate, 3),
            "hours_written": self.hours_written,
        }


def prepare_portfolio(scratch: Scratch, portfolio_csv: Path, *, now: datetime) -> tuple[str, float]:
    """A migrated database holding the portfolio, to be copied for each run; URL and seconds."""
    started = perf_counter()
    url = scratch.create("portfolio")
    engine = scratch.engine(url)
    try:
        upgrade(engine)
        with portfolio_csv.open(encoding="utf-8-sig", newline="") as stream:
            report = import_portfolio(
                engine,
                read_portfolio_csv(stream),
                access=ACCESS,
                source=f"file:{portfolio_csv.name}",
                time_zone=TIME_ZONE,
                now=now,
            )
    finally:
        engine.dispose()
    if report.errors:
        first = report.errors[0]
        raise RuntimeError(f"the bench portfolio does not load: line {first.line}: {first.reason}")
    if isinstance(scratch, SQLiteScratch):
        scratch.checkpoint(url)
    return url, perf_counter() - started


def run_openamr(
    scratch: Scratch,
    template: str,
    readings_csv: Path,
    *,
    expected: int,
    batch_size: int,
    now: datetime,
) -> tuple[float, IngestReport]:
    """Time the import of the file into a fresh copy of the portfolio database."""
    url = scratch.create("ingest", template=template)
    settings = Settings(database_url=url, ingest_batch_size=batch_size)
    engine = scratch.engine(url, ingest_batch_size=batch_size)
    try:
        with engine.connect():
            pass  # the pool's first connection, and its set-up, are not part of the import
        ingest = ReadingIngest(
            engine,
            access=ACCESS,
            source=f"file:{readings_csv.name}",
            now=now,
            max_errors=settings.max_errors_reported,
        )
        started = perf_counter()
        with readings_csv.open(encoding="utf-8-sig", newline="") as stream:
            report = ingest.add_all(
                read_readings_csv(stream), batch_size=settings.ingest_batch_size
            )
        seconds = perf_counter() - started
    finally:
        engine.dispose()
        scratch.drop(url)
    if report.stored != expected or report.rejected:
        reason = report.errors[0].reason if report.errors else "-"
        raise RuntimeError(
            f"{scratch.kind}: {report.stored} of {expected} readings stored, "
            f"{report.rejected} rejected (first: {reason})"
        )
    return seconds, report


def raw_rows(kind: str, series: ReadingSeries, file: ReadingsFile) -> Sequence[tuple[Any, ...]]:
    """The file's readings as pre-built tuples in the form the driver takes them."""
    if kind == "sqlite":
        return raw_rows_epoch(series, file)
    return raw_rows_datetime(series, file)


def parsed_rows(kind: str, file: ReadingsFile, meters: int) -> Iterator[tuple[Any, ...]]:
    """The file's readings parsed the least a correct importer can: CSV, ISO 8601, decimal kWh."""
    ids = {meter_identity(index): index + 1 for index in range(meters)}
    sqlite = kind == "sqlite"
    with file.path.open(encoding="utf-8-sig", newline="") as stream:
        reader = csv.reader(stream)
        next(reader)
        for identity, timestamp, value, _unit in reader:
            moment = datetime.fromisoformat(timestamp)
            wh = int(Decimal(value) * 1000)
            yield (ids[identity], int(moment.timestamp()) if sqlite else moment, wh)


def run_raw(
    scratch: Scratch, rows: Iterable[tuple[Any, ...]], *, expected: int, batch_size: int
) -> float:
    """Time storing the rows in a bare keyed table of a fresh database, one commit a batch.

    `rows` may be lazy, in which case making them is part of the time.
    """
    url = scratch.create("raw")
    try:
        conn = scratch.connect_raw(url)
        with closing(conn):
            conn.execute(_RAW_TABLES[scratch.kind])
            conn.commit()
            load = _RAW_LOADERS[scratch.kind]
            iterator = iter(rows)
            started = perf_counter()
            while batch := list(islice(iterator, batch_size)):
                load(conn, batch)
                conn.commit()
            seconds = perf_counter() - started
            row = conn.execute("SELECT count(*) FROM raw_reading").fetchone()
            if row is None or row[0] != expected:
                raise RuntimeError(f"the raw table holds {row[0] if row else 0}, not {expected}")
            return seconds
    finally:
        scratch.drop(url)


# The bare table of the raw baseline: the key openamr's `reading` has, nothing else.
_RAW_TABLES = {
    "sqlite": "CREATE TABLE raw_reading (meter INTEGER NOT NULL, time INTEGER NOT NULL, "
    "value INTEGER NOT NULL, PRIMARY KEY (meter, time)) WITHOUT ROWID",
    "postgresql": "CREATE TABLE raw_reading (meter integer NOT NULL, time timestamptz NOT NULL, "
    "value bigint NOT NULL, PRIMARY KEY (meter, time))",
}


def _raw_sqlite(conn: sqlite3.Connection, batch: Sequence[tuple[Any, ...]]) -> None:
    conn.executemany("INSERT INTO raw_reading (meter, time, value) VALUES (?, ?, ?)", batch)


def _raw_postgresql(conn: Any, batch: Sequence[tuple[Any, ...]]) -> None:
    with (
        conn.cursor() as cursor,
        cursor.copy("COPY raw_reading (meter, time, value) FROM STDIN") as copy,
    ):
        for row in batch:
            copy.write_row(row)


_RAW_LOADERS: dict[str, Callable[[Any, Sequence[tuple[Any, ...]]], None]] = {
    "sqlite": _raw_sqlite,
    "postgresql": _raw_postgresql,
}


def measure_ingest(
    scratch: Scratch,
    *,
    template: str,
    series: ReadingSeries,
    files: Sequence[ReadingsFile],
    batch_size: int,
    now: datetime,
    progress: Callable[[str], None],
) -> list[IngestFigure]:
    """Per file: raw, openamr, raw again, so drift on a noisy machine shows and averages."""
    figures = []
    for file in files:
        name = f"{scratch.kind} {file.order}"
        count = file.readings
        rows = raw_rows(scratch.kind, series, file)
        before = run_raw(scratch, rows, expected=count, batch_size=batch_size)
        progress(f"{name}: raw {count / before:,.0f} readings/s")
        seconds, report = run_openamr(
            scratch, template, file.path, expected=count, batch_size=batch_size, now=now
        )
        progress(f"{name}: openamr {count / seconds:,.0f} readings/s")
        after = run_raw(scratch, rows, expected=count, batch_size=batch_size)
        progress(f"{name}: raw again {count / after:,.0f} readings/s")
        del rows
        parsed = run_raw(
            scratch,
            parsed_rows(scratch.kind, file, series.meters),
            expected=count,
            batch_size=batch_size,
        )
        progress(f"{name}: parse + raw {count / parsed:,.0f} readings/s")
        figures.append(
            IngestFigure(
                database=scratch.kind,
                order=file.order.value,
                hours=file.hours,
                readings=file.readings,
                batch_size=batch_size,
                seconds=seconds,
                raw_seconds=(before, after),
                parse_raw_seconds=parsed,
                hours_written=report.hours_written,
            )
        )
    return figures
