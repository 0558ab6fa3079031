"""Schneider Electric (SEC): the manufacturer-specific VIFEs and error codes of the iEM3000 meters.

Follows the "iEM3100 / iEM3200 / iEM3300 series user manual" (DOCA0005EN),
chapter "Communications via M-Bus": its table of manufacturer-specific VIFE
codes, used after VIF FFh (a register of its own) or after VIFE FFh of a
standard record (which phase or which average the value is), and its list of
meter error codes sent in the error flags record (VIF FD 17h).

=====  ==========================  =====  ==============================
code   meaning                     code   meaning
=====  ==========================  =====  ==============================
00     average current             08     average line-to-line voltage
01-03  phase L1, L2, L3            09     export (received) energy
04     average line-to-neutral     0A     power factor (register)
05-07  L1-L2, L2-L3, L3-L1         0B     frequency (register)
0D     partial energy              10     active tariff (register)
=====  ==========================  =====  ==============================

Error codes: the error flags record holds an index into the manual's list
of diagnostic codes, 0 for code 101 (EEPROM error) up to 9 (internal data
bus communication error); each gives a flag ``code_101_eeprom_error`` and so
on. Note that an index of 0 therefore reads as code 101: the manual says so,
and other decoders report it so, though it is sent by meters that show no
fault; it is kept as stated until a meter's display says otherwise.

Not yet understood: the configuration registers (20h-3Ah) are kept raw.
"""

from __future__ import annotations

from decimal import Decimal

from openamr.collect.decoders._common import (
    Readout,
    RecordByRecord,
    derived,
    little,
    manufacturer_register,
    manufacturer_vifes,
)
from openamr.collect.mbus.datatypes import decode_real
from openamr.collect.mbus.model import Record

_SUFFIXES = {
    0x00: "_average",
    0x01: "_phase_l1",
    0x02: "_phase_l2",
    0x03: "_phase_l3",
    0x04: "_average_line_to_neutral",
    0x05: "_phase_l1_l2",
    0x06: "_phase_l2_l3",
    0x07: "_phase_l3_l1",
    0x08: "_average_line_to_line",
    0x09: "_export",
    0x0D: "_partial",
}
_POWER_FACTOR = 0x0A
_FREQUENCY = 0x0B
_ACTIVE_TARIFF = 0x10
_REAL = 0x05  # DIF data field code of a 32-bit real
_ERROR_CODES = (
    "code_101_eeprom_error",
    "code_102_no_calibration_table",
    "code_201_frequency_mismatch",
    "code_202_wiring_mismatch",
    "code_203_phase_sequence_reversed",
    "code_204_negative_active_energy",
    "code_205_clock_reset_by_power_failure",
    "code_206_pulse_output_overspeed",
    "code_207_abnormal_internal_clock",
    "internal_data_bus_error",
)


class Schneider(RecordByRecord):
    """Schneider Electric meters: phase and average VIFEs, registers, error codes."""

    name = "schneider"
    manufacturers = frozenset({"SEC"})

    def read(self, record: Record) -> Readout:
        """The record with the manual's meaning; the error code as a flag."""
        code = record.value
        if record.quantity == "error_flags" and isinstance(code, int):
            flags = (_ERROR_CODES[code],) if 0 <= code < len(_ERROR_CODES) else ()
            return (_readable(record),), flags
        return (_readable(record),), ()


def _readable(record: Record) -> Record:
    register = manufacturer_register(record)
    if register is not None:
        return _register(record, register)
    extra = manufacturer_vifes(record.raw)
    suffix = _SUFFIXES.get(extra[0]) if extra else None
    if suffix is None:
        return record
    return derived(record, record.quantity + suffix, record.value, record.unit, record.description)


def _register(record: Record, register: int) -> Record:
    raw = record.value
    if not isinstance(raw, bytes) or not raw:
        return record
    if register == _ACTIVE_TARIFF:
        return derived(record, "active_tariff", little(raw), None, "active tariff")
    if register not in (_POWER_FACTOR, _FREQUENCY):
        return record
    number: Decimal | None
    if record.raw[0] & 0x0F == _REAL and len(raw) == 4:
        number = decode_real(raw)
    else:
        number = Decimal(int.from_bytes(raw, "little", signed=True))
    if register == _POWER_FACTOR:
        return derived(record, "power_factor", number, None, "power factor")
    return derived(record, "frequency", number, "Hz", "frequency")
