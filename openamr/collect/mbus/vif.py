"""The value information tables of EN 13757-3: what a VIF or VIFE byte says a record is.

Built once at import: :data:`PRIMARY` (primary VIF codes), :data:`EXTENSION_FD`
(main VIF-code extension, after VIF FDh), :data:`EXTENSION_FB` (alternate
extension, after VIF FBh), :data:`COMBINABLE` (combinable, orthogonal VIFE
codes, record error codes among them) and :data:`COMBINABLE_FC` (combinable
extension, after VIFE FCh).

Units: one unit per quantity, and a ``scale`` that turns the raw number into
it exactly (a power of ten, or an exact decimal for m3/min, m3/s, MCal and
cubic feet):

======================  ========  ==============================================
quantity                unit      from
======================  ========  ==============================================
energy                  kWh       Wh family (VIF 00-07; FB 00-01, MWh)
energy                  GJ        J family (VIF 08-0F; FB 08-09, GJ; FB 0C-0F, MCal)
volume                  m3        VIF 10-17; FB 10-11; FB 20-21, cubic feet
mass                    kg        VIF 18-1F; FB 18-19, t
power                   W         VIF 28-2F; FB 28-29, MW
power                   GJ/h      VIF 30-37 (J/h), FB 30-31: J/h to W is not exact
volume_flow             m3/h      VIF 38-4F, per minute and per second converted
mass_flow               kg/h      VIF 50-57
..._temperature         °C        VIF 58-5F, 64-67 (the FB °F entries stay °F)
temperature_difference  K         VIF 60-63
pressure                bar       VIF 68-6B
hca_units               units     VIF 6E
relative_humidity       %RH       FB 1A-1B
voltage, current        V, A      FD 40-5F
durations               s, min,   as the VIF says (on_time, operating_time,
                        h, d,     averaging/actuality_duration, storage
                        month,    intervals, battery times)
                        year
======================  ========  ==============================================

Counts and codes are ints (error_flags, digital_input, access_number, ...),
identifiers keep BCD digits as text (fabrication_number "03016408"), dates
are ``date``/``datetime``. A combinable VIFE that changes what the value is
appends to the quantity ("energy_backward", "volume_per_hour",
"voltage_phase_l1", "operating_time_data_error"), so a qualified value is
never taken for the plain one; one that only rescales (10^(n-6)) does not.
"""

from __future__ import annotations

from decimal import Decimal
from enum import Enum, IntEnum
from typing import NamedTuple


class Kind(IntEnum):
    """How a record's data becomes its value."""

    NUMBER = 0  # a measured quantity: Decimal, scaled into the entry's unit
    COUNT = 1  # a count: int
    FLAGS = 2  # bits or a code: unsigned int
    IDENT = 3  # an identifier or version: BCD digits as text, binary as unsigned int
    TIME_POINT = 4  # date (type G), time (J), date-time (F, I), chosen by the data length
    RAW = 5  # manufacturer-specific or opaque: the data bytes as transmitted
    MANUFACTURER = 6  # a 16-bit FLAG manufacturer code, as its three letters


class VifInfo(NamedTuple):
    """One entry of a VIF table."""

    quantity: str
    unit: str | None
    scale: Decimal
    kind: Kind
    description: str


class UnitChange(Enum):
    KEEP = "keep"  # the VIF's unit stands
    NONE = "none"  # the value has no unit (a count, a date)
    SET = "set"  # the VIFE names the unit (a duration)
    PER = "per"  # the VIF's unit divided by the VIFE's ("/h")


class Vife(NamedTuple):
    """What a combinable VIFE does to the record its VIF describes."""

    description: str
    suffix: str = ""  # appended to the quantity: "_per_hour", "_backward", "_phase_l1"
    scale: Decimal | None = None  # multiplies the VIF's scale
    unit_change: UnitChange = UnitChange.KEEP
    unit: str = ""  # for SET and PER
    kind: Kind | None = None  # replaces the VIF's kind


ONE = Decimal(1)
DURATIONS = ("s", "min", "h", "d")  # the nn of time-based VIFs
LONG_DURATIONS = ("h", "d", "month", "year")  # the pp of FD 68-6F
_DURATION_NAMES = {"s": "seconds", "min": "minutes", "h": "hours", "d": "days"}


def _power(exponent: int) -> Decimal:
    return ONE.scaleb(exponent)


def _number(quantity: str, unit: str | None, scale: Decimal, description: str) -> VifInfo:
    return VifInfo(quantity, unit, scale, Kind.NUMBER, description)


def _other(quantity: str, kind: Kind, description: str, unit: str | None = None) -> VifInfo:
    return VifInfo(quantity, unit, ONE, kind, description)


def reserved(table: str, code: int) -> VifInfo:
    """The stand-in for a code a table leaves reserved: the record is kept, its value a number."""
    return VifInfo("unknown", None, ONE, Kind.NUMBER, f"reserved {table} code 0x{code:02X}")


def _primary() -> dict[int, VifInfo]:
    table: dict[int, VifInfo] = {}
    for n in range(8):
        table[0x00 + n] = _number("energy", "kWh", _power(n - 6), f"Energy 10^{n - 3} Wh")
        table[0x08 + n] = _number("energy", "GJ", _power(n - 9), f"Energy 10^{n} J")
        table[0x10 + n] = _number("volume", "m3", _power(n - 6), f"Volume 10^{n - 6} m3")
        table[0x18 + n] = _number("mass", "kg", _power(n - 3), f"Mass 10^{n - 3} kg")
        table[0x28 + n] = _number("power", "W", _power(n - 3), f"Power 10^{n - 3} W")
        table[0x30 + n] = _number("power", "GJ/h", _power(n - 9), f"Power 10^{n} J/h")
        flow = "volume_flow"
        table[0x38 + n] = _number(flow, "m3/h", _power(n - 6), f"Volume flow 10^{n - 6} m3/h")
        table[0x40 + n] = _number(
            flow, "m3/h", 60 * _power(n - 7), f"Volume flow 10^{n - 7} m3/min"
        )
        table[0x48 + n] = _number(
            flow, "m3/h", 3600 * _power(n - 9), f"Volume flow 10^{n - 9} m3/s"
        )
        table[0x50 + n] = _number("mass_flow", "kg/h", _power(n - 3), f"Mass flow 10^{n - 3} kg/h")
    for n, unit in enumerate(DURATIONS):
        name = _DURATION_NAMES[unit]
        table[0x20 + n] = _number("on_time", unit, ONE, f"On time ({name})")
        table[0x24 + n] = _number("operating_time", unit, ONE, f"Operating time ({name})")
        table[0x70 + n] = _number("averaging_duration", unit, ONE, f"Averaging duration ({name})")
        table[0x74 + n] = _number("actuality_duration", unit, ONE, f"Actuality duration ({name})")
        scale = _power(n - 3)
        table[0x58 + n] = _number(
            "flow_temperature", "°C", scale, f"Flow temperature 10^{n - 3} °C"
        )
        table[0x5C + n] = _number(
            "return_temperature", "°C", scale, f"Return temperature 10^{n - 3} °C"
        )
        table[0x60 + n] = _number(
            "temperature_difference", "K", scale, f"Temperature difference 10^{n - 3} K"
        )
        table[0x64 + n] = _number(
            "external_temperature", "°C", scale, f"External temperature 10^{n - 3} °C"
        )
        table[0x68 + n] = _number("pressure", "bar", scale, f"Pressure 10^{n - 3} bar")
    table[0x6C] = _other("date", Kind.TIME_POINT, "Time point: date (type G)")
    table[0x6D] = _other("date_time", Kind.TIME_POINT, "Time point: date and time (type F, I, J)")
    table[0x6E] = _number("hca_units", "units", ONE, "Units for H.C.A.")
    table[0x6F] = reserved("VIF", 0x6F)
    table[0x78] = _other("fabrication_number", Kind.IDENT, "Fabrication number")
    table[0x79] = _other("enhanced_identification", Kind.IDENT, "(Enhanced) identification")
    table[0x7A] = _other("bus_address", Kind.FLAGS, "Bus address")
    table[0x7E] = _number("any", None, ONE, "Any VIF")
    return table


_MCAL_IN_GJ = Decimal("0.0041868")  # 1 MCal (international table calorie) = 4.1868 MJ
_CUBIC_FOOT_IN_M3 = Decimal("0.028316846592")  # (0.3048 m)^3, exact


def _extension_fb() -> dict[int, VifInfo]:
    table: dict[int, VifInfo] = {}
    for n in range(2):
        table[0x00 + n] = _number("energy", "kWh", _power(n + 2), f"Energy 10^{n - 1} MWh")
        table[0x08 + n] = _number("energy", "GJ", _power(n - 1), f"Energy 10^{n - 1} GJ")
        table[0x10 + n] = _number("volume", "m3", _power(n + 2), f"Volume 10^{n + 2} m3")
        table[0x18 + n] = _number("mass", "kg", _power(n + 5), f"Mass 10^{n + 2} t")
        table[0x1A + n] = _number(
            "relative_humidity", "%RH", _power(n - 1), f"Relative humidity 10^{n - 1} %"
        )
        table[0x28 + n] = _number("power", "W", _power(n + 5), f"Power 10^{n - 1} MW")
        table[0x30 + n] = _number("power", "GJ/h", _power(n - 1), f"Power 10^{n - 1} GJ/h")
    for n in range(4):
        table[0x0C + n] = _number(
            "energy", "GJ", _MCAL_IN_GJ * _power(n - 1), f"Energy 10^{n - 1} MCal"
        )
        table[0x2C + n] = _number("frequency", "Hz", _power(n - 3), f"Frequency 10^{n - 3} Hz")
        scale = _power(n - 3)
        table[0x58 + n] = _number(
            "flow_temperature", "°F", scale, f"Flow temperature 10^{n - 3} °F"
        )
        table[0x5C + n] = _number(
            "return_temperature", "°F", scale, f"Return temperature 10^{n - 3} °F"
        )
        table[0x60 + n] = _number(
            "temperature_difference", "°F", scale, f"Temperature difference 10^{n - 3} °F"
        )
        table[0x64 + n] = _number(
            "external_temperature", "°F", scale, f"External temperature 10^{n - 3} °F"
        )
        table[0x70 + n] = _number(
            "temperature_limit", "°F", scale, f"Cold / warm temperature limit 10^{n - 3} °F"
        )
        table[0x74 + n] = _number(
            "temperature_limit", "°C", scale, f"Cold / warm temperature limit 10^{n - 3} °C"
        )
    table[0x20] = _number("volume", "m3", _CUBIC_FOOT_IN_M3, "Volume feet^3")
    table[0x21] = _number("volume", "m3", _CUBIC_FOOT_IN_M3 / 10, "Volume 0.1 feet^3")
    for n in range(8):
        table[0x78 + n] = _number(
            "cumulative_max_power", "W", _power(n - 3), f"Cumulative count max power 10^{n - 3} W"
        )
    return table


def _extension_fd() -> dict[int, VifInfo]:
    table: dict[int, VifInfo] = {}
    for n in range(4):
        credit = f"10^{n - 3} of the nominal local legal currency units"
        table[0x00 + n] = _number("credit", "currency", _power(n - 3), f"Credit of {credit}")
        table[0x04 + n] = _number("debit", "currency", _power(n - 3), f"Debit of {credit}")
    idents = (
        (0x0B, "parameter_set_id", "Parameter set identification"),
        (0x0C, "model_version", "Model / version"),
        (0x0D, "hardware_version", "Hardware version #"),
        (0x0E, "firmware_version", "Metrology (firmware) version #"),
        (0x0F, "software_version", "Other software version #"),
        (0x10, "customer_location", "Customer location"),
        (0x11, "customer", "Customer"),
        (0x12, "access_code_user", "Access code user"),
        (0x13, "access_code_operator", "Access code operator"),
        (0x14, "access_code_system_operator", "Access code system operator"),
        (0x15, "access_code_developer", "Access code developer"),
        (0x16, "password", "Password"),
    )
    for code, quantity, description in idents:
        table[code] = _other(quantity, Kind.IDENT, description)
    flags = (
        (0x09, "medium", "Medium (as in fixed header)"),
        (0x17, "error_flags", "Error flags (binary)"),
        (0x18, "error_mask", "Error mask"),
        (0x1A, "digital_output", "Digital output (binary)"),
        (0x1B, "digital_input", "Digital input (binary)"),
        (0x1F, "remote_control", "Remote control (device specific)"),
        (0x23, "tariff_subunit_descriptor", "Descriptor for tariff and subunit"),
        (0x62, "control_signal", "Control signal"),
        (0x66, "parameter_activation_state", "State of parameter activation"),
        (0x67, "special_supplier_information", "Special supplier information"),
        (0x72, "daylight_saving", "Daylight saving (beginning, ending, deviation), type K"),
        (0x73, "listening_window", "Listening window management, type L"),
    )
    for code, quantity, description in flags:
        table[code] = _other(quantity, Kind.FLAGS, description)
    counts = (
        (0x08, "access_number", "Access number (transmission count)", None),
        (0x1C, "baud_rate", "Baud rate", "Bd"),
        (0x1D, "response_delay", "Response delay time", "bit times"),
        (0x1E, "retry", "Retry", None),
        (0x20, "first_storage_number", "First storage # for cyclic storage", None),
        (0x21, "last_storage_number", "Last storage # for cyclic storage", None),
        (0x22, "storage_block_size", "Size of storage block", None),
        (0x2B, "time_point_second", "Time point second (0 to 59)", "s"),
        (0x60, "reset_counter", "Reset counter", None),
        (0x61, "cumulation_counter", "Cumulation counter", None),
        (0x63, "day_of_week", "Day of week", None),
        (0x64, "week_number", "Week number", None),
        (0x75, "meter_stop_count", "Number of times the meter was stopped", None),
    )
    for code, quantity, description, unit in counts:
        table[code] = _other(quantity, Kind.COUNT, description, unit)
    table[0x0A] = _other("manufacturer", Kind.MANUFACTURER, "Manufacturer (as in fixed header)")
    table[0x19] = _other("security_key", Kind.RAW, "Security key")
    table[0x2A] = _other("operator_specific_data", Kind.RAW, "Operator specific data")
    table[0x3B] = _other("wmbus_data_container", Kind.RAW, "Data container for wM-Bus protocol")
    table[0x76] = _other(
        "manufacturer_data_container", Kind.RAW, "Data container for manufacturer specific protocol"
    )
    table[0x30] = _other("tariff_start", Kind.TIME_POINT, "Start (date / time) of tariff")
    table[0x65] = _other("day_change_time_point", Kind.TIME_POINT, "Time point of day change")
    table[0x70] = _other(
        "battery_change_date_time", Kind.TIME_POINT, "Date and time of battery change"
    )
    for n, unit in enumerate(DURATIONS):
        table[0x24 + n] = _number("storage_interval", unit, ONE, f"Storage interval [{unit}]")
        table[0x2C + n] = _number(
            "duration_since_last_readout", unit, ONE, f"Duration since last readout [{unit}]"
        )
        table[0x34 + n] = _number("tariff_period", unit, ONE, f"Period of tariff [{unit}]")
        if n:
            table[0x30 + n] = _number("tariff_duration", unit, ONE, f"Duration of tariff [{unit}]")
    table[0x28] = _number("storage_interval", "month", ONE, "Storage interval [month(s)]")
    table[0x29] = _number("storage_interval", "year", ONE, "Storage interval [year(s)]")
    table[0x38] = _number("tariff_period", "month", ONE, "Period of tariff [month(s)]")
    table[0x39] = _number("tariff_period", "year", ONE, "Period of tariff [year(s)]")
    table[0x3A] = _number("dimensionless", None, ONE, "Dimensionless / no VIF")
    for n in range(16):
        table[0x40 + n] = _number("voltage", "V", _power(n - 9), f"Volts 10^{n - 9} V")
        table[0x50 + n] = _number("current", "A", _power(n - 12), f"Amperes 10^{n - 12} A")
    for n, unit in enumerate(LONG_DURATIONS):
        table[0x68 + n] = _number(
            "duration_since_last_cumulation", unit, ONE, f"Duration since last cumulation [{unit}]"
        )
        table[0x6C + n] = _number(
            "battery_operating_time", unit, ONE, f"Operating time battery [{unit}]"
        )
    table[0x71] = _number("rf_level", "dBm", ONE, "RF level units: dBm")
    table[0x74] = _number("remaining_battery_life", "d", ONE, "Remaining battery life time (days)")
    return table


def _date_of(description: str, suffix: str) -> Vife:
    return Vife(description, suffix, unit_change=UnitChange.NONE, kind=Kind.TIME_POINT)


def _low_codes() -> dict[int, Vife]:
    """Combinable VIFEs 00h-1Fh as EN 13757-3:2018 assigns them.

    00h-0Fh are object actions (master to slave) and 10h-11h reserved; the
    2013 edition used 00h-1Ch for record errors, so their old meaning is
    named. 15h-1Ch are record errors. Meters put a value beside them (Diehl's
    Sharky sends its operating time in error with 18h, "data error"), so the
    value is kept and the quantity names the error: "operating_time_data_error"
    is never taken for the operating time itself.
    """
    old_errors = {
        0x00: "none",
        0x01: "too many DIFEs",
        0x02: "storage number not implemented",
        0x03: "unit number not implemented",
        0x04: "tariff number not implemented",
        0x05: "function not implemented",
        0x06: "data class not implemented",
        0x07: "data size not implemented",
        0x0B: "too many VIFEs",
        0x0C: "illegal VIF-group",
        0x0D: "illegal VIF-exponent",
        0x0E: "VIF/DIF mismatch",
        0x0F: "unimplemented action",
    }
    table: dict[int, Vife] = {}
    for code in range(0x12):
        old = old_errors.get(code)
        meaning = f"; EN 13757-3:2013 record error '{old}'" if old else ""
        table[code] = Vife(f"VIFE 0x{code:02X} (object action or reserved{meaning})")
    table[0x12] = Vife("average value", "_average")
    table[0x13] = Vife("inverse compact profile", "_inverse_compact_profile", kind=Kind.RAW)
    table[0x14] = Vife("relative deviation", "_relative_deviation")
    errors = {
        0x15: ("no data available (undefined value)", "_no_data"),
        0x16: ("data overflow", "_overflow"),
        0x17: ("data underflow", "_underflow"),
        0x18: ("data error", "_data_error"),
        0x1C: ("premature end of record", "_premature_end"),
    }
    for code in range(0x15, 0x1D):
        error, suffix = errors.get(code, (f"reserved code 0x{code:02X}", "_record_error"))
        table[code] = Vife(f"record error: {error}", suffix)
    table[0x1D] = Vife("standard conform data content")
    table[0x1E] = Vife(
        "compact profile with register numbers", "_compact_profile_with_registers", kind=Kind.RAW
    )
    table[0x1F] = Vife("compact profile", "_compact_profile", kind=Kind.RAW)
    return table


def _combinable() -> dict[int, Vife]:
    table = _low_codes()
    per = UnitChange.PER
    per_time = ("s", "min", "h", "d", "week", "month", "year")
    per_names = ("second", "minute", "hour", "day", "week", "month", "year")
    for n, (unit, name) in enumerate(zip(per_time, per_names, strict=True)):
        table[0x20 + n] = Vife(f"per {name}", f"_per_{name}", unit_change=per, unit=unit)
    table[0x27] = Vife("per revolution / measurement", "_per_measurement")
    for p in range(2):
        table[0x28 + p] = Vife(
            f"increment per input pulse on input channel #{p}", f"_per_input_pulse_{p}"
        )
        table[0x2A + p] = Vife(
            f"increment per output pulse on output channel #{p}", f"_per_output_pulse_{p}"
        )
    for code, unit, name in (
        (0x2C, "l", "litre"),
        (0x2D, "m3", "m3"),
        (0x2E, "kg", "kg"),
        (0x2F, "K", "kelvin"),
        (0x30, "kWh", "kwh"),
        (0x31, "GJ", "gj"),
        (0x32, "kW", "kw"),
        (0x33, "K·l", "kelvin_litre"),
        (0x34, "V", "volt"),
        (0x35, "A", "ampere"),
    ):
        table[code] = Vife(f"per {unit}", f"_per_{name}", unit_change=per, unit=unit)
    table[0x36] = Vife("multiplied by s", "_times_s")
    table[0x37] = Vife("multiplied by s / V", "_times_s_per_v")
    table[0x38] = Vife("multiplied by s / A", "_times_s_per_a")
    table[0x39] = _date_of("start date(/time) of", "_start_date")
    table[0x3A] = Vife("VIF contains uncorrected unit or value", "_uncorrected")
    table[0x3B] = Vife("accumulation only if positive contributions", "_forward")
    table[0x3C] = Vife("accumulation of abs value only if negative contributions", "_backward")
    table[0x3D] = Vife("used for alternate non-metric unit system")
    table[0x3E] = Vife("value at base conditions", "_at_base_conditions")
    table[0x3F] = Vife("OBIS-declaration")
    limits = ("lower", "upper")  # u
    firsts = ("first", "last")  # f
    ends = ("end", "begin")  # b
    for u, limit in enumerate(limits):
        table[0x40 | u << 3] = Vife(f"{limit} limit value", f"_{limit}_limit")
        table[0x41 | u << 3] = Vife(
            f"# of exceeds of {limit} limit",
            f"_{limit}_limit_exceeds",
            unit_change=UnitChange.NONE,
            kind=Kind.COUNT,
        )
        table[0x68 | u << 2] = Vife(
            f"value during {limit} limit exceed", f"_during_{limit}_limit_exceed"
        )
        for f, first in enumerate(firsts):
            for b, end in enumerate(ends):
                table[0x42 | u << 3 | f << 2 | b] = _date_of(
                    f"date(/time) of {end} of {first} {limit} limit exceed",
                    f"_{first}_{limit}_limit_exceed_{end}_date",
                )
            for n, unit in enumerate(DURATIONS):
                table[0x50 | u << 3 | f << 2 | n] = Vife(
                    f"duration of {first} {limit} limit exceed [{unit}]",
                    f"_{first}_{limit}_limit_exceed_duration",
                    unit_change=UnitChange.SET,
                    unit=unit,
                    kind=Kind.NUMBER,
                )
    table[0x69] = Vife("leakage values", "_leakage")
    for f, first in enumerate(firsts):
        for n, unit in enumerate(DURATIONS):
            table[0x60 | f << 2 | n] = Vife(
                f"duration of {first} [{unit}]",
                f"_{first}_duration",
                unit_change=UnitChange.SET,
                unit=unit,
                kind=Kind.NUMBER,
            )
        for b, end in enumerate(ends):
            table[0x6A | f << 2 | b] = _date_of(
                f"date(/time) of {end} of {first}", f"_{first}_{end}_date"
            )
    for n in range(8):
        table[0x70 + n] = Vife(f"multiplicative correction factor 10^{n - 6}", scale=_power(n - 6))
    for n in range(4):
        table[0x78 + n] = Vife(
            f"additive correction constant 10^{n - 3} × unit of VIF (offset), not applied",
            "_additive_correction",
        )
    table[0x7D] = Vife("multiplicative correction factor 10^3", scale=_power(3))
    table[0x7E] = Vife("future value", "_future")
    return table


def _combinable_fc() -> dict[int, Vife]:
    """The combinable extension table, after VIFE FCh: phases, quadrants, data types."""
    entries = (
        (0x01, "at phase L1", "_phase_l1"),
        (0x02, "at phase L2", "_phase_l2"),
        (0x03, "at phase L3", "_phase_l3"),
        (0x04, "at neutral (N)", "_neutral"),
        (0x05, "between phase L1 and L2", "_phase_l1_l2"),
        (0x06, "between phase L2 and L3", "_phase_l2_l3"),
        (0x07, "between phase L3 and L1", "_phase_l3_l1"),
        (0x08, "at quadrant Q1", "_quadrant_1"),
        (0x09, "at quadrant Q2", "_quadrant_2"),
        (0x0A, "at quadrant Q3", "_quadrant_3"),
        (0x0B, "at quadrant Q4", "_quadrant_4"),
        (0x0C, "delta between import and export", "_import_export_delta"),
        (0x10, "accumulation of abs value for both positive and negative contributions", "_abs"),
        (0x11, "data presented with type C (unsigned)", ""),
        (0x12, "data presented with type D (boolean)", ""),
    )
    return {code: Vife(description, suffix) for code, description, suffix in entries}


PRIMARY = _primary()
EXTENSION_FB = _extension_fb()
EXTENSION_FD = _extension_fd()
COMBINABLE = _combinable()
COMBINABLE_FC = _combinable_fc()

# Plain-text units (VIF 7Ch) that name a quantity of the tables, as Elvaco sends "%RH".
PLAIN_TEXT_QUANTITIES = {"%RH": "relative_humidity", "RH": "relative_humidity"}
