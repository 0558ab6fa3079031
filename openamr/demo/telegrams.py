"""Wireless M-Bus telegrams as a water or heat meter sends them: OMS layout, plain or mode 5.

For the demo, the tests and the benchmarks, which need meters whose registers
move (the shared vectors are real telegrams with fixed values): a link layer
(L, C, M, A) with its CRCs removed as gateways forward it, a short transport
header (CI 7A, access number, status, configuration word) and data records,
encrypted in security mode 5 when a key is given.
"""

from __future__ import annotations

import struct
from datetime import datetime

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


def manufacturer_field(code: str) -> bytes:
    a, b, c = (ord(letter) - 64 for letter in code.upper())
    return struct.pack("<H", (a << 10) | (b << 5) | c)


def address(code: str, device_id: str, version: int, device_type: int) -> bytes:
    """The link layer's M and A fields: manufacturer, BCD id (lowest byte first), version, type."""
    return manufacturer_field(code) + bytes.fromhex(device_id)[::-1] + bytes([version, device_type])


def volume_litres(litres: int) -> bytes:
    """DIF 04 (32-bit integer), VIF 13 (volume, 10^-3 m3)."""
    return b"\x04\x13" + struct.pack("<i", litres)


def energy_wh(wh: int) -> bytes:
    """DIF 04 (32-bit integer), VIF 03 (energy, Wh)."""
    return b"\x04\x03" + struct.pack("<i", wh)


def date_time(moment: datetime) -> bytes:
    """DIF 04, VIF 6D: a type F date and time (the meter's own clock, no seconds)."""
    year = moment.year % 100
    value = (
        moment.minute
        | moment.hour << 8
        | moment.day << 16
        | (year & 0x07) << 21
        | moment.month << 24
        | (year >> 3) << 28
    )
    return b"\x04\x6d" + struct.pack("<I", value)


def wmbus(
    records: bytes,
    *,
    manufacturer: str = "KAM",
    device_id: str = "12345678",
    version: int = 0x1B,
    device_type: int = 0x16,
    access_number: int = 1,
    key: bytes | None = None,
) -> bytes:
    """A wireless M-Bus telegram (frame format A, CRCs removed as gateways forward them)."""
    link = address(manufacturer, device_id, version, device_type)
    if key is None:
        configuration = 0
        payload = records
    else:
        plain = b"\x2f\x2f" + records
        plain += b"\x2f" * (-len(plain) % 16)
        blocks = len(plain) // 16
        configuration = (5 << 8) | (blocks << 4)
        iv = link + bytes([access_number]) * 8
        encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
        payload = encryptor.update(plain) + encryptor.finalize()
    body = (
        b"\x44"
        + link
        + bytes([0x7A, access_number, 0x00])
        + struct.pack("<H", configuration)
        + payload
    )
    return bytes([len(body)]) + body
