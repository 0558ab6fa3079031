"""Techem: the FHKV data III and MK Radio 3 payloads read field by field.

Vectors: wmbusmeters-fhkvdataiii-hca, wmbusmeters-mkradio3-water (and
wmbusmeters-fhkvdataiv-hca-mode5, wmbusmeters-mkradio4a-water, which are
standard telegrams this family leaves alone; the FHKV data IV's monthly
history is a standard compact profile, checked here against the meter's
own registers).
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openamr.collect.decoders.techem import Techem
from openamr.collect.mbus.compact import LayoutCache
from openamr.collect.mbus.model import (
    Device,
    Record,
    RecordValue,
    UnsupportedTelegram,
)
from openamr.collect.mbus.telegram import decode
from tests.unit.decoders.vectors import frame, rejection_reason, vector, wireless

TECHEM = Techem()
FHKV = Device("TCH", "11776622", 0x69, 0x80, "reserved device type 0x80")
MK_RADIO_3 = Device("TCH", "34333231", 0x74, 0x62, "reserved device type 0x62")


def _values(records: tuple[Record, ...]) -> set[tuple[str, RecordValue, int, object]]:
    return {(r.quantity, r.value, r.storage, r.at) for r in records}


def test_fhkv_data_iii_current_and_previous_period() -> None:
    device, header, ci, payload = wireless("wmbusmeters-fhkvdataiii-hca")
    assert (device.version, device.device_type, ci) == (0x69, 0x80, 0xA0)
    decoded = TECHEM.decode_payload(device, ci, payload, key=None, header=header)
    assert decoded is not None
    records, flags = decoded
    assert flags == ()
    assert _values(records) == {
        ("hca_units", 131, 0, None),
        ("date", date(2020, 2, 8), 0, None),
        ("hca_units", 1026, 1, date(2019, 12, 31)),
        ("date", date(2019, 12, 31), 1, None),
        ("external_temperature", Decimal("22.44"), 0, None),
        ("flow_temperature", Decimal("25.51"), 0, None),
    }
    assert {r.unit for r in records if r.quantity == "hca_units"} == {"units"}


def test_fhkv_layout_0f_has_one_byte_more_before_the_temperatures() -> None:
    payload = b"".join(
        (
            b"\x0f",  # layout tag
            (31 | 12 << 5 | 20 << 9).to_bytes(2, "little"),  # due date 2020-12-31
            (45).to_bytes(2, "little"),
            (5 << 4 | 2 << 9).to_bytes(2, "little"),  # 5 February
            (4).to_bytes(2, "little"),
            b"\x11",  # the extra byte
            (2237).to_bytes(2, "little"),
            (2360).to_bytes(2, "little"),
        )
    )
    records, _ = TECHEM.decode_payload(
        Device("TCH", "11111234", 0x94, 0x80, ""), 0xA2, payload, key=None, header=b""
    ) or ((), ())
    assert _values(records) >= {
        ("hca_units", 4, 0, None),
        ("date", date(2021, 2, 5), 0, None),
        ("hca_units", 45, 1, date(2020, 12, 31)),
        ("external_temperature", Decimal("22.37"), 0, None),
        ("flow_temperature", Decimal("23.60"), 0, None),
    }


def test_fhkv_unknown_layout_tag_is_unsupported() -> None:
    device, header, ci, payload = wireless("wmbusmeters-fhkvdataiii-hca")
    with pytest.raises(UnsupportedTelegram, match="layout tag 0x42"):
        TECHEM.decode_payload(device, ci, b"\x42" + payload[1:], key=None, header=header)


def test_mk_radio_3_total_is_the_due_date_reading_plus_the_volume_since() -> None:
    device, header, ci, payload = wireless("wmbusmeters-mkradio3-water")
    assert (device.version, device.device_type, ci) == (0x74, 0x62, 0xA2)
    decoded = TECHEM.decode_payload(device, ci, payload, key=None, header=header)
    assert decoded is not None
    records, _ = decoded
    assert _values(records) == {
        ("volume", Decimal("13.8"), 0, None),
        ("date", date(2019, 4, 27), 0, None),
        ("volume", Decimal("8.9"), 1, date(2018, 12, 31)),
        ("date", date(2018, 12, 31), 1, None),
    }


@pytest.mark.parametrize(
    ("due", "current", "expected"),
    [
        # 31 March 2018 due; the current date's day and month decide its year.
        ((2018, 3, 31), (4, 27), date(2018, 4, 27)),
        ((2018, 3, 31), (3, 31), date(2019, 3, 31)),
        ((2018, 3, 31), (4, 1), date(2018, 4, 1)),
        ((2018, 12, 31), (4, 27), date(2019, 4, 27)),
    ],
)
def test_the_current_date_takes_its_year_from_the_due_date(
    due: tuple[int, int, int], current: tuple[int, int], expected: date
) -> None:
    year, month, day = due
    due_field = day | (month << 5) | ((year - 2000) << 9)
    current_field = (current[1] << 4) | (current[0] << 9)
    payload = (
        b"\x06"
        + due_field.to_bytes(2, "little")
        + bytes(2)
        + current_field.to_bytes(2, "little")
        + bytes(2)
    )
    records, _ = TECHEM.decode_payload(MK_RADIO_3, 0xA2, payload, key=None, header=b"") or ((), ())
    assert ("date", expected, 0, None) in _values(records)


def test_an_impossible_date_is_none_not_an_error() -> None:
    payload = bytes.fromhex("060000010000000100")
    records, _ = TECHEM.decode_payload(MK_RADIO_3, 0xA2, payload, key=None, header=b"") or ((), ())
    assert [r.value for r in records if r.quantity == "date"] == [None, None]


def test_standard_techem_telegrams_and_other_models_are_declined() -> None:
    for vector_id in ("wmbusmeters-fhkvdataiv-hca-mode5", "wmbusmeters-mkradio4a-water"):
        device, header, ci, payload = wireless(vector_id)
        assert TECHEM.decode_payload(device, ci, payload, key=None, header=header) is None
    other = Device("TCH", "1", 0x33, 0x80, "")
    assert TECHEM.decode_payload(other, 0xA0, bytes(20), key=None, header=b"") is None


def test_fhkv_data_iv_monthly_history_adds_up_to_its_set_date_register() -> None:
    vector_id = "wmbusmeters-fhkvdataiv-hca-mode5"
    telegram = decode(
        frame(vector_id), key=bytes.fromhex(vector(vector_id)["key"]), layouts=LayoutCache()
    )
    assert telegram.family == "techem"
    months = [(r.at, r.value) for r in telegram.records if r.quantity == "hca_units_change"]
    # Fourteen month ends after the base date of storage 8 (31 October 2019), oldest first.
    assert [at for at, _ in months] == [
        date(2019 + (10 + n) // 12, (10 + n) % 12 + 1, 1) - timedelta(days=1) for n in range(1, 15)
    ]
    assert [value for _, value in months] == [Decimal(0)] * 12 + [Decimal(3), Decimal(22)]
    # The allocator restarts at each 31 December set date: the months of 2020
    # add up to the 25 units of its register at the set date of 2020.
    (at_set_date,) = (r for r in telegram.records if r.quantity == "hca_units" and r.storage == 1)
    assert at_set_date.at == date(2020, 12, 31)
    in_2020 = [value for at, value in months if at is not None and at.year == 2020]
    assert at_set_date.value == sum(value for value in in_2020 if isinstance(value, Decimal))


def test_a_short_payload_is_unsupported_with_its_length() -> None:
    with pytest.raises(UnsupportedTelegram, match="5 bytes of payload"):
        TECHEM.decode_payload(MK_RADIO_3, 0xA2, bytes(5), key=None, header=b"")


@settings(max_examples=400, deadline=None, database=None)
@given(
    device=st.sampled_from([FHKV, MK_RADIO_3, Device("TCH", "1", 0x94, 0x80, "")]),
    ci=st.sampled_from([0xA0, 0xA1, 0xA2, 0xA3, 0x7A]),
    payload=st.binary(max_size=60),
)
def test_random_payloads_decode_or_are_rejected_with_a_reason(
    device: Device, ci: int, payload: bytes
) -> None:
    reason = rejection_reason(
        lambda: TECHEM.decode_payload(device, ci, payload, key=None, header=b"")
    )
    assert reason is None or reason
