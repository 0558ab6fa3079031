"""Grants: access grants to a household's presentation, their media, and disclosures.

Written by hand for these three tables only (see STYLE.md: autogenerating
over the whole metadata would pick up other work's tables).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from openamr.db import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "access_grant",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("apartment_id", sa.Integer(), nullable=False),
        sa.Column("tenancy_id", sa.Integer(), nullable=False),
        sa.Column("requested_by", sa.Integer(), nullable=False),
        sa.Column("requester_role", sa.String(length=32), nullable=False),
        sa.Column("ticket", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("duration_s", sa.Integer(), nullable=False),
        sa.Column("requested_at", UTCDateTime(), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=True),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.Column("second_approver", sa.Integer(), nullable=True),
        sa.Column("second_approved_at", UTCDateTime(), nullable=True),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.Column("closed_as", sa.String(length=16), nullable=True),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.CheckConstraint(
            "duration_s > 0 AND duration_s <= 28800",
            name=op.f("ck_access_grant_at_most_eight_hours"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_access_grant_customer_id_customer")
        ),
        sa.ForeignKeyConstraint(
            ["apartment_id"], ["apartment.id"], name=op.f("fk_access_grant_apartment_id_apartment")
        ),
        sa.ForeignKeyConstraint(
            ["tenancy_id"], ["tenancy.id"], name=op.f("fk_access_grant_tenancy_id_tenancy")
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"],
            ["staff_account.id"],
            name=op.f("fk_access_grant_requested_by_staff_account"),
        ),
        sa.ForeignKeyConstraint(
            ["second_approver"],
            ["staff_account.id"],
            name=op.f("fk_access_grant_second_approver_staff_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_grant")),
    )
    with op.batch_alter_table("access_grant", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_access_grant_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_access_grant_tenancy_id"), ["tenancy_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_access_grant_requested_by"), ["requested_by"], unique=False
        )

    op.create_table(
        "access_grant_medium",
        sa.Column("grant_id", sa.Integer(), nullable=False),
        sa.Column("medium", sa.String(length=32), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["grant_id"],
            ["access_grant.id"],
            name=op.f("fk_access_grant_medium_grant_id_access_grant"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
            name=op.f("fk_access_grant_medium_customer_id_customer"),
        ),
        sa.PrimaryKeyConstraint("grant_id", "medium", name=op.f("pk_access_grant_medium")),
    )
    with op.batch_alter_table("access_grant_medium", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_access_grant_medium_customer_id"), ["customer_id"], unique=False
        )

    op.create_table(
        "disclosure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("apartment_id", sa.Integer(), nullable=True),
        sa.Column("tenancy_id", sa.Integer(), nullable=True),
        sa.Column("period_start_at", UTCDateTime(), nullable=False),
        sa.Column("period_end_at", UTCDateTime(), nullable=False),
        sa.Column("media", sa.String(length=200), nullable=False),
        sa.Column("legal_basis", sa.String(length=300), nullable=False),
        sa.Column("authority", sa.String(length=200), nullable=False),
        sa.Column("recorded_by", sa.Integer(), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "period_end_at > period_start_at", name=op.f("ck_disclosure_period_not_empty")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_disclosure_customer_id_customer")
        ),
        sa.ForeignKeyConstraint(
            ["apartment_id"], ["apartment.id"], name=op.f("fk_disclosure_apartment_id_apartment")
        ),
        sa.ForeignKeyConstraint(
            ["tenancy_id"], ["tenancy.id"], name=op.f("fk_disclosure_tenancy_id_tenancy")
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by"],
            ["staff_account.id"],
            name=op.f("fk_disclosure_recorded_by_staff_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disclosure")),
    )
    with op.batch_alter_table("disclosure", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_disclosure_customer_id"), ["customer_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("disclosure", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_disclosure_customer_id"))
    op.drop_table("disclosure")
    with op.batch_alter_table("access_grant_medium", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_access_grant_medium_customer_id"))
    op.drop_table("access_grant_medium")
    with op.batch_alter_table("access_grant", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_access_grant_requested_by"))
        batch_op.drop_index(batch_op.f("ix_access_grant_tenancy_id"))
        batch_op.drop_index(batch_op.f("ix_access_grant_customer_id"))
    op.drop_table("access_grant")
