"""Audit: the append-only, hash-chained audit log, with triggers that refuse to rewrite it.

PostgreSQL: `audit_event_last_locked()` takes the appenders' lock and reads
the last event in one round trip (see `openamr.store.audit`), and a trigger
refuses UPDATE, DELETE and TRUNCATE on `audit_event`
(a second lock behind the grants: docs/operations.md shows how to run the
application under a role with only INSERT and SELECT on it), and PUBLIC is
refused the same. SQLite: triggers refuse UPDATE and DELETE, so the
application cannot rewrite history by mistake; whoever holds the file can
still, which the chain and the signed checkpoints detect. A later migration
that rebuilds the table on SQLite (batch "move and copy") must create its
triggers again.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from openamr.db import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# The appenders' lock: a transaction-level advisory lock (no table privilege
# needed) on a fixed key, the first 8 bytes of SHA-256("openamr.audit_event.append")
# as a signed integer, so that it cannot collide by accident with another lock.
# The function is VOLATILE, so its query takes a fresh snapshot after the lock
# is granted and sees the event the previous holder committed.
_POSTGRESQL_LAST_LOCKED = """
CREATE FUNCTION audit_event_last_locked(OUT seq bigint, OUT hash varchar)
RETURNS SETOF record
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(7140583671837442639);
    RETURN QUERY SELECT e.seq, e.hash FROM audit_event AS e ORDER BY e.seq DESC LIMIT 1;
END
$$
"""
_POSTGRESQL_FUNCTION = """
CREATE FUNCTION audit_event_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_event is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$
"""
_POSTGRESQL_TRIGGERS = (
    "CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event "
    "FOR EACH ROW EXECUTE FUNCTION audit_event_refuse_change()",
    "CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_event_refuse_change()",
    "REVOKE UPDATE, DELETE, TRUNCATE ON audit_event FROM PUBLIC",
)
_SQLITE_TRIGGERS = tuple(
    f"CREATE TRIGGER audit_event_no_{operation.lower()} BEFORE {operation} ON audit_event "
    f"BEGIN SELECT RAISE(ABORT, 'audit_event is append-only: {operation} refused'); END"
    for operation in ("UPDATE", "DELETE")
)


def upgrade() -> None:
    op.create_table(
        "audit_event",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("property_id", sa.Integer(), nullable=True),
        sa.Column("apartment_id", sa.Integer(), nullable=True),
        sa.Column("tenancy_id", sa.Integer(), nullable=True),
        sa.Column("purpose", sa.String(length=200), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_event")),
    )
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_event_tenancy_id"), ["tenancy_id"], unique=False)

    if op.get_bind().dialect.name == "postgresql":
        op.execute(_POSTGRESQL_LAST_LOCKED)
        op.execute(_POSTGRESQL_FUNCTION)
        for statement in _POSTGRESQL_TRIGGERS:
            op.execute(statement)
    else:
        for statement in _SQLITE_TRIGGERS:
            op.execute(statement)


def downgrade() -> None:
    # Dropping the table drops its triggers on both databases.
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_event_tenancy_id"))

    op.drop_table("audit_event")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION audit_event_refuse_change()")
        op.execute("DROP FUNCTION audit_event_last_locked()")
