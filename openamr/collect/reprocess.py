"""Re-processing: rejected readings and telegram items tried again once their cause may be fixed."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from openamr.access import AccessContext
from openamr.collect.readings import IngestReport, ReadingIngest, ReadingInput
from openamr.collect.telegram_input import parse_item
from openamr.collect.telegrams import TelegramIngest
from openamr.store.schema import rejected_input
from openamr.store.telegrams import find_gateway


def reprocess_rejected(
    engine: Engine, *, access: AccessContext, now: datetime, batch_size: int
) -> IngestReport:
    """Run every unresolved rejected reading through ingest again.

    A reading that is now accepted (or found already stored) is marked resolved;
    one still rejected keeps its row, with the reason brought up to date.
    """
    ingest = ReadingIngest(engine, access=access, source="reprocess", now=now, keep_rejected=False)
    last_id = 0
    while True:
        query = (
            sa.select(rejected_input.c.id, rejected_input.c.payload)
            .where(
                rejected_input.c.kind == "reading",
                rejected_input.c.resolved_at.is_(None),
                rejected_input.c.id > last_id,
            )
            .order_by(rejected_input.c.id)
            .limit(batch_size)
        )
        if access.customer_ids is not None:
            query = query.where(
                sa.or_(
                    rejected_input.c.customer_id.is_(None),
                    rejected_input.c.customer_id.in_(sorted(access.customer_ids)),
                )
            )
        with engine.connect() as conn:
            rows = conn.execute(query).all()
        if not rows:
            return ingest.report
        last_id = rows[-1].id
        batch = []
        for row in rows:
            payload = json.loads(row.payload)
            batch.append(
                ReadingInput(
                    row.id,
                    str(payload.get("meter", "")),
                    str(payload.get("timestamp", "")),
                    str(payload.get("value", "")),
                    str(payload.get("unit", "")),
                )
            )
        still = {item.line: item.reason for item in ingest.add_batch(batch)}
        with engine.begin() as conn:
            resolved = [row.id for row in rows if row.id not in still]
            if resolved:
                conn.execute(
                    rejected_input.update()
                    .where(rejected_input.c.id.in_(resolved))
                    .values(resolved_at=now)
                )
            if still:
                conn.execute(
                    rejected_input.update()
                    .where(rejected_input.c.id == sa.bindparam("b_id"))
                    .values(reason=sa.bindparam("b_reason")),
                    [{"b_id": key, "b_reason": reason[:500]} for key, reason in still.items()],
                )


@dataclass(frozen=True, slots=True)
class Unresolved:
    """A rejected input, without its payload: where it came from and why it waits."""

    id: int
    kind: str
    source: str
    line: int | None
    reason: str
    received_at: datetime


def list_unresolved(conn: sa.Connection, *, access: AccessContext, limit: int) -> list[Unresolved]:
    """The oldest rejected inputs that no re-processing has resolved yet."""
    query = (
        sa.select(
            rejected_input.c.id,
            rejected_input.c.kind,
            rejected_input.c.source,
            rejected_input.c.line,
            rejected_input.c.reason,
            rejected_input.c.received_at,
        )
        .where(rejected_input.c.resolved_at.is_(None))
        .order_by(rejected_input.c.id)
        .limit(limit)
    )
    if access.customer_ids is not None:
        query = query.where(rejected_input.c.customer_id.in_(sorted(access.customer_ids)))
    return [Unresolved(*row) for row in conn.execute(query)]


def reprocess_rejected_telegrams(
    engine: Engine, ingest: TelegramIngest, *, access: AccessContext, now: datetime
) -> int:
    """Store the rejected telegram items that can now be used; returns how many were.

    An item rejected because its gateway was not registered (an MQTT topic
    naming an unknown gateway) becomes usable once the gateway is added. Items
    that still cannot be used keep their row, with the reason brought up to date.
    """
    query = (
        sa.select(
            rejected_input.c.id,
            rejected_input.c.source,
            rejected_input.c.payload,
        )
        .where(rejected_input.c.kind == "telegram", rejected_input.c.resolved_at.is_(None))
        .order_by(rejected_input.c.id)
    )
    if access.customer_ids is not None:
        query = query.where(
            sa.or_(
                rejected_input.c.customer_id.is_(None),
                rejected_input.c.customer_id.in_(sorted(access.customer_ids)),
            )
        )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    used = 0
    for row in rows:
        _kind, _, identity = row.source.partition(":")
        with engine.connect() as conn:
            gateway = find_gateway(conn, identity, access=access)
        reason: str
        if gateway is None:
            reason = f"no gateway {identity[:64]!r} in the register"
        else:
            parsed = parse_item(json.loads(row.payload), now=now, gateway=identity)
            if isinstance(parsed, str):
                reason = parsed
            else:
                ingest.receive(gateway, [parsed])
                used += 1
                reason = ""
        with engine.begin() as conn:
            update = rejected_input.update().where(rejected_input.c.id == row.id)
            conn.execute(
                update.values(resolved_at=now) if not reason else update.values(reason=reason)
            )
    return used
