"""Manufacturer families: what a meter family says beyond the EN 13757-3 records.

One module per family, one line per family in :data:`FAMILIES`. A family can
do two things, and implements the ones it needs:

- ``decode_payload``: take over a payload the standard layer cannot read
  (manufacturer-specific CI fields such as A0-A2, or a manufacturer data
  block after DIF 0F/1F), returning records and flags;
- ``interpret``: read the manufacturer-specific records the standard layer
  kept raw (Kamstrup's info codes, say) and turn them into records and flags.

The protocol layers call :func:`family_for` once per telegram.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from openamr.collect.mbus.model import Device, Record


class Family(Protocol):
    name: str  # stable: stored with every telegram the family took part in

    def claims(self, device: Device, ci: int) -> bool:
        """Whether this family speaks for a telegram from ``device`` with CI field ``ci``."""
        ...

    def decode_payload(
        self, device: Device, ci: int, payload: bytes, *, key: bytes | None, header: bytes
    ) -> tuple[tuple[Record, ...], tuple[str, ...]] | None:
        """Records and flags of a payload the standard layer cannot read, or None to decline.

        ``payload`` is what follows the CI field; ``header`` the link-layer
        bytes before it (L, C, M, A), which some families' schemes use.
        Raise ``UnableToDecodeTelegram`` subclasses for payloads it claims but
        cannot use.
        """
        ...

    def interpret(
        self, device: Device, records: Sequence[Record]
    ) -> tuple[tuple[Record, ...], tuple[str, ...]]:
        """The records with manufacturer-specific ones made readable, and any flags."""
        ...


FAMILIES: list[Family] = []


def family_for(device: Device, ci: int) -> Family | None:
    """The first registered family that claims this telegram, if any."""
    return next((family for family in FAMILIES if family.claims(device, ci)), None)
