"""The audit log (P9): who did what to which customer's, property's, apartment's data, and why.

This is the interface the rest of openamr writes through. Events go to
`audit_event`, an append-only table in which each event is chained to the one
before it by SHA-256 (`openamr.store.audit`); `openamr audit checkpoint`
signs Merkle tree heads over it into files outside the database
(`openamr.guard.checkpoints`) and `openamr audit verify` checks the table
against them (`openamr.guard.audit_verify`). An event never holds a
consumption value or a secret, and names staff and households only by their
actor ids (``staff:12``, ``household:7``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from openamr.access import AccessContext
from openamr.store import audit as audit_store
from openamr.store.audit import UnableToRecordEvent

__all__ = ["NO_TARGET", "Target", "UnableToRecordEvent", "record", "record_access"]


@dataclass(frozen=True, slots=True)
class Target:
    """What an event touched, as far as it is known; None where it does not apply."""

    customer_id: int | None = None
    property_id: int | None = None
    apartment_id: int | None = None
    tenancy_id: int | None = None


NO_TARGET = Target()


def record(
    conn: sa.Connection,
    *,
    actor: str,
    role: str,
    action: str,
    now: datetime,
    target: Target = NO_TARGET,
    purpose: str | None = None,
    outcome: str = "ok",
) -> None:
    """Append one event in the caller's transaction, so it commits or rolls back with the act.

    `action` is a dotted name such as ``session.sign_in`` or ``values.read``;
    `purpose` the grant, consent or legal basis it happened under (``grant:12``);
    `outcome` ``ok``, ``denied`` or ``failed``.

    On PostgreSQL the append holds a lock until the caller's transaction ends,
    so that the chain has one order: record late in a transaction, not before
    slow work. Raises UnableToRecordEvent for a naive `now` or an over-long value.
    """
    audit_store.append_event(
        conn,
        at=now,
        actor=actor,
        role=role,
        action=action,
        customer_id=target.customer_id,
        property_id=target.property_id,
        apartment_id=target.apartment_id,
        tenancy_id=target.tenancy_id,
        purpose=purpose,
        outcome=outcome,
    )


def record_access(
    conn: sa.Connection,
    access: AccessContext,
    *,
    action: str,
    now: datetime,
    target: Target = NO_TARGET,
    outcome: str = "ok",
) -> None:
    """Append an event by the caller of `access`, under the grant it acts under if any."""
    purpose = f"grant:{access.grant_id}" if access.grant_id is not None else None
    record(
        conn,
        actor=access.actor,
        role=access.role.value,
        action=action,
        now=now,
        target=target,
        purpose=purpose,
        outcome=outcome,
    )
