"""Hourly values: the spans that derive them, and their bulk reads and writes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from openamr.access import AccessContext
from openamr.db import is_sqlite
from openamr.store import driver
from openamr.store.driver import CHUNK
from openamr.store.queries import tenancy_window
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
                    restarts=unit.restarts,
                )
            )
    return spans


def list_hour_rows(
    conn: sa.Connection, windows: Sequence[tuple[int, int, int]]
) -> dict[tuple[int, int], tuple[int | None, str, str | None]]:
    """The stored hourly rows in each (point, start, end) window of epoch seconds, keyed by
    point and epoch hour."""
    start_at = "h.start_at" if is_sqlite(conn) else "CAST(EXTRACT(EPOCH FROM h.start_at) AS BIGINT)"
    found: dict[tuple[int, int], tuple[int | None, str, str | None]] = {}
    for with_wanted, params in driver.ranges_table(conn, windows, "point_id"):
        statement = with_wanted + (
            f"SELECT h.metering_point_id, {start_at}, h.value, h.status, h.reason "  # noqa: S608  # nosec B608: fixed SQL only
            "FROM wanted JOIN hourly_value h ON h.metering_point_id = wanted.point_id "
            "AND h.start_at >= wanted.lo AND h.start_at < wanted.hi"
        )
        for point_id, second, value, status, reason in driver.fetch_all(conn, statement, params):
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
    if is_sqlite(conn):
        _write_hour_rows_sqlite(conn, inserts=inserts, updates=updates, deletes=deletes)
        return
    # PostgreSQL: one statement per kind of change, its columns as array texts (see
    # driver.pg_array): psycopg's COPY and executemany spend microseconds per row in Python.
    array, texts = driver.pg_array, driver.pg_text_array
    if deletes:
        conn.exec_driver_sql(
            "DELETE FROM hourly_value h USING unnest(%s::bigint[], %s::bigint[]) AS d(p, s) "
            "WHERE h.metering_point_id = d.p AND h.start_at = to_timestamp(d.s)",
            (array([point for point, _ in deletes]), array([second for _, second in deletes])),
        )
    if updates:
        conn.exec_driver_sql(
            "UPDATE hourly_value h SET value = u.v, status = u.st, reason = u.r "
            "FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::text[], %s::text[]) "
            "AS u(p, s, v, st, r) "
            "WHERE h.metering_point_id = u.p AND h.start_at = to_timestamp(u.s)",
            (
                array([row[0] for row in updates]),
                array([row[2] for row in updates]),
                array([row[3] for row in updates]),
                texts([row[4] for row in updates]),
                texts([row[5] for row in updates]),
            ),
        )
    if inserts:
        conn.exec_driver_sql(
            "INSERT INTO hourly_value "
            "(metering_point_id, customer_id, start_at, value, status, reason) "
            "SELECT p, c, to_timestamp(s), v, st, r FROM unnest(%s::bigint[], %s::bigint[], "
            "%s::bigint[], %s::bigint[], %s::text[], %s::text[]) AS u(p, c, s, v, st, r)",
            (
                array([row[0] for row in inserts]),
                array([row[1] for row in inserts]),
                array([row[2] for row in inserts]),
                array([row[3] for row in inserts]),
                texts([row[4] for row in inserts]),
                texts([row[5] for row in inserts]),
            ),
        )


def _write_hour_rows_sqlite(
    conn: sa.Connection,
    *,
    inserts: Sequence[StoredHour],
    updates: Sequence[StoredHour],
    deletes: Sequence[tuple[int, int]],
) -> None:
    dbapi: Any = conn.connection.driver_connection
    if deletes:
        dbapi.executemany(
            "DELETE FROM hourly_value WHERE metering_point_id = ? AND start_at = ?", deletes
        )
    if updates:
        dbapi.executemany(
            "UPDATE hourly_value SET value = ?, status = ?, reason = ? "
            "WHERE metering_point_id = ? AND start_at = ?",
            [
                (value, status, reason, point, second)
                for point, _customer, second, value, status, reason in updates
            ],
        )
    if inserts:
        dbapi.executemany(
            "INSERT INTO hourly_value "
            "(metering_point_id, customer_id, start_at, value, status, reason) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            inserts,
        )


def list_hourly_values(
    conn: sa.Connection,
    *,
    access: AccessContext,
    metering_point_ids: Sequence[int],
    start: datetime,
    end: datetime,
) -> dict[int, list[HourRow]]:
    """Stored hourly values of these points in [start, end), in time order; missing ones absent.

    Each hour is an (epoch second, value, status, reason) row, as ingest writes
    it. The caller resolves the points through the access context; the
    statement keeps to the context as well, as a second lock: only its
    customers' rows, and for a household or staff under a grant only its
    apartment's points (of the grant's media) and only hours within its
    tenancy (`tenancy_window`). This is the read path of every chart and
    export: written for the driver, because SQLAlchemy's row processing and an
    object per hour cost several times the query itself.
    """
    found: dict[int, list[HourRow]] = {point: [] for point in metering_point_ids}
    start, end = tenancy_window(access, start, end)
    if start >= end or access.customer_ids == frozenset():
        return found
    sqlite = is_sqlite(conn)
    mark = driver.placeholder(conn)
    # On PostgreSQL the server turns timestamptz into epoch seconds, so both
    # dialects hand back the same integers, and the driver's rows are the result.
    start_at = "start_at" if sqlite else "CAST(EXTRACT(EPOCH FROM start_at) AS BIGINT)"
    where, extra = _access_filter(access, mark)
    statement = (
        # Fixed SQL, a column expression and placeholders only:
        f"SELECT {start_at}, value, status, reason FROM hourly_value "  # noqa: S608  # nosec B608
        f"WHERE metering_point_id = {mark} AND start_at >= {mark} AND start_at < {mark}"
        f"{where} ORDER BY start_at"
    )
    bounds = driver.instants(conn, start, end)
    dbapi: Any = conn.connection.driver_connection
    cursor = dbapi.cursor()
    try:
        # One statement per point: each is a range scan of the primary key.
        for point in metering_point_ids:
            cursor.execute(statement, (point, *bounds, *extra))
            found[point] = cursor.fetchall()
        return found
    finally:
        cursor.close()


def _access_filter(access: AccessContext, mark: str) -> tuple[str, tuple[object, ...]]:
    """The conditions (and their parameters) that keep the hourly read to the access context."""
    # Only fixed SQL and the driver's placeholder are joined here; values go as parameters.
    where = ""
    params: list[object] = []
    if access.customer_ids is not None:
        customers = sorted(access.customer_ids)
        where += f" AND customer_id IN ({', '.join([mark] * len(customers))})"  # nosec B608
        params += customers
    if access.tenancy is not None:
        where += (
            " AND EXISTS (SELECT 1 FROM metering_point p"  # noqa: S608  # nosec B608
            " WHERE p.id = hourly_value.metering_point_id AND p.apartment_id = " + mark
        )
        params.append(access.tenancy.apartment_id)
        if access.grant_id is not None:
            where += (
                " AND p.medium IN (SELECT medium FROM access_grant_medium"  # noqa: S608  # nosec B608
                " WHERE grant_id = " + mark + ")"
            )
            params.append(access.grant_id)
        where += ")"
    return where, tuple(params)
