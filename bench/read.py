"""Read: one metering point's year of hourly values, three ways, from a database holding many.

The database is migrated with openamr's own migrations, its register rows are
inserted with SQLAlchemy Core and `hourly_value` is bulk-loaded around openamr
(`executemany` on SQLite, binary `COPY` on PostgreSQL), none of it timed. Then,
for randomly chosen points, each timed on the same connection after one
untimed warm-up read of the point (so every path sees the same warm cache):

- raw: the driver's own select of the same rows, fetched to a list;
- store: openamr.store.values.list_hourly_values for the point and year;
- series: openamr.present.series.point_series at hour resolution, the API's read
  path, which also fills missing hours in local time.
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from itertools import repeat
from time import perf_counter
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import sqlalchemy as sa

from bench.data import (
    APARTMENTS_PER_ENTRANCE,
    CUSTOMER,
    PROPERTY,
    TIME_ZONE,
    apartment_number,
    entrance_address,
    meter_identity,
)
from bench.profiling import Profile, run_profiled
from bench.scratch import Scratch, SQLiteScratch
from openamr.access import AccessContext
from openamr.db import to_epoch
from openamr.present.series import point_series
from openamr.store.migrations import upgrade
from openamr.store.queries import PointRow, list_metering_points
from openamr.store.schema import (
    apartment,
    customer,
    entrance,
    meter,
    meter_installation,
    metering_point,
    property_,
)
from openamr.store.values import list_hourly_values
from openamr.validate import Resolution

FIRST_DAY = date(2025, 1, 1)
END_DAY = date(2026, 1, 1)
HOURS = 8760  # 2025 is no leap year
HOUR = timedelta(hours=1)
PATHS = ("raw", "store", "series")
PATH_LABELS = {
    "raw": "raw driver select",
    "store": "list_hourly_values",
    "series": "point_series (hour)",
}
# Random hourly values are drawn from one pool at a random offset per point:
# as random as needed for the database, and quick to make for 87.6 M rows.
_POOL = 100_000


@dataclass
class ReadFigure:
    """One database: its size, what setting it up took, and the timings of each path in ms."""

    database: str
    points: int
    samples: int
    setup_seconds: dict[str, float]
    size_bytes: int
    timings_ms: dict[str, list[float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def p50(self, path: str) -> float:
        return statistics.median(self.timings_ms[path])

    def p95(self, path: str) -> float:
        values = self.timings_ms[path]
        if len(values) < 2:
            return values[0]
        return statistics.quantiles(values, n=20, method="inclusive")[-1]

    def ratio(self, path: str, *, p95: bool = False) -> float:
        pick = self.p95 if p95 else self.p50
        return pick(path) / pick("raw")

    def as_dict(self) -> dict[str, object]:
        return {
            "database": self.database,
            "points": self.points,
            "rows_per_point": HOURS,
            "rows": self.points * HOURS,
            "samples": self.samples,
            "setup_seconds": {key: round(value, 1) for key, value in self.setup_seconds.items()},
            "size_bytes": self.size_bytes,
            "paths": {
                path: {
                    "p50_ms": round(self.p50(path), 3),
                    "p95_ms": round(self.p95(path), 3),
                    "p50_ratio_to_raw": round(self.ratio(path), 3),
                    "p95_ratio_to_raw": round(self.ratio(path, p95=True), 3),
                    "samples_ms": [round(value, 3) for value in self.timings_ms[path]],
                }
                for path in PATHS
            },
            "notes": self.notes,
        }


def year_bounds() -> tuple[datetime, datetime]:
    """The local year 2025 in the portfolio's zone, as UTC instants [start, end)."""
    zone = ZoneInfo(TIME_ZONE)
    start = datetime.combine(FIRST_DAY, time(), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(END_DAY, time(), tzinfo=zone).astimezone(UTC)
    assert end - start == HOURS * HOUR
    return start, end


def prepare_values(
    scratch: Scratch,
    *,
    points: int,
    seed: int,
    now: datetime,
    progress: Callable[[str], None],
) -> tuple[str, list[int], dict[str, float], list[str]]:
    """A database of `points` points with a year of hourly values each.

    Returns its URL, the point ids, the seconds each set-up step took, and notes.
    """
    setup: dict[str, float] = {}
    started = perf_counter()
    url = scratch.create("read")
    engine = scratch.engine(url)
    try:
        upgrade(engine)
        with engine.begin() as conn:
            customer_id, point_ids = _insert_register(conn, points, now=now)
    finally:
        engine.dispose()
    setup["schema_and_register"] = perf_counter() - started
    lap = perf_counter()
    load = _sqlite_load if scratch.kind == "sqlite" else _postgresql_load
    notes = load(scratch, url, customer_id, point_ids, seed, progress)
    setup["hourly_values"] = perf_counter() - lap
    lap = perf_counter()
    if isinstance(scratch, SQLiteScratch):
        scratch.checkpoint(url)
        setup["checkpoint"] = perf_counter() - lap
    else:
        # Statistics and visibility as autovacuum would leave them, but before the
        # timings rather than in the middle of them.
        conn = scratch.connect_raw(url)
        with closing(conn):
            conn.autocommit = True
            conn.execute("VACUUM (ANALYZE) hourly_value")
        setup["vacuum_analyze"] = perf_counter() - lap
    return url, point_ids, setup, notes


def _insert_register(conn: sa.Connection, points: int, *, now: datetime) -> tuple[int, list[int]]:
    """A customer, one property, its entrances and apartments, a point and meter on each."""
    customer_id: int = conn.execute(
        customer.insert().values(name=CUSTOMER, created_at=now).returning(customer.c.id)
    ).scalar_one()
    property_id: int = conn.execute(
        property_.insert()
        .values(customer_id=customer_id, designation=PROPERTY, name=PROPERTY, time_zone=TIME_ZONE)
        .returning(property_.c.id)
    ).scalar_one()

    def insert_all(table: sa.Table, rows: list[dict[str, Any]]) -> list[int]:
        query = table.insert().returning(table.c.id, sort_by_parameter_order=True)
        return list(conn.execute(query, rows).scalars())

    entrance_ids = insert_all(
        entrance,
        [
            {"customer_id": customer_id, "property_id": property_id, "address": entrance_address(i)}
            for i in range(0, points, APARTMENTS_PER_ENTRANCE)
        ],
    )
    apartment_ids = insert_all(
        apartment,
        [
            {
                "customer_id": customer_id,
                "entrance_id": entrance_ids[i // APARTMENTS_PER_ENTRANCE],
                "number": apartment_number(i),
            }
            for i in range(points)
        ],
    )
    point_ids = insert_all(
        metering_point,
        [
            {
                "customer_id": customer_id,
                "property_id": property_id,
                "apartment_id": apartment_id,
                "medium": "electricity",
            }
            for apartment_id in apartment_ids
        ],
    )
    meter_ids = insert_all(
        meter,
        [
            {
                "customer_id": customer_id,
                "identity": meter_identity(i),
                "medium": "electricity",
                "register_unit": "kWh",
                "register_digits": 8,
            }
            for i in range(points)
        ],
    )
    installed_at = datetime(2024, 12, 1, tzinfo=UTC)
    conn.execute(
        meter_installation.insert(),
        [
            {
                "customer_id": customer_id,
                "meter_id": meter_id,
                "metering_point_id": point_id,
                "installed_at": installed_at,
                "removed_at": None,
            }
            for meter_id, point_id in zip(meter_ids, point_ids, strict=True)
        ],
    )
    return customer_id, point_ids


def _value_pool(seed: int) -> tuple[random.Random, list[int]]:
    rng = random.Random(seed)
    return rng, [rng.randrange(2_001) for _ in range(_POOL)]  # Wh in an hour


def _sqlite_load(
    scratch: Scratch,
    url: str,
    customer_id: int,
    point_ids: Sequence[int],
    seed: int,
    progress: Callable[[str], None],
) -> list[str]:
    start, _end = year_bounds()
    first = to_epoch(start)
    stamps = list(range(first, first + HOURS * 3600, 3600))
    rng, pool = _value_pool(seed)
    conn = scratch.connect_raw(url)  # foreign keys are off on a bare connection
    with closing(conn):
        # The secondary index is built once at the end rather than row by row, from
        # the schema's own statement, so the database ends as the migration made it.
        indexes = conn.execute(
            "SELECT name, sql FROM sqlite_master "
            "WHERE type = 'index' AND tbl_name = 'hourly_value' AND sql IS NOT NULL"
        ).fetchall()
        for name, _sql in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        for number, point_id in enumerate(point_ids, start=1):
            offset = rng.randrange(_POOL - HOURS)
            conn.executemany(
                "INSERT INTO hourly_value "
                "(metering_point_id, start_at, customer_id, value, status, reason) "
                "VALUES (?, ?, ?, ?, ?, NULL)",
                zip(
                    repeat(point_id),
                    stamps,
                    repeat(customer_id),
                    pool[offset : offset + HOURS],
                    repeat("measured"),
                ),
            )
            if number % 100 == 0:
                conn.commit()
            if number % 1000 == 0:
                progress(f"sqlite: {number:,} of {len(point_ids):,} points loaded")
        conn.commit()
        for _name, sql in indexes:
            conn.execute(sql)
        conn.commit()
    return []


def _postgresql_load(
    scratch: Scratch,
    url: str,
    customer_id: int,
    point_ids: Sequence[int],
    seed: int,
    progress: Callable[[str], None],
) -> list[str]:
    start, _end = year_bounds()
    stamps = [start + n * HOUR for n in range(HOURS)]
    rng, pool = _value_pool(seed)
    notes = []
    conn = scratch.connect_raw(url)
    with closing(conn):
        try:
            # Foreign-key triggers off for this session only: they would check 87.6 M
            # rows against a register they were just made from, and cost most of the load.
            conn.execute("SET session_replication_role = replica")
        except psycopg.errors.InsufficientPrivilege:
            conn.rollback()
            notes.append("foreign-key checks stayed on during the load (not a superuser)")
        step = 500
        for first in range(0, len(point_ids), step):
            with (
                conn.cursor() as cursor,
                cursor.copy(
                    "COPY hourly_value (metering_point_id, start_at, customer_id, value, status) "
                    "FROM STDIN (FORMAT BINARY)"
                ) as copy,
            ):
                copy.set_types(["int4", "timestamptz", "int4", "int8", "text"])
                for point_id in point_ids[first : first + step]:
                    offset = rng.randrange(_POOL - HOURS)
                    for row in zip(
                        repeat(point_id),
                        stamps,
                        repeat(customer_id),
                        pool[offset : offset + HOURS],
                        repeat("measured"),
                    ):
                        copy.write_row(row)
            conn.commit()
            done = min(first + step, len(point_ids))
            if done % 1000 == 0 or done == len(point_ids):
                progress(f"postgresql: {done:,} of {len(point_ids):,} points loaded")
    return notes


BENCH = AccessContext.operator("bench")


class _Reads:
    """The three ways of reading a point's year, on one open connection."""

    def __init__(self, conn: sa.Connection, kind: str, points: dict[int, PointRow]) -> None:
        self.conn = conn
        self.points = points
        self.driver: Any = conn.connection.driver_connection
        self.start, self.end = year_bounds()
        if kind == "sqlite":
            self.sql = (
                "SELECT start_at, value, status FROM hourly_value "
                "WHERE metering_point_id = ? AND start_at >= ? AND start_at < ?"
            )
            self.bounds: tuple[Any, Any] = (to_epoch(self.start), to_epoch(self.end))
        else:
            self.sql = (
                "SELECT start_at, value, status FROM hourly_value "
                "WHERE metering_point_id = %s AND start_at >= %s AND start_at < %s"
            )
            self.bounds = (self.start, self.end)

    def raw(self, point_id: int) -> int:
        cursor = self.driver.cursor()
        try:
            cursor.execute(self.sql, (point_id, *self.bounds))
            return len(cursor.fetchall())
        finally:
            cursor.close()

    def store(self, point_id: int) -> int:
        found = list_hourly_values(
            self.conn, access=BENCH, metering_point_ids=[point_id], start=self.start, end=self.end
        )
        return len(found[point_id])

    def series(self, point_id: int) -> int:
        result = point_series(
            self.conn,
            [self.points[point_id]],
            access=BENCH,
            first_day=FIRST_DAY,
            end_day=END_DAY,
            resolution=Resolution.HOUR,
        )
        return len(result[0].values)

    def end_transaction(self) -> None:
        self.conn.rollback()
        self.driver.rollback()  # the raw select's, which SQLAlchemy does not know of


def _read_each(read: Callable[[int], int], point_ids: Sequence[int]) -> None:
    for point_id in point_ids:
        read(point_id)


def measure_reads(
    scratch: Scratch,
    url: str,
    point_ids: Sequence[int],
    *,
    samples: int,
    seed: int,
    profile_points: int = 0,
) -> tuple[dict[str, list[float]], list[Profile]]:
    """Milliseconds per read of one point's year, per path, over `samples` random points.

    With `profile_points`, the store and series paths are then profiled over that
    many of the same points.
    """
    rng = random.Random(seed)
    chosen = rng.sample(list(point_ids), min(samples, len(point_ids)))
    access = AccessContext.operator("bench")
    timings: dict[str, list[float]] = {path: [] for path in PATHS}
    profiles = []
    engine = scratch.engine(url)
    try:
        with engine.connect() as conn:
            points = {
                point_id: list_metering_points(conn, access=access, point_id=point_id)[0]
                for point_id in chosen
            }
            conn.rollback()
            reads = _Reads(conn, scratch.kind, points)
            paths: list[tuple[str, Callable[[int], int]]] = [
                ("raw", reads.raw),
                ("store", reads.store),
                ("series", reads.series),
            ]
            for point_id in chosen:
                reads.raw(point_id)  # warm-up, untimed
                rng.shuffle(paths)
                for name, read in paths:
                    started = perf_counter()
                    count = read(point_id)
                    elapsed = perf_counter() - started
                    if count != HOURS:
                        raise RuntimeError(f"{name} read {count} hours of point {point_id}")
                    timings[name].append(elapsed * 1000)
                reads.end_transaction()
            some = chosen[:profile_points]
            for name, read in (("list_hourly_values", reads.store), ("point_series", reads.series)):
                if some:
                    profiles.append(
                        run_profiled(
                            partial(_read_each, read, some),
                            database=scratch.kind,
                            label=f"{name} of a year, {len(some)} points",
                        )
                    )
                    reads.end_transaction()
    finally:
        engine.dispose()
    return timings, profiles
