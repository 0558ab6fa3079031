"""ABB: transformer ratios, flag registers and the product number of a B23.

Vector: wmbusmeters-abbb23-electricity.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from openamr.collect.decoders.abb import Abb
from openamr.collect.mbus.model import Device, Record, UnableToDecodeTelegram
from openamr.collect.mbus.records import parse_records
from tests.unit.decoders.vectors import wireless

ABB = Abb()


def _b23() -> tuple[Device, tuple[Record, ...]]:
    device, _, ci, payload = wireless("wmbusmeters-abbb23-electricity")
    assert ci == 0x7A
    return device, parse_records(payload[4:])


def test_b23_registers_become_named_values() -> None:
    device, records = _b23()
    readable, flags = ABB.interpret(device, records)
    named = {r.quantity: r.value for r in readable}
    assert named["product_number"] == "001-111 32B"
    for quantity in (
        "ct_ratio_numerator",
        "vt_ratio_numerator",
        "ct_ratio_denominator",
        "vt_ratio_denominator",
        "error_flags",
        "warning_flags",
        "information_flags",
        "alarm_flags",
    ):
        assert named[quantity] == 0, quantity
    assert flags == ()
    assert not [r for r in readable if r.quantity == "manufacturer_specific"]


def test_a_set_error_register_gives_a_flag() -> None:
    error = Record(
        "manufacturer_specific", (4).to_bytes(8, "little"), None, raw=bytes.fromhex("07FFA600")
    )
    readable, flags = ABB.interpret(Device("ABB", "1", 0x20, 0x02, ""), [error])
    assert flags == ("meter_error",)
    assert readable[0].value == 4


def test_a_phase_vife_names_the_phase() -> None:
    voltage = Record("voltage", None, "V", raw=bytes.fromhex("04FDC8FF02"))
    readable, _ = ABB.interpret(Device("ABB", "1", 0x20, 0x02, ""), [voltage])
    assert readable[0].quantity == "voltage_phase_l2"


@settings(max_examples=300, deadline=None, database=None)
@given(raw=st.binary(max_size=8), value=st.binary(max_size=12) | st.none())
def test_random_records_are_read_or_kept(raw: bytes, value: bytes | None) -> None:
    record = Record("manufacturer_specific", value, None, raw=raw)
    try:
        readable, _ = ABB.interpret(Device("ABB", "1", 0x20, 0x02, ""), [record])
    except UnableToDecodeTelegram:
        return
    assert len(readable) == 1
