"""Kamstrup: info codes become flags and hour-counter records, E8/E9 readable, compact layouts right.

Vectors: wmbusmeters-kamwater-multical21-c1-long, -c1-compact,
wmbusmeters-kamheat-multical302-c1-long, -multical302-mj, -multical303-tpl7a,
-multical403-compact, -multical403-mbus, -multical603-mbus,
-multical303-heatcool-mbus.
"""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from openamr.collect.decoders.kamstrup import COMPACT_LAYOUTS, Kamstrup
from openamr.collect.mbus.compact import LayoutCache, parse_compact
from openamr.collect.mbus.crc import crc16_en13757
from openamr.collect.mbus.model import Device, Record, UnableToDecodeTelegram
from openamr.collect.mbus.records import parse_records, split_layout
from tests.unit.decoders.vectors import after, wired_records, wireless

KAMSTRUP = Kamstrup()
WATER = Device("KAM", "76348799", 0x1B, 0x16, "cold water")
HEAT = Device("KAM", "78787878", 0x40, 0x0C, "heat (inlet)")


def _by_quantity(records: tuple[Record, ...], quantity: str) -> list[Record]:
    return [record for record in records if record.quantity == quantity]


def _info_record(value: int, *, storage: int = 0) -> Record:
    dif = 0x42 if storage else 0x02
    return Record(
        "manufacturer_specific",
        value.to_bytes(2, "little"),
        None,
        storage=storage,
        raw=bytes([dif, 0xFF, 0x20]),
    )


def test_multical21_info_code_says_dry_for_22_to_31_days() -> None:
    records = parse_records(after("wmbusmeters-kamwater-multical21-c1-long", "576C78"))
    readable, flags = KAMSTRUP.interpret(WATER, records)
    assert flags == ("dry",)
    assert [r.value for r in _by_quantity(readable, "info_codes")] == [0x0071]
    durations = {r.quantity: r.value for r in readable if r.quantity.startswith("time_")}
    assert durations == {
        "time_dry": "22-31 days",
        "time_reversed": "0 hours",
        "time_leaking": "0 hours",
        "time_bursting": "0 hours",
    }
    assert not _by_quantity(readable, "manufacturer_specific")
    # The standard records pass through untouched.
    assert [r.value for r in _by_quantity(readable, "volume")] == [Decimal("6.408")] * 2


def test_each_info_code_and_its_hour_counter() -> None:
    # DRY, REVERSE, LEAK, BURST in bits 0-3; their counters at bits 4, 7, 10, 13.
    value = 0b101_011_010_001_1110
    readable, flags = KAMSTRUP.interpret(WATER, [_info_record(value)])
    assert flags == ("reverse_flow", "leak", "burst")
    durations = {r.quantity: r.value for r in readable if r.quantity.startswith("time_")}
    assert durations == {
        "time_dry": "1-8 hours",
        "time_reversed": "9-24 hours",
        "time_leaking": "2-3 days",
        "time_bursting": "8-14 days",
    }


def test_logged_info_codes_are_records_but_not_flags() -> None:
    readable, flags = KAMSTRUP.interpret(WATER, [_info_record(0x000F, storage=1)])
    assert flags == ()
    assert [r.value for r in _by_quantity(readable, "info_codes")] == [0x000F]
    assert all(r.storage == 1 for r in readable)


def test_flowiq_status_register_flags() -> None:
    status = Record(
        "manufacturer_specific",
        (0x0211).to_bytes(4, "little"),
        None,
        raw=bytes.fromhex("04FF23"),
    )
    _, flags = KAMSTRUP.interpret(WATER, [status])
    assert flags == ("dry", "tamper", "no_consumption")


def test_heat_info_code_bits_follow_the_multical_403_bit_format() -> None:
    info = Record(
        "manufacturer_specific",
        (0x0000_0208 | 0x1000_0000).to_bytes(4, "little"),
        None,
        raw=bytes.fromhex("04FF22"),
    )
    readable, flags = KAMSTRUP.interpret(HEAT, [info])
    assert flags == ("t1_above_range", "reverse_flow", "burst")
    assert readable[0].quantity == "info_codes"


def test_multical302_info_byte_zero_gives_no_flag() -> None:
    records = parse_records(after("wmbusmeters-kamheat-multical302-c1-long", "BCDB78"))
    readable, flags = KAMSTRUP.interpret(HEAT, records)
    assert flags == ()
    assert [(r.quantity, r.value) for r in readable if r.raw.endswith(b"\xff\x21")] == [
        ("info_codes", 0)
    ]


def test_multical303_e8_and_e9_with_the_rest_untouched() -> None:
    records = parse_records(after("wmbusmeters-kamheat-multical303-tpl7a", "2F2F"))
    readable, flags = KAMSTRUP.interpret(HEAT, records)
    assert flags == ()
    assert [(r.value, r.unit) for r in _by_quantity(readable, "forward_energy")] == [
        (Decimal(153542), "m3·°C")
    ]
    assert [r.value for r in _by_quantity(readable, "return_energy")] == [Decimal(145149)]
    assert len(readable) == len(records)


def test_wired_multicals_e8_e9_and_info_codes() -> None:
    stated = {
        "wmbusmeters-kamheat-multical403-mbus": (148532, 118520),
        "wmbusmeters-kamheat-multical603-mbus": (67136, 37929),
        "wmbusmeters-kamheat-multical303-heatcool-mbus": (1394, 1260),
    }
    for vector_id, (forward, backward) in stated.items():
        device, data = wired_records(vector_id)
        readable, flags = KAMSTRUP.interpret(device, parse_records(data))
        current = [r for r in readable if r.storage == 0]
        assert [r.value for r in _by_quantity(tuple(current), "forward_energy")] == [forward]
        assert [r.value for r in _by_quantity(tuple(current), "return_energy")] == [backward]
        assert flags == (), vector_id


def test_other_registers_stay_raw() -> None:
    unknown = Record("manufacturer_specific", b"\x01\x1b", None, raw=bytes.fromhex("02FF1A"))
    readable, flags = KAMSTRUP.interpret(HEAT, [unknown])
    assert readable == (unknown,)
    assert flags == ()


def test_compact_layouts_match_the_compact_frames_they_serve() -> None:
    # What follows CI 79h: format signature, full-frame CRC, the data.
    compact = (
        after("wmbusmeters-kamwater-multical21-c1-compact", "AD217F1779"),
        after("wmbusmeters-kamheat-multical403-compact", "8322BE3D79"),
    )
    for frame_data in compact:
        signature = int.from_bytes(frame_data[0:2], "little")
        full_crc = int.from_bytes(frame_data[2:4], "little")
        data = frame_data[4:]
        layout = next(lay for lay in COMPACT_LAYOUTS if crc16_en13757(lay) == signature)
        specs, _ = split_layout(layout, with_data=False)
        full, position = b"", 0
        for spec in specs:
            full += spec.header + data[position : position + spec.length]
            position += spec.length
        assert position == len(data)
        assert crc16_en13757(full) == full_crc


def test_multical403_compact_frame_read_then_interpreted() -> None:
    device, _, _, _ = wireless("wmbusmeters-kamheat-multical403-compact")
    layouts = LayoutCache()
    for layout in COMPACT_LAYOUTS:
        layouts.learn(device, layout_frame(layout))
    records = parse_compact(
        device, after("wmbusmeters-kamheat-multical403-compact", "8322BE3D79"), layouts
    )
    readable, flags = KAMSTRUP.interpret(device, records)
    assert flags == ()
    current = {r.quantity: r.value for r in readable if r.storage == 0}
    assert current["forward_energy"] == Decimal(153189)
    assert current["return_energy"] == Decimal(124887)
    assert current["info_codes"] == 0


def layout_frame(layout: bytes) -> bytes:
    """A full frame of ``layout`` with zero values, for the layout cache to learn it from."""
    specs, _ = split_layout(layout, with_data=False)
    return b"".join(spec.header + bytes(max(spec.length, 0)) for spec in specs)


def test_multical302_layouts_are_the_layouts_of_their_full_frames() -> None:
    for vector_id, ci in (
        ("wmbusmeters-kamheat-multical302-c1-long", "BCDB78"),
        ("wmbusmeters-kamheat-multical302-mj", "B1C178"),
    ):
        specs, _ = split_layout(after(vector_id, ci), with_data=True)
        assert b"".join(spec.header for spec in specs) in COMPACT_LAYOUTS


def test_kamstrup_claims_kam_and_declines_payloads() -> None:
    device, header, ci, payload = wireless("wmbusmeters-kamwater-multical21-c1-long")
    assert KAMSTRUP.claims(device, ci)
    assert not KAMSTRUP.claims(Device("TCH", "1", 0, 0, ""), 0x7A)
    assert KAMSTRUP.decode_payload(device, ci, payload, key=None, header=header) is None


_headers = st.sampled_from(
    [
        bytes.fromhex(h)
        for h in ("02FF20", "04FF23", "04FF22", "01FF21", "04FF07", "44FF08", "8410FF20")
    ]
) | st.binary(max_size=6)


@settings(max_examples=300, deadline=None, database=None)
@given(raw=_headers, value=st.binary(max_size=12), storage=st.integers(0, 40))
def test_any_manufacturer_record_is_read_or_kept(raw: bytes, value: bytes, storage: int) -> None:
    record = Record("manufacturer_specific", value, None, storage=storage, raw=raw)
    try:
        readable, flags = KAMSTRUP.interpret(WATER, [record])
    except UnableToDecodeTelegram:
        return
    assert readable
    assert all(isinstance(flag, str) for flag in flags)
