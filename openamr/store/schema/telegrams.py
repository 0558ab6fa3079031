"""Telegrams as gateways forward them, what became of each, and what the radio side knows.

Every telegram that reaches openamr is stored before anything else happens to
it (the MQTT collector acknowledges a message only after that), so a crash,
an unknown meter or a missing key loses nothing: a telegram that could not be
used keeps its state and reason and is tried again when the cause is fixed.
A gateway belongs to one customer, and so does everything heard through it.
"""

from __future__ import annotations

import sqlalchemy as sa

from openamr.db import UTCDateTime, metadata

# One row per distinct telegram per customer: a wireless meter repeats the same
# bytes, and several gateways hear them; the digest (SHA-256 of the frame) makes
# the second copy a duplicate that only updates the radio statistics.
telegram = sa.Table(
    "telegram",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("customer_id", sa.ForeignKey("customer.id"), nullable=False),
    sa.Column("gateway_id", sa.ForeignKey("gateway.id"), nullable=False),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("frame", sa.LargeBinary, nullable=False),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("rssi", sa.SmallInteger, nullable=True),  # dBm, as the gateway measured it
    # From the header, once it could be parsed; the key to the meter register.
    sa.Column("manufacturer", sa.String(3), nullable=True),
    sa.Column("device_id", sa.String(8), nullable=True),
    sa.Column("meter_id", sa.Integer, nullable=True),
    # received (stored, not yet decoded), decoded, unassigned (no such meter in
    # the register), failed (could not be decoded: see cause and reason).
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("cause", sa.String(32), nullable=True),  # UnableToDecodeTelegram.cause
    sa.Column("reason", sa.String(500), nullable=True),
    sa.Column("decoder_version", sa.Integer, nullable=True),
    sa.Column("meter_time", sa.DateTime, nullable=True),  # the meter's own clock, naive
    sa.Column("clock_drift_s", sa.Integer, nullable=True),  # meter clock minus reception
    sa.Column("processed_at", UTCDateTime, nullable=True),
    sa.UniqueConstraint("customer_id", "digest"),
    sa.Index("ix_telegram_customer_id_state", "customer_id", "state"),
    sa.Index("ix_telegram_customer_id_device", "customer_id", "manufacturer", "device_id"),
)

# Every device heard, whether or not the register knows it: the operators' list
# of unassigned meters, and each meter's latest signal, status and flags.
heard_device = sa.Table(
    "heard_device",
    metadata,
    sa.Column("customer_id", sa.ForeignKey("customer.id"), primary_key=True),
    sa.Column("manufacturer", sa.String(3), primary_key=True),
    sa.Column("device_id", sa.String(8), primary_key=True),
    sa.Column("meter_id", sa.Integer, nullable=True),  # None: unassigned
    sa.Column("device_type", sa.SmallInteger, nullable=True),
    sa.Column("medium", sa.String(32), nullable=True),
    sa.Column("version", sa.SmallInteger, nullable=True),
    sa.Column("first_seen_at", UTCDateTime, nullable=False),
    sa.Column("last_seen_at", UTCDateTime, nullable=False),
    sa.Column("rssi", sa.SmallInteger, nullable=True),  # of the latest telegram
    sa.Column("status", sa.SmallInteger, nullable=True),  # TPL status byte of the latest
    sa.Column("flags", sa.String(200), nullable=True),  # comma-separated, of the latest
    sa.Column("clock_drift_s", sa.Integer, nullable=True),
    sa.Column("telegrams", sa.Integer, nullable=False),
)

# Which gateway hears which device, and how well: a meter heard by two gateways
# has two rows. The console's "meters heard" per gateway comes from here.
radio_link = sa.Table(
    "radio_link",
    metadata,
    sa.Column("gateway_id", sa.ForeignKey("gateway.id"), primary_key=True),
    sa.Column("manufacturer", sa.String(3), primary_key=True),
    sa.Column("device_id", sa.String(8), primary_key=True),
    sa.Column("customer_id", sa.ForeignKey("customer.id"), nullable=False, index=True),
    sa.Column("last_heard_at", UTCDateTime, nullable=False),
    sa.Column("rssi", sa.SmallInteger, nullable=True),
    sa.Column("telegrams", sa.Integer, nullable=False),
)

# Telegrams per gateway and UTC hour, duplicates included: the gateway's pulse.
gateway_traffic = sa.Table(
    "gateway_traffic",
    metadata,
    sa.Column("gateway_id", sa.ForeignKey("gateway.id"), primary_key=True),
    sa.Column("hour_at", UTCDateTime, primary_key=True),
    sa.Column("customer_id", sa.ForeignKey("customer.id"), nullable=False, index=True),
    sa.Column("telegrams", sa.Integer, nullable=False),
    sa.Column("duplicates", sa.Integer, nullable=False),
)

# A meter's AES-128 key, sealed by envelope encryption: the key is encrypted
# with a data key of its own, and the data key with a master key that comes
# from configuration (never from the database), named by `master_key_id` so
# that master keys can be rotated. Neither layer is readable without it.
meter_key = sa.Table(
    "meter_key",
    metadata,
    sa.Column("meter_id", sa.ForeignKey("meter.id"), primary_key=True),
    sa.Column("customer_id", sa.ForeignKey("customer.id"), nullable=False, index=True),
    sa.Column("master_key_id", sa.String(64), nullable=False),
    sa.Column("wrapped_data_key", sa.LargeBinary, nullable=False),
    sa.Column("sealed_key", sa.LargeBinary, nullable=False),
    sa.Column("set_at", UTCDateTime, nullable=False),
)
