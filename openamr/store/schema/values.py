"""Interval values derived from readings: one row per metering point and clock hour."""

from __future__ import annotations

import sqlalchemy as sa

from openamr.db import UTCDateTime, metadata

# Missing hours have no row: the read side fills them, so a point that has been
# silent for a month costs nothing to store. Like `reading`, no foreign keys and
# no index beyond the primary key (see there why).
hourly_value = sa.Table(
    "hourly_value",
    metadata,
    sa.Column("metering_point_id", sa.Integer, primary_key=True),
    sa.Column("start_at", UTCDateTime, primary_key=True),
    sa.Column("customer_id", sa.Integer, nullable=False),
    sa.Column("value", sa.BigInteger, nullable=True),  # storage units; None when rejected
    # measured, estimated or rejected (validate.Status). No CHECK constraint: on
    # SQLite it doubled the cost of every insert, and only ingest writes here.
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("reason", sa.String(64), nullable=True),
    sqlite_with_rowid=False,
)
