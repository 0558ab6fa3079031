"""What the manufacturer families share: the protocol's defaults, header and bit helpers.

Nothing here knows a manufacturer. Every helper is total over its input: odd
bytes give ``None`` or an empty result, never an exception, so that a family
raises only the :class:`UnableToDecodeTelegram` reasons it chooses.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date

from openamr.collect.mbus.model import (
    Device,
    Function,
    Record,
    RecordValue,
    UnsupportedTelegram,
)
from openamr.collect.mbus.records import restated

Decoded = tuple[tuple[Record, ...], tuple[str, ...]]

# The standard layer's quantity for a record with VIF 7Fh/FFh; its value is the raw data.
MANUFACTURER_SPECIFIC = "manufacturer_specific"
_EXTENSION = 0x80
_MANUFACTURER_VIF = 0x7F


class ManufacturerFamily:
    """The defaults of the Family protocol: claim the listed manufacturers, decline, change nothing.

    A family overrides what it knows: ``decode_payload`` for payloads the
    standard layer cannot read, ``interpret`` for records it kept raw,
    ``status_bits`` and ``compact_layouts`` where the manufacturer defines them.
    """

    name: str = ""
    manufacturers: frozenset[str] = frozenset()

    def claims(self, device: Device, ci: int) -> bool:
        """Whether this family speaks for a telegram from ``device`` with CI field ``ci``."""
        return device.manufacturer in self.manufacturers

    def decode_payload(
        self, device: Device, ci: int, payload: bytes, *, key: bytes | None, header: bytes
    ) -> Decoded | None:
        """Decline: the standard layer reads this payload."""
        return None

    def interpret(self, device: Device, records: Sequence[Record]) -> Decoded:
        """The records unchanged, and no flags."""
        return tuple(records), ()

    def status_bits(self, device: Device) -> Mapping[int, str]:
        """No names for the manufacturer-specific bits of the TPL status byte."""
        return {}

    def compact_layouts(self) -> tuple[tuple[str, bytes], ...]:
        """No compact-frame layouts known without a full frame."""
        return ()


Readout = tuple[Sequence[Record], Sequence[str]]  # what one record becomes, and its flags


class RecordByRecord(ManufacturerFamily):
    """A family that reads each record on its own: ``read`` says what one record becomes.

    The records a record becomes replace it in order; its flags count only
    for a current value (storage 0, instantaneous), since a stored value's
    flags describe the past.
    """

    def interpret(self, device: Device, records: Sequence[Record]) -> Decoded:
        """Each record read by :meth:`read`, and the flags of the current ones, once each."""
        readable: list[Record] = []
        flags: list[str] = []
        for record in records:
            more_records, more_flags = self.read(record)
            readable.extend(more_records)
            if more_flags and is_current(record):
                flags.extend(more_flags)
        return tuple(readable), unique(flags)

    def read(self, record: Record) -> Readout:
        """The record unchanged, and no flags."""
        return (record,), ()


def value_information(raw: bytes) -> tuple[int, bytes] | None:
    """The VIF and the VIFEs of a record header (DIF..VIFE), or None if it has no VIF."""
    position = 0
    while position < len(raw) and raw[position] & _EXTENSION:
        position += 1  # the DIF and every DIFE but the last carry the extension bit
    position += 1
    if position >= len(raw):
        return None
    return raw[position], bytes(raw[position + 1 :])


def manufacturer_register(record: Record) -> int | None:
    """The register code of a record with VIF FFh: its first VIFE without the extension bit.

    Kamstrup, ABB and Schneider name their own registers this way (FF 20 is
    Kamstrup's info code). None for any other record, and for a bare 7Fh VIF.
    """
    if record.quantity != MANUFACTURER_SPECIFIC:
        return None
    information = value_information(record.raw)
    if information is None:
        return None
    vif, vifes = information
    if vif != _MANUFACTURER_VIF | _EXTENSION or not vifes:
        return None
    return vifes[0] & 0x7F


def manufacturer_vifes(raw: bytes) -> bytes:
    """The VIFEs after a standard record's manufacturer-specific VIFE (7Fh/FFh), bit 7 cleared.

    EN 13757-3 lets a standard record carry manufacturer-specific VIFEs after
    VIFE FFh: Schneider and ABB use them to name the phase of a voltage or a
    current. Empty when the record has none.
    """
    information = value_information(raw)
    if information is None:
        return b""
    vif, vifes = information
    if vif & 0x7F == _MANUFACTURER_VIF:
        return b""
    for index, vife in enumerate(vifes):
        if vife & 0x7F == _MANUFACTURER_VIF:
            return bytes(byte & 0x7F for byte in vifes[index + 1 :])
    return b""


def little(data: bytes) -> int:
    """An unsigned little-endian integer."""
    return int.from_bytes(data, "little")


def set_bits(value: int, names: Mapping[int, str]) -> tuple[str, ...]:
    """The names of the bits set in ``value``, in the mapping's order."""
    return tuple(name for bit, name in names.items() if value & bit)


def unique(flags: Iterable[str]) -> tuple[str, ...]:
    """The flags in first-seen order, each once."""
    return tuple(dict.fromkeys(flags))


def is_current(record: Record) -> bool:
    """Whether a record is the meter's present state (storage 0, instantaneous value)."""
    return record.storage == 0 and record.function is Function.INSTANTANEOUS


def derived(
    source: Record, quantity: str, value: RecordValue, unit: str | None, description: str
) -> Record:
    """A record that says what ``source`` (a manufacturer-specific one) means, in its place."""
    return restated(source, quantity, value, unit, description)


def require(payload: bytes, length: int, what: str) -> None:
    """UnsupportedTelegram unless ``payload`` has at least ``length`` bytes."""
    if len(payload) < length:
        raise UnsupportedTelegram(
            f"{what}: {len(payload)} bytes of payload, at least {length} needed"
        )


def calendar_date(year: int, month: int, day: int) -> date | None:
    """The date, or None if the fields name no calendar day (a meter's "not set" date)."""
    try:
        return date(year, month, day)
    except ValueError:
        return None
