"""Meter keys at rest: sealed rows in `meter_key`, written and read here, opened only in guard.

This module never sees a key in clear. It stores and returns `SealedKey`s,
which `openamr.guard.keyring` makes and opens with a master key from
configuration; the database alone cannot reveal a meter key.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from openamr.access import AccessContext
from openamr.store.schema import meter, meter_key

# Meter ids per IN list: well below SQLite's and PostgreSQL's parameter limits.
CHUNK = 1_000


@dataclass(frozen=True, slots=True)
class SealedKey:
    """A meter key by envelope encryption: the key under a data key, the data key under a master.

    `master_key_id` names the configured master key that wrapped the data key.
    The two ciphertexts are bound to their meter and customer, so they open
    only on the row they were sealed for.
    """

    master_key_id: str
    wrapped_data_key: bytes = field(repr=False)
    sealed_key: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class StoredKey:
    """One `meter_key` row, as the re-wrap needs it."""

    meter_id: int
    customer_id: int
    sealed: SealedKey


def find_meter_customer(conn: sa.Connection, *, meter_id: int, access: AccessContext) -> int | None:
    """The customer of a meter the caller may see, or None for a meter it may not (or no meter)."""
    query = sa.select(meter.c.customer_id).where(meter.c.id == meter_id)
    if access.customer_ids is not None:
        query = query.where(meter.c.customer_id.in_(sorted(access.customer_ids)))
    customer_id: int | None = conn.execute(query).scalar()
    return customer_id


def put_meter_key(
    conn: sa.Connection, *, meter_id: int, customer_id: int, sealed: SealedKey, now: datetime
) -> None:
    """Store a meter's sealed key, replacing the one it had; `set_at` becomes `now`."""
    values = {
        "meter_id": meter_id,
        "customer_id": customer_id,
        "master_key_id": sealed.master_key_id,
        "wrapped_data_key": sealed.wrapped_data_key,
        "sealed_key": sealed.sealed_key,
        "set_at": now,
    }
    # Both dialects have INSERT … ON CONFLICT DO UPDATE, under the same API but
    # in different modules: one statement, safe against a concurrent writer.
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = insert(meter_key).values(**values)
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=[meter_key.c.meter_id],
            set_={name: statement.excluded[name] for name in values if name != "meter_id"},
        )
    )


def delete_meter_key(conn: sa.Connection, *, meter_id: int, access: AccessContext) -> bool:
    """Forget a meter's key; True if it had one the caller may see."""
    statement = meter_key.delete().where(meter_key.c.meter_id == meter_id)
    if access.customer_ids is not None:
        statement = statement.where(meter_key.c.customer_id.in_(sorted(access.customer_ids)))
    return conn.execute(statement).rowcount > 0


def list_sealed_keys(
    conn: sa.Connection, meter_ids: Collection[int], *, access: AccessContext
) -> dict[int, SealedKey]:
    """The sealed keys of those of `meter_ids` that have one and that the caller may see."""
    wanted = sorted(set(meter_ids))
    found: dict[int, SealedKey] = {}
    for start in range(0, len(wanted), CHUNK):
        query = sa.select(
            meter_key.c.meter_id,
            meter_key.c.master_key_id,
            meter_key.c.wrapped_data_key,
            meter_key.c.sealed_key,
        ).where(meter_key.c.meter_id.in_(wanted[start : start + CHUNK]))
        if access.customer_ids is not None:
            query = query.where(meter_key.c.customer_id.in_(sorted(access.customer_ids)))
        for row in conn.execute(query):
            found[row.meter_id] = SealedKey(
                row.master_key_id, bytes(row.wrapped_data_key), bytes(row.sealed_key)
            )
    return found


def list_all_sealed_keys(conn: sa.Connection) -> list[StoredKey]:
    """Every stored key of every customer, for re-wrapping under a new master key."""
    query = sa.select(
        meter_key.c.meter_id,
        meter_key.c.customer_id,
        meter_key.c.master_key_id,
        meter_key.c.wrapped_data_key,
        meter_key.c.sealed_key,
    ).order_by(meter_key.c.meter_id)
    return [
        StoredKey(
            row.meter_id,
            row.customer_id,
            SealedKey(row.master_key_id, bytes(row.wrapped_data_key), bytes(row.sealed_key)),
        )
        for row in conn.execute(query)
    ]


def replace_wrapping(conn: sa.Connection, *, meter_id: int, old: SealedKey, new: SealedKey) -> bool:
    """Store a re-wrapped data key, unless the meter's key changed since `old` was read.

    `set_at` stays: the meter key itself is the same. True if the row was updated.
    """
    statement = (
        meter_key.update()
        .where(
            meter_key.c.meter_id == meter_id,
            meter_key.c.master_key_id == old.master_key_id,
            meter_key.c.wrapped_data_key == old.wrapped_data_key,
            meter_key.c.sealed_key == old.sealed_key,
        )
        .values(
            master_key_id=new.master_key_id,
            wrapped_data_key=new.wrapped_data_key,
            sealed_key=new.sealed_key,
        )
    )
    return conn.execute(statement).rowcount > 0
