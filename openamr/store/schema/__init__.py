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
from openamr.store.schema.telegrams import (
    gateway_traffic,
    heard_device,
    meter_key,
    radio_link,
    telegram,
)
from openamr.store.schema.values import hourly_value

__all__ = [
    "apartment",
    "customer",
    "entrance",
    "gateway",
    "gateway_traffic",
    "heard_device",
    "hourly_value",
    "metadata",
    "meter",
    "meter_installation",
    "meter_key",
    "metering_point",
    "property_",
    "radio_link",
    "reading",
    "reading_revision",
    "rejected_input",
    "telegram",
    "tenancy",
]
