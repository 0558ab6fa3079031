"""Techem (TCH): the proprietary payloads of the FHKV data III allocator and the MK Radio 3 meter.

Both send, after a manufacturer-specific CI field (A0h-A3h), a fixed layout of
little-endian fields rather than EN 13757-3 records. The layout below is the
one the public wmbusmeters driver notes for ``fhkvdataiii`` and ``mkradio3``
describe (facts only; the code is ours):

==========  ==========================================================
offset      field
==========  ==========================================================
0           layout tag (FHKV: 01h or 11h; 0Fh has one more byte after
            the current value)
1-2         due date of the previous period: day bits 0-4, month bits
            5-8, year (from 2000) bits 9-15
3-4         value at that due date: HCA units, or MK Radio 3 volume in
            0.1 m3
5-6         date of the current value: day bits 4-8, month bits 9-12;
            its year is the due date's, or the next one when the day
            and month do not come after the due date's
7-8         HCA units since the due date, or volume since the due date
            in 0.1 m3 (the MK Radio 3 total is the two volumes added)
9-12        FHKV only: room and radiator temperature, 0.01 °C each
==========  ==========================================================

Records: storage 0 the current value (and a ``date`` record of the current
date), storage 1 the value at the due date with that date as its ``at``.

Not yet understood: the bytes after these fields (they change month by month
and look like a consumption history of 4-bit values); the MK Radio 3 byte 0.
The FHKV data IV (version 94h, CI 7Ah) and MK Radio 4 send standard records
and need nothing from this family: the FHKV data IV's fourteen monthly
consumption values are an EN 13757-3 compact profile, which the records layer
reads (:mod:`openamr.collect.mbus.profile`).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from openamr.collect.decoders._common import (
    Decoded,
    ManufacturerFamily,
    calendar_date,
    little,
    require,
)
from openamr.collect.mbus.model import Device, Record, UnsupportedTelegram

_PROPRIETARY_CIS = frozenset({0xA0, 0xA1, 0xA2, 0xA3})
_FHKV_VERSIONS = frozenset({0x69, 0x94})
_FHKV_DEVICE_TYPE = 0x80  # Techem's own device type for the FHKV data III
_MK_RADIO_3_VERSION = 0x74
_MK_RADIO_3_DEVICE_TYPES = frozenset({0x62, 0x72})  # warm and cold water
_FHKV_TAGS_PLAIN = frozenset({0x01, 0x11})
_FHKV_TAG_WITH_EXTRA_BYTE = 0x0F
_TENTH = Decimal("0.1")
_HUNDREDTH = Decimal("0.01")


class Techem(ManufacturerFamily):
    """Techem's proprietary radio payloads; its standard OMS telegrams pass through unchanged."""

    name = "techem"
    manufacturers = frozenset({"TCH"})

    def decode_payload(
        self, device: Device, ci: int, payload: bytes, *, key: bytes | None, header: bytes
    ) -> Decoded | None:
        """The FHKV data III or MK Radio 3 records; None for any other Techem payload."""
        if ci not in _PROPRIETARY_CIS:
            return None
        if device.version in _FHKV_VERSIONS and device.device_type == _FHKV_DEVICE_TYPE:
            return _fhkv_data_iii(payload), ()
        if device.version == _MK_RADIO_3_VERSION and device.device_type in _MK_RADIO_3_DEVICE_TYPES:
            return _mk_radio_3(payload), ()
        return None


def _fhkv_data_iii(payload: bytes) -> tuple[Record, ...]:
    require(payload, 1, "Techem FHKV data III")
    tag = payload[0]
    if tag in _FHKV_TAGS_PLAIN:
        temperatures_at = 9
    elif tag == _FHKV_TAG_WITH_EXTRA_BYTE:
        temperatures_at = 10
    else:
        raise UnsupportedTelegram(
            f"Techem FHKV data III payload with layout tag 0x{tag:02X}: only 01h, 11h and 0Fh "
            "are known"
        )
    require(payload, temperatures_at + 4, "Techem FHKV data III")
    due_date, current_date = _dates(payload)
    room = Decimal(
        int.from_bytes(payload[temperatures_at : temperatures_at + 2], "little", signed=True)
    )
    radiator = Decimal(
        int.from_bytes(payload[temperatures_at + 2 : temperatures_at + 4], "little", signed=True)
    )
    return (
        Record(
            "hca_units", little(payload[7:9]), "units", description="HCA units since the due date"
        ),
        Record("date", current_date, None, description="date of the current value"),
        Record(
            "hca_units",
            little(payload[3:5]),
            "units",
            storage=1,
            at=due_date,
            description="HCA units of the previous period, at its due date",
        ),
        Record("date", due_date, None, storage=1, description="due date of the previous period"),
        Record(
            "external_temperature",
            room * _HUNDREDTH,
            "°C",
            description="room temperature",
        ),
        Record(
            "flow_temperature",
            radiator * _HUNDREDTH,
            "°C",
            description="radiator surface temperature",
        ),
    )


def _mk_radio_3(payload: bytes) -> tuple[Record, ...]:
    require(payload, 9, "Techem MK Radio 3")
    due_date, current_date = _dates(payload)
    at_due_date = little(payload[3:5]) * _TENTH
    since_due_date = little(payload[7:9]) * _TENTH
    return (
        Record(
            "volume",
            at_due_date + since_due_date,
            "m3",
            description="total volume: the due date's reading plus the volume since",
        ),
        Record("date", current_date, None, description="date of the current value"),
        Record(
            "volume",
            at_due_date,
            "m3",
            storage=1,
            at=due_date,
            description="volume at the due date of the previous period",
        ),
        Record("date", due_date, None, storage=1, description="due date of the previous period"),
    )


def _dates(payload: bytes) -> tuple[date | None, date | None]:
    """The previous due date and the current value's date (None where a field names no day)."""
    due = little(payload[1:3])
    due_day, due_month, due_year = due & 0x1F, (due >> 5) & 0x0F, 2000 + (due >> 9)
    current = little(payload[5:7])
    day, month = (current >> 4) & 0x1F, (current >> 9) & 0x0F
    # The current date carries no year: it is the due date's year until the
    # calendar passes the due date's day and month, then the next year.
    not_after_due = (month, day) <= (due_month, due_day)
    year = due_year + 1 if not_after_due else due_year
    return calendar_date(due_year, due_month, due_day), calendar_date(year, month, day)
