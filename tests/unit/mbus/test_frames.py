"""The link layers: wired frames checked byte by byte, wireless frames with or without CRCs."""

from __future__ import annotations

import pytest

from openamr.collect.mbus.crc import crc16_en13757
from openamr.collect.mbus.identity import identification, manufacturer_code, medium_name
from openamr.collect.mbus.link import looks_wired, read_frame
from openamr.collect.mbus.model import BadFrame, UnsupportedTelegram
from openamr.collect.mbus.telegram import decode
from tests.unit.mbus.vector_matching import frame

WIRED = "libmbus-tch-telegramm1"
FORMAT_A_WITH_CRCS = "wmbusparser-oms-annexN-mode5-profileA"
FORMAT_B_WITH_CRCS = "wmbusparser-oms-frame-type-b-crc"
ANNEX_N_KEY = bytes.fromhex("0102030405060708090A0B0C0D0E0F11")


def _without_format_a_crcs(data: bytes) -> bytes:
    plain = data[:10]
    position = 12
    while position < len(data):
        size = min(16, len(data) - position - 2)
        plain += data[position : position + size]
        position += size + 2
    return plain


def _wired(c_field: int, address: int, ci: int, data: bytes) -> bytes:
    body = bytes([c_field, address, ci]) + data
    return bytes([0x68, len(body), len(body), 0x68]) + body + bytes([sum(body) & 0xFF, 0x16])


# -- CRC and identity ----------------------------------------------------------


def test_crc_is_the_en13757_crc_of_a_first_block() -> None:
    data = frame(FORMAT_A_WITH_CRCS)
    assert crc16_en13757(data[:10]) == int.from_bytes(data[10:12], "big") == 0x3363


@pytest.mark.parametrize(
    ("field", "letters"), [(0x2C2D, "KAM"), (0x1593, "ELS"), (0x4DEE, "SON"), (0x32A7, "LUG")]
)
def test_manufacturer_field_is_three_flag_letters(field: int, letters: str) -> None:
    assert manufacturer_code(field) == letters


def test_identification_is_printed_most_significant_digit_first() -> None:
    assert identification(bytes.fromhex("99873476")) == "76348799"
    assert identification(bytes.fromhex("069C1400")) == "00149C06"  # not BCD: kept as hex


@pytest.mark.parametrize(
    ("code", "name"),
    [
        (0x02, "electricity"),
        (0x04, "heat"),
        (0x07, "water"),
        (0x16, "cold water"),
        (0x1B, "room sensor"),
    ],
)
def test_device_type_names_follow_en13757_7(code: int, name: str) -> None:
    assert medium_name(code) == name


def test_unknown_device_types_say_so() -> None:
    assert medium_name(0x80) == "reserved device type 0x80"


# -- wired M-Bus ---------------------------------------------------------------


def test_wired_long_frame_is_read_with_its_checksum_verified() -> None:
    link = read_frame(frame(WIRED))
    assert (link.link, link.c_field, link.primary_address, link.ci) == ("mbus", 0x08, 0x4E, 0x72)
    assert "checksum verified" in link.notes[0]


def test_wired_frame_with_a_wrong_checksum_is_a_bad_frame() -> None:
    data = bytearray(frame(WIRED))
    data[-2] ^= 0x01
    with pytest.raises(BadFrame, match="checksum does not match"):
        decode(bytes(data))


def test_wired_frame_with_a_changed_data_byte_fails_its_checksum() -> None:
    data = bytearray(frame(WIRED))
    data[20] ^= 0x10
    with pytest.raises(BadFrame, match="checksum"):
        decode(bytes(data))


def test_wired_frame_without_its_stop_byte_is_a_bad_frame() -> None:
    data = bytearray(frame(WIRED))
    data[-1] = 0x17
    with pytest.raises(BadFrame, match="stop byte"):
        decode(bytes(data))


def test_truncated_wired_frame_is_a_bad_frame() -> None:
    with pytest.raises(BadFrame, match="L=0x3F says 69 bytes"):
        decode(frame(WIRED)[:-3])


def test_wired_frame_whose_two_lengths_differ_is_a_bad_frame() -> None:
    data = bytearray(frame(WIRED))
    data[2] += 1
    with pytest.raises(BadFrame, match="two L fields differ"):
        decode(bytes(data))


def test_acknowledgement_and_short_frames_carry_no_reading() -> None:
    with pytest.raises(UnsupportedTelegram, match="acknowledgement"):
        decode(bytes([0xE5]))
    with pytest.raises(UnsupportedTelegram, match="short frame"):
        decode(bytes.fromhex("105B015C16"))


def test_short_frame_with_a_wrong_checksum_is_a_bad_frame() -> None:
    with pytest.raises(BadFrame, match="checksum"):
        decode(bytes.fromhex("105B015D16"))


def test_request_from_the_master_is_not_a_meter_response() -> None:
    with pytest.raises(UnsupportedTelegram, match="SND_UD"):
        decode(_wired(0x53, 0x01, 0x51, b"\x01\x02"))


def test_application_error_is_rejected_with_the_meters_error_code() -> None:
    with pytest.raises(Exception, match="premature end of record") as caught:
        decode(_wired(0x08, 0x01, 0x70, b"\x04"))
    assert caught.value.__class__.__name__ == "UnableToDecodeTelegram"


def test_short_header_on_wired_mbus_names_no_meter() -> None:
    with pytest.raises(UnsupportedTelegram, match="no long header"):
        decode(_wired(0x08, 0x01, 0x7A, bytes.fromhex("01000000") + bytes.fromhex("0C1300000000")))


def test_wired_frame_as_long_as_a_wireless_frame_with_l_68_is_still_wired() -> None:
    header = (
        bytes.fromhex("78563412") + bytes.fromhex("2C2D") + bytes([0x01, 0x07, 0x05, 0x00, 0, 0])
    )
    records = bytes.fromhex("0C1378563412")
    filler = bytes([0x2F]) * (0x63 - 3 - len(header) - len(records))
    data = _wired(0x08, 0x01, 0x72, header + records + filler)
    assert len(data) == 0x68 + 1  # what a wireless frame with L=0x68 and no CRCs would be
    assert looks_wired(data)
    telegram = decode(data)
    assert (telegram.link, telegram.device.id) == ("mbus", "12345678")


# -- wireless M-Bus ------------------------------------------------------------


def test_format_a_with_crcs_has_every_block_checked() -> None:
    link = read_frame(frame(FORMAT_A_WITH_CRCS))
    assert link.notes == ("wireless frame format A, link CRCs verified",)
    assert link.sender is not None
    assert (link.sender.manufacturer, link.sender.id) == ("ELS", "12345678")


def test_format_a_crc_error_names_the_block() -> None:
    data = bytearray(frame(FORMAT_A_WITH_CRCS))
    data[14] ^= 0x01  # in the second block
    with pytest.raises(BadFrame, match="CRC of block 2 does not match"):
        decode(bytes(data), key=ANNEX_N_KEY)


def test_format_a_without_crcs_reads_the_same_as_with_them() -> None:
    with_crcs = decode(frame(FORMAT_A_WITH_CRCS), key=ANNEX_N_KEY)
    without = decode(_without_format_a_crcs(frame(FORMAT_A_WITH_CRCS)), key=ANNEX_N_KEY)
    assert without.records == with_crcs.records
    assert without.device == with_crcs.device
    assert without.notes[0] == "wireless frame without link CRCs (removed by the gateway)"


def test_format_b_crcs_are_verified_and_removed() -> None:
    telegram = decode(frame(FORMAT_B_WITH_CRCS))
    assert telegram.notes[0] == "wireless frame format B, link CRCs verified"
    assert (telegram.device.manufacturer, telegram.device.id) == ("CEN", "12345678")
    assert telegram.ci == 0x78


def test_format_b_longer_than_two_blocks_has_two_crcs() -> None:
    body = bytes.fromhex("44AE0C78563412010778") + bytes.fromhex("0B13436587") + bytes([0x2F]) * 130
    length = len(body) + 4  # two CRCs, L excludes itself
    data = bytes([length]) + body
    first, rest = data[:126], data[126:]
    framed = first + crc16_en13757(first).to_bytes(2, "big") + rest
    framed += crc16_en13757(rest).to_bytes(2, "big")
    assert len(framed) == length + 1
    assert read_frame(framed).notes == ("wireless frame format B, link CRCs verified",)


def test_truncated_wireless_frame_is_a_bad_frame() -> None:
    with pytest.raises(BadFrame, match="truncated"):
        decode(frame(FORMAT_B_WITH_CRCS)[:-4])


def test_wireless_frame_longer_than_its_l_field_is_a_bad_frame() -> None:
    with pytest.raises(BadFrame, match="does not fit its L field"):
        decode(frame(FORMAT_B_WITH_CRCS) + b"\x00")


def test_wireless_frame_too_short_for_its_header_is_a_bad_frame() -> None:
    with pytest.raises(BadFrame, match="too short"):
        decode(bytes.fromhex("0444AE0C78"))


def test_empty_telegram_is_a_bad_frame() -> None:
    with pytest.raises(BadFrame, match="empty"):
        decode(b"")


def test_unknown_ci_field_is_unsupported() -> None:
    with pytest.raises(UnsupportedTelegram, match="CI field 55"):
        decode(bytes.fromhex("0C44AE0C785634120107550102"))
