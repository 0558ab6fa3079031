"""The entry point: hex input, dispatch to families and compact frames, errors kept in the tree."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pytest

from openamr.collect import decoders
from openamr.collect.mbus import telegram as telegram_module
from openamr.collect.mbus.compact import LayoutCache
from openamr.collect.mbus.model import (
    BadFrame,
    Device,
    Record,
    UnknownLayout,
    UnsupportedTelegram,
)
from openamr.collect.mbus.telegram import decode, decode_hex, parse_hex
from tests.unit.mbus.vector_matching import frame, vector

PLAIN = "wmbusmeters-supercom587-water"
MANUFACTURER_CI = "wmbusmeters-apator08-water"
WIRED = "libmbus-tch-telegramm1"


@dataclass
class FakeFamily:
    """A family that records what it was given."""

    name: str = "fake"
    ci: int | None = None
    payload_result: tuple[tuple[Record, ...], tuple[str, ...]] | None = None
    calls: list[tuple[str, int, bytes, bytes | None, bytes]] = field(default_factory=list)

    def claims(self, device: Device, ci: int) -> bool:
        return self.ci is None or ci == self.ci

    def decode_payload(
        self, device: Device, ci: int, payload: bytes, *, key: bytes | None, header: bytes
    ) -> tuple[tuple[Record, ...], tuple[str, ...]] | None:
        self.calls.append(("decode_payload", ci, payload, key, header))
        return self.payload_result

    def interpret(
        self, device: Device, records: Sequence[Record]
    ) -> tuple[tuple[Record, ...], tuple[str, ...]]:
        self.calls.append(("interpret", len(records), b"", None, b""))
        extra = Record(quantity="family_note", value="seen", unit=None)
        return (*records, extra), ("leak",)

    def status_bits(self, device: Device) -> Mapping[int, str]:
        return {0x20: "valve_closed"}

    def compact_layouts(self) -> tuple[tuple[str, bytes], ...]:
        return ()


class RecordingLayouts(LayoutCache):
    def __init__(self) -> None:
        super().__init__()
        self.learnt: list[tuple[Device, bytes]] = []

    def learn(self, device: Device, data: bytes) -> None:
        self.learnt.append((device, data))
        super().learn(device, data)


def test_hex_may_have_spaces_underscores_and_a_prefix() -> None:
    written = vector("wmbusmeters-kamwater-multical21-c1-long")["hex_as_written"]
    assert "_" in written
    assert parse_hex(written) == frame("wmbusmeters-kamwater-multical21-c1-long")
    assert parse_hex("0x68 04_04 68") == bytes.fromhex("68040468")
    text = vector(PLAIN)["hex"]
    spaced = " ".join(text[i : i + 2] for i in range(0, len(text), 2))
    assert decode_hex(spaced).device.id == "12345678"


@pytest.mark.parametrize(("text", "reason"), [("68 0", "odd number"), ("68 GG", "not hexadecimal")])
def test_text_that_is_not_hex_is_a_bad_frame(text: str, reason: str) -> None:
    with pytest.raises(BadFrame, match=reason):
        decode_hex(text)


def test_plain_telegram_names_its_meter_and_header(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(decoders, "FAMILIES", [])
    telegram = decode(frame(PLAIN))
    assert telegram.device == Device("SON", "12345678", 0x3C, 0x06, "warm water")
    assert (telegram.link, telegram.ci, telegram.access_number, telegram.status) == (
        "wmbus",
        0x7A,
        0x8F,
        0x00,
    )
    assert (telegram.security, telegram.flags, telegram.family) == ("none", (), None)


def test_manufacturer_ci_goes_to_the_family_with_key_and_link_header(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reading = Record(quantity="volume", value=None, unit="m3")
    family = FakeFamily(payload_result=((reading,), ("dry",)))
    monkeypatch.setattr(decoders, "FAMILIES", [family])
    data = frame(MANUFACTURER_CI)
    telegram = decode(data, key=bytes(16))
    assert telegram.records == (reading,)
    assert telegram.flags == ("dry",)
    assert (telegram.family, telegram.security, telegram.ci) == (
        "fake",
        "manufacturer specific",
        0xA0,
    )
    assert family.calls == [("decode_payload", 0xA0, data[11:], bytes(16), data[:10])]


def test_manufacturer_ci_without_a_family_is_unsupported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(decoders, "FAMILIES", [])
    with pytest.raises(UnsupportedTelegram, match="no family reads it") as caught:
        decode(frame(MANUFACTURER_CI))
    assert caught.value.device is not None
    assert caught.value.device.id == "00149C06"


def test_manufacturer_ci_a_family_declines_is_unsupported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(decoders, "FAMILIES", [FakeFamily()])
    with pytest.raises(UnsupportedTelegram, match="does not read CI A0"):
        decode(frame(MANUFACTURER_CI))


def test_claimed_standard_telegram_is_read_then_interpreted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(decoders, "FAMILIES", [])
    plain = decode(frame(PLAIN))
    family = FakeFamily(ci=0x7A)
    monkeypatch.setattr(decoders, "FAMILIES", [family])
    telegram = decode(frame(PLAIN))
    payload_call, interpret_call = family.calls
    assert payload_call[0] == "decode_payload"
    assert payload_call[2] == frame(PLAIN)[11:]  # header and plaintext APL
    assert interpret_call[:2] == ("interpret", len(plain.records))
    assert telegram.records[-1].quantity == "family_note"
    assert telegram.flags == ("leak",)
    assert telegram.family == "fake"


def test_family_that_takes_a_standard_payload_replaces_the_records(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reading = Record(quantity="volume", value=None, unit="m3")
    monkeypatch.setattr(
        decoders, "FAMILIES", [FakeFamily(ci=0x7A, payload_result=((reading,), ()))]
    )
    assert decode(frame(PLAIN)).records == (reading,)


def test_full_frames_teach_their_layout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(decoders, "FAMILIES", [])
    layouts = RecordingLayouts()
    telegram = decode(frame(PLAIN), layouts=layouts)
    assert layouts.learnt == [(telegram.device, frame(PLAIN)[15:])]


def test_compact_frame_of_an_unknown_layout_names_the_meter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(decoders, "FAMILIES", [])
    compact = bytes.fromhex("1144AE0C7856341201077912340000AABBCC")
    compact = bytes([len(compact) - 1]) + compact[1:]
    with pytest.raises(UnknownLayout) as caught:
        decode(compact, layouts=LayoutCache())
    assert caught.value.device is not None
    assert (caught.value.device.manufacturer, caught.value.device.id) == ("CEN", "12345678")


def test_index_error_in_the_application_layer_is_a_bad_frame(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(data: bytes) -> tuple[Record, ...]:
        raise IndexError("index out of range")

    monkeypatch.setattr(telegram_module, "parse_records", broken)
    with pytest.raises(BadFrame, match=r"application layer .* IndexError") as caught:
        decode(frame(PLAIN))
    assert isinstance(caught.value.__cause__, IndexError)
    assert caught.value.device is not None


def test_unexpected_error_in_a_family_is_unsupported(monkeypatch: pytest.MonkeyPatch) -> None:
    class Broken(FakeFamily):
        def interpret(
            self, device: Device, records: Sequence[Record]
        ) -> tuple[tuple[Record, ...], tuple[str, ...]]:
            raise RuntimeError("bug")

    monkeypatch.setattr(decoders, "FAMILIES", [Broken(ci=0x7A)])
    with pytest.raises(UnsupportedTelegram, match=r"family fake .* RuntimeError: bug"):
        decode(frame(PLAIN))


def test_wired_telegram_reads_the_long_header() -> None:
    telegram = decode(frame(WIRED))
    assert telegram.link == "mbus"
    assert telegram.device == Device("TCH", "21519982", 0x26, 0x04, "heat")
    assert (telegram.access_number, telegram.status) == (0x85, 0x00)


def test_family_names_the_manufacturer_bits_of_the_status_byte(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    status_0x20 = frame("wmbusmeters-ultraheat-wmbus")
    monkeypatch.setattr(decoders, "FAMILIES", [])
    assert decode(status_0x20).flags == ("manufacturer_status_20",)
    monkeypatch.setattr(decoders, "FAMILIES", [FakeFamily(ci=0x7A)])
    assert decode(status_0x20).flags == ("valve_closed", "leak")
