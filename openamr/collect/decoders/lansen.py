"""Lansen (LAS): what the manufacturer-specific bits of its TPL status byte mean.

Lansen's radio sensors (LAN-WMBUS-TH and the pulse counters) send standard
records; bits 5-7 of the transport layer's status byte are left to the
manufacturer by EN 13757-7, and Lansen sets bit 6 when the enclosure has been
opened, as the public wmbusmeters notes for ``lansenth`` and ``lansenpu``
state.

Not yet understood: bits 5 and 7 (never seen set); they stay raw bits.
"""

from __future__ import annotations

from collections.abc import Mapping

from openamr.collect.decoders._common import ManufacturerFamily
from openamr.collect.mbus.model import Device

_STATUS_BITS = {0x40: "sabotage_enclosure"}


class Lansen(ManufacturerFamily):
    """Lansen sensors: names for the manufacturer bits of the status byte."""

    name = "lansen"
    manufacturers = frozenset({"LAS"})

    def status_bits(self, device: Device) -> Mapping[int, str]:
        """Bit 6 of the status byte: the enclosure was opened."""
        return _STATUS_BITS
