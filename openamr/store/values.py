"""Hourly values: the spans that derive them, and their bulk reads and writes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from openamr.db import is_sqlite, to_epoch
from openamr.store.readings import CHUNK, driver_instants, instant_from_driver
from openamr.store.schema import hourly_value, meter, meter_installation
from openamr.units import parse_unit, register_modulus
from openamr.validate import HourlyValue, MeterSpan, Status


@dataclass(frozen=True, slots=True)
class HourRow:
    metering_point_id: int
    customer_id: int
    start_at: datetime
    value: int | None
    status: str
    reason: str | None


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
) -> dict[tuple[int, datetime], tuple[int | None, str, str | None]]:
    """The stored hourly rows in each (point, start, end) window, keyed by point and hour."""
    sqlite = is_sqlite(conn)
    mark = "?" if sqlite else "%s"
    found: dict[tuple[int, datetime], tuple[int | None, str, str | None]] = {}
    for start in range(0, len(windows), CHUNK):
        chunk = windows[start : start + CHUNK]
        values = ", ".join([f"({mark}, {mark}, {mark})"] * len(chunk))
        statement = (
            f"WITH wanted (point_id, lo, hi) AS (VALUES {values}) "  # noqa: S608 (only placeholders are formatted in)
            "SELECT h.metering_point_id, h.start_at, h.value, h.status, h.reason "
            "FROM wanted JOIN hourly_value h ON h.metering_point_id = wanted.point_id "
            "AND h.start_at >= wanted.lo AND h.start_at < wanted.hi"
        )
        params = [
            value
            for point_id, lo, hi in chunk
            for value in (point_id, *driver_instants(sqlite, lo, hi))
        ]
        for point_id, start_at, value, status, reason in conn.exec_driver_sql(
            statement, tuple(params)
        ):
            found[(point_id, instant_from_driver(sqlite, start_at))] = (value, status, reason)
    return found


def write_hour_rows(
    conn: sa.Connection,
    *,
    inserts: Sequence[HourRow],
    updates: Sequence[HourRow],
    deletes: Sequence[tuple[int, datetime]],
) -> None:
    """Apply a computed difference to the stored hourly values, inside the caller's transaction."""
    if deletes:
        conn.execute(
            hourly_value.delete().where(
                hourly_value.c.metering_point_id == sa.bindparam("b_point"),
                hourly_value.c.start_at == sa.bindparam("b_start"),
            ),
            [{"b_point": point, "b_start": start} for point, start in deletes],
        )
    if updates:
        conn.execute(
            hourly_value.update()
            .where(
                hourly_value.c.metering_point_id == sa.bindparam("b_point"),
                hourly_value.c.start_at == sa.bindparam("b_start"),
            )
            .values(
                value=sa.bindparam("b_value"),
                status=sa.bindparam("b_status"),
                reason=sa.bindparam("b_reason"),
            ),
            [
                {
                    "b_point": row.metering_point_id,
                    "b_start": row.start_at,
                    "b_value": row.value,
                    "b_status": row.status,
                    "b_reason": row.reason,
                }
                for row in updates
            ],
        )
    if not inserts:
        return
    driver: Any = conn.connection.driver_connection
    if is_sqlite(conn):
        driver.executemany(
            "INSERT INTO hourly_value "
            "(metering_point_id, start_at, customer_id, value, status, reason) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [
                (
                    row.metering_point_id,
                    to_epoch(row.start_at),
                    row.customer_id,
                    row.value,
                    row.status,
                    row.reason,
                )
                for row in inserts
            ],
        )
        return
    with (
        driver.cursor() as cursor,
        cursor.copy(
            "COPY hourly_value (metering_point_id, start_at, customer_id, value, status, reason) "
            "FROM STDIN"
        ) as copy,
    ):
        for row in inserts:
            copy.write_row(
                (
                    row.metering_point_id,
                    row.start_at,
                    row.customer_id,
                    row.value,
                    row.status,
                    row.reason,
                )
            )


def list_hourly_values(
    conn: sa.Connection, *, metering_point_ids: Sequence[int], start: datetime, end: datetime
) -> dict[int, list[HourlyValue]]:
    """Stored hourly values of these points in [start, end), in time order; missing ones absent.

    The caller has already checked that the access context may read these points.
    """
    query = (
        sa.select(
            hourly_value.c.metering_point_id,
            hourly_value.c.start_at,
            hourly_value.c.value,
            hourly_value.c.status,
            hourly_value.c.reason,
        )
        .where(
            hourly_value.c.metering_point_id.in_(list(metering_point_ids)),
            hourly_value.c.start_at >= start,
            hourly_value.c.start_at < end,
        )
        .order_by(hourly_value.c.metering_point_id, hourly_value.c.start_at)
    )
    found: dict[int, list[HourlyValue]] = {point: [] for point in metering_point_ids}
    for row in conn.execute(query):
        found[row.metering_point_id].append(
            HourlyValue(
                start_at=row.start_at, value=row.value, status=Status(row.status), reason=row.reason
            )
        )
    return found
