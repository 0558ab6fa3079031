"""The installation register: customers, their buildings, apartments, tenancies, points and meters.

No table has a column for a household's name or contact details (P1): an
apartment is its property, entrance and lägenhetsnummer; a tenancy is a
period. Every table carries `customer_id` so that one customer's data can be
found, and deleted, with one predicate.
"""

from __future__ import annotations

import sqlalchemy as sa

from openamr.db import UTCDateTime, metadata

customer = sa.Table(
    "customer",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),  # a company, not a person
    sa.Column("created_at", UTCDateTime, nullable=False),
    # Whether the customer lets its operations staff see hourly values (audited) (P5).
    sa.Column("operations_hourly", sa.Boolean, nullable=False, server_default=sa.false()),
)

property_ = sa.Table(
    "property",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("customer_id", sa.ForeignKey("customer.id"), nullable=False, index=True),
    sa.Column("designation", sa.String(200), nullable=False),  # fastighetsbeteckning
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("time_zone", sa.String(64), nullable=False),
    sa.UniqueConstraint("customer_id", "designation"),
)

entrance = sa.Table(
    "entrance",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("customer_id", sa.ForeignKey("customer.id"), nullable=False, index=True),
    sa.Column("property_id", sa.ForeignKey("property.id"), nullable=False),
    sa.Column("address", sa.String(200), nullable=False),  # belägenhetsadress
    sa.UniqueConstraint("property_id", "address"),
)

apartment = sa.Table(
    "apartment",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("customer_id", sa.ForeignKey("customer.id"), nullable=False, index=True),
    sa.Column("entrance_id", sa.ForeignKey("entrance.id"), nullable=False),
    # The Swedish lägenhetsnummer: floor (10 = entrance floor) and door; unique per entrance.
    sa.Column("number", sa.String(4), nullable=False),
    sa.UniqueConstraint("entrance_id", "number"),
    sa.CheckConstraint("length(number) = 4", name="number_has_four_digits"),
)

tenancy = sa.Table(
    "tenancy",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("customer_id", sa.ForeignKey("customer.id"), nullable=False, index=True),
    sa.Column("apartment_id", sa.ForeignKey("apartment.id"), nullable=False, index=True),
    sa.Column("start_at", UTCDateTime, nullable=False),
    sa.Column("end_at", UTCDateTime, nullable=True),  # half-open; None while it lasts
)

metering_point = sa.Table(
    "metering_point",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("customer_id", sa.ForeignKey("customer.id"), nullable=False, index=True),
    sa.Column("property_id", sa.ForeignKey("property.id"), nullable=False, index=True),
    # None for a property-level point, such as the building's main heat meter.
    sa.Column("apartment_id", sa.ForeignKey("apartment.id"), nullable=True, index=True),
    sa.Column("medium", sa.String(32), nullable=False),
)

meter = sa.Table(
    "meter",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("customer_id", sa.ForeignKey("customer.id"), nullable=False, index=True),
    sa.Column("identity", sa.String(64), nullable=False),  # serial or M-Bus identity
    sa.Column("manufacturer", sa.String(3), nullable=True),  # M-Bus code such as KAM
    sa.Column("medium", sa.String(32), nullable=False),
    sa.Column("register_unit", sa.String(16), nullable=False),
    sa.Column("register_digits", sa.Integer, nullable=True),
    sa.UniqueConstraint("customer_id", "identity"),
)

meter_installation = sa.Table(
    "meter_installation",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("customer_id", sa.ForeignKey("customer.id"), nullable=False, index=True),
    sa.Column("meter_id", sa.ForeignKey("meter.id"), nullable=False, index=True),
    sa.Column("metering_point_id", sa.ForeignKey("metering_point.id"), nullable=False, index=True),
    sa.Column("installed_at", UTCDateTime, nullable=False),
    sa.Column("removed_at", UTCDateTime, nullable=True),  # half-open; None while installed
)

gateway = sa.Table(
    "gateway",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("customer_id", sa.ForeignKey("customer.id"), nullable=False, index=True),
    sa.Column("identity", sa.String(64), nullable=False, unique=True),
    sa.Column("property_id", sa.ForeignKey("property.id"), nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("last_seen_at", UTCDateTime, nullable=True),
    # SHA-256 of the gateway's bearer token; None until one is issued.
    sa.Column("token_hash", sa.String(64), nullable=True, unique=True),
)
