"""Does a decoded telegram give every value a test vector's source states?

The shared vectors (tests/data/mbus/vectors.json, a copy of
../shared/testdata/mbus/vectors.json, described in its README) carry each
source's own output: wmbusmeters JSON (field names with a unit suffix),
libmbus records and wireless-mbus-parser records. We compare
values, not names, and stay strict: a stated value that no record gives is a
mismatch. What is deliberately not compared, and why:

- wmbusmeters ``timestamp`` (a placeholder for the reception time), the
  ``media``/``meter``/``name`` labels and the capture's ``device``/``rssi_dbm``;
- an empty string, which states nothing (``time_leaking: ""``);
- libmbus ``ProductName`` (a label) and the wired primary address, which a
  :class:`Telegram` does not carry; wireless-mbus-parser ``Address`` (the link
  address, which for a radio converter is not the meter's);
- wireless-mbus-parser ``AccessNumber`` and ``Status`` of telegrams without a
  transport header (CI 78/79): it prints 0 there, which no telegram says.

How values are matched:

- numbers: the field name's unit suffix (``_kwh``, ``_m3``, ``_c``, ``_h``, ...)
  gives the dimension and scale; some record of that dimension must hold the
  same value once converted, to 1e-6 or to the precision of the IEEE 754
  single-precision reals meters send (1e-7 relative), whichever is larger.
  A field without a unit suffix matches any numeric record of the same
  value, or a text record of the same digits (an identification number);
- dates and date-times: a record's value (or its time point ``at``) equal to
  it, to the minute or second the source prints. Two wmbusmeters renderings
  are read back to what the telegram says: 1999-11-30 is its rendering of an
  all-zero date field (no date), matched by a date record without a value;
  a year 2127 is its rendering of EN 13757-3's year 127 (every year),
  matched by a recurring date written ``XXXX-MM-DD`` or ``--MM-DD``;
- status fields (``status``, ``*_status``, ``*_flags``): the flags. Tokens are
  compared lower-cased (``DRY`` -> ``dry``); wmbusmeters' ``UNKNOWN_XX`` for a
  manufacturer-specific status bit is our ``manufacturer_status_xx``. ``OK``
  everywhere means no flag at all; otherwise every stated token must be a
  flag, and the only other flags allowed are raw ``manufacturer_status_xx`` bits
  (which the source's driver may have given a name);
- other strings: a text record with that text, a flag with that token, a
  number whose decimal or hex digits they are (``"1121"``, ``"010002"``), or, for
  wmbusmeters' ``LABEL_HEX`` renderings of unknown fields (``WOOTB_2A86``), a
  record whose value is that number (bytes read least significant first);
- libmbus and wireless-mbus-parser record lists: each stated record needs its
  own record with the same storage number, tariff, subunit, function and
  value in the stated unit;
- errata: where libmbus's printed value contradicts EN 13757-3 (records whose
  VIFE 6F makes them date-times; a type F year 127), the record is listed in
  ``_LIBMBUS_ERRATA`` with the reason, and is checked for what the standard
  reads from the same bits instead. Nothing is skipped.
"""

from __future__ import annotations

import functools
import json
import re
import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

from openamr.collect.mbus.datatypes import decode_datetime_f
from openamr.collect.mbus.model import Function, Record, Telegram

VECTORS_PATH = Path(__file__).resolve().parents[2] / "data" / "mbus" / "vectors.json"

Vector = Mapping[str, Any]

_NOT_VALUES = frozenset({"_", "media", "meter", "name", "timestamp", "device", "rssi_dbm"})
_TOLERANCE = 1e-6
_SINGLE_PRECISION = 1e-7
_WMBUSMETERS_NO_DATE = "1999-11-30"
_WMBUSMETERS_EVERY_YEAR = re.compile(r"^2127-(\d{2}-\d{2})$")
_YEAR_S = Fraction(365_2425, 10_000) * 86_400

# unit symbol -> (dimension, size in the dimension's base unit)
_UNITS: dict[str, tuple[str, Fraction]] = {
    "Wh": ("energy", Fraction(1)),
    "kWh": ("energy", Fraction(1000)),
    "MWh": ("energy", Fraction(10**6)),
    "GWh": ("energy", Fraction(10**9)),
    "J": ("energy", Fraction(1, 3600)),
    "kJ": ("energy", Fraction(1000, 3600)),
    "MJ": ("energy", Fraction(10**6, 3600)),
    "GJ": ("energy", Fraction(10**9, 3600)),
    "m3": ("volume", Fraction(1)),
    "m³": ("volume", Fraction(1)),
    "m^3": ("volume", Fraction(1)),
    "l": ("volume", Fraction(1, 1000)),
    "L": ("volume", Fraction(1, 1000)),
    "m3/h": ("flow", Fraction(1)),
    "m³/h": ("flow", Fraction(1)),
    "m^3/h": ("flow", Fraction(1)),
    "m3/min": ("flow", Fraction(60)),
    "m3/s": ("flow", Fraction(3600)),
    "l/h": ("flow", Fraction(1, 1000)),
    "l/min": ("flow", Fraction(60, 1000)),
    "W": ("power", Fraction(1)),
    "kW": ("power", Fraction(1000)),
    "MW": ("power", Fraction(10**6)),
    "J/h": ("power", Fraction(1, 3600)),
    "kJ/h": ("power", Fraction(1000, 3600)),
    "MJ/h": ("power", Fraction(10**6, 3600)),
    "GJ/h": ("power", Fraction(10**9, 3600)),
    # Temperatures and their differences: meters send differences in K and
    # sources print them in °C, never an absolute temperature in K.
    "°C": ("temperature", Fraction(1)),
    "K": ("temperature", Fraction(1)),
    "s": ("time", Fraction(1)),
    "min": ("time", Fraction(60)),
    "h": ("time", Fraction(3600)),
    "d": ("time", Fraction(86_400)),
    "y": ("time", _YEAR_S),
    "a": ("time", _YEAR_S),
    "year": ("time", _YEAR_S),
    "years": ("time", _YEAR_S),
    "%RH": ("humidity", Fraction(1)),
    "%": ("humidity", Fraction(1)),
    "V": ("voltage", Fraction(1)),
    "mV": ("voltage", Fraction(1, 1000)),
    "kV": ("voltage", Fraction(1000)),
    "A": ("current", Fraction(1)),
    "mA": ("current", Fraction(1, 1000)),
    "Hz": ("frequency", Fraction(1)),
    "HCA": ("hca", Fraction(1)),
    "units": ("hca", Fraction(1)),
    "m3°C": ("volume_temperature", Fraction(1)),
    "m3·°C": ("volume_temperature", Fraction(1)),
    "m3C": ("volume_temperature", Fraction(1)),
}
# wmbusmeters field-name suffix -> the unit it is printed in; longest suffixes first.
_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("_m3c", "m3°C"),
    ("_m3h", "m3/h"),
    ("_kwh", "kWh"),
    ("_mwh", "MWh"),
    ("_hca", "HCA"),
    ("_lh", "l/h"),
    ("_gj", "GJ"),
    ("_mj", "MJ"),
    ("_wh", "Wh"),
    ("_m3", "m3"),
    ("_kw", "kW"),
    ("_rh", "%RH"),
    ("_hz", "Hz"),
    ("_l", "l"),
    ("_w", "W"),
    ("_c", "°C"),
    ("_k", "K"),
    ("_v", "V"),
    ("_a", "A"),
    ("_h", "h"),
    ("_s", "s"),
    ("_d", "d"),
    ("_y", "y"),
)
_LIBMBUS_FUNCTIONS = {
    "Instantaneous value": Function.INSTANTANEOUS,
    "Maximum value": Function.MAXIMUM,
    "Minimum value": Function.MINIMUM,
    "Value during error state": Function.DURING_ERROR,
}
_PARSER_FUNCTIONS = {
    0: Function.INSTANTANEOUS,
    1: Function.MAXIMUM,
    2: Function.MINIMUM,
    3: Function.DURING_ERROR,
}
# libmbus medium wording -> EN 13757-7 device type, for the media in the vectors.
_LIBMBUS_MEDIA = {"Other": 0x00, "Electricity": 0x02, "Heat: Outlet": 0x04}
# wireless-mbus-parser status wording -> our flags.
_PARSER_STATUS = {
    "no errors": frozenset(),
    "battery low": frozenset({"power_low"}),
    "temporary error": frozenset({"temporary_error"}),
    "permanent error": frozenset({"permanent_error"}),
}
_NO_TRANSPORT_HEADER = frozenset({0x78, 0x79})
_ELL_OR_AFL = frozenset({0x8C, 0x8D, 0x8E, 0x8F, 0x90})

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2})?Z?$")
_LABEL_HEX = re.compile(r"^[A-Z]+_([0-9A-F]+)$")
_UNKNOWN_BIT = re.compile(r"^unknown_([0-9a-f]{2})$")


@functools.cache
def load_vectors() -> list[dict[str, Any]]:
    """The shared vectors; a missing file is an error, never a skipped test."""
    if not VECTORS_PATH.is_file():
        raise FileNotFoundError(
            f"the M-Bus test vectors are missing: expected them at {VECTORS_PATH.resolve()}"
        )
    vectors: list[dict[str, Any]] = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))
    return vectors


def is_error_vector(vector: Vector) -> bool:
    return str(vector["expected_kind"]).startswith("error:")


def is_pre_decrypted(vector: Vector) -> bool:
    security = vector.get("security") or {}
    return str(security.get("payload_in_hex", "")).startswith("plaintext (pre-decrypted")


def meter_of(vector: Vector) -> tuple[str, str] | None:
    """The meter a vector is from (manufacturer, id), as its header names it."""
    header = vector.get("header")
    if not header:
        return None
    named = header.get("tpl_long_header") or header
    return str(named["manufacturer"]), str(named["id"]).upper()


def error_is_explained(vector: Vector, cause: str, reason: str) -> bool:
    """Whether a rejection says what the source's error says (by wording or by cause)."""
    stated = _letters(str(vector["expected"].get("error", "")))
    return bool(reason.strip()) and (stated in _letters(reason) or stated == _letters(cause))


def mismatches(vector: Vector, telegram: Telegram) -> list[str]:
    """Every stated value the telegram does not give, as readable lines; empty if none."""
    problems = _identity(vector, telegram)
    kind = str(vector["expected_kind"])
    expected = vector["expected"]
    if kind.startswith("wmbusmeters"):
        problems += _wmbusmeters(expected, telegram)
    elif kind.startswith("libmbus"):
        problems += _libmbus(expected, telegram)
    elif kind.startswith("wireless-mbus-parser"):
        problems += _wmbusparser(expected, telegram)
    else:
        problems.append(f"no matcher for expected_kind {kind!r}")
    return problems


# -- identity ------------------------------------------------------------------


def _identity(vector: Vector, telegram: Telegram) -> list[str]:
    header = vector.get("header") or {}
    named = header.get("tpl_long_header") or header
    device = telegram.device
    problems = []
    if "manufacturer" in named and device.manufacturer != named["manufacturer"]:
        problems.append(f"manufacturer {device.manufacturer}, header says {named['manufacturer']}")
    if "id" in named and device.id.upper() != str(named["id"]).upper():
        problems.append(f"id {device.id}, header says {named['id']}")
    if "version" in named and device.version != int(named["version"], 16):
        problems.append(f"version 0x{device.version:02X}, header says {named['version']}")
    if "device_type" in named and device.device_type != int(named["device_type"], 16):
        problems.append(
            f"device type 0x{device.device_type:02X}, header says {named['device_type']}"
        )
    if "access_no" in header and telegram.access_number != header["access_no"]:
        problems.append(
            f"access number {telegram.access_number}, header says {header['access_no']}"
        )
    if "status" in header and telegram.status != int(header["status"], 16):
        problems.append(f"status {telegram.status}, header says {header['status']}")
    if "CI" in header and telegram.ci != int(header["CI"], 16):
        problems.append(f"CI {telegram.ci:02X}, header says {header['CI']}")
    first_ci = header.get("CI_after_A")
    if first_ci and int(first_ci, 16) not in _ELL_OR_AFL and telegram.ci != int(first_ci, 16):
        problems.append(f"CI {telegram.ci:02X}, header says {first_ci}")
    return problems


# -- wmbusmeters ---------------------------------------------------------------


def _wmbusmeters(expected: Mapping[str, Any], telegram: Telegram) -> list[str]:
    problems = []
    status_tokens: list[str] = []
    status_fields = 0
    for name, value in expected.items():
        if name in _NOT_VALUES or value == "":
            continue
        if name == "id":
            if telegram.device.id.upper() != str(value).upper():
                problems.append(f"id: {telegram.device.id}, stated {value}")
        elif _is_status_field(name) and isinstance(value, str):
            status_fields += 1
            status_tokens += [token for token in _tokens(value) if token != "ok"]
        elif isinstance(value, bool):
            problems.append(f"{name}: no matcher for a boolean")
        elif isinstance(value, int | float):
            if not _number_found(name, value, telegram.records):
                problems.append(f"{name}: no record gives {value}{_unit_note(name)}")
        elif isinstance(value, str):
            if not (
                _wmbusmeters_date_found(value, telegram.records) or _text_found(value, telegram)
            ):
                problems.append(f"{name}: no record or flag gives {value!r}")
        else:
            problems.append(f"{name}: no matcher for {type(value).__name__}")
    if status_fields:
        problems += _flags_match(list(dict.fromkeys(status_tokens)), telegram.flags)
    return problems


def _wmbusmeters_date_found(text: str, records: Sequence[Record]) -> bool:
    if text == _WMBUSMETERS_NO_DATE:
        return any(r.quantity.startswith("date") and r.value is None for r in records)
    every_year = _WMBUSMETERS_EVERY_YEAR.match(text)
    if every_year:
        month_day = every_year.group(1)
        return any(r.value in (f"XXXX-{month_day}", f"--{month_day}") for r in records)
    return False


def _is_status_field(name: str) -> bool:
    return name == "status" or name.endswith(("_status", "_flags"))


def _tokens(text: str) -> list[str]:
    return [_flag_name(token) for token in text.split()]


def _flag_name(token: str) -> str:
    lowered = token.lower()
    unknown = _UNKNOWN_BIT.match(lowered)
    return f"manufacturer_status_{unknown.group(1)}" if unknown else lowered


def _flags_match(stated: Sequence[str], flags: Iterable[str]) -> list[str]:
    ours = {flag.lower() for flag in flags}
    if not stated:
        return (
            [f"status: the source says OK, the telegram has flags {sorted(ours)}"] if ours else []
        )
    problems = [
        f"status: flag {token!r} missing from {sorted(ours)}"
        for token in stated
        if token not in ours
    ]
    extra = sorted(
        flag for flag in ours - set(stated) if not flag.startswith("manufacturer_status_")
    )
    if extra:
        problems.append(f"status: flags {extra} not stated by the source ({list(stated)})")
    return problems


def _unit_note(name: str) -> str:
    unit = _suffix_unit(name)
    return f" {unit}" if unit else " (any unit)"


def _suffix_unit(name: str) -> str | None:
    lowered = name.lower()
    return next((unit for suffix, unit in _SUFFIXES if lowered.endswith(suffix)), None)


def _number_found(name: str, value: float, records: Sequence[Record]) -> bool:
    return any(_close(number, value) for number in _numbers(records, _suffix_unit(name)))


def _numbers(records: Iterable[Record], unit: str | None) -> Iterable[float]:
    """Every numeric record value, converted to ``unit`` where it has that dimension."""
    for record in records:
        if unit is None:
            number = _numeric_or_digits(record.value)
            if number is not None:
                yield float(number)
            continue
        number = _numeric(record.value)
        if number is None:
            continue
        converted = _convert(number, record.unit, unit)
        if converted is not None:
            yield converted


def _numeric(value: object) -> Fraction | None:
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        return None
    if isinstance(value, Decimal) and not value.is_finite():
        return None
    return Fraction(value)


def _numeric_or_digits(value: object) -> Fraction | None:
    """A number, or the number an identification written in digits is."""
    if isinstance(value, str) and value.isdigit():
        return Fraction(int(value))
    return _numeric(value)


def _convert(number: Fraction, unit: str | None, target: str) -> float | None:
    dimension, size = _UNITS[target]
    if unit is None or unit == "":
        # Counts without a unit: heat cost allocator units are the one such dimension.
        return float(number) if dimension == "hca" else None
    known = _UNITS.get(unit)
    if known is None or known[0] != dimension:
        return None
    return float(number * known[1] / size)


def _close(ours: float, stated: float) -> bool:
    return abs(ours - stated) <= max(_TOLERANCE, _SINGLE_PRECISION * abs(stated))


def _text_found(text: str, telegram: Telegram) -> bool:
    if _DATE.match(text) or _DATETIME.match(text):
        return _time_found(text, telegram.records)
    stripped = text.strip()
    if any(isinstance(r.value, str) and r.value.strip() == stripped for r in telegram.records):
        return True
    flags = {flag.lower() for flag in telegram.flags}
    if set(_tokens(text)) <= flags or "_".join(_tokens(text)) in flags:
        return True
    label = _LABEL_HEX.match(stripped)
    if label:
        return _integer_found(int(label.group(1), 16), telegram.records)
    if re.fullmatch(r"[0-9A-Fa-f]+", stripped):
        candidates = {int(stripped, 16)}
        if stripped.isdigit():
            candidates.add(int(stripped, 10))
        return any(_integer_found(candidate, telegram.records) for candidate in candidates)
    return False


def _integer_found(number: int, records: Iterable[Record]) -> bool:
    for record in records:
        value = record.value
        if isinstance(value, bytes) and value:
            if number in (int.from_bytes(value, "little"), int.from_bytes(value, "big")):
                return True
        elif (numeric := _numeric(value)) is not None and numeric == number:
            return True
    return False


def _time_found(text: str, records: Iterable[Record]) -> bool:
    cleaned = text.rstrip("Z").replace("T", " ")
    if _DATE.match(cleaned):
        day = date.fromisoformat(cleaned)
        return any(_same_day(candidate, day) for r in records for candidate in (r.value, r.at))
    moment = datetime.fromisoformat(cleaned)
    to_minute = cleaned.count(":") == 1  # the source printed no seconds: compare to the minute
    return any(
        isinstance(candidate, datetime)
        and candidate.replace(tzinfo=None, second=0 if to_minute else candidate.second) == moment
        for r in records
        for candidate in (r.value, r.at)
    )


def _same_day(value: object, day: date) -> bool:
    if isinstance(value, datetime):
        return value.date() == day
    return isinstance(value, date) and value == day


# -- record lists (libmbus, wireless-mbus-parser) --------------------------------

_RecordTest = Callable[[Record], bool]


def _libmbus(expected: Mapping[str, Any], telegram: Telegram) -> list[str]:
    problems = []
    slave = expected.get("SlaveInformation", {})
    device = telegram.device
    if "Id" in slave and device.id.lstrip("0") != str(slave["Id"]).lstrip("0"):
        problems.append(f"Id {device.id}, stated {slave['Id']}")
    if "Manufacturer" in slave and device.manufacturer != slave["Manufacturer"]:
        problems.append(f"Manufacturer {device.manufacturer}, stated {slave['Manufacturer']}")
    if "Version" in slave and device.version != int(slave["Version"]):
        problems.append(f"Version {device.version}, stated {slave['Version']}")
    if "Medium" in slave:
        code = _LIBMBUS_MEDIA.get(slave["Medium"])
        if code is None:
            problems.append(f"Medium {slave['Medium']!r}: the matcher has no device type for it")
        elif device.device_type != code:
            problems.append(
                f"Medium: device type 0x{device.device_type:02X}, stated {slave['Medium']}"
            )
    if "AccessNumber" in slave and telegram.access_number != int(slave["AccessNumber"]):
        problems.append(f"AccessNumber {telegram.access_number}, stated {slave['AccessNumber']}")
    if "Status" in slave and telegram.status != int(slave["Status"], 16):
        problems.append(f"Status {telegram.status}, stated {slave['Status']}")
    if slave.get("Signature") == "0000" and telegram.security != "none":
        problems.append(f"Signature 0000 (no encryption), security {telegram.security!r}")
    tests = []
    for item in expected.get("DataRecord", []):
        erratum = _LIBMBUS_ERRATA.get((str(slave.get("Id", "")), int(item.get("id", -1))))
        if erratum is None:
            tests.append((_libmbus_describe(item), _libmbus_test(item)))
        else:
            reason, test = erratum
            tests.append((f"{_libmbus_describe(item)} (erratum: {reason})", test(item)))
    return problems + _assign(tests, telegram.records)


def _bits_as_type_f(item: Mapping[str, Any]) -> _RecordTest:
    """libmbus printed a date-time's 32 bits as a scaled number: the same bits, read as type F."""
    bits = round(float(item["Value"]) * 10)
    stated = decode_datetime_f(struct.pack("<I", bits))[0]
    tariff = int(item.get("Tariff", 0))
    return lambda r: (
        r.tariff == tariff
        and r.function is Function.MAXIMUM
        and r.quantity.endswith("_date")
        and r.value == stated
    )


def _no_time_point(item: Mapping[str, Any]) -> _RecordTest:
    """All bits clear: a date-time that was never set, which libmbus printed as 0."""
    tariff = int(item.get("Tariff", 0))
    assert float(item["Value"]) == 0
    return lambda r: (
        r.tariff == tariff
        and r.function is Function.MAXIMUM
        and r.quantity.endswith("_date")
        and r.value is None
    )


def _every_year(item: Mapping[str, Any]) -> _RecordTest:
    """Type F year 127 means every year (EN 13757-3 Annex A); libmbus printed it as 2027."""
    month_day_time = str(item["Value"])[4:16]  # "-01-01T00:00"
    storage = int(item.get("StorageNumber", 0))
    return lambda r: (
        r.storage == storage and isinstance(r.value, str) and r.value == "XXXX" + month_day_time
    )


# Where libmbus's printed value contradicts EN 13757-3, each record says what the
# standard reads instead and is checked for that, never skipped. The Landis+Gyr
# T230's maximum records carry VIFE 6F ("date (time) of ... last", EN 13757-3
# table of combinable VIFEs): their data is the date-time of the maximum, which
# libmbus ignores and prints as 41,065,374.6 °C.
_LIBMBUS_ERRATA: dict[tuple[str, int], tuple[str, Callable[[Mapping[str, Any]], _RecordTest]]] = {
    ("66660205", 19): ("VIFE 6F makes it a date-time, never set", _no_time_point),
    ("66660205", 20): ("VIFE 6F makes it a date-time, never set", _no_time_point),
    ("66660205", 21): ("VIFE 6F makes it the date-time of the maximum", _bits_as_type_f),
    ("66660205", 22): ("VIFE 6F makes it the date-time of the maximum", _bits_as_type_f),
    ("66660205", 32): ("type F year 127 is every year", _every_year),
}


def _libmbus_describe(item: Mapping[str, Any]) -> str:
    return (
        f"DataRecord {item.get('id')}: {item.get('Function')} {item.get('Quantity')!r} "
        f"storage {item.get('StorageNumber')} tariff {item.get('Tariff', 0)} "
        f"subunit {item.get('Device', 0)} = {item.get('Value')!r} {item.get('Unit')}"
    )


def _libmbus_test(item: Mapping[str, Any]) -> _RecordTest:
    storage = int(item.get("StorageNumber", 0))
    tariff = int(item.get("Tariff", 0))
    subunit = int(item.get("Device", 0))
    function_text = item.get("Function", "")
    value = str(item.get("Value", ""))
    if function_text in ("Manufacturer specific", "More records follow"):
        data = bytes.fromhex(value.replace(" ", ""))
        return lambda r: isinstance(r.value, bytes) and r.value == data and r.storage == storage
    function = _LIBMBUS_FUNCTIONS[function_text]
    unit = {"m^3": "m3", "m^3/h": "m3/h", "-": None, "": None}.get(item["Unit"], item["Unit"])
    if str(item.get("Quantity", "")).startswith("Time point"):
        check = _time_test(value)
    else:
        check = _number_test(float(value), unit)
    return lambda r: (
        (r.storage, r.tariff, r.subunit, r.function) == (storage, tariff, subunit, function)
        and check(r)
    )


def _wmbusparser(expected: Mapping[str, Any], telegram: Telegram) -> list[str]:
    problems = []
    info = expected.get("deviceInformation", {})
    device = telegram.device
    has_header = telegram.ci not in _NO_TRANSPORT_HEADER
    if "Id" in info and device.id.upper() != str(info["Id"]).upper():
        problems.append(f"Id {device.id}, stated {info['Id']}")
    if "Manufacturer" in info and device.manufacturer != info["Manufacturer"]:
        problems.append(f"Manufacturer {device.manufacturer}, stated {info['Manufacturer']}")
    if "Version" in info and device.version != int(info["Version"]):
        problems.append(f"Version {device.version}, stated {info['Version']}")
    if "Medium" in info and device.medium.lower() != str(info["Medium"]).lower():
        problems.append(f"Medium {device.medium!r}, stated {info['Medium']!r}")
    if has_header and "AccessNumber" in info and telegram.access_number != info["AccessNumber"]:
        problems.append(f"AccessNumber {telegram.access_number}, stated {info['AccessNumber']}")
    if has_header and "Status" in info and telegram.status != info["Status"]:
        problems.append(f"Status {telegram.status}, stated {info['Status']}")
    if "StatusString" in info:
        wanted = _PARSER_STATUS.get(info["StatusString"])
        ours = {flag.lower() for flag in telegram.flags}
        if wanted is None:
            problems.append(
                f"StatusString {info['StatusString']!r}: the matcher has no flags for it"
            )
        elif wanted != ours:
            problems.append(f"StatusString {info['StatusString']!r}, flags {sorted(ours)}")
    tests = [
        (
            f"dataRecord {item.get('number')}: {item.get('type')} = {item.get('value')!r} "
            f"{item.get('unit')} (storage {item.get('storageNo')}, tariff {item.get('tariff')})",
            _parser_test(item),
        )
        for item in expected.get("dataRecord", [])
    ]
    return problems + _assign(tests, telegram.records)


def _parser_test(item: Mapping[str, Any]) -> _RecordTest:
    key = (
        int(item.get("storageNo", 0)),
        int(item.get("tariff", 0)),
        int(item.get("devUnit", 0)),
        _PARSER_FUNCTIONS[int(item.get("functionField", 0))],
    )
    value = item["value"]
    if isinstance(value, str):
        check = _time_test(value)
    else:
        check = _number_test(float(value), item.get("unit") or None)
    return lambda r: (r.storage, r.tariff, r.subunit, r.function) == key and check(r)


def _time_test(text: str) -> _RecordTest:
    return lambda r: _time_found(text, [r])


def _number_test(value: float, unit: str | None) -> _RecordTest:
    def check(record: Record) -> bool:
        if unit is None:
            loose = _numeric_or_digits(record.value)
            return loose is not None and _close(float(loose), value)
        number = _numeric(record.value)
        if number is None:
            return False
        converted = _convert(number, record.unit, unit)
        return converted is not None and _close(converted, value)

    return check


def _assign(tests: Sequence[tuple[str, _RecordTest]], records: Sequence[Record]) -> list[str]:
    """Each stated record needs a record of its own (a bipartite matching)."""
    owner: dict[int, int] = {}

    def place(index: int, seen: set[int]) -> bool:
        for position, record in enumerate(records):
            if position in seen or not tests[index][1](record):
                continue
            seen.add(position)
            if position not in owner or place(owner[position], seen):
                owner[position] = index
                return True
        return False

    placed = {index for index in range(len(tests)) if place(index, set())}
    return [
        f"{tests[index][0]}: no record gives it"
        for index in range(len(tests))
        if index not in placed
    ]


def _letters(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def vector(vector_id: str) -> dict[str, Any]:
    """One vector by its id, for tests that start from a known telegram."""
    found = [item for item in load_vectors() if item["id"] == vector_id]
    if not found:
        raise KeyError(f"no vector {vector_id!r} in {VECTORS_PATH}")
    return found[0]


def frame(vector_id: str) -> bytes:
    """A vector's telegram bytes."""
    return bytes.fromhex(vector(vector_id)["hex"])
