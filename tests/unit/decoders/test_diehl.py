"""Diehl IZAR PRIOS: descrambled with the default keys, volumes, billing date, battery and alarms.

Vector: wmbusmeters-izarv2-prios (and wmbusmeters-hydrus-oms, a standard
Diehl telegram this family leaves alone).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openamr.collect.decoders.diehl import DiehlPrios, descramble, prios_keys, seed
from openamr.collect.mbus.model import (
    Device,
    KeyNeeded,
    UnsupportedTelegram,
    WrongKey,
)
from tests.unit.decoders.vectors import rejection_reason, wireless

PRIOS = DiehlPrios()
VECTOR = "wmbusmeters-izarv2-prios"
DEFAULT_KEY_1 = bytes.fromhex("39BC8A10E66D83F8")


def test_izar_readings_battery_period_and_alarms() -> None:
    device, header, ci, payload = wireless(VECTOR)
    assert (device.manufacturer, ci) == ("SAP", 0xA2)
    decoded = PRIOS.decode_payload(device, ci, payload, key=None, header=header)
    assert decoded is not None
    records, flags = decoded
    assert flags == ("meter_blocked", "underflow")
    values = {(r.quantity, r.storage): (r.value, r.unit) for r in records}
    assert values[("volume", 0)] == (Decimal("3.488"), "m3")
    assert values[("volume", 1)] == (Decimal("3.486"), "m3")
    assert values[("date", 1)] == (date(2019, 9, 30), None)
    assert values[("remaining_battery_life", 0)] == (Decimal("14.5"), "year")
    assert values[("transmission_period", 0)] == (8, "s")
    billing = next(r for r in records if r.quantity == "volume" and r.storage == 1)
    assert billing.at == date(2019, 9, 30)


def test_sappel_address_gives_what_is_printed_on_the_meter() -> None:
    device, header, ci, payload = wireless(VECTOR)
    records, _ = PRIOS.decode_payload(device, ci, payload, key=None, header=header) or ((), ())
    printed = {r.quantity: r.value for r in records}
    assert printed["serial_prefix"] == "C19UA"
    assert printed["serial_number"] == "145842"
    assert printed["manufacture_year"] == 2019


def test_the_keystream_is_its_own_inverse() -> None:
    _, header, ci, payload = wireless(VECTOR)
    start = seed(DEFAULT_KEY_1, header[2:10], ci, payload)
    plain = descramble(start, payload[4:])
    assert plain[0] == 0x4B
    assert descramble(start, plain) == payload[4:]


def test_a_payload_no_default_key_opens_needs_a_key() -> None:
    device, header, ci, payload = wireless(VECTOR)
    tampered = payload[:4] + bytes([payload[4] ^ 0x01]) + payload[5:]
    with pytest.raises(KeyNeeded, match="default keys"):
        PRIOS.decode_payload(device, ci, tampered, key=None, header=header)
    with pytest.raises(WrongKey, match="configured key"):
        PRIOS.decode_payload(device, ci, tampered, key=bytes(range(8)) * 2, header=header)


def test_a_configured_key_is_tried_first_then_the_defaults() -> None:
    assert prios_keys(DEFAULT_KEY_1 * 2)[0] == DEFAULT_KEY_1
    assert prios_keys(bytes(range(8)) * 2)[0] == bytes(range(8))
    assert len(prios_keys(bytes(range(16)))) == 2  # not an 8-byte key: only the defaults


def test_standard_diehl_telegrams_are_declined() -> None:
    device, header, ci, payload = wireless("wmbusmeters-hydrus-oms")
    assert PRIOS.claims(device, ci)
    assert PRIOS.decode_payload(device, ci, payload, key=None, header=header) is None


def test_short_payload_and_short_link_header_are_unsupported() -> None:
    device, header, ci, payload = wireless(VECTOR)
    with pytest.raises(UnsupportedTelegram, match="at least 9"):
        PRIOS.decode_payload(device, ci, payload[:8], key=None, header=header)
    with pytest.raises(UnsupportedTelegram, match="M and A fields"):
        PRIOS.decode_payload(device, ci, payload, key=None, header=header[:6])


@settings(max_examples=400, deadline=None, database=None)
@given(
    manufacturer=st.sampled_from(["SAP", "DME", "HYD"]),
    ci=st.sampled_from([0xA1, 0xA2, 0xA3, 0x7A]),
    payload=st.binary(max_size=40),
    header=st.binary(max_size=12),
    key=st.none() | st.binary(min_size=16, max_size=16),
)
def test_random_payloads_decode_or_are_rejected_with_a_reason(
    manufacturer: str, ci: int, payload: bytes, header: bytes, key: bytes | None
) -> None:
    device = Device(manufacturer, "21242472", 0xD4, 0x07, "water")
    reason = rejection_reason(
        lambda: PRIOS.decode_payload(device, ci, payload, key=key, header=header)
    )
    assert reason is None or reason


@settings(max_examples=200, deadline=None, database=None)
@given(body=st.binary(min_size=11, max_size=11), head=st.binary(min_size=4, max_size=4))
def test_any_body_that_descrambles_is_read(body: bytes, head: bytes) -> None:
    # Scramble a chosen plaintext so that it passes the check byte, then read it.
    device, header, ci, _ = wireless(VECTOR)
    plain = b"\x4b" + body[1:]
    payload = head + descramble(seed(DEFAULT_KEY_1, header[2:10], ci, head), plain)
    records, _flags = PRIOS.decode_payload(device, ci, payload, key=None, header=header) or (
        (),
        (),
    )
    assert records[0].value == Decimal(int.from_bytes(plain[1:5], "little")) / 1000
