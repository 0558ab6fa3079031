"""Apator (APT, APA): the proprietary payloads of the Apator 08, NA-1 and 16-2 water meters.

Three layouts, as the public wmbusmeters driver notes for ``apator08``,
``apatorna1`` and ``apator162`` and the NA-1 analysis in its issue 1215
describe them (facts only; the code is ours):

- Apator 08 (APT, CI A0h): the first four bytes count the total volume in
  thirds of a litre, little-endian.
- NA-1 (APA version 14h, water, CI A0h/A1h): byte 0 is an access number,
  byte 1 frame status flags, then one 16-byte block of AES-128-CBC with the
  OMS mode 5 initialisation vector (M, A fields and the access number eight
  times). Its plaintext: 2Fh, the total (32 bits: the reading with its
  lowest nibble moved to bits 0-3 and a power-of-ten multiplier in bits
  4-5, litres), the meter's clock (32 bits, seconds since 2000-01-01), the
  age of the historic reading in hours (bits 0-7, and bits 2-7 of the next
  byte as bits 8-13), the volume used since then (bits 0-1 of that byte and
  the next three bytes above them, in the same litres), current status and
  historic status.
- AT-WMBUS-16-2 (APA version 05h, CI 7Ah, OMS mode 5): after the TPL header
  and the idle fillers the plaintext is not EN 13757-3 records but Apator's
  own registers, one id byte and a fixed size each, behind an 8-byte
  preamble; register 10h holds the total volume in litres. A register of
  unknown size ends the walk.

Not yet understood: why the Apator 08 counts thirds of a litre, and the rest
of its payload; the NA-1 frame status bits are reported as flags by their
names in the notes; the 16-2 registers other than 10h (a 12-month history
in 7Bh among them) are skipped.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from openamr.collect.decoders._common import (
    Decoded,
    ManufacturerFamily,
    little,
    require,
    set_bits,
    unique,
)
from openamr.collect.mbus.model import (
    Device,
    KeyNeeded,
    Record,
    UnsupportedTelegram,
    WrongKey,
)

_APATOR_08_CIS = frozenset({0xA0})
_NA1_CIS = frozenset({0xA0, 0xA1})
_NA1_VERSION = 0x14
_AT162_VERSION = 0x05
# The TPL header the protocol layers pass before the 16-2's application data (mode 5).
_AT162_HEADER_LENGTHS = {0x7A: 4, 0x72: 12}
_WATER_TYPES = frozenset({0x06, 0x07, 0x15, 0x16})
_LINK_HEADER = 10  # L, C, M (2), A (6)
_BLOCK = 16
_NA1_CHECK = 0x2F
_LITRE = Decimal("0.001")
_MICRO = Decimal("0.000001")  # a millilitre in m3: below the 1/3 l the Apator 08 counts
_EPOCH = datetime(2000, 1, 1)  # noqa: DTZ001 - the meter's own clock
_AES_KEY_LENGTHS = frozenset({16})
_NA1_DEFAULT_KEY = bytes(16)  # NA-1 meters ship with an all-zero key
_FRAME_STATUS = {
    0x01: "summer_time",
    0x02: "historic_indication",
    0x04: "max_speed_exceeded",
    0x08: "device_access_error",
    0x10: "two_way_communication_blocked",
    0x20: "installation_frame",
    0x40: "wrong_temperature",
    0x80: "service_event",
}
_STATUS = {
    0x80: "minimum_flow",
    0x40: "maximum_flow",
    0x20: "reverse_flow",
    0x10: "measurement_unchanged",
    0x08: "leak",
    0x04: "disconnected",
    0x02: "magnetic_tamper",
    0x01: "low_battery",
}
# The historic status has the same bits, but bit 0 for the battery's lifetime; its flags
# carry the same names (the storage 1 status record tells current and historic apart).
_HISTORIC_STATUS = {**_STATUS, 0x01: "battery_lifetime_exceeded"}
# AT-WMBUS-16-2 register id -> data size in bytes.
_AT162_REGISTERS: dict[int, int] = {
    **dict.fromkeys((0x00, 0x10, 0x42, 0xA0, 0xA1, 0xA4, 0xF0), 4),
    **dict.fromkeys((0x01, 0x44), 3),
    **dict.fromkeys((0x11, 0x41, 0x43, 0xA7, 0xA8, 0xAA, 0xAB, 0xAC, 0xAD, 0xB4), 2),
    **dict.fromkeys((0xA2, 0xA5, 0xA9, 0xAF), 1),
    **dict.fromkeys((0x40, 0x8B, 0x8C), 6),
    **dict.fromkeys((0x80, 0x81, 0x82, 0x83, 0x84, 0x86, 0x87), 10),
    **dict.fromkeys((0x85, 0x88, 0x8F), 11),
    **dict.fromkeys((*range(0xB6, 0xC8), 0xD0, 0xD3, 0xA6), 3),
    0x71: 1 + 2 * 4,
    0x72: 1 + 3 * 4,
    0x73: 1 + 4 * 4,
    0x75: 1 + 6 * 4,
    0x7B: 1 + 12 * 4,
    0x8A: 9,
    0x8E: 7,
    0xA3: 7,
    0xB0: 5,
    0xB1: 8,
    0xB2: 16,
    0xB3: 8,
    0xB5: 16,
}
_AT162_PREAMBLE = 8
_AT162_TOTAL = 0x10
_AT162_END = 0xFF
_IDLE_FILLER = 0x2F


class Apator(ManufacturerFamily):
    """Apator's proprietary water meter payloads."""

    name = "apator"
    manufacturers = frozenset({"APT", "APA"})

    def decode_payload(
        self, device: Device, ci: int, payload: bytes, *, key: bytes | None, header: bytes
    ) -> Decoded | None:
        """The readings of an Apator 08, NA-1 or 16-2 payload; None for other Apator telegrams."""
        if device.manufacturer == "APT" and ci in _APATOR_08_CIS:
            return _apator_08(payload), ()
        if device.manufacturer != "APA" or device.device_type not in _WATER_TYPES:
            return None
        if device.version == _NA1_VERSION and ci in _NA1_CIS:
            return _na1(payload, key, header)
        if device.version == _AT162_VERSION and ci in _AT162_HEADER_LENGTHS:
            return _at162(payload[_AT162_HEADER_LENGTHS[ci] :]), ()
        return None


def _apator_08(payload: bytes) -> tuple[Record, ...]:
    require(payload, 4, "Apator 08")
    thirds = little(payload[:4])
    volume = (Decimal(thirds) / 3000).quantize(_MICRO, rounding=ROUND_HALF_EVEN)
    return (
        Record(
            "volume",
            volume,
            "m3",
            description="total volume; the meter counts 1/3 litre, rounded here to 1 ml",
        ),
    )


def _na1(payload: bytes, key: bytes | None, header: bytes) -> Decoded:
    require(payload, 2 + _BLOCK, "Apator NA-1")
    if len(header) < _LINK_HEADER:
        raise UnsupportedTelegram(
            f"Apator NA-1: the link header has {len(header)} bytes; the decryption needs "
            f"its M and A fields ({_LINK_HEADER} bytes)"
        )
    access_number, frame_status = payload[0], payload[1]
    iv = bytes(header[2:_LINK_HEADER]) + bytes([access_number]) * 8
    if key is not None and len(key) not in _AES_KEY_LENGTHS:
        raise WrongKey(f"Apator NA-1 needs an AES-128 key (16 bytes), not {len(key)} bytes")
    plain = _aes_cbc(key if key is not None else _NA1_DEFAULT_KEY, iv, payload[2 : 2 + _BLOCK])
    if plain[0] != _NA1_CHECK:
        if key is None:
            raise KeyNeeded("Apator NA-1 payload does not decrypt with the all-zero default key")
        raise WrongKey("Apator NA-1 payload decrypted with the configured key lacks its 2Fh")
    packed = little(plain[1:5])
    multiplier = 10 ** ((packed >> 4) & 0x03)
    total_litres = (((packed >> 8) << 4) | (packed & 0x0F)) * multiplier
    clock = _EPOCH + timedelta(seconds=little(plain[5:9]))
    age_hours = ((plain[10] >> 2) << 8) | plain[9]
    used_litres = ((little(plain[11:14]) << 2) | (plain[10] & 0x03)) * multiplier
    historic_at = clock - timedelta(hours=age_hours)
    records = (
        Record("volume", total_litres * _LITRE, "m3", description="total volume"),
        Record("date_time", clock, None, description="the meter's clock"),
        Record(
            "volume",
            (total_litres - used_litres) * _LITRE,
            "m3",
            storage=1,
            at=historic_at,
            description="historic reading: the total less the volume used since",
        ),
        Record(
            "date_time", historic_at, None, storage=1, description="time of the historic reading"
        ),
        Record("historic_age", age_hours, "h", description="age of the historic reading"),
        Record("status_flags", plain[14], None, description="NA-1 current status"),
        Record("status_flags", plain[15], None, storage=1, description="NA-1 historic status"),
        Record("frame_status", frame_status, None, description="NA-1 frame status (not encrypted)"),
    )
    flags = unique(
        (
            *set_bits(frame_status, _FRAME_STATUS),
            *set_bits(plain[14], _STATUS),
            *set_bits(plain[15], _HISTORIC_STATUS),
        )
    )
    return records, flags


def _aes_cbc(key: bytes, iv: bytes, block: bytes) -> bytes:
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    return decryptor.update(block) + decryptor.finalize()


def _at162(payload: bytes) -> tuple[Record, ...]:
    position = 0
    while position < len(payload) and payload[position] == _IDLE_FILLER:
        position += 1
    position += _AT162_PREAMBLE
    while position < len(payload):
        register = payload[position]
        if register == _AT162_END:
            break
        size = _AT162_REGISTERS.get(register)
        start = position + 1
        if size is None or start + size > len(payload):
            break
        if register == _AT162_TOTAL:
            litres = little(payload[start : start + size])
            return (Record("volume", litres * _LITRE, "m3", description="total volume"),)
        position = start + size
    raise UnsupportedTelegram(
        "Apator 16-2 payload: no total volume register (10h) before the end of the known registers"
    )
