"""Hourly values: the spans that derive them, and their bulk reads and writes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

import sqlalchemy as sa

from openamr.db import from_epoch, is_sqlite, to_epoch
from openamr.store import driver
from openamr.store.driver import CHUNK
from openamr.store.schema import meter, meter_installation
from openamr.units import parse_unit, register_modulus
from openamr.validate import HourRow, MeterSpan

# A stored hour as ingest writes it: (point, customer, start in epoch seconds,
# value, status, reason). Tuples, because ingest writes millions of them.
StoredHour = tuple[int, int, int, int | None, str, str | None]


def list_spans(conn: sa.Connection, point_ids: Iterable[int]) -> dict[int, list[MeterSpan]]:
    """Every meter installation of these points, as the derivation needs it."""
    wanted = sorted(set(point_ids))
    spans: dict[int, list[MeterSpan]] = {}
    for start in range(0, len(wanted), CHUNK):
        query = (
            sa.select(
                meter_installation.c.metering_point_id,
                meter_installation.c.meter_id,
                meter_installation.c.installed_at,
                meter_installation.c.removed_at,
                meter.c.register_unit,
                meter.c.register_digits,
            )
            .join(meter, meter.c.id == meter_installation.c.meter_id)
            .where(meter_installation.c.metering_point_id.in_(wanted[start : start + CHUNK]))
            .order_by(meter_installation.c.installed_at)
        )
        for row in conn.execute(query):
            unit = parse_unit(row.register_unit)
            spans.setdefault(row.metering_point_id, []).append(
                MeterSpan(
                    meter_id=row.meter_id,
                    installed_at=row.installed_at,
                    removed_at=row.removed_at,
                    modulus=register_modulus(unit, row.register_digits),
                    cumulative=unit.cumulative,
                )
            )
    return spans


def list_hour_rows(
    conn: sa.Connection, windows: Sequence[tuple[int, datetime, datetime]]
) -> dict[tuple[int, int], tuple[int | None, str, str | None]]:
    """The stored hourly rows in each (point, start, end) window, keyed by point and epoch hour."""
    sqlite = is_sqlite(conn)
    found: dict[tuple[int, int], tuple[int | None, str, str | None]] = {}
    for with_wanted, params in driver.ranges_table(conn, windows, "point_id"):
        statement = with_wanted + (
            "SELECT h.metering_point_id, h.start_at, h.value, h.status, h.reason "
            "FROM wanted JOIN hourly_value h ON h.metering_point_id = wanted.point_id "
            "AND h.start_at >= wanted.lo AND h.start_at < wanted.hi"
        )
        for point_id, start_at, value, status, reason in conn.exec_driver_sql(statement, params):
            second = start_at if sqlite else to_epoch(start_at)
            found[(point_id, second)] = (value, status, reason)
    return found


def write_hour_rows(
    conn: sa.Connection,
    *,
    inserts: Sequence[StoredHour],
    updates: Sequence[StoredHour],
    deletes: Sequence[tuple[int, int]],
) -> None:
    """Apply a computed difference to the stored hourly values, inside the caller's transaction."""
    sqlite = is_sqlite(conn)
    instant = _identity if sqlite else _utc_hour
    if deletes:
        conn.exec_driver_sql(
            "DELETE FROM hourly_value WHERE metering_point_id = ? AND start_at = ?"
            if sqlite
            else "DELETE FROM hourly_value WHERE metering_point_id = %s AND start_at = %s",
            [(point, instant(second)) for point, second in deletes],
        )
    if updates:
        conn.exec_driver_sql(
            "UPDATE hourly_value SET value = ?, status = ?, reason = ? "
            "WHERE metering_point_id = ? AND start_at = ?"
            if sqlite
            else "UPDATE hourly_value SET value = %s, status = %s, reason = %s "
            "WHERE metering_point_id = %s AND start_at = %s",
            [
                (value, status, reason, point, instant(second))
                for point, _customer, second, value, status, reason in updates
            ],
        )
    if not inserts:
        return
    dbapi: Any = conn.connection.driver_connection
    if sqlite:
        dbapi.executemany(
            "INSERT INTO hourly_value "
            "(metering_point_id, customer_id, start_at, value, status, reason) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            inserts,
        )
        return
    with (
        dbapi.cursor() as cursor,
        cursor.copy(
            "COPY hourly_value (metering_point_id, customer_id, start_at, value, status, reason) "
            "FROM STDIN"
        ) as copy,
    ):
        for point, customer, second, value, status, reason in inserts:
            copy.write_row((point, customer, _utc_hour(second), value, status, reason))


def _identity(second: int) -> int:
    return second


# The hours of one batch repeat across its points: build each datetime once.
@lru_cache(maxsize=1 << 17)
def _utc_hour(second: int) -> datetime:
    return from_epoch(second)


def list_hourly_values(
    conn: sa.Connection, *, metering_point_ids: Sequence[int], start: datetime, end: datetime
) -> dict[int, list[HourRow]]:
    """Stored hourly values of these points in [start, end), in time order; missing ones absent.

    Each hour is an (epoch second, value, status, reason) row, as ingest writes
    it. The caller has already checked that the access context may read these
    points. This is the read path of every chart and export: written for the
    driver, because SQLAlchemy's row processing and an object per hour cost
    several times the query itself.
    """
    sqlite = is_sqlite(conn)
    mark = driver.placeholder(conn)
    # On PostgreSQL the server turns timestamptz into epoch seconds, so both
    # dialects hand back the same integers, and the driver's rows are the result.
    start_at = "start_at" if sqlite else "CAST(EXTRACT(EPOCH FROM start_at) AS BIGINT)"
    statement = (
        f"SELECT {start_at}, value, status, reason FROM hourly_value "  # noqa: S608 (column expression and placeholders only)
        f"WHERE metering_point_id = {mark} AND start_at >= {mark} AND start_at < {mark} "
        "ORDER BY start_at"
    )
    bounds = driver.instants(conn, start, end)
    dbapi: Any = conn.connection.driver_connection
    cursor = dbapi.cursor()
    try:
        found: dict[int, list[HourRow]] = {}
        # One statement per point: each is a range scan of the primary key.
        for point in metering_point_ids:
            cursor.execute(statement, (point, *bounds))
            found[point] = cursor.fetchall()
        return found
    finally:
        cursor.close()
