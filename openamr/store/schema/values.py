"""Interval values derived from readings: one row per metering point and clock hour."""

from __future__ import annotations

import sqlalchemy as sa

from openamr.db import UTCDateTime, metadata

# Missing hours have no row: the read side fills them, so a point that has been
# silent for a month costs nothing to store.
hourly_value = sa.Table(
    "hourly_value",
    metadata,
    sa.Column("metering_point_id", sa.ForeignKey("metering_point.id"), primary_key=True),
    sa.Column("start_at", UTCDateTime, primary_key=True),
    # Not indexed: a customer's values are found through its metering points.
    sa.Column("customer_id", sa.ForeignKey("customer.id"), nullable=False),
    sa.Column("value", sa.BigInteger, nullable=True),  # storage units; None when rejected
    # measured, estimated or rejected (validate.Status). No CHECK constraint: on
    # SQLite it doubled the cost of every insert, and only ingest writes here.
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("reason", sa.String(64), nullable=True),
    sqlite_with_rowid=False,
)
