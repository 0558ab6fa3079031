"""Register readings as received, their revisions, and the inputs that could not be used."""

from __future__ import annotations

import sqlalchemy as sa

from openamr.db import UTCDateTime, metadata

# One row per meter and instant: the same reading twice is stored once.
#
# The two big tables, this and hourly_value, have no foreign keys and no index
# beyond their primary key: on PostgreSQL the foreign-key triggers tripled the
# cost of a COPY. Ingest only writes rows for meters and points it has just
# resolved, and deletion (the forget stage) removes these rows first.
reading = sa.Table(
    "reading",
    metadata,
    sa.Column("meter_id", sa.Integer, primary_key=True),
    sa.Column("read_at", UTCDateTime, primary_key=True),
    sa.Column("customer_id", sa.Integer, nullable=False),
    sa.Column("value", sa.BigInteger, nullable=False),  # register value in storage units
    sa.Column("received_at", UTCDateTime, nullable=False),
    sqlite_with_rowid=False,
)


# A later reading with another value for the same meter and instant replaces the
# earlier one; this keeps what it replaced, so the change can be explained.
reading_revision = sa.Table(
    "reading_revision",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("customer_id", sa.ForeignKey("customer.id"), nullable=False, index=True),
    sa.Column("meter_id", sa.ForeignKey("meter.id"), nullable=False),
    sa.Column("read_at", UTCDateTime, nullable=False),
    sa.Column("previous_value", sa.BigInteger, nullable=False),
    sa.Column("value", sa.BigInteger, nullable=False),
    sa.Column("revised_at", UTCDateTime, nullable=False),
    sa.Column("source", sa.String(200), nullable=False),
)

# Dead letters: every input row that could not be used, with the reason, kept
# until a re-run of `openamr reprocess` can use it (after the cause is fixed).
rejected_input = sa.Table(
    "rejected_input",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("customer_id", sa.ForeignKey("customer.id"), nullable=True, index=True),
    sa.Column("kind", sa.String(32), nullable=False),  # what it was: "reading", ...
    sa.Column("source", sa.String(200), nullable=False),  # "api", "file:readings.csv", ...
    sa.Column("line", sa.Integer, nullable=True),
    sa.Column("payload", sa.Text, nullable=False),  # the row as received, as JSON
    sa.Column("reason", sa.String(500), nullable=False),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("resolved_at", UTCDateTime, nullable=True, index=True),
)
