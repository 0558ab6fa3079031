"""What the decoder keeps between telegrams never answers for a different telegram.

The decoder keeps, by the bytes they come from, what a meter sends the same
every time: Devices by address, the CRC register after a link header, the AES
block cipher of a key, record plans and the family that claims a meter. Each test decodes a telegram and then a
different one from the same meter (another length, layout, key, header or CI)
and checks the second reads as it would have on its own.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import Decimal

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given
from hypothesis import strategies as st

from openamr.collect import decoders
from openamr.collect.decoders import family_for
from openamr.collect.decoders._common import ManufacturerFamily
from openamr.collect.mbus import identity, link, records, security
from openamr.collect.mbus._cache import BoundedCache
from openamr.collect.mbus.crc import crc16_en13757, crc16_register
from openamr.collect.mbus.model import BadFrame, Device, Record, WrongKey
from openamr.collect.mbus.telegram import decode
from openamr.demo.telegrams import address, date_time, energy_wh, volume_litres, wmbus

KEY = bytes(range(16))
OTHER_KEY = bytes(range(16, 32))
AT = datetime(2024, 3, 31, 23, 45)


def _crc_bit_by_bit(data: bytes) -> int:
    register = 0
    for byte in data:
        register ^= byte << 8
        for _ in range(8):
            register = ((register << 1) ^ 0x3D65) if register & 0x8000 else register << 1
            register &= 0xFFFF
    return register ^ 0xFFFF


def _crc(data: bytes) -> bytes:
    return _crc_bit_by_bit(data).to_bytes(2, "big")


def _format_a(frame: bytes) -> bytes:
    """A CRC-less frame with its format A CRCs: after the first 10 bytes, then every 16."""
    framed = frame[:10] + _crc(frame[:10])
    for start in range(10, len(frame), 16):
        framed += frame[start : start + 16] + _crc(frame[start : start + 16])
    return framed


def _format_b(frame: bytes) -> bytes:
    """A CRC-less frame (L at most 125) with its format B CRC, which L counts."""
    body = bytes([frame[0] + 2]) + frame[1:]
    return body + _crc(body)


def _values(data: bytes, key: bytes | None = None) -> list[tuple[str, object]]:
    return [(record.quantity, record.value) for record in decode(data, key=key).records]


# -- the CRC and the cache itself ----------------------------------------------


@given(st.binary(max_size=300))
def test_crc_is_the_bit_by_bit_crc(data: bytes) -> None:
    assert crc16_en13757(data) == _crc_bit_by_bit(data)


@given(st.binary(max_size=40), st.binary(max_size=40))
def test_crc_register_continues_from_a_known_start(start: bytes, rest: bytes) -> None:
    assert crc16_register(rest, crc16_register(start)) ^ 0xFFFF == crc16_en13757(start + rest)


def test_a_bounded_cache_forgets_the_entry_kept_longest_ago() -> None:
    cache: BoundedCache[int, str] = BoundedCache(2)
    assert cache.keep(1, "one") == "one"
    cache.keep(2, "two")
    cache.keep(3, "three")
    assert dict(cache) == {2: "two", 3: "three"}


# -- devices by address ----------------------------------------------------------


def test_a_meter_that_changes_version_or_medium_is_a_new_device() -> None:
    water = decode(wmbus(volume_litres(1), device_id="12345678", device_type=0x07))
    warm = decode(wmbus(volume_litres(1), device_id="12345678", device_type=0x06))
    newer = decode(wmbus(volume_litres(1), device_id="12345678", device_type=0x07, version=0x1C))
    assert (water.device.medium, warm.device.medium) == ("water", "warm water")
    assert (water.device.version, newer.device.version) == (0x1B, 0x1C)
    assert decode(wmbus(volume_litres(2), device_id="12345678", device_type=0x07)).device == (
        water.device
    )


def test_the_same_eight_bytes_name_different_meters_in_link_and_long_header_order() -> None:
    link_order = address("KAM", "12345678", 0x1B, 0x16)
    long_order = link_order[2:6] + link_order[0:2] + link_order[6:8]
    meter = identity.device_from_link_address(link_order)
    assert identity.device_from_long_header(long_order) == meter
    other = identity.device_from_long_header(link_order)  # the same bytes read the other way
    assert other != meter
    assert identity.device_from_link_address(link_order) == meter


# -- link layer: frames read lately, CRC registers by header -------------------


def test_frames_of_one_meter_with_and_without_crcs_read_alike() -> None:
    plain = wmbus(volume_litres(1234) + date_time(AT), device_id="23456789")
    expected = _values(plain)
    assert _values(_format_a(plain)) == expected
    assert _values(_format_b(plain)) == expected
    assert _values(plain) == expected


def test_a_second_frame_with_the_same_link_header_has_its_own_crc_checked() -> None:
    good = _format_a(wmbus(volume_litres(1) + date_time(AT), device_id="34567890"))
    assert _values(good)
    damaged = bytearray(good)
    damaged[14] ^= 0x01  # a data byte of the second block: its CRC no longer matches
    with pytest.raises(BadFrame, match="block 2"):
        decode(bytes(damaged))
    damaged_header = bytearray(good)
    damaged_header[3] ^= 0x01  # the first block's CRC no longer matches its header
    with pytest.raises(BadFrame, match="block 1"):
        decode(bytes(damaged_header))


def test_a_format_b_frame_whose_crc_fails_is_read_without_crcs() -> None:
    framed = bytearray(_format_b(wmbus(volume_litres(7), device_id="45678901")))
    assert link.read_frame(bytes(framed)).notes == ("wireless frame format B, link CRCs verified",)
    framed[-1] ^= 0x01  # the same header: its kept CRC register must not make this one pass
    assert link.read_frame(bytes(framed)).notes == (
        "wireless frame without link CRCs (removed by the gateway)",
    )


def test_a_longer_frame_of_the_same_meter_is_read_to_its_end() -> None:
    short = wmbus(volume_litres(99), device_id="56789012")
    longer = wmbus(volume_litres(99) + date_time(AT), device_id="56789012")
    assert link.read_frame(short).payload == short[11:]
    assert link.read_frame(_format_b(longer)).payload == longer[11:]
    assert link.read_frame(_format_a(longer)).payload == longer[11:]
    with pytest.raises(BadFrame, match="does not fit its L field"):
        link.read_frame(short + b"\x00")


# -- the application layer: layouts, keys ----------------------------------------


def test_a_meter_that_changes_its_layout_is_read_by_the_new_one() -> None:
    meter = "67890123"
    assert _values(wmbus(volume_litres(10) + date_time(AT), device_id=meter))[0] == (
        "volume",
        Decimal("0.01"),
    )
    # The same length, another record: the kept plan must not be taken for it.
    energy = _values(wmbus(energy_wh(10) + date_time(AT), device_id=meter))
    assert [quantity for quantity, _ in energy] == ["energy", "date_time"]
    assert [quantity for quantity, _ in _values(wmbus(volume_litres(10), device_id=meter))] == [
        "volume"
    ]


def test_text_records_of_different_lengths_are_walked_each_time() -> None:
    # DIF 0D (variable length) VIF FD 0C (model / version): text, last character first.
    def text_record(text: str) -> bytes:
        return b"\x0d\xfd\x0c" + bytes([len(text)]) + text.encode()[::-1]

    short_first = text_record("A") + text_record("BCD")
    long_first = text_record("ABC") + text_record("D")
    assert len(short_first) == len(long_first)
    for data, texts in (
        (short_first, ["A", "BCD"]),
        (long_first, ["ABC", "D"]),
        (short_first, ["A", "BCD"]),
    ):
        assert [record.value for record in records.parse_records(data)] == texts


def test_a_meter_given_a_new_key_is_read_with_it() -> None:
    meter = "78901234"
    first = wmbus(volume_litres(5) + date_time(AT), key=KEY, access_number=1, device_id=meter)
    second = wmbus(
        volume_litres(6) + date_time(AT), key=OTHER_KEY, access_number=2, device_id=meter
    )
    assert _values(first, KEY)[0] == ("volume", Decimal("0.005"))
    assert _values(second, OTHER_KEY)[0] == ("volume", Decimal("0.006"))
    with pytest.raises(WrongKey):
        decode(second, key=KEY)
    assert _values(first, KEY)[0] == ("volume", Decimal("0.005"))


@given(
    key=st.binary(min_size=16, max_size=16),
    address_bytes=st.binary(min_size=8, max_size=8),
    access_numbers=st.lists(st.integers(0, 255), min_size=2, max_size=4),
    blocks=st.integers(1, 4),
    data=st.data(),
)
def test_mode5_decrypts_as_aes_cbc_for_every_access_number(
    key: bytes, address_bytes: bytes, access_numbers: list[int], blocks: int, data: st.DataObject
) -> None:
    for access_number in access_numbers:
        ciphertext = data.draw(st.binary(min_size=16 * blocks, max_size=16 * blocks))
        iv = address_bytes + bytes([access_number]) * 8
        reference = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
        expected = reference.update(ciphertext) + reference.finalize()
        decrypted = security.decrypt_mode5(
            key, address=address_bytes, access_number=access_number, data=ciphertext
        )
        assert decrypted == expected


@given(
    key=st.binary(min_size=16, max_size=16),
    session_numbers=st.lists(st.binary(min_size=4, max_size=4), min_size=2, max_size=3),
    data=st.binary(max_size=70),
)
def test_ell_ctr_decrypts_as_aes_ctr_for_every_session(
    key: bytes, session_numbers: list[bytes], data: bytes
) -> None:
    link_address = address("KAM", "76348799", 0x1B, 0x16)
    for session_number in session_numbers:
        counter = link_address + b"\x20" + session_number + bytes(3)
        reference = Cipher(algorithms.AES(key), modes.CTR(counter)).decryptor()
        expected = reference.update(data) + reference.finalize()
        decrypted = security.decrypt_ell_ctr(
            key,
            address=link_address,
            communication_control=0x20,
            session_number=session_number,
            data=data,
        )
        assert decrypted == expected


# -- the family registry --------------------------------------------------------


class _ClaimsOneCi(ManufacturerFamily):
    name = "claims_7a"
    manufacturers = frozenset({"KAM"})

    def claims(self, device: Device, ci: int) -> bool:
        return super().claims(device, ci) and ci == 0x7A


def test_the_family_is_kept_per_device_and_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    family = _ClaimsOneCi()
    monkeypatch.setattr(decoders, "FAMILIES", [family])
    kamstrup = Device("KAM", "12345678", 0x1B, 0x16, "cold water")
    assert family_for(kamstrup, 0x7A) is family
    assert family_for(kamstrup, 0x72) is None
    assert family_for(Device("LAS", "12345678", 0x1B, 0x16, "cold water"), 0x7A) is None
    assert family_for(kamstrup, 0x7A) is family


def test_a_changed_registry_is_asked_again(monkeypatch: pytest.MonkeyPatch) -> None:
    kamstrup = Device("KAM", "12345678", 0x1B, 0x16, "cold water")
    monkeypatch.setattr(decoders, "FAMILIES", [])
    assert family_for(kamstrup, 0x7A) is None
    family = _ClaimsOneCi()
    decoders.FAMILIES.append(family)  # changed in place
    assert family_for(kamstrup, 0x7A) is family
    replacement = _ClaimsOneCi()
    decoders.FAMILIES[0] = replacement  # the same length, another family
    assert family_for(kamstrup, 0x7A) is replacement


def test_a_family_restates_a_record_in_its_place() -> None:
    source = Record("manufacturer_specific", b"\x01", None, 3, 1, 2, at=AT, raw=b"\x02\xff\x20")
    restated = records.restated(source, "info_codes", 1, None, "info")
    # Every other field kept, as dataclasses.replace keeps them (a field added to
    # Record later included).
    assert restated == replace(
        source, quantity="info_codes", value=1, unit=None, description="info"
    )
