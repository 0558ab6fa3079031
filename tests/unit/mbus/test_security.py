"""Encrypted telegrams: the right key opens them, a wrong or missing one never yields a reading."""

from __future__ import annotations

import pytest

from openamr.collect import decoders
from openamr.collect.mbus.afl import read_afl
from openamr.collect.mbus.crc import crc16_en13757
from openamr.collect.mbus.model import BadFrame, Device, KeyNeeded, UnsupportedTelegram, WrongKey
from openamr.collect.mbus.security import decrypt_ell_ctr
from openamr.collect.mbus.telegram import decode
from openamr.collect.mbus.transport import status_flags
from tests.unit.mbus.vector_matching import frame, vector

MODE5 = "wmbusparser-oms-annexN-mode5-profileA"
MODE5_LONG_HEADER = "wmbusparser-jmbus-demo3-mode5-ci72"
MODE7 = "wmbusparser-oms-annexN-mode7-integrated-radio"
MODE7_RADIO_ADAPTER = "wmbusparser-oms-annexN-mode7-radio-adapter"
PARTIAL = "wmbusparser-oms-partial-encryption"
ELL_CTR = "wmbusmeters-kamwater-multical21-c1-ell-encrypted"
ELL_PRE_DECRYPTED = "wmbusmeters-kamwater-multical21-c1-long"
TPL_PRE_DECRYPTED = "wmbusmeters-sharky774-heat"


@pytest.fixture(autouse=True)
def _protocol_layers_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are about the security layers: no manufacturer family takes part."""
    monkeypatch.setattr(decoders, "FAMILIES", [])


def _key(vector_id: str) -> bytes:
    return bytes.fromhex(vector(vector_id)["key"])


def _wrong(key: bytes) -> bytes:
    return key[:-1] + bytes([key[-1] ^ 0x01])


def _without_format_a_crcs(data: bytes) -> bytes:
    plain = data[:10]
    position = 12
    while position < len(data):
        size = min(16, len(data) - position - 2)
        plain += data[position : position + size]
        position += size + 2
    return plain


@pytest.mark.parametrize(
    ("vector_id", "security"),
    [
        (MODE5, "mode 5"),
        (MODE5_LONG_HEADER, "mode 5"),
        (MODE7, "mode 7"),
        (MODE7_RADIO_ADAPTER, "mode 7"),
        (PARTIAL, "mode 5"),
        (ELL_CTR, "ell ctr"),
    ],
)
def test_right_key_opens_the_payload(vector_id: str, security: str) -> None:
    telegram = decode(frame(vector_id), key=_key(vector_id))
    assert telegram.security == security
    assert telegram.records


@pytest.mark.parametrize("vector_id", [MODE5, MODE5_LONG_HEADER, MODE7, PARTIAL, ELL_CTR])
def test_wrong_key_is_rejected_never_read(vector_id: str) -> None:
    with pytest.raises(WrongKey) as caught:
        decode(frame(vector_id), key=_wrong(_key(vector_id)))
    assert caught.value.cause == "wrong_key"
    assert caught.value.device is not None


@pytest.mark.parametrize("vector_id", [MODE5, MODE7_RADIO_ADAPTER, PARTIAL, ELL_CTR])
def test_missing_key_says_which_meter_needs_one(vector_id: str) -> None:
    with pytest.raises(KeyNeeded) as caught:
        decode(frame(vector_id))
    assert caught.value.device is not None
    assert caught.value.device.id in caught.value.reason


def test_key_of_the_wrong_length_is_a_wrong_key() -> None:
    with pytest.raises(WrongKey, match="16"):
        decode(frame(MODE5), key=bytes(15))


def test_keys_are_looked_up_once_for_the_meter_the_long_header_names() -> None:
    asked: list[Device] = []

    def keys(device: Device) -> bytes | None:
        asked.append(device)
        return _key(MODE7_RADIO_ADAPTER)

    telegram = decode(frame(MODE7_RADIO_ADAPTER), keys=keys)
    assert [(d.manufacturer, d.id) for d in asked] == [("ELS", "12345678")]
    assert telegram.device.id == "12345678"
    assert any("sent through RAD 11223344" in note for note in telegram.notes)


def test_an_error_of_the_key_lookup_is_the_callers() -> None:
    def keys(device: Device) -> bytes | None:
        raise LookupError("key store unavailable")

    with pytest.raises(LookupError, match="key store unavailable"):
        decode(frame(MODE5), keys=keys)


def test_key_argument_wins_over_the_lookup() -> None:
    telegram = decode(frame(MODE5), key=_key(MODE5), keys=lambda device: None)
    assert telegram.security == "mode 5"


def test_mode7_mac_catches_an_altered_payload() -> None:
    data = bytearray(_without_format_a_crcs(frame(MODE7)))
    data[-1] ^= 0x01
    with pytest.raises(WrongKey, match="MAC does not verify"):
        decode(bytes(data), key=_key(MODE7))


def test_mode7_mac_is_verified() -> None:
    telegram = decode(frame(MODE7), key=_key(MODE7))
    assert "AFL MAC verified" in telegram.notes
    assert telegram.access_number == 0x75


def test_partial_encryption_reads_the_plaintext_after_the_encrypted_blocks() -> None:
    telegram = decode(frame(PARTIAL), key=_key(PARTIAL))
    assert "1 blocks encrypted, 7 bytes plaintext" in telegram.notes
    assert telegram.records[-1].raw == bytes.fromhex("0CFD10")  # from the plaintext tail
    assert telegram.flags == ("power_low",)


def test_pre_decrypted_payload_needs_the_option() -> None:
    with pytest.raises(KeyNeeded):
        decode(frame(TPL_PRE_DECRYPTED))
    telegram = decode(frame(TPL_PRE_DECRYPTED), allow_pre_decrypted=True)
    assert telegram.security == "pre-decrypted"


def test_pre_decrypted_payload_is_taken_even_when_a_key_is_set() -> None:
    telegram = decode(frame(TPL_PRE_DECRYPTED), key=bytes(16), allow_pre_decrypted=True)
    assert telegram.security == "pre-decrypted"


def test_pre_decrypted_ell_payload_is_recognised_by_its_crc() -> None:
    with pytest.raises(KeyNeeded):
        decode(frame(ELL_PRE_DECRYPTED))
    telegram = decode(frame(ELL_PRE_DECRYPTED), allow_pre_decrypted=True)
    assert telegram.security == "pre-decrypted"
    encrypted = decode(frame(ELL_CTR), key=_key(ELL_CTR))
    assert telegram.records == encrypted.records


def test_the_option_does_not_make_ciphertext_plaintext() -> None:
    with pytest.raises(KeyNeeded):
        decode(frame(MODE5), allow_pre_decrypted=True)
    with pytest.raises(WrongKey):
        decode(frame(ELL_CTR), key=_wrong(_key(ELL_CTR)), allow_pre_decrypted=True)


def test_ell_counter_leaves_out_the_hop_bit_a_repeater_sets() -> None:
    arguments = {"address": bytes(8), "session_number": bytes(4), "data": bytes(32)}
    plain = decrypt_ell_ctr(bytes(16), communication_control=0x20, **arguments)
    repeated = decrypt_ell_ctr(bytes(16), communication_control=0x30, **arguments)
    assert plain == repeated


def test_fragmented_afl_is_unsupported() -> None:
    with pytest.raises(UnsupportedTelegram, match="fragment 1"):
        read_afl(bytes.fromhex("0201") + b"\x00")


def test_afl_shorter_than_its_length_is_a_bad_frame() -> None:
    with pytest.raises(BadFrame, match="authentication and fragmentation layer"):
        read_afl(bytes.fromhex("0F002C25"))


def test_encrypted_blocks_beyond_the_payload_are_a_bad_frame() -> None:
    data = bytearray(_without_format_a_crcs(frame(MODE5)))
    data[0] -= 16
    with pytest.raises(BadFrame, match="2 encrypted blocks"):
        decode(bytes(data[:-16]), key=_key(MODE5))


@pytest.mark.parametrize(
    ("status", "flags"),
    [
        (0x00, ()),
        (0x04, ("power_low",)),
        (0x10, ("temporary_error",)),
        (0x48, ("permanent_error", "manufacturer_status_40")),
        (0x27, ("abnormal_condition", "power_low", "manufacturer_status_20")),
    ],
)
def test_status_byte_becomes_flags(status: int, flags: tuple[str, ...]) -> None:
    assert status_flags(status) == flags


def _ell_frame(ci: int, fields: bytes, inner: bytes) -> bytes:
    crc = crc16_en13757(inner).to_bytes(2, "little")
    body = bytes.fromhex("44AE0C7856341201") + bytes([0x07, ci]) + fields + crc + inner
    return bytes([len(body)]) + body


@pytest.mark.parametrize(
    ("ci", "fields"),
    [
        (0x8D, bytes.fromhex("2027") + bytes(4)),
        (0x8F, bytes.fromhex("2027") + bytes.fromhex("3A63665544330A31") + bytes(4)),
    ],
)
def test_unencrypted_ell_with_session_number_has_its_payload_crc_checked(
    ci: int, fields: bytes
) -> None:
    inner = bytes.fromhex("780B13436587")
    telegram = decode(_ell_frame(ci, fields, inner))
    assert (telegram.ci, telegram.access_number, telegram.security) == (0x78, 0x27, "none")
    damaged = bytearray(_ell_frame(ci, fields, inner))
    damaged[-1] ^= 0x01
    with pytest.raises(BadFrame, match="ELL payload CRC"):
        decode(bytes(damaged))


def test_reserved_ell_encryption_is_unsupported() -> None:
    session_number = (2 << 29).to_bytes(4, "little")
    data = _ell_frame(0x8D, bytes.fromhex("2027") + session_number, bytes.fromhex("780B13436587"))
    with pytest.raises(UnsupportedTelegram, match="ELL encryption 2"):
        decode(data)
