"""ABB (ABB): the manufacturer registers of the B21/B23/B24 electricity meters.

ABB's EQ meters send standard records plus registers under VIF FFh, named
by the first VIFE, and name the phase of a standard record with a
manufacturer-specific VIFE (FFh, then 01h-07h as EN 13757-3's phase codes).
The registers read here are those the public wmbusmeters ``abbb23`` notes
list for the B23 (facts only; the code is ours):

=====  ===================================================================
FF A0  current transformer ratio, numerator      (A2: denominator)
FF A1  voltage transformer ratio, numerator      (A3: denominator)
FF A6  error flags (64 bits)         FF A7  warning flags (64 bits)
FF A8  information flags (64 bits)   FF A9  alarm flags (64 bits)
FF AA  product number, text sent first character first (not reversed)
FF 93  active tariff                 FF 98  power fail counter
=====  ===================================================================

Not yet understood: what the single bits of the four flag registers mean;
a non-zero register gives the flag ``meter_error``, ``meter_warning`` or
``meter_alarm`` (information flags give none). FF AD is kept raw.
"""

from __future__ import annotations

from openamr.collect.decoders._common import (
    Readout,
    RecordByRecord,
    derived,
    little,
    manufacturer_register,
    manufacturer_vifes,
)
from openamr.collect.mbus.model import Record

_PHASES = {
    0x01: "_phase_l1",
    0x02: "_phase_l2",
    0x03: "_phase_l3",
    0x04: "_neutral",
    0x05: "_phase_l1_l2",
    0x06: "_phase_l2_l3",
    0x07: "_phase_l3_l1",
}
# register -> (quantity, description, flag when non-zero)
_NUMBERS: dict[int, tuple[str, str, str | None]] = {
    0x20: ("ct_ratio_numerator", "current transformer ratio, numerator", None),
    0x21: ("vt_ratio_numerator", "voltage transformer ratio, numerator", None),
    0x22: ("ct_ratio_denominator", "current transformer ratio, denominator", None),
    0x23: ("vt_ratio_denominator", "voltage transformer ratio, denominator", None),
    0x26: ("error_flags", "ABB error flags", "meter_error"),
    0x27: ("warning_flags", "ABB warning flags", "meter_warning"),
    0x28: ("information_flags", "ABB information flags", None),
    0x29: ("alarm_flags", "ABB alarm flags", "meter_alarm"),
    0x13: ("active_tariff", "active tariff", None),
    0x18: ("power_fail_count", "number of power failures", None),
}
_PRODUCT_NUMBER = 0x2A


class Abb(RecordByRecord):
    """ABB electricity meters: manufacturer registers and phase VIFEs."""

    name = "abb"
    manufacturers = frozenset({"ABB"})

    def read(self, record: Record) -> Readout:
        """A register as a named number or text, with its flag when set; a phase in the quantity."""
        register = manufacturer_register(record)
        value = record.value
        if register is not None and isinstance(value, bytes):
            if register in _NUMBERS:
                quantity, description, flag = _NUMBERS[register]
                number = little(value)
                named = derived(record, quantity, number, None, description)
                return (named,), (flag,) if flag and number else ()
            if register == _PRODUCT_NUMBER:
                text = value.decode("latin-1")
                return (derived(record, "product_number", text, None, "product number"),), ()
        return (_with_phase(record),), ()


def _with_phase(record: Record) -> Record:
    """A standard record whose manufacturer VIFE names a phase, with the phase in its quantity."""
    extra = manufacturer_vifes(record.raw)
    suffix = _PHASES.get(extra[0]) if extra else None
    if suffix is None:
        return record
    return derived(record, record.quantity + suffix, record.value, record.unit, record.description)
