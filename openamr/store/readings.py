"""Bulk reads and writes of register readings, the hot path of every import.

Inserts take each dialect's fastest route: `COPY` on PostgreSQL, `executemany`
on SQLite's own driver. Both run inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

import sqlalchemy as sa

from openamr.access import AccessContext
from openamr.db import is_sqlite, to_epoch
from openamr.store import driver
from openamr.store.driver import CHUNK
from openamr.store.schema import meter, meter_installation, reading, reading_revision
from openamr.units import Unit, parse_unit, register_modulus


@dataclass(frozen=True, slots=True)
class Installed:
    metering_point_id: int
    installed_at: datetime
    removed_at: datetime | None


@dataclass(frozen=True, slots=True)
class MeterInfo:
    """What ingest needs to know about a meter to turn its readings into exact values."""

    id: int
    customer_id: int
    identity: str
    medium: str
    unit: Unit
    modulus: int | None
    installations: tuple[Installed, ...]

    def point_at(self, moment: datetime) -> int | None:
        """The point the meter sits on at `moment`; a closing reading at removal counts."""
        for item in self.installations:
            if item.installed_at <= moment and (
                item.removed_at is None or moment <= item.removed_at
            ):
                return item.metering_point_id
        return None


class NewReading(NamedTuple):
    meter_id: int
    read_at: datetime
    read_at_s: int  # the same instant in epoch seconds, as the bulk paths bind it
    customer_id: int
    value: int


def find_meters(
    conn: sa.Connection, identities: Iterable[str], *, access: AccessContext
) -> dict[str, list[MeterInfo]]:
    """The meters with these identities that the caller may see, with their installations."""
    wanted = sorted(set(identities))
    found: dict[str, list[MeterInfo]] = {}
    for start in range(0, len(wanted), CHUNK):
        query = sa.select(
            meter.c.id,
            meter.c.customer_id,
            meter.c.identity,
            meter.c.medium,
            meter.c.register_unit,
            meter.c.register_digits,
        ).where(meter.c.identity.in_(wanted[start : start + CHUNK]))
        if access.customer_ids is not None:
            query = query.where(meter.c.customer_id.in_(access.customer_ids))
        rows = conn.execute(query).all()
        installed: dict[int, list[Installed]] = {}
        if rows:
            for item in conn.execute(
                sa.select(
                    meter_installation.c.meter_id,
                    meter_installation.c.metering_point_id,
                    meter_installation.c.installed_at,
                    meter_installation.c.removed_at,
                )
                .where(meter_installation.c.meter_id.in_([row.id for row in rows]))
                .order_by(meter_installation.c.installed_at)
            ):
                installed.setdefault(item.meter_id, []).append(
                    Installed(item.metering_point_id, item.installed_at, item.removed_at)
                )
        for row in rows:
            unit = parse_unit(row.register_unit)
            found.setdefault(row.identity, []).append(
                MeterInfo(
                    id=row.id,
                    customer_id=row.customer_id,
                    identity=row.identity,
                    medium=row.medium,
                    unit=unit,
                    modulus=register_modulus(unit, row.register_digits),
                    installations=tuple(installed.get(row.id, ())),
                )
            )
    return found


# A stored reading as the derivation reads it: (meter, epoch second, value).
ReadingRow = tuple[int, int, int]


def _nearest(table: str, comparison: str, bound: str) -> str:
    """SQL for the stored reading nearest to `table.bound` on one side: one index seek."""
    extreme = "max" if comparison == "<" else "min"
    return (
        f"(SELECT {extreme}(o.read_at) FROM reading o "  # noqa: S608  # nosec B608: fixed SQL only
        f"WHERE o.meter_id = {table}.meter_id AND o.read_at {comparison} {table}.{bound})"
    )


def _readings_around(conn: sa.Connection, table: str) -> str:
    """SQL for each `table` (meter_id, lo, hi) row's readings in [lo, hi] and one either side."""
    read_at = "r.read_at" if is_sqlite(conn) else "CAST(EXTRACT(EPOCH FROM r.read_at) AS BIGINT)"
    return (
        f"SELECT r.meter_id, {read_at}, r.value FROM {table} JOIN reading r "  # noqa: S608  # nosec B608: fixed SQL only
        f"ON r.meter_id = {table}.meter_id "
        f"AND r.read_at >= COALESCE({_nearest(table, '<', 'lo')}, {table}.lo) "
        f"AND r.read_at <= COALESCE({_nearest(table, '>', 'hi')}, {table}.hi)"
    )


def list_readings_around(
    conn: sa.Connection, ranges: Sequence[tuple[int, int, int]]
) -> list[ReadingRow]:
    """Per (meter, lo, hi) in epoch seconds: the stored readings in [lo, hi] and the nearest
    one on either side, as (meter, epoch second, value).

    The neighbours are what linear interpolation needs at the edges of a range.
    Written for the driver directly: the statement changes with every batch, and
    compiling it through SQLAlchemy each time cost more than running it.
    """
    found: list[ReadingRow] = []
    select = _readings_around(conn, "wanted")
    for with_wanted, params in driver.ranges_table(conn, ranges, "meter_id"):
        found.extend(driver.fetch_all(conn, with_wanted + select, params))
    return found


def list_readings_to_rederive(
    conn: sa.Connection, ranges: Sequence[tuple[int, int, int]]
) -> list[ReadingRow]:
    """Per (meter, lo, hi) in epoch seconds: every stored reading that re-deriving the hours
    touched by new readings in [lo, hi] needs, as (meter, epoch second, value).

    New readings in [lo, hi] change the register's course from the stored
    reading before lo to the one after hi, so the hours from the start of the
    first one's hour to the end of the last one's are derived again. That needs
    the readings in those hours and, for interpolation at their edges, the
    nearest reading on either side. One statement finds all of it, where two
    (the neighbours, then the hours around them) cost twice the seeks and the
    round trips of a batch. The result holds every stored reading between its
    first and its last for each meter, [lo, hi] included.
    """
    # The whole hours around the neighbours, in the time column's own type.
    if is_sqlite(conn):
        lo, hi = "lo_near - lo_near % 3600", "hi_near - hi_near % 3600 + 3600"
    else:
        lo = "to_timestamp(floor(EXTRACT(EPOCH FROM lo_near) / 3600) * 3600)"
        hi = "to_timestamp(floor(EXTRACT(EPOCH FROM hi_near) / 3600) * 3600 + 3600)"
    statement = (
        ", near AS (SELECT meter_id, "  # noqa: S608  # nosec B608: fixed SQL only
        f"COALESCE({_nearest('wanted', '<', 'lo')}, lo) AS lo_near, "
        f"COALESCE({_nearest('wanted', '>', 'hi')}, hi) AS hi_near FROM wanted), "
        f"hours AS (SELECT meter_id, {lo} AS lo, {hi} AS hi FROM near) "
        + _readings_around(conn, "hours")
    )
    found: list[ReadingRow] = []
    for with_wanted, params in driver.ranges_table(conn, ranges, "meter_id"):
        found.extend(driver.fetch_all(conn, with_wanted + statement, params))
    return found


def insert_readings(
    conn: sa.Connection, rows: Sequence[NewReading], *, received_at: datetime
) -> None:
    """Insert readings known to be new. A concurrent writer's duplicate raises IntegrityError."""
    if not rows:
        return
    received = to_epoch(received_at)
    dbapi: Any = conn.connection.driver_connection
    if is_sqlite(conn):
        dbapi.executemany(
            "INSERT INTO reading (meter_id, read_at, customer_id, value, received_at) "
            "VALUES (?, ?, ?, ?, ?)",
            [(r.meter_id, r.read_at_s, r.customer_id, r.value, received) for r in rows],
        )
        return
    # One statement of four arrays (see driver.pg_array): faster than COPY's rows in Python.
    with dbapi.cursor() as cursor:
        cursor.execute(
            "INSERT INTO reading (meter_id, read_at, customer_id, value, received_at) "
            "SELECT m, to_timestamp(t), c, v, to_timestamp(%s) "
            "FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[]) AS u(m, t, c, v)",
            (
                received,
                driver.pg_array([r.meter_id for r in rows]),
                driver.pg_array([r.read_at_s for r in rows]),
                driver.pg_array([r.customer_id for r in rows]),
                driver.pg_array([r.value for r in rows]),
            ),
        )


def revise_readings(
    conn: sa.Connection,
    changes: Sequence[tuple[NewReading, int]],
    *,
    received_at: datetime,
    source: str,
) -> None:
    """Replace stored values by later ones for the same instant, keeping what each replaced."""
    if not changes:
        return
    conn.execute(
        reading.update()
        .where(
            reading.c.meter_id == sa.bindparam("b_meter_id"),
            reading.c.read_at == sa.bindparam("b_read_at"),
        )
        .values(value=sa.bindparam("b_value"), received_at=received_at),
        [
            {"b_meter_id": new.meter_id, "b_read_at": new.read_at, "b_value": new.value}
            for new, _ in changes
        ],
    )
    conn.execute(
        reading_revision.insert(),
        [
            {
                "customer_id": new.customer_id,
                "meter_id": new.meter_id,
                "read_at": new.read_at,
                "previous_value": previous,
                "value": new.value,
                "revised_at": received_at,
                "source": source[:200],
            }
            for new, previous in changes
        ],
    )
