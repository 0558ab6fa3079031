"""The audit log (P9): who did what to which customer's, property's, apartment's data, and why.

This is the interface the rest of openamr writes through; the audit work
makes it an append-only, hash-chained table with signed checkpoints. An event
never holds a consumption value or a secret, and names staff and households
only by their actor ids (``staff:12``, ``household:7``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from openamr.access import AccessContext


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
    """
    # Filled in by the audit work: the chained, append-only table.


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
