"""All tables of openamr, in one metadata."""

from openamr.db import metadata
from openamr.store.schema.audit import audit_event
from openamr.store.schema.grants import access_grant, access_grant_medium, disclosure
from openamr.store.schema.identities import (
    access_code,
    auth_session,
    household,
    passkey,
    sign_in_attempt,
    staff_account,
    webauthn_challenge,
)
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
from openamr.store.schema.prices import price
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
    "access_code",
    "access_grant",
    "access_grant_medium",
    "apartment",
    "audit_event",
    "auth_session",
    "customer",
    "disclosure",
    "entrance",
    "gateway",
    "gateway_traffic",
    "heard_device",
    "hourly_value",
    "household",
    "metadata",
    "meter",
    "meter_installation",
    "meter_key",
    "metering_point",
    "passkey",
    "price",
    "property_",
    "radio_link",
    "reading",
    "reading_revision",
    "rejected_input",
    "sign_in_attempt",
    "staff_account",
    "telegram",
    "tenancy",
    "webauthn_challenge",
]
