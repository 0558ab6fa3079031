"""The installation register, readings and hourly values.

Revision ID: 0001
Revises:
Create Date: 2026-11-29 04:46:24.454392
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from openamr.db import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "customer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer")),
        sa.UniqueConstraint("name", name=op.f("uq_customer_name")),
    )
    op.create_table(
        "meter",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("identity", sa.String(length=64), nullable=False),
        sa.Column("manufacturer", sa.String(length=3), nullable=True),
        sa.Column("medium", sa.String(length=32), nullable=False),
        sa.Column("register_unit", sa.String(length=16), nullable=False),
        sa.Column("register_digits", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_meter_customer_id_customer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meter")),
        sa.UniqueConstraint("customer_id", "identity", name=op.f("uq_meter_customer_id_identity")),
    )
    op.create_index(op.f("ix_meter_customer_id"), "meter", ["customer_id"], unique=False)
    op.create_table(
        "property",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("designation", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_property_customer_id_customer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_property")),
        sa.UniqueConstraint(
            "customer_id", "designation", name=op.f("uq_property_customer_id_designation")
        ),
    )
    op.create_index(op.f("ix_property_customer_id"), "property", ["customer_id"], unique=False)
    op.create_table(
        "rejected_input",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("line", sa.Integer(), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("resolved_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_rejected_input_customer_id_customer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rejected_input")),
    )
    op.create_index(
        op.f("ix_rejected_input_customer_id"), "rejected_input", ["customer_id"], unique=False
    )
    op.create_index(
        op.f("ix_rejected_input_resolved_at"), "rejected_input", ["resolved_at"], unique=False
    )
    op.create_table(
        "entrance",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("property_id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_entrance_customer_id_customer")
        ),
        sa.ForeignKeyConstraint(
            ["property_id"], ["property.id"], name=op.f("fk_entrance_property_id_property")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entrance")),
        sa.UniqueConstraint("property_id", "address", name=op.f("uq_entrance_property_id_address")),
    )
    op.create_index(op.f("ix_entrance_customer_id"), "entrance", ["customer_id"], unique=False)
    op.create_table(
        "gateway",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("identity", sa.String(length=64), nullable=False),
        sa.Column("property_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_gateway_customer_id_customer")
        ),
        sa.ForeignKeyConstraint(
            ["property_id"], ["property.id"], name=op.f("fk_gateway_property_id_property")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gateway")),
        sa.UniqueConstraint("identity", name=op.f("uq_gateway_identity")),
    )
    op.create_index(op.f("ix_gateway_customer_id"), "gateway", ["customer_id"], unique=False)
    op.create_table(
        "reading",
        sa.Column("meter_id", sa.Integer(), nullable=False),
        sa.Column("read_at", UTCDateTime(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("meter_id", "read_at", name=op.f("pk_reading")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "reading_revision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("meter_id", sa.Integer(), nullable=False),
        sa.Column("read_at", UTCDateTime(), nullable=False),
        sa.Column("previous_value", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column("revised_at", UTCDateTime(), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_reading_revision_customer_id_customer")
        ),
        sa.ForeignKeyConstraint(
            ["meter_id"], ["meter.id"], name=op.f("fk_reading_revision_meter_id_meter")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reading_revision")),
    )
    op.create_index(
        op.f("ix_reading_revision_customer_id"), "reading_revision", ["customer_id"], unique=False
    )
    op.create_table(
        "apartment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("entrance_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=4), nullable=False),
        sa.CheckConstraint("length(number) = 4", name=op.f("ck_apartment_number_has_four_digits")),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_apartment_customer_id_customer")
        ),
        sa.ForeignKeyConstraint(
            ["entrance_id"], ["entrance.id"], name=op.f("fk_apartment_entrance_id_entrance")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_apartment")),
        sa.UniqueConstraint("entrance_id", "number", name=op.f("uq_apartment_entrance_id_number")),
    )
    op.create_index(op.f("ix_apartment_customer_id"), "apartment", ["customer_id"], unique=False)
    op.create_table(
        "metering_point",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("property_id", sa.Integer(), nullable=False),
        sa.Column("apartment_id", sa.Integer(), nullable=True),
        sa.Column("medium", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["apartment_id"],
            ["apartment.id"],
            name=op.f("fk_metering_point_apartment_id_apartment"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_metering_point_customer_id_customer")
        ),
        sa.ForeignKeyConstraint(
            ["property_id"], ["property.id"], name=op.f("fk_metering_point_property_id_property")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_metering_point")),
    )
    op.create_index(
        op.f("ix_metering_point_apartment_id"), "metering_point", ["apartment_id"], unique=False
    )
    op.create_index(
        op.f("ix_metering_point_customer_id"), "metering_point", ["customer_id"], unique=False
    )
    op.create_index(
        op.f("ix_metering_point_property_id"), "metering_point", ["property_id"], unique=False
    )
    op.create_table(
        "tenancy",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("apartment_id", sa.Integer(), nullable=False),
        sa.Column("start_at", UTCDateTime(), nullable=False),
        sa.Column("end_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["apartment_id"], ["apartment.id"], name=op.f("fk_tenancy_apartment_id_apartment")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_tenancy_customer_id_customer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tenancy")),
    )
    op.create_index(op.f("ix_tenancy_apartment_id"), "tenancy", ["apartment_id"], unique=False)
    op.create_index(op.f("ix_tenancy_customer_id"), "tenancy", ["customer_id"], unique=False)
    op.create_table(
        "hourly_value",
        sa.Column("metering_point_id", sa.Integer(), nullable=False),
        sa.Column("start_at", UTCDateTime(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("metering_point_id", "start_at", name=op.f("pk_hourly_value")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "meter_installation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("meter_id", sa.Integer(), nullable=False),
        sa.Column("metering_point_id", sa.Integer(), nullable=False),
        sa.Column("installed_at", UTCDateTime(), nullable=False),
        sa.Column("removed_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
            name=op.f("fk_meter_installation_customer_id_customer"),
        ),
        sa.ForeignKeyConstraint(
            ["meter_id"], ["meter.id"], name=op.f("fk_meter_installation_meter_id_meter")
        ),
        sa.ForeignKeyConstraint(
            ["metering_point_id"],
            ["metering_point.id"],
            name=op.f("fk_meter_installation_metering_point_id_metering_point"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meter_installation")),
    )
    op.create_index(
        op.f("ix_meter_installation_customer_id"),
        "meter_installation",
        ["customer_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_meter_installation_meter_id"), "meter_installation", ["meter_id"], unique=False
    )
    op.create_index(
        op.f("ix_meter_installation_metering_point_id"),
        "meter_installation",
        ["metering_point_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_meter_installation_metering_point_id"), table_name="meter_installation")
    op.drop_index(op.f("ix_meter_installation_meter_id"), table_name="meter_installation")
    op.drop_index(op.f("ix_meter_installation_customer_id"), table_name="meter_installation")
    op.drop_table("meter_installation")
    op.drop_table("hourly_value")
    op.drop_index(op.f("ix_tenancy_customer_id"), table_name="tenancy")
    op.drop_index(op.f("ix_tenancy_apartment_id"), table_name="tenancy")
    op.drop_table("tenancy")
    op.drop_index(op.f("ix_metering_point_property_id"), table_name="metering_point")
    op.drop_index(op.f("ix_metering_point_customer_id"), table_name="metering_point")
    op.drop_index(op.f("ix_metering_point_apartment_id"), table_name="metering_point")
    op.drop_table("metering_point")
    op.drop_index(op.f("ix_apartment_customer_id"), table_name="apartment")
    op.drop_table("apartment")
    op.drop_index(op.f("ix_reading_revision_customer_id"), table_name="reading_revision")
    op.drop_table("reading_revision")
    op.drop_table("reading")
    op.drop_index(op.f("ix_gateway_customer_id"), table_name="gateway")
    op.drop_table("gateway")
    op.drop_index(op.f("ix_entrance_customer_id"), table_name="entrance")
    op.drop_table("entrance")
    op.drop_index(op.f("ix_rejected_input_resolved_at"), table_name="rejected_input")
    op.drop_index(op.f("ix_rejected_input_customer_id"), table_name="rejected_input")
    op.drop_table("rejected_input")
    op.drop_index(op.f("ix_property_customer_id"), table_name="property")
    op.drop_table("property")
    op.drop_index(op.f("ix_meter_customer_id"), table_name="meter")
    op.drop_table("meter")
    op.drop_table("customer")
