"""The audit log in SQL: append an event to the chain, read the chain back in order.

Each event is hashed as ``SHA-256(prev_hash bytes || canonical encoding)``,
where the canonical encoding is JSON of every column but `hash`, with sorted
keys, no whitespace, ASCII only, integers as integers, null for absent
values and `at` as ISO 8601 UTC with a ``Z`` (whole seconds, which is all
openamr writes; a fraction, should one appear, is encoded too). JSON makes
the encoding unambiguous: a value can never imitate a separator.

Appending takes the next `seq` and the previous hash, so two writers must
not both read the same last event. PostgreSQL: a transaction-level advisory
lock serialises appenders from the read to the end of the caller's
transaction; `audit_event_last_locked()` (migration 0005) takes it and reads
the last event in one round trip. Advisory locks need no table privilege,
so an application role with only INSERT and SELECT can take it; callers
must run at READ COMMITTED, PostgreSQL's default, so that the read after
the lock sees the last commit.
SQLite: writers are serialised by the database, and the read of the last
event may only be stale when the caller had not written yet; the insert
then meets the unique `seq` and is tried once more, now holding the write
lock. The unique `seq` stays the backstop on both: a chain can never fork.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from json.encoder import encode_basestring_ascii as _text  # as json.dumps writes a str
from typing import Any

import sqlalchemy as sa

from openamr.store.schema import audit_event
from openamr.store.schema.audit import (
    ACTION_LENGTH,
    ACTOR_LENGTH,
    OUTCOME_LENGTH,
    PURPOSE_LENGTH,
    ROLE_LENGTH,
)

GENESIS_HASH = "0" * 64  # the `prev_hash` of event 1

_LAST = sa.select(audit_event.c.seq, audit_event.c.hash).order_by(audit_event.c.seq.desc()).limit(1)
_LAST_LOCKED = sa.text("SELECT seq, hash FROM audit_event_last_locked()")  # PostgreSQL
_INSERT = audit_event.insert()
_COLUMNS = tuple(audit_event.c)


class UnableToRecordEvent(ValueError):
    """An event that cannot be recorded as given (a naive time, a value too long)."""


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One stored event, as verification reads it."""

    seq: int
    at: datetime
    actor: str
    role: str
    action: str
    customer_id: int | None
    property_id: int | None
    apartment_id: int | None
    tenancy_id: int | None
    purpose: str | None
    outcome: str
    prev_hash: str
    hash: str


def canonical_encoding(event: AuditEvent) -> bytes:
    """The bytes an event's hash covers: every column but `hash`, as described above."""
    return _encode(_fields(event))


def expected_hash(event: AuditEvent) -> str:
    """The hash an event must have, given its content and its own `prev_hash`."""
    return chain_hash(event.prev_hash, canonical_encoding(event))


def chain_hash(prev_hash: str, canonical: bytes) -> str:
    """SHA-256 over the previous hash's 32 bytes and the canonical encoding, in hexadecimal.

    A `prev_hash` that is not 64 hexadecimal digits (a tampered row) is hashed
    as its text, so that verification reports the row instead of failing.
    """
    try:
        prev = bytes.fromhex(prev_hash)
    except ValueError:
        prev = prev_hash.encode("utf-8", "surrogateescape")
    return hashlib.sha256(prev + canonical).hexdigest()


def format_time(moment: datetime) -> str:
    """`at` as the canonical encoding writes it: ISO 8601 UTC with a Z."""
    u = moment.astimezone(UTC)
    fraction = f".{u.microsecond:06d}" if u.microsecond else ""
    return (
        f"{u.year:04d}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:{u.second:02d}"
        f"{fraction}Z"
    )


def append_event(
    conn: sa.Connection,
    *,
    at: datetime,
    actor: str,
    role: str,
    action: str,
    customer_id: int | None,
    property_id: int | None,
    apartment_id: int | None,
    tenancy_id: int | None,
    purpose: str | None,
    outcome: str,
) -> int:
    """Append one event in the caller's transaction and return its `seq`.

    `at` is truncated to whole seconds. Raises UnableToRecordEvent for a naive
    `at` or a value longer than its column.
    """
    if at.tzinfo is None:
        raise UnableToRecordEvent("an audit event's time must be an aware datetime")
    _check_length("actor", actor, ACTOR_LENGTH)
    _check_length("role", role, ROLE_LENGTH)
    _check_length("action", action, ACTION_LENGTH)
    _check_length("outcome", outcome, OUTCOME_LENGTH)
    if purpose is not None:
        _check_length("purpose", purpose, PURPOSE_LENGTH)
    fields: dict[str, Any] = {
        "at": at.astimezone(UTC).replace(microsecond=0),
        "actor": actor,
        "role": role,
        "action": action,
        "customer_id": customer_id,
        "property_id": property_id,
        "apartment_id": apartment_id,
        "tenancy_id": tenancy_id,
        "purpose": purpose,
        "outcome": outcome,
    }
    postgresql = conn.dialect.name == "postgresql"
    # SQLite only: the second attempt runs holding the write lock, so it cannot collide.
    attempts = 1 if postgresql else 2
    for attempt in range(1, attempts + 1):
        last = conn.execute(_LAST_LOCKED if postgresql else _LAST).first()
        seq, prev_hash = (1, GENESIS_HASH) if last is None else (last.seq + 1, last.hash)
        fields["seq"] = seq
        fields["prev_hash"] = prev_hash
        fields["hash"] = chain_hash(prev_hash, _encode(fields))
        try:
            conn.execute(_INSERT, fields)
        except sa.exc.IntegrityError:
            # On SQLite a failed statement leaves the caller's transaction as it was.
            if attempt == attempts:
                raise
            continue
        return seq
    raise AssertionError("unreachable")  # pragma: no cover


def iter_events(
    conn: sa.Connection, *, after_seq: int = 0, batch_size: int = 5_000
) -> Generator[AuditEvent, None, None]:
    """The events after `after_seq` in `seq` order, streamed (one statement, one snapshot)."""
    query = sa.select(*_COLUMNS).where(audit_event.c.seq > after_seq).order_by(audit_event.c.seq)
    result = conn.execution_options(yield_per=batch_size).execute(query)
    try:
        for row in result:
            yield AuditEvent(*row)
    finally:
        # A reader that stops early (at a break in the chain) closes the generator;
        # the server-side cursor on PostgreSQL is closed with it, not left to the collector.
        result.close()


# Rows become events by position: the table's columns and the dataclass's fields in one order.
if tuple(column.name for column in _COLUMNS) != tuple(
    field.name for field in dataclasses.fields(AuditEvent)
):  # pragma: no cover - a schema change that forgot AuditEvent
    raise ImportError("audit_event's columns and AuditEvent's fields differ")


def find_event(conn: sa.Connection, seq: int) -> AuditEvent | None:
    """The event stored at `seq`, if there is one."""
    row = conn.execute(sa.select(*_COLUMNS).where(audit_event.c.seq == seq)).first()
    return None if row is None else AuditEvent(*row)


def last_seq(conn: sa.Connection) -> int:
    """The highest `seq` stored, 0 for an empty log."""
    value = conn.execute(sa.select(sa.func.max(audit_event.c.seq))).scalar()
    return int(value or 0)


def _fields(event: AuditEvent) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "at": event.at,
        "actor": event.actor,
        "role": event.role,
        "action": event.action,
        "customer_id": event.customer_id,
        "property_id": event.property_id,
        "apartment_id": event.apartment_id,
        "tenancy_id": event.tenancy_id,
        "purpose": event.purpose,
        "outcome": event.outcome,
        "prev_hash": event.prev_hash,
    }


def _encode(fields: Mapping[str, Any]) -> bytes:
    """The canonical encoding of every field but `hash`.

    Byte for byte what ``json.dumps(fields, sort_keys=True, separators=(",", ":"))``
    gives (with `at` as `format_time`), written out because verification encodes
    every event of the log: the keys are fixed, so their order is too.
    """
    return (
        f'{{"action":{_text(fields["action"])},"actor":{_text(fields["actor"])},'
        f'"apartment_id":{_number(fields["apartment_id"])},"at":"{format_time(fields["at"])}",'
        f'"customer_id":{_number(fields["customer_id"])},"outcome":{_text(fields["outcome"])},'
        f'"prev_hash":{_text(fields["prev_hash"])},'
        f'"property_id":{_number(fields["property_id"])},'
        f'"purpose":{"null" if fields["purpose"] is None else _text(fields["purpose"])},'
        f'"role":{_text(fields["role"])},"seq":{_number(fields["seq"])},'
        f'"tenancy_id":{_number(fields["tenancy_id"])}}}'
    ).encode("ascii")


def _number(value: int | None) -> str:
    return "null" if value is None else str(int(value))


def _check_length(name: str, value: str, limit: int) -> None:
    if len(value) > limit:
        raise UnableToRecordEvent(f"an audit event's {name} is longer than {limit} characters")
