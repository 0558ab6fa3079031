"""Compact frames (CI 79h): format signatures, learning layouts, and reading frames with them."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openamr.collect import decoders
from openamr.collect.mbus.compact import (
    KNOWN_LAYOUTS,
    LayoutCache,
    family_layouts,
    format_signature,
    layout_signature,
    parse_compact,
)
from openamr.collect.mbus.model import (
    BadFrame,
    Device,
    UnableToDecodeTelegram,
    UnknownLayout,
)
from openamr.collect.mbus.records import parse_records
from openamr.collect.mbus.telegram import decode
from tests.unit.mbus.vector_matching import frame as vector_frame
from tests.unit.mbus.vector_matching import vector

PROPERTIES = settings(max_examples=200, deadline=None)
METER = Device("ABC", "12345678", 0x07, 0x07, "water")
SAME_MODEL = Device("ABC", "87654321", 0x07, 0x07, "water")
OTHER_VERSION = Device("ABC", "87654321", 0x08, 0x07, "water")

# Volume, volume at storage 1, its date, flow temperature (1 byte), a version text.
HEADERS = [bytes.fromhex(h) for h in ("0413", "4413", "426C", "015B", "0DFD0F")]


def full_frame(volume: int, billed: int, temperature: int, version: bytes = b"1.0") -> bytes:
    fields = [
        volume.to_bytes(4, "little", signed=True),
        billed.to_bytes(4, "little", signed=True),
        bytes.fromhex("BF2C"),  # 2021-12-31
        temperature.to_bytes(1, "little", signed=True),
        bytes([len(version)]) + version[::-1],
    ]
    return b"".join(header + field for header, field in zip(HEADERS, fields, strict=True))


def compact_frame(full: bytes, *, crc_over: bytes | None = None) -> bytes:
    """The compact frame a meter sends for ``full``: signature, full-frame CRC, data only."""
    data = b""
    rest = full
    for header in HEADERS:
        rest = rest[len(header) :]
        size = 1 + rest[0] if header.startswith(b"\x0d") else {4: 4, 2: 2, 1: 1}[header[0] & 0x0F]
        data, rest = data + rest[:size], rest[size:]
    signature = format_signature(b"".join(HEADERS))
    crc = format_signature(full if crc_over is None else crc_over)
    return signature.to_bytes(2, "little") + crc.to_bytes(2, "little") + data


def test_signature_is_the_en_13757_4_crc() -> None:
    # The CRC-16/EN-13757 check value over "123456789".
    assert format_signature(b"123456789") == 0xC2B7


def test_known_layouts_carry_the_signatures_their_meters_send() -> None:
    # Kamstrup's C1 water and Multical 403 compact frames start ED A8 and 4D B3.
    assert ("KAM", 0xA8ED) in KNOWN_LAYOUTS
    assert ("KAM", 0xB34D) in KNOWN_LAYOUTS
    for (_, signature), layout in KNOWN_LAYOUTS.items():
        assert format_signature(layout.dif_vif) == signature


def test_a_learnt_layout_reads_its_compact_frames_as_the_full_frame() -> None:
    layouts = LayoutCache()
    layouts.learn(METER, full_frame(1000, 900, 20))
    later = full_frame(1234, 900, -5, b"1.1")
    assert parse_compact(METER, compact_frame(later), layouts) == parse_records(later)


def test_values_scaled_and_time_points_filled() -> None:
    layouts = LayoutCache()
    layouts.learn(METER, full_frame(1000, 900, 20))
    volume, billed, _, temperature, version = parse_compact(
        METER, compact_frame(full_frame(6408, 900, 19, b"4.0.0")), layouts
    )
    assert (volume.quantity, volume.value, volume.unit) == ("volume", Decimal("6.408"), "m3")
    assert billed.storage == 1
    assert str(billed.at) == "2021-12-31"
    assert temperature.value == Decimal(19)
    assert version.value == "4.0.0"


def test_layout_signature_of_a_full_frame() -> None:
    with_fillers = b"\x2f\x2f" + full_frame(1, 2, 3) + b"\x2f"
    assert layout_signature(with_fillers) == format_signature(b"".join(HEADERS))


def test_unknown_layout_is_kept_for_later() -> None:
    frame = compact_frame(full_frame(1, 2, 3))
    with pytest.raises(UnknownLayout, match=r"ABC 12345678 .*signature") as caught:
        parse_compact(METER, frame, LayoutCache())
    assert caught.value.cause == "unknown_layout"


def test_another_meter_of_the_same_model_lends_its_layout() -> None:
    layouts = LayoutCache()
    layouts.learn(SAME_MODEL, full_frame(1, 2, 3))
    assert parse_compact(METER, compact_frame(full_frame(5, 2, 3)), layouts)[0].value == Decimal(
        "0.005"
    )
    with pytest.raises(UnknownLayout):
        parse_compact(OTHER_VERSION, compact_frame(full_frame(5, 2, 3)), layouts)


def test_known_kamstrup_layout_without_a_full_frame() -> None:
    # A Kamstrup water meter's compact frame before any full frame is heard:
    # info codes 0071, volume 6.408 m3 twice, flow temperature 127 °C, 19 °C.
    data = bytes.fromhex("710008190000081900007F13")
    layout = KNOWN_LAYOUTS[("KAM", 0xA8ED)]
    full = b"".join(
        spec.header + part
        for spec, part in zip(
            layout.specs, (data[0:2], data[2:6], data[6:10], data[10:11], data[11:12]), strict=True
        )
    )
    frame = bytes.fromhex("EDA8") + format_signature(full).to_bytes(2, "little") + data
    kamstrup = Device("KAM", "76348799", 0x1B, 0x16, "cold water")
    values = [record.value for record in parse_compact(kamstrup, frame, LayoutCache())]
    assert values == [
        bytes.fromhex("7100"),
        Decimal("6.408"),
        Decimal("6.408"),
        Decimal(127),
        Decimal(19),
    ]


def test_full_frame_crc_may_cover_the_leading_fillers() -> None:
    full = b"\x2f\x2f" + full_frame(1, 2, 3)
    layouts = LayoutCache()
    layouts.learn(METER, full)
    assert parse_compact(METER, compact_frame(full[2:], crc_over=full), layouts)[
        0
    ].value == Decimal("0.001")


@pytest.mark.parametrize(
    ("mangle", "reason"),
    [
        (lambda frame: frame[:3], "4-byte header"),
        (lambda frame: frame[:-2], "shorter than its layout"),
        (lambda frame: frame + b"\x00", "more than its layout"),
        (lambda frame: frame[:2] + bytes([frame[2] ^ 1]) + frame[3:], "full-frame CRC"),
        (lambda frame: frame[:-1] + bytes([frame[-1] ^ 1]), "full-frame CRC"),
    ],
)
def test_bad_compact_frames(mangle: Callable[[bytes], bytes], reason: str) -> None:
    layouts = LayoutCache()
    layouts.learn(METER, full_frame(1, 2, 3))
    frame = compact_frame(full_frame(1, 2, 3))
    with pytest.raises(BadFrame, match=reason):
        parse_compact(METER, mangle(frame), layouts)


def test_trailing_idle_fillers_are_allowed() -> None:
    layouts = LayoutCache()
    layouts.learn(METER, full_frame(1, 2, 3))
    frame = compact_frame(full_frame(1, 2, 3)) + b"\x2f\x2f"
    assert len(parse_compact(METER, frame, layouts)) == len(HEADERS)


def test_fillers_do_not_make_up_for_missing_data() -> None:
    headers = bytes.fromhex("0413 4413")
    full = bytes.fromhex("0413 01000000 4413 02000000")
    layouts = LayoutCache()
    layouts.learn(METER, full)
    frame = (
        format_signature(headers).to_bytes(2, "little")
        + format_signature(full).to_bytes(2, "little")
        + bytes.fromhex("01000000 0200")
    )
    with pytest.raises(BadFrame, match="shorter than its layout"):
        parse_compact(METER, frame, layouts)
    with pytest.raises(BadFrame, match="full-frame CRC"):  # the fillers read as data
        parse_compact(METER, frame + b"\x2f\x2f", layouts)


def test_padding_after_manufacturer_data_is_not_part_of_it() -> None:
    # Manufacturer data (DIF 0Fh) runs to the end: the encryption's padding is not in the
    # full frame, whose CRC tells.
    full = bytes.fromhex("0413 01000000 0F 0102")
    layouts = LayoutCache()
    layouts.learn(METER, full)
    frame = (
        format_signature(bytes.fromhex("0413 0F")).to_bytes(2, "little")
        + format_signature(full).to_bytes(2, "little")
        + bytes.fromhex("01000000 0102")
        + b"\x2f" * 9
    )
    assert parse_compact(METER, frame, layouts) == parse_records(full)
    assert parse_compact(METER, frame, layouts)[-1].value == bytes.fromhex("0102")


def test_manufacturer_data_that_ends_in_2f_keeps_it_when_the_crc_says_so() -> None:
    full = bytes.fromhex("0413 01000000 0F 012F")
    layouts = LayoutCache()
    layouts.learn(METER, full)
    frame = (
        format_signature(bytes.fromhex("0413 0F")).to_bytes(2, "little")
        + format_signature(full).to_bytes(2, "little")
        + bytes.fromhex("01000000 012F")
    )
    assert parse_compact(METER, frame, layouts)[-1].value == bytes.fromhex("012F")


ENGELMANN_FAW = "wmbusmeters-engelmann-faw-water-ci73"
FAW = Device("EFE", "22862420", 0x00, 0x07, "water")


def test_the_families_lend_the_layouts_no_full_frame_announces() -> None:
    assert ("EFE", 0x052D) in family_layouts()
    assert ("KAM", 0xA8ED) in family_layouts()
    assert LayoutCache().find(FAW, 0x052D) is family_layouts()[("EFE", 0x052D)]
    assert LayoutCache().find(Device("XYZ", "1", 0, 7, "water"), 0x052D) is None


def test_an_engelmann_faw_compact_frame_reads_without_a_full_frame() -> None:
    # Mode 5: the compact data is followed by 15 idle fillers up to the AES block boundary.
    telegram = decode(
        vector_frame(ENGELMANN_FAW),
        key=bytes.fromhex(vector(ENGELMANN_FAW)["key"]),
        layouts=LayoutCache(),
    )
    assert telegram.format_signature == 0x052D
    values = {(r.quantity, r.storage): (r.value, r.at) for r in telegram.records}
    assert values[("volume", 0)] == (Decimal("253.409"), None)
    assert values[("volume", 1)] == (Decimal("228.854"), date(2025, 12, 31))
    assert values[("volume", 16)][0] == Decimal("172.538")


@pytest.fixture
def fresh_family_layouts() -> Iterator[None]:
    family_layouts.cache_clear()
    yield
    family_layouts.cache_clear()


@pytest.mark.usefixtures("fresh_family_layouts")
def test_a_family_layout_that_cannot_be_read_is_left_out(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    broken = (("XYZ", bytes.fromhex("3F")), ("XYZ", bytes.fromhex("0413")))
    monkeypatch.setattr(decoders, "known_compact_layouts", lambda: broken)
    with caplog.at_level(logging.WARNING):
        layouts = family_layouts()
    assert list(layouts) == [("XYZ", format_signature(bytes.fromhex("0413")))]
    assert "compact layout 3f of XYZ left out" in caplog.text


def test_learning_a_bad_full_frame_raises_as_parsing_does() -> None:
    with pytest.raises(BadFrame):
        LayoutCache().learn(METER, bytes.fromhex("0413 0100"))


def test_the_cache_forgets_the_oldest_layout() -> None:
    layouts = LayoutCache(max_layouts=2)
    meters = [Device("ABC", f"0000000{n}", n, 0x07, "water") for n in range(3)]
    for meter in meters:
        layouts.learn(meter, full_frame(1, 2, 3))
    assert len(layouts) == 2
    signature = format_signature(b"".join(HEADERS))
    assert layouts.find(meters[0], signature) is None
    assert layouts.find(meters[2], signature) is not None


@PROPERTIES
@given(
    st.integers(-(2**31), 2**31 - 1),
    st.integers(-(2**31), 2**31 - 1),
    st.integers(-128, 127),
    st.binary(max_size=20),
)
def test_compact_reads_as_full_for_any_values(
    volume: int, billed: int, temperature: int, version: bytes
) -> None:
    layouts = LayoutCache()
    layouts.learn(METER, full_frame(0, 0, 0))
    full = full_frame(volume, billed, temperature, version)
    assert parse_compact(METER, compact_frame(full), layouts) == parse_records(full)


@PROPERTIES
@given(st.binary(max_size=40))
def test_any_bytes_after_a_known_signature_give_records_or_a_reason(body: bytes) -> None:
    layouts = LayoutCache()
    layouts.learn(METER, full_frame(0, 0, 0))
    signature = format_signature(b"".join(HEADERS)).to_bytes(2, "little")
    try:
        parse_compact(METER, signature + body, layouts)
    except UnableToDecodeTelegram as exc:  # anything else fails the test
        reason = exc.reason
    else:
        return
    assert reason
