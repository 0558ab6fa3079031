"""The CRC-16 of EN 13757-4: wireless M-Bus link blocks and the ELL payload check.

Polynomial x^16 + x^13 + x^12 + x^11 + x^10 + x^8 + x^6 + x^5 + x^2 + 1
(0x3D65), initial value 0, no reflection, result complemented. The link layer
sends it most significant byte first; the ELL payload CRC is stored least
significant byte first.

Every wireless telegram costs one or two CRCs (a frame of L + 1 bytes is format
B only if its CRC verifies), so the CRC runs two bytes per step: a 16-bit CRC
that takes in 16 more bits is a function of their XOR alone, which one table of
65,536 entries answers. The bytes are read as native 16-bit words, so the table
is indexed, and answers, in the machine's byte order (see :func:`_word_table`).
"""

from __future__ import annotations

import sys

_POLYNOMIAL = 0x3D65


def _table() -> tuple[int, ...]:
    """The CRC register after shifting in one byte, for each register high byte XOR that byte."""
    table = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ _POLYNOMIAL) if crc & 0x8000 else crc << 1
        table.append(crc & 0xFFFF)
    return tuple(table)


_TABLE = _table()


def _word_table() -> list[int]:
    """The register after shifting in two bytes, for each register XOR those two bytes.

    Indexed by the two bytes as one native word and giving the register in
    the same order: on a little-endian machine the word of bytes ``b0 b1`` is
    ``b1 << 8 | b0``, so entry ``v`` is the byte-swapped result for the
    register value ``swap(v)``. A list rather than an array: its items need
    no conversion when read, which is most of the step's cost.
    """
    words = []
    for high in range(256):  # the register's high byte XOR the first data byte
        first = _TABLE[high]
        for low in range(256):  # the register's low byte XOR the second data byte
            words.append(((first << 8) & 0xFFFF) ^ _TABLE[(first >> 8) ^ low])
    if sys.byteorder == "big":
        return words
    return [_swapped(words[_swapped(value)]) for value in range(0x10000)]


def _swapped(value: int) -> int:
    return ((value & 0xFF) << 8) | (value >> 8)


_WORD_TABLE = _word_table()


def crc16_en13757(data: bytes) -> int:
    """The EN 13757-4 CRC of ``data``."""
    size = len(data)
    even = size - (size & 1)
    crc = 0  # in native byte order while words are shifted in
    table = _WORD_TABLE
    for word in memoryview(data)[:even].cast("H"):
        crc = table[crc ^ word]
    if sys.byteorder == "little":
        crc = _swapped(crc)
    if size & 1:
        crc = ((crc << 8) & 0xFFFF) ^ _TABLE[(crc >> 8) ^ data[even]]
    return crc ^ 0xFFFF
