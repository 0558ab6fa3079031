"""The audit log's one table: append-only events, each chained to the one before it (P9).

`seq` numbers the chain from 1 without gaps; `prev_hash` is the previous
event's `hash` (64 zeros for the first) and `hash` is SHA-256 over both (see
`openamr.store.audit`). The target columns have no foreign keys on purpose:
the log outlives what it names, and an event must never stop a deletion.
An event holds no consumption value and no secret; actors are ids such as
``staff:12`` or ``cli:alice``, never a person's name.

On PostgreSQL, migration 0005 adds a trigger that refuses UPDATE, DELETE and
TRUNCATE, and on SQLite triggers that refuse UPDATE and DELETE, so that the
application cannot rewrite history even by mistake; the hash chain and the
signed checkpoints are what detect someone who can get past them.
"""

from __future__ import annotations

import sqlalchemy as sa

from openamr.db import UTCDateTime, metadata

# Column widths, checked by `openamr.store.audit` before writing, so that a
# value too long fails the same way on SQLite (which does not enforce them).
ACTOR_LENGTH = 100
ROLE_LENGTH = 32
ACTION_LENGTH = 64
PURPOSE_LENGTH = 200
OUTCOME_LENGTH = 16
HASH_LENGTH = 64  # SHA-256 in lower-case hexadecimal

audit_event = sa.Table(
    "audit_event",
    metadata,
    # Assigned by the writer under a lock, never by the database: the chain's order.
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("actor", sa.String(ACTOR_LENGTH), nullable=False),  # staff:12, household:7, cli:alice
    sa.Column("role", sa.String(ROLE_LENGTH), nullable=False),  # an openamr.access.Role value
    sa.Column("action", sa.String(ACTION_LENGTH), nullable=False),  # session.sign_in, values.read
    sa.Column("customer_id", sa.Integer, nullable=True),
    sa.Column("property_id", sa.Integer, nullable=True),
    sa.Column("apartment_id", sa.Integer, nullable=True),
    # The household's page lists the accesses to its tenancy's data by this column.
    sa.Column("tenancy_id", sa.Integer, nullable=True, index=True),
    sa.Column("purpose", sa.String(PURPOSE_LENGTH), nullable=True),  # grant:12, a legal basis
    sa.Column("outcome", sa.String(OUTCOME_LENGTH), nullable=False),  # ok, denied, failed
    sa.Column("prev_hash", sa.String(HASH_LENGTH), nullable=False),
    sa.Column("hash", sa.String(HASH_LENGTH), nullable=False),
)
