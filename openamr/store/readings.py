"""Bulk reads and writes of register readings, the hot path of every import.

Inserts take each dialect's fastest route: `COPY` on PostgreSQL, `executemany`
on SQLite's own driver. Both run inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

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


@dataclass(frozen=True, slots=True)
class StoredReading:
    meter_id: int
    read_at: datetime
    value: int


@dataclass(frozen=True, slots=True)
class NewReading:
    meter_id: int
    read_at: datetime
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


def list_readings_around(
    conn: sa.Connection, ranges: Sequence[tuple[int, datetime, datetime]]
) -> list[StoredReading]:
    """Per (meter, lo, hi): the stored readings in [lo, hi] and the nearest one on either side.

    The neighbours are what linear interpolation needs at the edges of a range.
    Written for the driver directly: the statement changes with every batch, and
    compiling it through SQLAlchemy each time cost more than running it.
    """
    found: list[StoredReading] = []
    for with_wanted, params in driver.ranges_table(conn, ranges, "meter_id"):
        statement = with_wanted + (  # noqa: S608 (the WITH clause holds placeholders only)
            "SELECT r.meter_id, r.read_at, r.value FROM wanted JOIN reading r "
            "ON r.meter_id = wanted.meter_id "
            "AND r.read_at >= COALESCE((SELECT max(o.read_at) FROM reading o "
            "WHERE o.meter_id = wanted.meter_id AND o.read_at < wanted.lo), wanted.lo) "
            "AND r.read_at <= COALESCE((SELECT min(o.read_at) FROM reading o "
            "WHERE o.meter_id = wanted.meter_id AND o.read_at > wanted.hi), wanted.hi)"
        )
        for meter_id, read_at, value in conn.exec_driver_sql(statement, params):
            found.append(StoredReading(meter_id, driver.instant(conn, read_at), value))
    return found


def insert_readings(
    conn: sa.Connection, rows: Sequence[NewReading], *, received_at: datetime
) -> None:
    """Insert readings known to be new. A concurrent writer's duplicate raises IntegrityError."""
    if not rows:
        return
    dbapi: Any = conn.connection.driver_connection
    if is_sqlite(conn):
        received = to_epoch(received_at)
        dbapi.executemany(
            "INSERT INTO reading (meter_id, read_at, customer_id, value, received_at) "
            "VALUES (?, ?, ?, ?, ?)",
            [(r.meter_id, to_epoch(r.read_at), r.customer_id, r.value, received) for r in rows],
        )
        return
    with (
        dbapi.cursor() as cursor,
        cursor.copy(
            "COPY reading (meter_id, read_at, customer_id, value, received_at) FROM STDIN"
        ) as copy,
    ):
        for r in rows:
            copy.write_row((r.meter_id, r.read_at, r.customer_id, r.value, received_at))


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
