"""Telegrams, gateways and heard devices: the writes of the telegram pipeline and its reads.

A telegram is stored (:func:`store_telegrams`, deduplicated by the digest of
its bytes) in a durable commit before it is acknowledged to a gateway or a
broker, so that it is never lost, whatever happens to the process after the
commit. A broker's telegrams are stored first and processed afterwards
(:func:`record_outcomes`); a gateway's batch over HTTP is processed first and
stored once, with each telegram's outcome, so that a telegram row is written
once rather than inserted and then updated.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, NamedTuple

import sqlalchemy as sa

from openamr.access import AccessContext
from openamr.db import from_epoch, is_sqlite, to_epoch
from openamr.store import driver
from openamr.store.driver import CHUNK
from openamr.store.schema import (
    customer,
    gateway,
    gateway_traffic,
    heard_device,
    meter,
    meter_installation,
    meter_key,
    metering_point,
    property_,
    radio_link,
    telegram,
)

HOUR = 3600

RECEIVED = "received"  # stored, not yet processed
DECODED = "decoded"
UNASSIGNED = "unassigned"  # no meter in the register has its manufacturer and id
FAILED = "failed"  # could not be decoded; `cause` says why


@dataclass(frozen=True, slots=True)
class Gateway:
    id: int
    customer_id: int
    identity: str
    property_id: int | None


class IncomingTelegram(NamedTuple):
    """A telegram as a gateway forwards it."""

    frame: bytes
    received_at: datetime
    rssi: int | None = None


class StoredTelegram(NamedTuple):
    """A stored telegram waiting to be (re)processed."""

    id: int
    customer_id: int
    gateway_id: int
    frame: bytes
    received_at: datetime
    rssi: int | None


@dataclass(frozen=True, slots=True)
class StoreOutcome:
    new: list[StoredTelegram]
    duplicates: int


@dataclass(frozen=True, slots=True)
class MbusMeter:
    """A meter of the register as the telegram pipeline needs it."""

    id: int
    customer_id: int
    identity: str
    manufacturer: str
    time_zone: str | None  # of the property it is installed in, if it is installed


class Outcome(NamedTuple):
    """What processing made of one telegram."""

    telegram_id: int
    state: str
    manufacturer: str | None = None
    device_id: str | None = None
    meter_id: int | None = None
    cause: str | None = None
    reason: str | None = None
    meter_time: datetime | None = None
    clock_drift_s: int | None = None


class Hearing(NamedTuple):
    """One device heard in one telegram, for the device and radio statistics."""

    customer_id: int
    gateway_id: int
    manufacturer: str
    device_id: str
    received_at: datetime
    rssi: int | None
    meter_id: int | None
    device_type: int | None = None
    medium: str | None = None
    version: int | None = None
    status: int | None = None
    flags: str | None = None
    clock_drift_s: int | None = None


def digest_of(frame: bytes) -> str:
    return hashlib.sha256(frame).hexdigest()


def find_gateway_by_token_hash(conn: sa.Connection, token_hash: str) -> Gateway | None:
    row = conn.execute(
        sa.select(
            gateway.c.id, gateway.c.customer_id, gateway.c.identity, gateway.c.property_id
        ).where(gateway.c.token_hash == token_hash)
    ).first()
    return None if row is None else Gateway(*row)


def find_gateway(conn: sa.Connection, identity: str, *, access: AccessContext) -> Gateway | None:
    query = sa.select(
        gateway.c.id, gateway.c.customer_id, gateway.c.identity, gateway.c.property_id
    ).where(gateway.c.identity == identity)
    if access.customer_ids is not None:
        query = query.where(gateway.c.customer_id.in_(access.customer_ids))
    row = conn.execute(query).first()
    return None if row is None else Gateway(*row)


def add_gateway(
    conn: sa.Connection,
    *,
    customer_id: int,
    identity: str,
    property_id: int | None,
    token_hash: str,
    now: datetime,
) -> Gateway:
    """Register a gateway, or give an existing one of this customer a new token."""
    existing = conn.execute(
        sa.select(gateway.c.id, gateway.c.customer_id).where(gateway.c.identity == identity)
    ).first()
    if existing is not None:
        if existing.customer_id != customer_id:
            raise ValueError(f"gateway {identity!r} belongs to another customer")
        conn.execute(
            gateway.update()
            .where(gateway.c.id == existing.id)
            .values(token_hash=token_hash, property_id=property_id)
        )
        return Gateway(existing.id, customer_id, identity, property_id)
    gateway_id: int = conn.execute(
        gateway.insert()
        .values(
            customer_id=customer_id,
            identity=identity,
            property_id=property_id,
            token_hash=token_hash,
            created_at=now,
        )
        .returning(gateway.c.id)
    ).scalar_one()
    return Gateway(gateway_id, customer_id, identity, property_id)


def store_telegrams(
    conn: sa.Connection,
    source: Gateway,
    items: Sequence[IncomingTelegram],
    *,
    outcomes: Mapping[bytes, Outcome] | None = None,
    decoder_version: int | None = None,
    processed_at: datetime | None = None,
    digests: Sequence[str] | None = None,
) -> StoreOutcome:
    """Store the telegrams not stored before; count the rest as duplicates.

    A duplicate (the same bytes again, from this gateway or another of the
    customer's) still counts in the gateway's traffic and radio statistics.
    A telegram whose frame has an entry in `outcomes` is stored with it (its
    `telegram_id` is ignored), as processed by `decoder_version` at
    `processed_at`, so that its row is written once; the others are stored as
    `received`, to be processed afterwards. `digests`, if given, are those of
    the items' frames (digest_of), in their order.
    """
    if not items:
        return StoreOutcome([], 0)
    by_digest: dict[str, IncomingTelegram] = {}
    repeated: list[tuple[str, IncomingTelegram]] = []
    for key, item in zip(
        digests if digests is not None else map(digest_of, (item.frame for item in items)),
        items,
        strict=True,
    ):
        if key in by_digest:
            repeated.append((key, item))
        else:
            by_digest[key] = item
    processed = None
    if outcomes:
        if decoder_version is None or processed_at is None:
            raise ValueError("telegrams stored with their outcomes need a decoder version and time")
        processed = (outcomes, decoder_version, to_epoch(processed_at))
    inserted = dict(_insert_new(conn, source, by_digest, processed))
    new = [
        StoredTelegram(
            inserted[key], source.customer_id, source.id, item.frame, item.received_at, item.rssi
        )
        for key, item in by_digest.items()
        if key in inserted
    ]
    repeated.extend((key, item) for key, item in by_digest.items() if key not in inserted)
    _count_traffic(conn, source, items, len(repeated))
    _hear_repeats(conn, source, repeated)
    _mark_seen(conn, source, max(item.received_at for item in items))
    return StoreOutcome(new, len(repeated))


# The columns of a telegram row, and the outcome's share of them.
_TELEGRAM_COLUMNS = (
    "customer_id, gateway_id, state, digest, frame, received_at, rssi, manufacturer, "
    "device_id, meter_id, cause, reason, meter_time, clock_drift_s, decoder_version, processed_at"
)
_NO_OUTCOME = (None,) * 9


def _insert_new(
    conn: sa.Connection,
    source: Gateway,
    by_digest: Mapping[str, IncomingTelegram],
    processed: tuple[Mapping[bytes, Outcome], int, int] | None,
) -> list[tuple[str, int]]:
    """Insert the telegrams whose digest is not stored yet; (digest, id) of each new one.

    `processed` is (outcome by frame, decoder version, processed at in epoch
    seconds) for telegrams stored with their outcome.
    """
    rows = [(key, item, _outcome_columns(item.frame, processed)) for key, item in by_digest.items()]
    if not is_sqlite(conn):
        # One statement of array texts (see driver.pg_array).
        columns = list(zip(*[(key, *outcome) for key, _item, outcome in rows], strict=True))
        items = [item for _key, item, _outcome in rows]
        array, texts = driver.pg_array, driver.pg_text_array
        result = conn.exec_driver_sql(
            f"INSERT INTO telegram ({_TELEGRAM_COLUMNS}) "  # noqa: S608  # nosec B608: fixed SQL only
            "SELECT %s, %s, st, d, f, to_timestamp(t), r, m, di, mi, c, re, mt::timestamp, dr, "
            "v, to_timestamp(p) FROM unnest(%s::text[], %s::bytea[], %s::bigint[], "
            "%s::smallint[], %s::text[], %s::text[], %s::text[], %s::bigint[], %s::text[], "
            "%s::text[], %s::text[], %s::integer[], %s::integer[], %s::bigint[]) "
            "AS u(d, f, t, r, st, m, di, mi, c, re, mt, dr, v, p) "
            "ON CONFLICT (customer_id, digest) DO NOTHING RETURNING digest, id",
            (
                source.customer_id,
                source.id,
                texts(columns[0]),
                driver.pg_bytea_array([item.frame for item in items]),
                array([to_epoch(item.received_at) for item in items]),
                array([item.rssi for item in items]),
                texts(columns[1]),
                texts(columns[2]),
                texts(columns[3]),
                array(columns[4]),
                texts(columns[5]),
                texts(columns[6]),
                texts(columns[7]),
                array(columns[8]),
                array(columns[9]),
                array(columns[10]),
            ),
        )
        return [(digest, ident) for digest, ident in result]
    # SQLite: multi-row VALUES with RETURNING, in chunks, straight to the driver.
    dbapi: Any = conn.connection.driver_connection
    found: list[tuple[str, int]] = []
    size = CHUNK // 2  # 16 parameters a row: well under SQLite's limit of 32,766
    for start in range(0, len(rows), size):
        chunk = rows[start : start + size]
        marks = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"] * len(chunk))
        params = [
            value
            for key, item, outcome in chunk
            for value in (
                source.customer_id,
                source.id,
                outcome[0],
                key,
                item.frame,
                to_epoch(item.received_at),
                item.rssi,
                *outcome[1:],
            )
        ]
        found.extend(
            dbapi.execute(
                f"INSERT INTO telegram ({_TELEGRAM_COLUMNS}) "  # noqa: S608  # nosec B608: placeholders only
                f"VALUES {marks} ON CONFLICT (customer_id, digest) DO NOTHING "
                "RETURNING digest, id",
                params,
            ).fetchall()
        )
    return found


def _outcome_columns(
    frame: bytes, processed: tuple[Mapping[bytes, Outcome], int, int] | None
) -> tuple[object, ...]:
    """A telegram row's state and outcome columns, from the state to processed_at."""
    outcome = None if processed is None else processed[0].get(frame)
    if outcome is None or processed is None:
        return (RECEIVED, *_NO_OUTCOME)
    return (
        outcome.state,
        outcome.manufacturer,
        outcome.device_id,
        outcome.meter_id,
        outcome.cause,
        None if outcome.reason is None else outcome.reason[:500],
        None if outcome.meter_time is None else _naive_text(outcome.meter_time),
        outcome.clock_drift_s,
        processed[1],
        processed[2],
    )


def _count_traffic(
    conn: sa.Connection, source: Gateway, items: Sequence[IncomingTelegram], duplicates: int
) -> None:
    per_hour: dict[int, int] = defaultdict(int)
    for item in items:
        second = to_epoch(item.received_at)
        per_hour[second - second % HOUR] += 1
    # Duplicates are attributed to the batch's latest hour: a gateway's batch
    # rarely spans two, and the count is a health signal, not a bill.
    last_hour = max(per_hour)
    rows = [
        (source.id, hour, source.customer_id, count, duplicates if hour == last_hour else 0)
        for hour, count in sorted(per_hour.items())
    ]
    # The driver's own SQL: the Core statement was compiled anew for every batch.
    upsert = (
        "ON CONFLICT (gateway_id, hour_at) DO UPDATE SET "
        "telegrams = gateway_traffic.telegrams + excluded.telegrams, "
        "duplicates = gateway_traffic.duplicates + excluded.duplicates"
    )
    if is_sqlite(conn):
        conn.exec_driver_sql(
            "INSERT INTO gateway_traffic (gateway_id, hour_at, customer_id, telegrams, duplicates) "  # nosec B608: fixed SQL only
            "VALUES (?, ?, ?, ?, ?) " + upsert,
            rows,
        )
        return
    conn.exec_driver_sql(
        "INSERT INTO gateway_traffic (gateway_id, hour_at, customer_id, telegrams, duplicates) "  # nosec B608: fixed SQL only
        "VALUES (%s, to_timestamp(%s), %s, %s, %s) " + upsert,
        rows,
    )


def _mark_seen(conn: sa.Connection, source: Gateway, last: datetime) -> None:
    """The gateway's last-seen time, moved forward only."""
    mark = driver.placeholder(conn)
    at = mark if is_sqlite(conn) else f"to_timestamp({mark})"
    conn.exec_driver_sql(
        f"UPDATE gateway SET last_seen_at = {at} WHERE id = {mark} "  # noqa: S608  # nosec B608: placeholders only
        f"AND (last_seen_at IS NULL OR last_seen_at < {at})",
        (to_epoch(last), source.id, to_epoch(last)),
    )


def _hear_repeats(
    conn: sa.Connection, source: Gateway, repeated: Sequence[tuple[str, IncomingTelegram]]
) -> None:
    """Radio statistics for repeated telegrams whose sender is already known."""
    if not repeated:
        return
    digests = sorted({key for key, _ in repeated})
    senders: dict[str, tuple[str, str]] = {}
    for start in range(0, len(digests), CHUNK):
        for row in conn.execute(
            sa.select(telegram.c.digest, telegram.c.manufacturer, telegram.c.device_id).where(
                telegram.c.customer_id == source.customer_id,
                telegram.c.digest.in_(digests[start : start + CHUNK]),
                telegram.c.manufacturer.is_not(None),
            )
        ):
            senders[row.digest] = (row.manufacturer, row.device_id)
    hearings = [(senders[key], item) for key, item in repeated if key in senders]
    record_radio(
        conn,
        [
            (source.id, source.customer_id, man, device, item.received_at, item.rssi)
            for (man, device), item in hearings
        ],
    )


# The upserts of the radio statistics. The rows of one statement have distinct keys
# (they are summed per key first), so each row meets at most one stored row; the
# latest hearing's values win whichever arrives first.
_RADIO_COLUMNS = "gateway_id, manufacturer, device_id, customer_id, last_heard_at, rssi, telegrams"
_RADIO_UPSERT = (
    "ON CONFLICT (gateway_id, manufacturer, device_id) DO UPDATE SET "
    "telegrams = radio_link.telegrams + excluded.telegrams, "
    "last_heard_at = CASE WHEN excluded.last_heard_at > radio_link.last_heard_at "
    "THEN excluded.last_heard_at ELSE radio_link.last_heard_at END, "
    "rssi = CASE WHEN excluded.last_heard_at >= radio_link.last_heard_at "
    "THEN excluded.rssi ELSE radio_link.rssi END"
)
_DEVICE_COLUMNS = (
    "customer_id, manufacturer, device_id, meter_id, device_type, medium, version, "
    "first_seen_at, last_seen_at, rssi, status, flags, clock_drift_s, telegrams"
)
_DEVICE_LATEST = (
    "device_type",
    "medium",
    "version",
    "rssi",
    "status",
    "flags",
    "clock_drift_s",
    "last_seen_at",
)
_DEVICE_UPSERT = (
    "ON CONFLICT (customer_id, manufacturer, device_id) DO UPDATE SET "  # nosec B608: fixed SQL only
    "telegrams = heard_device.telegrams + excluded.telegrams, "
    "meter_id = excluded.meter_id, "
    + "".join(
        f"{name} = CASE WHEN excluded.last_seen_at >= heard_device.last_seen_at "
        f"THEN excluded.{name} ELSE heard_device.{name} END, "
        for name in _DEVICE_LATEST
    )
    + "first_seen_at = CASE WHEN excluded.first_seen_at < heard_device.first_seen_at "
    "THEN excluded.first_seen_at ELSE heard_device.first_seen_at END"
)


def record_radio(
    conn: sa.Connection,
    heard: Iterable[tuple[int, int, str, str, datetime, int | None]],
) -> None:
    """Which gateway heard which device, when last and how well.

    Each item is (gateway id, customer id, manufacturer, device id, heard at, RSSI).
    """
    latest: dict[tuple[int, str, str], tuple[int, datetime, int | None, int]] = {}
    for gateway_id, customer_id, man, device, at, rssi in heard:
        key = (gateway_id, man, device)
        known = latest.get(key)
        if known is None:
            latest[key] = (customer_id, at, rssi, 1)
        else:
            newer = at >= known[1]
            latest[key] = (
                customer_id,
                at if newer else known[1],
                rssi if newer else known[2],
                known[3] + 1,
            )
    if not latest:
        return
    rows = [
        (gateway_id, man, device, customer_id, to_epoch(at), rssi, count)
        for (gateway_id, man, device), (customer_id, at, rssi, count) in sorted(latest.items())
    ]
    if is_sqlite(conn):
        dbapi: Any = conn.connection.driver_connection
        dbapi.executemany(
            f"INSERT INTO radio_link ({_RADIO_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?) "  # noqa: S608  # nosec B608: fixed SQL only
            + _RADIO_UPSERT,
            rows,
        )
        return
    columns = list(zip(*rows, strict=True))
    array, texts = driver.pg_array, driver.pg_text_array
    conn.exec_driver_sql(
        f"INSERT INTO radio_link ({_RADIO_COLUMNS}) "  # noqa: S608  # nosec B608: fixed SQL only
        "SELECT g, m, d, c, to_timestamp(t), r, n FROM unnest(%s::bigint[], %s::text[], "
        "%s::text[], %s::bigint[], %s::bigint[], %s::smallint[], %s::bigint[]) "
        "AS u(g, m, d, c, t, r, n) " + _RADIO_UPSERT,
        (
            array(columns[0]),
            texts(columns[1]),
            texts(columns[2]),
            array(columns[3]),
            array(columns[4]),
            array(columns[5]),
            array(columns[6]),
        ),
    )


def record_hearings(conn: sa.Connection, hearings: Sequence[Hearing]) -> None:
    """Update each heard device's latest state, and the radio links it was heard on."""
    if not hearings:
        return
    latest: dict[tuple[int, str, str], tuple[Hearing, int]] = {}
    for item in hearings:
        key = (item.customer_id, item.manufacturer, item.device_id)
        known = latest.get(key)
        if known is None:
            latest[key] = (item, 1)
        else:
            newest = item if item.received_at >= known[0].received_at else known[0]
            latest[key] = (newest, known[1] + 1)
    rows = [
        (
            item.customer_id,
            item.manufacturer,
            item.device_id,
            item.meter_id,
            item.device_type,
            item.medium,
            item.version,
            seen,  # first seen
            seen,  # last seen
            item.rssi,
            item.status,
            item.flags,
            item.clock_drift_s,
            count,
        )
        for _key, (item, count) in sorted(latest.items())
        for seen in (to_epoch(item.received_at),)
    ]
    if is_sqlite(conn):
        dbapi: Any = conn.connection.driver_connection
        dbapi.executemany(
            f"INSERT INTO heard_device ({_DEVICE_COLUMNS}) "  # noqa: S608  # nosec B608: fixed SQL only
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) " + _DEVICE_UPSERT,
            rows,
        )
    else:
        columns = list(zip(*rows, strict=True))
        array, texts = driver.pg_array, driver.pg_text_array
        conn.exec_driver_sql(
            f"INSERT INTO heard_device ({_DEVICE_COLUMNS}) "  # noqa: S608  # nosec B608: fixed SQL only
            "SELECT c, m, d, mi, dt, me, v, to_timestamp(t), to_timestamp(t), r, s, f, dr, n "
            "FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::bigint[], %s::smallint[], "
            "%s::text[], %s::smallint[], %s::bigint[], %s::smallint[], %s::smallint[], "
            "%s::text[], %s::integer[], %s::bigint[]) "
            "AS u(c, m, d, mi, dt, me, v, t, r, s, f, dr, n) " + _DEVICE_UPSERT,
            (
                array(columns[0]),
                texts(columns[1]),
                texts(columns[2]),
                array(columns[3]),
                array(columns[4]),
                texts(columns[5]),
                array(columns[6]),
                array(columns[7]),
                array(columns[9]),
                array(columns[10]),
                texts(columns[11]),
                array(columns[12]),
                array(columns[13]),
            ),
        )
    record_radio(
        conn,
        (
            (
                item.gateway_id,
                item.customer_id,
                item.manufacturer,
                item.device_id,
                item.received_at,
                item.rssi,
            )
            for item in hearings
        ),
    )


def record_outcomes(
    conn: sa.Connection, outcomes: Sequence[Outcome], *, now: datetime, decoder_version: int
) -> None:
    """Write what processing made of each telegram."""
    if not outcomes:
        return
    processed = to_epoch(now)
    if is_sqlite(conn):
        dbapi: Any = conn.connection.driver_connection
        dbapi.executemany(
            "UPDATE telegram SET state = ?, manufacturer = ?, device_id = ?, meter_id = ?, "
            "cause = ?, reason = ?, meter_time = ?, clock_drift_s = ?, decoder_version = ?, "
            "processed_at = ? WHERE id = ?",
            [
                (
                    item.state,
                    item.manufacturer,
                    item.device_id,
                    item.meter_id,
                    item.cause,
                    None if item.reason is None else item.reason[:500],
                    None if item.meter_time is None else _naive_text(item.meter_time),
                    item.clock_drift_s,
                    decoder_version,
                    processed,
                    item.telegram_id,
                )
                for item in outcomes
            ],
        )
        return
    array, texts = driver.pg_array, driver.pg_text_array
    conn.exec_driver_sql(
        "UPDATE telegram t SET state = u.st, manufacturer = u.m, device_id = u.d, "
        "meter_id = u.mi, cause = u.c, reason = u.r, meter_time = u.mt::timestamp, "
        "clock_drift_s = u.dr, decoder_version = %s, processed_at = to_timestamp(%s) "
        "FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[], %s::bigint[], "
        "%s::text[], %s::text[], %s::text[], %s::integer[]) "
        "AS u(id, st, m, d, mi, c, r, mt, dr) WHERE t.id = u.id",
        (
            decoder_version,
            processed,
            array([item.telegram_id for item in outcomes]),
            texts([item.state for item in outcomes]),
            texts([item.manufacturer for item in outcomes]),
            texts([item.device_id for item in outcomes]),
            array([item.meter_id for item in outcomes]),
            texts([item.cause for item in outcomes]),
            texts([None if item.reason is None else item.reason[:500] for item in outcomes]),
            texts(
                [
                    None if item.meter_time is None else _naive_text(item.meter_time)
                    for item in outcomes
                ]
            ),
            array([item.clock_drift_s for item in outcomes]),
        ),
    )


def _naive_text(moment: datetime) -> str:
    """A naive datetime as SQLAlchemy keeps `DateTime` on SQLite, and PostgreSQL reads it."""
    return _naive_iso(moment if moment.tzinfo is None else moment.replace(tzinfo=None))


# Meters' clocks show the same minutes across a batch. Naive only: aware datetimes
# of one instant in two zones are equal, and would share an entry.
@lru_cache(maxsize=1 << 12)
def _naive_iso(moment: datetime) -> str:
    return moment.isoformat(" ", "microseconds")


def find_mbus_meters(
    conn: sa.Connection, customer_id: int, devices: Iterable[tuple[str, str]], *, now: datetime
) -> dict[tuple[str, str], MbusMeter]:
    """The customer's meters with these (manufacturer, id) pairs, with their property's zone.

    The zone is that of the installation in force at `now`, else the latest one.
    """
    wanted = set(devices)
    found: dict[tuple[str, str], MbusMeter] = {}
    identities = sorted({device for _man, device in wanted})
    for start in range(0, len(identities), CHUNK):
        query = (
            sa.select(
                meter.c.id,
                meter.c.identity,
                meter.c.manufacturer,
                property_.c.time_zone,
                meter_installation.c.installed_at,
                meter_installation.c.removed_at,
            )
            .select_from(
                meter.outerjoin(meter_installation, meter_installation.c.meter_id == meter.c.id)
                .outerjoin(
                    metering_point,
                    metering_point.c.id == meter_installation.c.metering_point_id,
                )
                .outerjoin(property_, property_.c.id == metering_point.c.property_id)
            )
            .where(
                meter.c.customer_id == customer_id,
                meter.c.identity.in_(identities[start : start + CHUNK]),
                meter.c.manufacturer.is_not(None),
            )
            .order_by(meter.c.id, meter_installation.c.installed_at)
        )
        for row in conn.execute(query):
            key = (row.manufacturer.upper(), row.identity)
            current = row.installed_at is not None and (
                row.installed_at <= now and (row.removed_at is None or now < row.removed_at)
            )
            if key in found and not current:
                continue
            found[key] = MbusMeter(row.id, customer_id, row.identity, key[0], row.time_zone)
    return {key: value for key, value in found.items() if key in wanted}


def list_telegrams(
    conn: sa.Connection,
    *,
    customer_id: int,
    states: Sequence[str],
    causes: Sequence[str] | None = None,
    devices: Iterable[tuple[str, str]] | None = None,
    meter_ids: Iterable[int] | None = None,
    below_version: int | None = None,
    keyed_since: bool = False,
    limit: int = 10_000,
    after_id: int = 0,
) -> list[StoredTelegram]:
    """Stored telegrams of one customer to process again, oldest first, in pages.

    `keyed_since` keeps only telegrams whose meter's key was set after they
    were last processed.
    """
    query = (
        sa.select(
            telegram.c.id,
            telegram.c.customer_id,
            telegram.c.gateway_id,
            telegram.c.frame,
            telegram.c.received_at,
            telegram.c.rssi,
        )
        .where(
            telegram.c.customer_id == customer_id,
            telegram.c.state.in_(states),
            telegram.c.id > after_id,
        )
        .order_by(telegram.c.id)
        .limit(limit)
    )
    if causes is not None:
        query = query.where(telegram.c.cause.in_(causes))
    if devices is not None:
        pairs = sorted(set(devices))
        if not pairs:
            return []
        query = query.where(sa.tuple_(telegram.c.manufacturer, telegram.c.device_id).in_(pairs))
    if meter_ids is not None:
        query = query.where(telegram.c.meter_id.in_(sorted(set(meter_ids))))
    if keyed_since:
        query = query.where(
            sa.exists().where(
                meter_key.c.meter_id == telegram.c.meter_id,
                meter_key.c.set_at >= telegram.c.processed_at,
            )
        )
    if below_version is not None:
        query = query.where(
            sa.or_(
                telegram.c.decoder_version.is_(None),
                telegram.c.decoder_version < below_version,
            )
        )
    return [StoredTelegram(*row) for row in conn.execute(query)]


def list_assignable_devices(conn: sa.Connection, *, customer_id: int) -> set[tuple[str, str]]:
    """Devices with unassigned telegrams that a meter of the register now matches."""
    query = (
        sa.select(telegram.c.manufacturer, telegram.c.device_id)
        .join(
            meter,
            sa.and_(
                meter.c.customer_id == telegram.c.customer_id,
                meter.c.identity == telegram.c.device_id,
                sa.func.upper(meter.c.manufacturer) == telegram.c.manufacturer,
            ),
        )
        .where(telegram.c.customer_id == customer_id, telegram.c.state == UNASSIGNED)
        .distinct()
    )
    return {(row.manufacturer, row.device_id) for row in conn.execute(query)}


def list_customers_with_telegrams(conn: sa.Connection, *, states: Sequence[str]) -> list[int]:
    return list(
        conn.execute(
            sa.select(telegram.c.customer_id)
            .where(telegram.c.state.in_(states))
            .distinct()
            .order_by(telegram.c.customer_id)
        ).scalars()
    )


def latest_full_frames(
    conn: sa.Connection, *, customer_id: int, manufacturer: str, device_id: str, limit: int = 5
) -> list[bytes]:
    """The device's latest decoded frames, from which a compact frame's layout can be learnt."""
    return list(
        conn.execute(
            sa.select(telegram.c.frame)
            .where(
                telegram.c.customer_id == customer_id,
                telegram.c.manufacturer == manufacturer,
                telegram.c.device_id == device_id,
                telegram.c.state == DECODED,
            )
            .order_by(telegram.c.received_at.desc())
            .limit(limit)
        ).scalars()
    )


@dataclass(frozen=True, slots=True)
class GatewayHealth:
    id: int
    customer_id: int
    identity: str
    property_id: int | None
    last_seen_at: datetime | None
    telegrams_last_hour: int
    telegrams_last_day: int
    duplicates_last_day: int
    devices_heard_last_day: int


def list_gateways(
    conn: sa.Connection, *, access: AccessContext, now: datetime
) -> list[GatewayHealth]:
    """Each gateway the caller may see: when it was last heard, its traffic, what it hears."""
    hour = from_epoch(to_epoch(now) - to_epoch(now) % HOUR)
    day_ago = from_epoch(to_epoch(hour) - 23 * HOUR)
    recent = from_epoch(to_epoch(now) - 24 * HOUR)
    traffic = (
        sa.select(
            gateway_traffic.c.gateway_id,
            sa.func.sum(
                sa.case((gateway_traffic.c.hour_at >= hour, gateway_traffic.c.telegrams), else_=0)
            ).label("last_hour"),
            sa.func.sum(gateway_traffic.c.telegrams).label("last_day"),
            sa.func.sum(gateway_traffic.c.duplicates).label("duplicates"),
        )
        .where(gateway_traffic.c.hour_at >= day_ago)
        .group_by(gateway_traffic.c.gateway_id)
        .subquery()
    )
    heard = (
        sa.select(radio_link.c.gateway_id, sa.func.count().label("devices"))
        .where(radio_link.c.last_heard_at >= recent)
        .group_by(radio_link.c.gateway_id)
        .subquery()
    )
    query = (
        sa.select(
            gateway.c.id,
            gateway.c.customer_id,
            gateway.c.identity,
            gateway.c.property_id,
            gateway.c.last_seen_at,
            sa.func.coalesce(traffic.c.last_hour, 0),
            sa.func.coalesce(traffic.c.last_day, 0),
            sa.func.coalesce(traffic.c.duplicates, 0),
            sa.func.coalesce(heard.c.devices, 0),
        )
        .select_from(
            gateway.outerjoin(traffic, traffic.c.gateway_id == gateway.c.id).outerjoin(
                heard, heard.c.gateway_id == gateway.c.id
            )
        )
        .order_by(gateway.c.identity)
    )
    if access.customer_ids is not None:
        query = query.where(gateway.c.customer_id.in_(access.customer_ids))
    return [GatewayHealth(*row) for row in conn.execute(query)]


@dataclass(frozen=True, slots=True)
class HeardDevice:
    customer_id: int
    manufacturer: str
    device_id: str
    meter_id: int | None
    medium: str | None
    last_seen_at: datetime
    rssi: int | None
    status: int | None
    flags: tuple[str, ...]
    clock_drift_s: int | None
    telegrams: int
    gateways: int


def list_heard_devices(
    conn: sa.Connection, *, access: AccessContext, unassigned_only: bool = False
) -> list[HeardDevice]:
    """Devices heard through the caller's gateways: the register's meters and unassigned ones."""
    links = (
        sa.select(
            radio_link.c.customer_id,
            radio_link.c.manufacturer,
            radio_link.c.device_id,
            sa.func.count().label("gateways"),
        )
        .group_by(radio_link.c.customer_id, radio_link.c.manufacturer, radio_link.c.device_id)
        .subquery()
    )
    query = (
        sa.select(
            heard_device.c.customer_id,
            heard_device.c.manufacturer,
            heard_device.c.device_id,
            heard_device.c.meter_id,
            heard_device.c.medium,
            heard_device.c.last_seen_at,
            heard_device.c.rssi,
            heard_device.c.status,
            heard_device.c.flags,
            heard_device.c.clock_drift_s,
            heard_device.c.telegrams,
            sa.func.coalesce(links.c.gateways, 0),
        )
        .select_from(
            heard_device.outerjoin(
                links,
                sa.and_(
                    links.c.customer_id == heard_device.c.customer_id,
                    links.c.manufacturer == heard_device.c.manufacturer,
                    links.c.device_id == heard_device.c.device_id,
                ),
            )
        )
        .order_by(heard_device.c.manufacturer, heard_device.c.device_id)
    )
    if unassigned_only:
        query = query.where(heard_device.c.meter_id.is_(None))
    if access.customer_ids is not None:
        query = query.where(heard_device.c.customer_id.in_(access.customer_ids))
    return [
        HeardDevice(
            *row[:8],
            flags=tuple(flag for flag in (row.flags or "").split(",") if flag),
            clock_drift_s=row.clock_drift_s,
            telegrams=row.telegrams,
            gateways=row[11],
        )
        for row in conn.execute(query)
    ]


def find_customer_id(conn: sa.Connection, name: str, *, access: AccessContext) -> int | None:
    found: int | None = conn.execute(
        sa.select(customer.c.id).where(customer.c.name == name)
    ).scalar()
    return found if found is not None and access.may_see(found) else None


def find_property_id(conn: sa.Connection, customer_id: int, designation: str) -> int | None:
    found: int | None = conn.execute(
        sa.select(property_.c.id).where(
            property_.c.customer_id == customer_id, property_.c.designation == designation
        )
    ).scalar()
    return found
