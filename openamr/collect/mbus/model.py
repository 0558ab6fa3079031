"""What a decoded M-Bus or wireless M-Bus telegram is: the decoder's stable output.

The decoder (``openamr.collect.mbus.decode``) turns the bytes a gateway
forwards into a :class:`Telegram`, or raises an :class:`UnableToDecodeTelegram`
that says why. These types are the contract between the protocol layers, the
manufacturer families in ``openamr.collect.decoders`` and everything after
them (readings, the command line, the API), so change them only by adding.

Exceptions::

    UnableToDecodeTelegram          the telegram gives no reading; .reason says why
    ├── BadFrame                    length, checksum, CRC, start/stop bytes
    ├── KeyNeeded                   encrypted, and no key for this meter
    ├── WrongKey                    decrypted, but the result is not plaintext (no 2F2F)
    ├── UnknownLayout               compact frame whose full frame has not been seen
    └── UnsupportedTelegram         a CI field, data type or family the decoder lacks

A :class:`KeyNeeded`, :class:`WrongKey` or :class:`UnknownLayout` telegram
becomes decodable when its cause is fixed (a key is set, a full frame is
heard), so callers keep it and try again; :attr:`UnableToDecodeTelegram.cause`
is the stable name they key on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

RecordValue = Decimal | int | str | bytes | date | datetime | None


class Function(StrEnum):
    """The DIF's function field."""

    INSTANTANEOUS = "instantaneous"
    MAXIMUM = "maximum"
    MINIMUM = "minimum"
    DURING_ERROR = "during_error"


@dataclass(frozen=True, slots=True)
class Device:
    """Who sent the telegram, from the link layer (wireless) or the TPL long header."""

    manufacturer: str  # three-letter FLAG code, e.g. "KAM"
    id: str  # the eight identification digits as printed on the meter, e.g. "76348799"
    version: int
    device_type: int  # EN 13757-7 device type (medium) code, e.g. 0x16 cold water
    medium: str  # that code's name, e.g. "cold water", "heat", "electricity"


@dataclass(frozen=True, slots=True)
class Record:
    """One data record: a quantity with its value, unit and where it sits in the meter.

    ``value`` is exact: a ``Decimal`` already scaled by the VIF's power of ten
    (6.408 m3, not 6408 × 10^-3), an ``int`` for counts and flags, a ``date``
    or ``datetime`` (naive: the meter's own clock) for time points, ``str`` for
    text, and ``bytes`` for manufacturer-specific data kept raw.
    """

    quantity: str  # e.g. "energy", "volume", "power", "flow_temperature", "date_time"
    value: RecordValue
    unit: str | None  # "Wh", "kWh", "MWh", "GJ", "m3", "l", "°C", "K", "W", "m3/h", "%RH", …
    storage: int = 0
    tariff: int = 0
    subunit: int = 0
    function: Function = Function.INSTANTANEOUS
    at: datetime | date | None = None  # the record's own time point, where the meter gives one
    description: str = ""  # the VIF's own wording, or a manufacturer family's name for it
    raw: bytes = b""  # the record's DIF…VIFE bytes: its place in the layout


@dataclass(frozen=True, slots=True)
class Telegram:
    """A decoded telegram: its sender, its header fields and its records."""

    device: Device
    link: str  # "mbus" (wired) or "wmbus"
    ci: int  # the CI field that introduced the application data
    access_number: int | None
    status: int | None  # the TPL status byte, raw
    security: str  # "none", "mode 5", "mode 7", "ell ctr", "pre-decrypted", a family's scheme
    records: tuple[Record, ...]
    flags: tuple[str, ...] = ()  # status and error flags: "leak", "burst", "dry", "tamper", …
    format_signature: int | None = None  # of the record layout, for compact frames
    family: str | None = None  # the manufacturer family module that took part, if any
    notes: tuple[str, ...] = field(default=())  # what was skipped or assumed, for operators


class UnableToDecodeTelegram(ValueError):
    """A telegram that yields no reading, with a reason an operator can act on."""

    cause = "undecodable"

    def __init__(self, reason: str, *, device: Device | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        # The sender, when the header could be read before the failure: the
        # pipeline files the telegram under its meter (or as unassigned).
        self.device = device


class BadFrame(UnableToDecodeTelegram):
    cause = "bad_frame"


class KeyNeeded(UnableToDecodeTelegram):
    cause = "key_needed"


class WrongKey(UnableToDecodeTelegram):
    cause = "wrong_key"


class UnknownLayout(UnableToDecodeTelegram):
    cause = "unknown_layout"


class UnsupportedTelegram(UnableToDecodeTelegram):
    cause = "unsupported"
