"""The household's view of the audit log: who touched its tenancy's data, when, and under what.

A read of `audit_event` by tenancy: the events that name the household's
tenancy, by anyone but the household itself. The event's actor column is
not returned: a household learns the role of whoever looked (support,
operations, ...), never which staff member.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from openamr.store.schema import audit_event


@dataclass(frozen=True, slots=True)
class AccessEntry:
    at: datetime
    role: str
    action: str
    purpose: str | None  # grant:12, disclosure:3, ...
    outcome: str


def list_tenancy_accesses(
    conn: sa.Connection, *, customer_id: int, tenancy_id: int, except_actor: str, limit: int
) -> list[AccessEntry]:
    """Events on the tenancy by others than `except_actor`, newest first, at most `limit`."""
    query = (
        sa.select(
            audit_event.c.at,
            audit_event.c.role,
            audit_event.c.action,
            audit_event.c.purpose,
            audit_event.c.outcome,
        )
        .where(
            audit_event.c.tenancy_id == tenancy_id,
            audit_event.c.customer_id == customer_id,
            audit_event.c.actor != except_actor,
        )
        .order_by(audit_event.c.seq.desc())
        .limit(limit)
    )
    return [AccessEntry(*row) for row in conn.execute(query)]
