"""Kamstrup (KAM): info codes, the m3×T registers and the compact layouts of MULTICAL and flowIQ.

Kamstrup meters send standard EN 13757-3 records plus registers of their own
under VIF FFh, named by the first VIFE. This module reads those the public
descriptions explain:

- FF 20, water meters (MULTICAL 21, flowIQ 2101): the 16-bit info register of
  Kamstrup's "Technical Description MULTICAL 21 & flowIQ 2101/..02/..03"
  (5512-897), section 11.4: bits 0-3 are the info codes DRY, REVERSE, LEAK
  and BURST as they stand now; bits 4-15 are their hour counters, three bits
  each in the same order, a bucket from "1-8 hours" to "22-31 days".
- FF 23, newer water meters (flowIQ 2200, KWM): a 32-bit status with the same
  four codes in bits 0-3, then tamper, low battery, low ambient temperature,
  flow above Q4 and (bit 9) no consumption, as the public wmbusmeters
  ``kamwater`` notes list them.
- FF 22, heat meters (MULTICAL 303/403/603/803): the info code in the bit
  format of "MULTICAL 403 Technical description" (5512-1689) section 7.7.1
  for bits 0-15; bits 16-31 (second flow sensor, t3, burst and leakage in
  the system) at the positions the wmbusmeters ``kamheat`` notes give them,
  for conditions the MULTICAL 803 technical description (5512-2360) section
  7.8 names.
- FF 07 and FF 08: the registers E8 (volume × t1) and E9 (volume × t2)
  that the MULTICAL 302 technical description (5512-1334) lists under
  wired and wireless M-Bus data.

Compact frames: a meter sends its full layout now and then and otherwise only
the values. :data:`COMPACT_LAYOUTS` holds the layouts (DIF..VIFE bytes) of
the MULTICAL 21 and 302 as their full telegrams in the test vectors carry
them, and of the MULTICAL 403 family (KAM 34 0C), worked out from its compact
telegram's values. The tests check the MULTICAL 21 and 403 layouts against
compact telegrams (format signature and full-frame CRC) and the 302 layouts
against their full telegrams.

Not yet understood: FF 21, an 8-bit info code of the MULTICAL 302, is kept
as a number (its bits are not published; a non-zero value gives the flag
``info_code``); FF 16, FF 17, FF 1A and FF 1B are kept raw. E8 and E9 are
given as the register value in m3·°C, as other decoders print them, but the
vectors suggest one count is the meter's volume resolution × 100 °C (0.1
m3·°C for a 0.001 m3 volume register, 100 m3·°C for 1 m3), which no public
description states.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from openamr.collect.decoders._common import (
    Decoded,
    Readout,
    RecordByRecord,
    derived,
    little,
    manufacturer_register,
    set_bits,
)
from openamr.collect.mbus.model import Record

# Bits 0-3 of the water info register and status (FF 20, FF 23): the info codes.
_WATER_CODES = {0x1: "dry", 0x2: "reverse_flow", 0x4: "leak", 0x8: "burst"}
_WATER_STATUS = {
    **_WATER_CODES,
    0x10: "tamper",
    0x20: "low_battery",
    0x40: "low_ambient_temperature",
    0x80: "flow_above_q4",
    0x200: "no_consumption",
}
# The hour counters of FF 20: (record name, lowest bit of its three).
_HOUR_COUNTERS = (
    ("time_dry", 4),
    ("time_reversed", 7),
    ("time_leaking", 10),
    ("time_bursting", 13),
)
_HOUR_BUCKETS = (
    "0 hours",
    "1-8 hours",
    "9-24 hours",
    "2-3 days",
    "4-7 days",
    "8-14 days",
    "15-21 days",
    "22-31 days",
)
_HEAT_INFO = {
    0x1: "supply_voltage_interrupted",
    0x2: "low_battery",
    0x4: "external_alarm",
    0x8: "t1_above_range",
    0x10: "t2_above_range",
    0x20: "t1_below_range",
    0x40: "t2_below_range",
    0x80: "temperature_difference_invalid",
    0x100: "air_in_flow_sensor",
    0x200: "reverse_flow",
    0x800: "flow_above_qs",
    0x1000: "leak_input_a",
    0x2000: "leak_input_b",
    0x4000: "external_alarm_input_a",
    0x8000: "external_alarm_input_b",
    0x10000: "v1_communication_error",
    0x20000: "v1_wrong_pulse_figure",
    0x40000: "leak_input_a2",
    0x80000: "leak_input_b2",
    0x100000: "t3_above_range",
    0x200000: "t3_below_range",
    0x400000: "v2_communication_error",
    0x800000: "v2_wrong_pulse_figure",
    0x1000000: "v2_air_in_flow_sensor",
    0x2000000: "v2_reverse_flow",
    0x8000000: "v2_flow_above_qs",
    0x10000000: "burst",
    0x20000000: "burst_water_penetration",
    0x40000000: "leak",
    0x80000000: "leak_water_penetration",
}

_VOLUME_TEMPERATURE = "m3·°C"
_E8_E9_RESOLUTION = "the register as sent (its resolution follows the meter's volume resolution)"

# Full-frame record layouts whose compact frames Kamstrup meters send.
COMPACT_LAYOUTS: tuple[bytes, ...] = (
    # MULTICAL 21 (KAM 1B 16): info, volume, target volume, min flow temp, min ambient temp
    bytes.fromhex("02FF2004134413615B6167"),
    # MULTICAL 302 (KAM 30 04): energy kWh, target energy, volume, target date, power, info
    bytes.fromhex("030643060314426C022D01FF21"),
    # MULTICAL 302 (KAM 30 0C): as above with energy in 10^2 MJ
    bytes.fromhex("030F430F0314426C022D01FF21"),
    # MULTICAL 403/603 (KAM 34 0C): energy, E8, E9, volume, flow, t1, t2, info, date,
    # target energy, target volume, target date
    bytes.fromhex("040604FF0704FF080414043B0259025D04FF22026C44064414426C"),
)

_Reader = Callable[[Record, int], Decoded]


class Kamstrup(RecordByRecord):
    """Kamstrup's manufacturer registers, for every telegram whose manufacturer is KAM."""

    name = "kamstrup"
    manufacturers = frozenset({"KAM"})

    def read(self, record: Record) -> Readout:
        """Info codes as flags and records, E8/E9 as counts; other records unchanged."""
        register = manufacturer_register(record)
        reader = _REGISTERS.get(register) if register is not None else None
        if reader is None or not isinstance(record.value, bytes) or not record.value:
            return (record,), ()
        return reader(record, little(record.value))

    def compact_layouts(self) -> tuple[tuple[str, bytes], ...]:
        """The full-frame layouts Kamstrup meters announce by format signature."""
        return tuple(("KAM", layout) for layout in COMPACT_LAYOUTS)


def _water_info(record: Record, value: int) -> Decoded:
    records = [
        derived(
            record,
            "info_codes",
            value,
            None,
            "Kamstrup info register: DRY, REVERSE, LEAK, BURST and their hour counters",
        )
    ]
    for name, shift in _HOUR_COUNTERS:
        bucket = _HOUR_BUCKETS[(value >> shift) & 0x7]
        what = name.removeprefix("time_")
        records.append(
            derived(
                record,
                name,
                bucket,
                None,
                f"Kamstrup hour counter: how long the meter was {what} in the last 31 days",
            )
        )
    return tuple(records), set_bits(value, _WATER_CODES)


def _water_status(record: Record, value: int) -> Decoded:
    described = derived(record, "status_flags", value, None, "Kamstrup status and error flags")
    return (described,), set_bits(value, _WATER_STATUS)


def _heat_info(record: Record, value: int) -> Decoded:
    described = derived(record, "info_codes", value, None, "Kamstrup info code (bit format)")
    return (described,), set_bits(value, _HEAT_INFO)


def _narrow_heat_info(record: Record, value: int) -> Decoded:
    described = derived(
        record, "info_codes", value, None, "Kamstrup info code, 8 bits; bit meanings not published"
    )
    return (described,), (("info_code",) if value else ())


def _forward_energy(record: Record, value: int) -> Decoded:
    described = derived(
        record,
        "forward_energy",
        Decimal(value),
        _VOLUME_TEMPERATURE,
        f"Kamstrup E8, volume × flow temperature t1; {_E8_E9_RESOLUTION}",
    )
    return (described,), ()


def _return_energy(record: Record, value: int) -> Decoded:
    described = derived(
        record,
        "return_energy",
        Decimal(value),
        _VOLUME_TEMPERATURE,
        f"Kamstrup E9, volume × return temperature t2; {_E8_E9_RESOLUTION}",
    )
    return (described,), ()


_REGISTERS: dict[int, _Reader] = {
    0x07: _forward_energy,
    0x08: _return_energy,
    0x20: _water_info,
    0x21: _narrow_heat_info,
    0x22: _heat_info,
    0x23: _water_status,
}
