"""Telegrams from gateways, the devices they came from, radio links, gateway traffic, meter keys.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 08:46:13.033008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from openamr.db import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "heard_device",
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("manufacturer", sa.String(length=3), nullable=False),
        sa.Column("device_id", sa.String(length=8), nullable=False),
        sa.Column("meter_id", sa.Integer(), nullable=True),
        sa.Column("device_type", sa.SmallInteger(), nullable=True),
        sa.Column("medium", sa.String(length=32), nullable=True),
        sa.Column("version", sa.SmallInteger(), nullable=True),
        sa.Column("first_seen_at", UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", UTCDateTime(), nullable=False),
        sa.Column("rssi", sa.SmallInteger(), nullable=True),
        sa.Column("status", sa.SmallInteger(), nullable=True),
        sa.Column("flags", sa.String(length=200), nullable=True),
        sa.Column("clock_drift_s", sa.Integer(), nullable=True),
        sa.Column("telegrams", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_heard_device_customer_id_customer")
        ),
        sa.PrimaryKeyConstraint(
            "customer_id", "manufacturer", "device_id", name=op.f("pk_heard_device")
        ),
    )
    op.create_table(
        "meter_key",
        sa.Column("meter_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("master_key_id", sa.String(length=64), nullable=False),
        sa.Column("wrapped_data_key", sa.LargeBinary(), nullable=False),
        sa.Column("sealed_key", sa.LargeBinary(), nullable=False),
        sa.Column("set_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_meter_key_customer_id_customer")
        ),
        sa.ForeignKeyConstraint(
            ["meter_id"], ["meter.id"], name=op.f("fk_meter_key_meter_id_meter")
        ),
        sa.PrimaryKeyConstraint("meter_id", name=op.f("pk_meter_key")),
    )
    with op.batch_alter_table("meter_key", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_meter_key_customer_id"), ["customer_id"], unique=False)

    op.create_table(
        "gateway_traffic",
        sa.Column("gateway_id", sa.Integer(), nullable=False),
        sa.Column("hour_at", UTCDateTime(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("telegrams", sa.Integer(), nullable=False),
        sa.Column("duplicates", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_gateway_traffic_customer_id_customer")
        ),
        sa.ForeignKeyConstraint(
            ["gateway_id"], ["gateway.id"], name=op.f("fk_gateway_traffic_gateway_id_gateway")
        ),
        sa.PrimaryKeyConstraint("gateway_id", "hour_at", name=op.f("pk_gateway_traffic")),
    )
    with op.batch_alter_table("gateway_traffic", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_gateway_traffic_customer_id"), ["customer_id"], unique=False
        )

    op.create_table(
        "radio_link",
        sa.Column("gateway_id", sa.Integer(), nullable=False),
        sa.Column("manufacturer", sa.String(length=3), nullable=False),
        sa.Column("device_id", sa.String(length=8), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("last_heard_at", UTCDateTime(), nullable=False),
        sa.Column("rssi", sa.SmallInteger(), nullable=True),
        sa.Column("telegrams", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_radio_link_customer_id_customer")
        ),
        sa.ForeignKeyConstraint(
            ["gateway_id"], ["gateway.id"], name=op.f("fk_radio_link_gateway_id_gateway")
        ),
        sa.PrimaryKeyConstraint(
            "gateway_id", "manufacturer", "device_id", name=op.f("pk_radio_link")
        ),
    )
    with op.batch_alter_table("radio_link", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_radio_link_customer_id"), ["customer_id"], unique=False
        )

    op.create_table(
        "telegram",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("gateway_id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("frame", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("rssi", sa.SmallInteger(), nullable=True),
        sa.Column("manufacturer", sa.String(length=3), nullable=True),
        sa.Column("device_id", sa.String(length=8), nullable=True),
        sa.Column("meter_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("cause", sa.String(length=32), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("decoder_version", sa.Integer(), nullable=True),
        sa.Column("meter_time", sa.DateTime(), nullable=True),
        sa.Column("clock_drift_s", sa.Integer(), nullable=True),
        sa.Column("processed_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_telegram_customer_id_customer")
        ),
        sa.ForeignKeyConstraint(
            ["gateway_id"], ["gateway.id"], name=op.f("fk_telegram_gateway_id_gateway")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_telegram")),
        sa.UniqueConstraint("customer_id", "digest", name=op.f("uq_telegram_customer_id_digest")),
    )
    with op.batch_alter_table("telegram", schema=None) as batch_op:
        batch_op.create_index(
            "ix_telegram_customer_id_device",
            ["customer_id", "manufacturer", "device_id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_telegram_customer_id_state", ["customer_id", "state"], unique=False
        )

    with op.batch_alter_table("gateway", schema=None) as batch_op:
        batch_op.add_column(sa.Column("token_hash", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_gateway_token_hash"), ["token_hash"])


def downgrade() -> None:
    with op.batch_alter_table("gateway", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_gateway_token_hash"), type_="unique")
        batch_op.drop_column("token_hash")

    with op.batch_alter_table("telegram", schema=None) as batch_op:
        batch_op.drop_index("ix_telegram_customer_id_state")
        batch_op.drop_index("ix_telegram_customer_id_device")

    op.drop_table("telegram")
    with op.batch_alter_table("radio_link", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_radio_link_customer_id"))

    op.drop_table("radio_link")
    with op.batch_alter_table("gateway_traffic", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gateway_traffic_customer_id"))

    op.drop_table("gateway_traffic")
    with op.batch_alter_table("meter_key", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_meter_key_customer_id"))

    op.drop_table("meter_key")
    op.drop_table("heard_device")
