"""Apator: the 08's thirds of a litre, the NA-1's encrypted block, the 16-2's registers.

Vectors: wmbusmeters-apator08-water, wmbusmeters-apatorna1-water,
wmbusmeters-apator162-t1-mode5-encrypted (and wmbusmeters-amiplus-electricity,
a standard Apator telegram this family leaves alone).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openamr.collect.decoders.apator import Apator
from openamr.collect.mbus.model import (
    Device,
    KeyNeeded,
    Record,
    UnsupportedTelegram,
    WrongKey,
)
from tests.unit.decoders.vectors import mode5_plaintext, rejection_reason, vector, wireless

APATOR = Apator()
NA1 = "wmbusmeters-apatorna1-water"


def _decode(vector_id: str, key: bytes | None = None) -> tuple[tuple[Record, ...], tuple[str, ...]]:
    device, header, ci, payload = wireless(vector_id)
    decoded = APATOR.decode_payload(device, ci, payload, key=key, header=header)
    assert decoded is not None
    return decoded


def test_apator_08_counts_thirds_of_a_litre() -> None:
    records, flags = _decode("wmbusmeters-apator08-water")
    assert [(r.quantity, r.value, r.unit) for r in records] == [
        ("volume", Decimal("457.579333"), "m3")
    ]
    assert flags == ()


def test_na1_total_clock_and_historic_reading() -> None:
    records, flags = _decode(NA1, bytes.fromhex(vector(NA1)["key"]))
    by_storage = {(r.quantity, r.storage): r for r in records}
    assert by_storage[("volume", 0)].value == Decimal("345.312")
    assert by_storage[("date_time", 0)].value == datetime(2024, 3, 23, 15, 22, 20)
    historic = by_storage[("volume", 1)]
    assert historic.value == Decimal("300.619")
    assert historic.at == datetime(2024, 2, 29, 22, 22, 20)
    assert by_storage[("historic_age", 0)].value == 545
    assert by_storage[("historic_age", 0)].unit == "h"
    # Current and frame status OK, historic status: minimum flow.
    assert flags == ("minimum_flow",)


def test_na1_without_a_key_uses_the_all_zero_default() -> None:
    with_default, _ = _decode(NA1, None)
    with_key, _ = _decode(NA1, bytes(16))
    assert with_default == with_key


def test_na1_wrong_key_and_unopenable_block() -> None:
    device, header, ci, payload = wireless(NA1)
    with pytest.raises(WrongKey, match="lacks its 2Fh"):
        APATOR.decode_payload(device, ci, payload, key=bytes(range(16)), header=header)
    with pytest.raises(WrongKey, match="AES-128"):
        APATOR.decode_payload(device, ci, payload, key=bytes(8), header=header)
    tampered = payload[:2] + bytes([payload[2] ^ 0xFF]) + payload[3:]
    with pytest.raises(KeyNeeded, match="all-zero"):
        APATOR.decode_payload(device, ci, tampered, key=None, header=header)


def test_na1_short_payload_is_unsupported() -> None:
    device, header, ci, payload = wireless(NA1)
    with pytest.raises(UnsupportedTelegram, match="at least 18"):
        APATOR.decode_payload(device, ci, payload[:17], key=None, header=header)


def test_16_2_total_from_register_10h_after_decryption() -> None:
    device, ci, tpl_header, plain = mode5_plaintext("wmbusmeters-apator162-t1-mode5-encrypted")
    assert plain.startswith(b"\x2f\x2f")
    decoded = APATOR.decode_payload(device, ci, tpl_header + plain, key=None, header=b"")
    assert decoded is not None
    records, _ = decoded
    assert [(r.quantity, r.value) for r in records] == [("volume", Decimal("4.848"))]


def test_16_2_without_a_total_register_is_unsupported() -> None:
    device = Device("APA", "88888888", 0x05, 0x07, "water")
    payload = bytes(4) + b"\x2f\x2f" + bytes(8) + b"\x43\x01\x02" + b"\xff"
    with pytest.raises(UnsupportedTelegram, match="no total volume register"):
        APATOR.decode_payload(device, 0x7A, payload, key=None, header=b"")


def test_standard_apator_telegrams_are_declined() -> None:
    device, header, ci, payload = wireless("wmbusmeters-amiplus-electricity")
    assert APATOR.claims(device, ci)
    assert APATOR.decode_payload(device, ci, payload, key=None, header=header) is None


@settings(max_examples=400, deadline=None, database=None)
@given(
    device=st.sampled_from(
        [
            Device("APT", "00149C06", 0x0F, 0x0F, ""),
            Device("APA", "04913581", 0x14, 0x07, "water"),
            Device("APA", "88888888", 0x05, 0x07, "water"),
        ]
    ),
    ci=st.sampled_from([0xA0, 0xA1, 0x7A, 0x72]),
    payload=st.binary(max_size=80),
    header=st.binary(max_size=12),
    key=st.none() | st.binary(min_size=16, max_size=16) | st.binary(max_size=20),
)
def test_random_payloads_decode_or_are_rejected_with_a_reason(
    device: Device, ci: int, payload: bytes, header: bytes, key: bytes | None
) -> None:
    reason = rejection_reason(
        lambda: APATOR.decode_payload(device, ci, payload, key=key, header=header)
    )
    assert reason is None or reason
