"""Schneider Electric: phases and averages, power factor, frequency and the error code of an iEM3000.

Vector: wmbusmeters-iem3000-mbus.
"""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from openamr.collect.decoders.schneider import Schneider
from openamr.collect.mbus.model import Device, Record, RecordValue, UnableToDecodeTelegram
from openamr.collect.mbus.records import parse_records
from tests.unit.decoders.vectors import wired_records

SCHNEIDER = Schneider()


def _close(value: RecordValue, stated: str) -> bool:
    """Within what a 32-bit real holds of the value the source prints to six decimals."""
    return isinstance(value, Decimal) and abs(value - Decimal(stated)) <= Decimal("0.00001")


def test_iem3000_records_with_the_manuals_meanings() -> None:
    device, data = wired_records("wmbusmeters-iem3000-mbus")
    readable, flags = SCHNEIDER.interpret(device, parse_records(data))
    named = {r.quantity: r for r in readable}
    assert _close(named["power_factor"].value, "0.763523")
    assert named["frequency"].unit == "Hz"
    assert _close(named["frequency"].value, "49.992569")
    for quantity in (
        "current_phase_l1",
        "current_phase_l2",
        "current_phase_l3",
        "current_average",
        "voltage_phase_l1_l2",
        "voltage_average_line_to_line",
        "voltage_average_line_to_neutral",
        "power_phase_l3",
    ):
        assert quantity in named, quantity
    assert _close(named["current_phase_l1"].value, "34.194084")
    # The manual: error code index 0 is diagnostic code 101.
    assert flags == ("code_101_eeprom_error",)


def test_other_error_codes_and_out_of_range_ones() -> None:
    device = Device("SEC", "03313062", 0x15, 0x02, "electricity")
    error = Record("error_flags", 4, None, raw=bytes.fromhex("03FD17"))
    assert SCHNEIDER.interpret(device, [error])[1] == ("code_203_phase_sequence_reversed",)
    unknown = Record("error_flags", 42, None, raw=bytes.fromhex("03FD17"))
    assert SCHNEIDER.interpret(device, [unknown])[1] == ()


@settings(max_examples=300, deadline=None, database=None)
@given(
    raw=st.binary(min_size=1, max_size=8),
    value=st.binary(max_size=8) | st.none() | st.integers(-5, 20),
    quantity=st.sampled_from(["manufacturer_specific", "error_flags", "voltage"]),
)
def test_random_records_are_read_or_kept(
    raw: bytes, value: bytes | int | None, quantity: str
) -> None:
    record = Record(quantity, value, None, raw=raw)
    try:
        readable, _ = SCHNEIDER.interpret(Device("SEC", "1", 0x15, 0x02, ""), [record])
    except UnableToDecodeTelegram:
        return
    assert len(readable) == 1
