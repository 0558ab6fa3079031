"""Manufacturer families: what a meter family says beyond the EN 13757-3 records.

One module per family, one line per family in :data:`FAMILIES`. A family can
do four things, and implements the ones it needs (the last two are optional
protocols of their own, :class:`NamesStatusBits` and :class:`KnowsCompactLayouts`,
so a family that has neither still is a :class:`Family`):

- ``decode_payload``: take over a payload the standard layer cannot read
  (manufacturer-specific CI fields such as A0-A2, or an application layer
  that is proprietary behind a standard CI), returning records and flags;
- ``interpret``: read the manufacturer-specific records the standard layer
  kept raw (Kamstrup's info codes, say) and turn them into records and flags;
- ``status_bits``: name the manufacturer-specific bits 5-7 of the TPL status
  byte (Lansen's bit 6: the enclosure was opened);
- ``compact_layouts``: give the record layouts (DIF..VIFE bytes) of compact
  frames whose full frame a meter never or seldom sends.

The families derive from :class:`openamr.collect.decoders._common.ManufacturerFamily`,
which supplies the defaults (decline, no change, no names, no layouts).

The protocol layers call :func:`family_for` once per telegram (it keeps the
registry's answer per device and CI field);
:func:`status_bit_names` (:func:`family_status_bits` once the family is
known) and :func:`known_compact_layouts` answer for the family of a telegram
and for all families.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

from openamr.collect.decoders.abb import Abb
from openamr.collect.decoders.apator import Apator
from openamr.collect.decoders.diehl import DiehlPrios
from openamr.collect.decoders.engelmann import Engelmann
from openamr.collect.decoders.kamstrup import Kamstrup
from openamr.collect.decoders.lansen import Lansen
from openamr.collect.decoders.qundis import Qundis
from openamr.collect.decoders.schneider import Schneider
from openamr.collect.decoders.techem import Techem
from openamr.collect.mbus.model import Device, Record


class Family(Protocol):
    name: str  # stable: stored with every telegram the family took part in

    def claims(self, device: Device, ci: int) -> bool:
        """Whether this family speaks for a telegram from ``device`` with CI field ``ci``.

        Decided by ``device`` and ``ci`` alone: :func:`family_for` keeps the answer.
        """
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


@runtime_checkable
class NamesStatusBits(Protocol):
    """A family that knows what the manufacturer-specific TPL status bits mean (optional)."""

    def status_bits(self, device: Device) -> Mapping[int, str]:
        """Flag names for bits 5-7 (20h, 40h, 80h) of the TPL status byte; empty if unknown."""
        ...


@runtime_checkable
class KnowsCompactLayouts(Protocol):
    """A family that knows compact-frame layouts no full frame announces (optional)."""

    def compact_layouts(self) -> tuple[tuple[str, bytes], ...]:
        """(manufacturer, DIF..VIFE bytes) of compact frames; may be empty."""
        ...


FAMILIES: list[Family] = [
    Kamstrup(),
    Techem(),
    DiehlPrios(),
    Apator(),
    Qundis(),
    Engelmann(),
    Abb(),
    Schneider(),
    Lansen(),
]


def family_for(device: Device, ci: int) -> Family | None:
    """The first registered family that claims this telegram, if any."""
    return _CLAIMED.family_for(device, ci)


_ClaimKey = tuple[str, str, int, int, str, int]  # a device's fields, and the CI field


class _ClaimedBy:
    """Which registered family claims a telegram, kept by its device and CI field.

    ``claims`` is asked about nothing but the device and the CI field, and a
    meter sends the same ones every time, so the registry is asked once per
    meter and CI instead of family by family per telegram. What is kept is
    the claiming family's place in the registry, and only for the registry as
    it was asked: when :data:`FAMILIES` is replaced or changed (as tests do),
    or more than ``limit`` answers are kept, they are forgotten.
    """

    _NONE = -1  # no family claims it

    def __init__(self, limit: int) -> None:
        self._limit = limit
        # The registry asked and its answers, replaced together.
        self._kept: tuple[tuple[Family, ...], dict[_ClaimKey, int]] = ((), {})

    def family_for(self, device: Device, ci: int) -> Family | None:
        registry = tuple(FAMILIES)
        asked, places = self._kept
        if registry != asked:  # the same families compare equal at once
            places = {}
            self._kept = (registry, places)
        # Every field of the device: hashing the Device itself runs Python code.
        key = (
            device.manufacturer,
            device.id,
            device.version,
            device.device_type,
            device.medium,
            ci,
        )
        place = places.get(key)
        if place is None:
            place = next(
                (index for index, family in enumerate(registry) if family.claims(device, ci)),
                self._NONE,
            )
            if len(places) >= self._limit:
                places.clear()
            places[key] = place
        return None if place == self._NONE else registry[place]


_CLAIMED = _ClaimedBy(limit=65536)


def status_bit_names(device: Device, ci: int) -> Mapping[int, str]:
    """Names the telegram's family gives the manufacturer-specific status bits (maybe none).

    A bit without a name stays the protocol layer's ``manufacturer_status_xx``.
    """
    return family_status_bits(family_for(device, ci), device)


def family_status_bits(family: Family | None, device: Device) -> Mapping[int, str]:
    """:func:`status_bit_names` for a telegram whose family is already known."""
    # getattr, not isinstance: a runtime-checkable protocol's check inspects the
    # class on every call, which cost more than decoding the telegram's records.
    names = getattr(family, "status_bits", None)
    if names is None:
        return {}
    found: Mapping[int, str] = names(device)
    return found


def known_compact_layouts() -> tuple[tuple[str, bytes], ...]:
    """Every family's compact-frame layouts, as (manufacturer, DIF..VIFE bytes).

    For the compact-frame layer's table of layouts that need no full frame.
    """
    families: list[object] = list(FAMILIES)  # Families that may also know layouts
    return tuple(
        layout
        for family in families
        if isinstance(family, KnowsCompactLayouts)
        for layout in family.compact_layouts()
    )
