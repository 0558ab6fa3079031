"""The transport layer (TPL, EN 13757-7): what a CI field announces, and its header.

A CI field from a meter announces application data with no header (78, 79),
a short header (7A, 7B: access number, status, configuration field) or a
long header (72, 73: the meter's identification, manufacturer, version and
device type first, because the link layer may name a radio converter). The
data is either full EN 13757-3 records (72, 78, 7A) or a compact frame that
needs the layout of an earlier full frame (73, 79, 7B). The configuration
field says which security mode protects the data and how many 16-byte blocks
are encrypted; in mode 7 an extension byte follows it. The status byte
carries the standard error bits; its top three bits are manufacturer
specific.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import NamedTuple, NoReturn

from openamr.collect.mbus._reader import Reader
from openamr.collect.mbus.identity import device_from_long_header
from openamr.collect.mbus.model import Device


class HeaderKind(StrEnum):
    NONE = "none"
    SHORT = "short"
    LONG = "long"


class Content(StrEnum):
    RECORDS = "records"  # EN 13757-3 data records
    COMPACT = "compact"  # format signature and values only
    FORMAT = "format"  # a format frame: the layout without values
    ERROR = "error"  # an application error report
    ALARM = "alarm"  # an alarm report
    NOTHING = "nothing"  # the header alone


# CI fields a meter sends that introduce the transport layer (EN 13757-7 table 2).
APPLICATION_CIS: dict[int, tuple[HeaderKind, Content]] = {
    0x69: (HeaderKind.NONE, Content.FORMAT),
    0x6A: (HeaderKind.SHORT, Content.FORMAT),
    0x6B: (HeaderKind.LONG, Content.FORMAT),
    0x6E: (HeaderKind.SHORT, Content.ERROR),
    0x6F: (HeaderKind.LONG, Content.ERROR),
    0x70: (HeaderKind.NONE, Content.ERROR),
    0x71: (HeaderKind.NONE, Content.ALARM),
    0x72: (HeaderKind.LONG, Content.RECORDS),
    0x73: (HeaderKind.LONG, Content.COMPACT),
    0x74: (HeaderKind.SHORT, Content.ALARM),
    0x75: (HeaderKind.LONG, Content.ALARM),
    0x78: (HeaderKind.NONE, Content.RECORDS),
    0x79: (HeaderKind.NONE, Content.COMPACT),
    0x7A: (HeaderKind.SHORT, Content.RECORDS),
    0x7B: (HeaderKind.SHORT, Content.COMPACT),
    0x8A: (HeaderKind.SHORT, Content.NOTHING),
    0x8B: (HeaderKind.LONG, Content.NOTHING),
}

MANUFACTURER_CIS = range(0xA0, 0xB8)

# EN 13757-3 codes of a general application error (CI 6E, 6F, 70).
APPLICATION_ERRORS: dict[int, str] = {
    0x00: "unspecified error",
    0x01: "unimplemented CI field",
    0x02: "buffer too long, truncated",
    0x03: "too many records",
    0x04: "premature end of record",
    0x05: "more than 10 DIFEs",
    0x06: "more than 10 VIFEs",
    0x08: "application too busy to handle the readout request",
    0x09: "too many readouts",
}

# Status byte bits 2-4 and the two-bit application status in bits 0-1.
_STATUS_BITS = ((0x04, "power_low"), (0x08, "permanent_error"), (0x10, "temporary_error"))
_APPLICATION_STATUS = {1: "application_busy", 2: "application_error", 3: "abnormal_condition"}
_MANUFACTURER_STATUS_BITS = (0x20, 0x40, 0x80)

MODE_NONE = 0
MODE_AES_CBC_IV = 5
MODE_AES_CBC_IV0 = 7
_SECURITY_MODE_NAMES = {
    0: "no encryption",
    1: "manufacturer specific",
    2: "DES-CBC, IV zero",
    3: "DES-CBC, IV from the header",
    4: "specific usage",
    5: "AES-128-CBC, IV from the header",
    6: "reserved",
    7: "AES-128-CBC, IV zero, ephemeral key",
    8: "AES-128-CTR, ephemeral key",
    9: "AES-128-GCM",
    10: "AES-128-CCM",
    13: "TLS",
}


class TransportHeader(NamedTuple):
    """The transport header of one telegram; all None for CI fields without a header.

    A named tuple, as :class:`openamr.collect.mbus.link.LinkFrame`: one per telegram.
    """

    kind: HeaderKind
    access_number: int | None = None
    status: int | None = None
    configuration: int | None = None  # the 16-bit configuration field (wired: signature)
    configuration_extension: int | None = None  # mode 7 only
    meter: Device | None = None  # long header only
    meter_address: bytes | None = None  # long header only, in link-layer order (M, ID, ver, type)
    raw: bytes = b""  # the header bytes as sent

    @property
    def security_mode(self) -> int:
        """The security mode from the configuration field (bits 8-12)."""
        return 0 if self.configuration is None else (self.configuration >> 8) & 0x1F

    @property
    def encrypted_blocks(self) -> int:
        """How many 16-byte blocks are encrypted (bits 4-7), for modes 5 and 7."""
        return 0 if self.configuration is None else (self.configuration >> 4) & 0x0F

    @property
    def key_derivation(self) -> int:
        """Mode 7's key derivation function (bits 4-5 of the extension): 1 is KDF-A."""
        extension = self.configuration_extension or 0
        return (extension >> 4) & 0x03


_METER_ADDRESS = 8  # long header: ID (4), M (2), version, device type
_SHORT_HEADER = 4  # access number, status, configuration field (2)
_NO_HEADER = TransportHeader(kind=HeaderKind.NONE)
_NONE, _LONG = HeaderKind.NONE, HeaderKind.LONG  # read once: an enum member lookup is not free


def security_mode_name(mode: int) -> str:
    return _SECURITY_MODE_NAMES.get(mode, "reserved")


def read_header(kind: HeaderKind, payload: bytes) -> tuple[TransportHeader, bytes]:
    """The transport header at the start of ``payload`` and the bytes after it."""
    if kind is _NONE:
        return _NO_HEADER, payload
    start = _METER_ADDRESS if kind is _LONG else 0
    end = start + _SHORT_HEADER
    size = len(payload)
    if size >= end and payload[end - 1] & 0x1F == MODE_AES_CBC_IV0:
        end += 1  # the configuration field extension
    if size < end:
        _cut_short(kind, payload)
    meter = meter_address = None
    if start:
        address = payload[:start]
        meter = device_from_long_header(address)
        meter_address = address[4:6] + address[0:4] + address[6:8]
    header = TransportHeader(
        kind,
        payload[start],  # access number
        payload[start + 1],  # status
        payload[start + 2] | payload[start + 3] << 8,  # configuration field
        payload[start + 4] if end > start + _SHORT_HEADER else None,  # its extension
        meter,
        meter_address,
        payload[:end],
    )
    return header, payload[end:]


def _cut_short(kind: HeaderKind, payload: bytes) -> NoReturn:
    """Raise the BadFrame that names the field inside which a too short header ends."""
    reader = Reader(payload, f"{kind.value} transport header")
    if kind is HeaderKind.LONG:
        reader.take(_METER_ADDRESS, "meter address")
    reader.take(1, "access number")
    reader.take(1, "status byte")
    reader.take(2, "configuration field")
    reader.take(1, "configuration field extension")  # only a mode 7 header gets here
    raise AssertionError(f"a {kind.value} header of {len(payload)} bytes is not short")


def status_flags(status: int | None, names: Mapping[int, str] | None = None) -> tuple[str, ...]:
    """The flags of a status byte: application status, power low, errors, manufacturer bits.

    ``names`` names manufacturer bits (20h, 40h, 80h) as a family knows them;
    a bit without a name becomes ``manufacturer_status_20`` and so on.
    """
    if not status:  # None, or no bit set: most telegrams
        return ()
    names = names or {}
    flags = []
    if status & 0x03:
        flags.append(_APPLICATION_STATUS[status & 0x03])
    flags.extend(name for bit, name in _STATUS_BITS if status & bit)
    flags.extend(
        names.get(bit, f"manufacturer_status_{bit:02x}")
        for bit in _MANUFACTURER_STATUS_BITS
        if status & bit
    )
    return tuple(flags)


def application_error(code: int | None) -> str:
    """The wording of an application error code, e.g. 4 -> "premature end of record"."""
    if code is None:
        return "no error code given"
    return APPLICATION_ERRORS.get(code, f"reserved error code 0x{code:02X}")
