"""The CRC-16 of EN 13757-4: wireless M-Bus link blocks and the ELL payload check.

Polynomial x^16 + x^13 + x^12 + x^11 + x^10 + x^8 + x^6 + x^5 + x^2 + 1
(0x3D65), initial value 0, no reflection, result complemented. The link layer
sends it most significant byte first; the ELL payload CRC is stored least
significant byte first.
"""

from __future__ import annotations

_POLYNOMIAL = 0x3D65


def _table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ _POLYNOMIAL) if crc & 0x8000 else crc << 1
        table.append(crc & 0xFFFF)
    return tuple(table)


_TABLE = _table()


def crc16_en13757(data: bytes) -> int:
    """The EN 13757-4 CRC of ``data``."""
    crc = 0
    for byte in data:
        crc = ((crc << 8) & 0xFFFF) ^ _TABLE[(crc >> 8) ^ byte]
    return crc ^ 0xFFFF
