"""Engelmann: the FAW's compact-frame layout matches its frames' signature and full-frame CRC.

Vector: wmbusmeters-engelmann-faw-water-ci73 (CI 73h, long header, mode 5).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from openamr.collect.decoders.engelmann import COMPACT_LAYOUTS, Engelmann
from openamr.collect.mbus.crc import crc16_en13757
from openamr.collect.mbus.records import parse_records, split_layout
from tests.unit.decoders.vectors import frame, vector

VECTOR = "wmbusmeters-engelmann-faw-water-ci73"


def _compact_frame() -> bytes:
    """The decrypted data after the long header, without the 2F2F that proves the key."""
    data = frame(VECTOR)
    assert data[10] == 0x73
    long_header = data[11:23]  # ID (4), M (2), version, device type, access, status, config (2)
    address = long_header[4:6] + long_header[0:4] + long_header[6:8]
    iv = address + bytes([long_header[8]]) * 8
    body = data[23:]
    key = bytes.fromhex(vector(VECTOR)["key"])
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    plain = decryptor.update(body) + decryptor.finalize()
    assert plain.startswith(b"\x2f\x2f")
    return plain[2:]


def _full_frame() -> bytes:
    compact = _compact_frame()
    signature = int.from_bytes(compact[0:2], "little")
    (layout,) = [lay for lay in COMPACT_LAYOUTS if crc16_en13757(lay) == signature]
    specs, _ = split_layout(layout, with_data=False)
    data, full, position = compact[4:], b"", 0
    for spec in specs:
        full += spec.header + data[position : position + spec.length]
        position += spec.length
    assert data[position:].strip(b"\x2f") == b"", "the data fills the layout exactly"
    assert crc16_en13757(full) == int.from_bytes(compact[2:4], "little")
    return full


def test_the_faw_layout_has_the_signature_its_frames_announce() -> None:
    assert crc16_en13757(COMPACT_LAYOUTS[0]) == 0x052D
    assert Engelmann().compact_layouts() == (("EFE", COMPACT_LAYOUTS[0]),)


def test_the_faw_frame_read_with_the_layout_gives_the_stated_values() -> None:
    records = parse_records(_full_frame())
    values = {(r.quantity, r.storage): r.value for r in records}
    assert values[("volume", 0)] == Decimal("253.409")
    assert values[("date_time", 0)] == datetime(2026, 5, 4, 11, 58)
    assert values[("date", 1)] == date(2025, 12, 31)
    assert values[("volume", 1)] == Decimal("228.854")
    months = [values[("volume", storage)] for storage in range(2, 17)]
    assert months[0] == Decimal("252.159")
    assert months[-1] == Decimal("172.538")
    assert values[("error_flags", 0)] == 0
