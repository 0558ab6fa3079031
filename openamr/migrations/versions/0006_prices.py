"""Prices: a customer's price per unit of a medium, from a local day on.

Written by hand for this table only (see STYLE.md: autogenerating over the
whole metadata would pick up other work's tables).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from openamr.db import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "price",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("medium", sa.String(length=32), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("micro_per_unit", sa.BigInteger(), nullable=False),
        sa.Column("unit", sa.String(length=8), nullable=False),
        sa.Column("currency", sa.String(length=3), server_default="SEK", nullable=False),
        sa.Column("set_by", sa.String(length=100), nullable=False),
        sa.Column("set_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("micro_per_unit >= 0", name=op.f("ck_price_not_negative")),
        sa.CheckConstraint("currency = 'SEK'", name=op.f("ck_price_currency_is_sek")),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_price_customer_id_customer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_price")),
        sa.UniqueConstraint(
            "customer_id",
            "medium",
            "valid_from",
            name=op.f("uq_price_customer_id_medium_valid_from"),
        ),
    )
    with op.batch_alter_table("price", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_price_customer_id"), ["customer_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("price", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_price_customer_id"))
    op.drop_table("price")
