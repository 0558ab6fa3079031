"""All tables of openamr, in one metadata."""

from openamr.db import metadata
from openamr.store.schema.portfolio import (
    apartment,
    customer,
    entrance,
    gateway,
    meter,
    meter_installation,
    metering_point,
    property_,
    tenancy,
)
from openamr.store.schema.readings import reading, reading_revision, rejected_input
from openamr.store.schema.values import hourly_value

__all__ = [
    "apartment",
    "customer",
    "entrance",
    "gateway",
    "hourly_value",
    "metadata",
    "meter",
    "meter_installation",
    "metering_point",
    "property_",
    "reading",
    "reading_revision",
    "rejected_input",
    "tenancy",
]
