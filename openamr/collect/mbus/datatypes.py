"""The data types of EN 13757-3 Annex A: how the bytes of one data field become a value.

The ``decode_*`` functions take a data field exactly as transmitted (least
significant byte first) and never raise for odd contents: a value the bytes
cannot hold comes back as ``None`` together with a note saying why, because
a meter that flags one register as invalid still sends good values in the
others. :func:`make_converter` puts them together with a VIF's kind and scale
into the one function a record header needs (built once per header).

Years: types F, G and I carry two year digits. As EN 13757-3 recommends for
meters with a circular two-digit year, 00-80 are read as 2000-2080 and 81-99
as 1981-1999; type F's hundred-year bits, when set, count centuries from 1900.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from datetime import date, datetime
from decimal import Context, Decimal

from openamr.collect.mbus.model import RecordValue
from openamr.collect.mbus.vif import ONE, Kind

DateValue = date | str | None
Note = str
Converter = Callable[[bytes], tuple[RecordValue, Note]]

LVAR = -1  # the data field starts with its own length byte
REST = -2  # manufacturer data: everything to the end of the telegram
# The DIF's data field code -> data length (EN 13757-3 coding of the data field; 0Fh: special).
DATA_LENGTHS = (0, 1, 2, 3, 4, 4, 6, 8, 0, 1, 2, 3, 4, LVAR, 6, REST)
_BCD_CODES = frozenset({0x09, 0x0A, 0x0B, 0x0C, 0x0E})
_EXACT = Context(prec=60)  # wide enough that no product of a data value and a scale rounds

_NO_NOTE = ""
_REAL = struct.Struct("<f")


def decode_int(raw: bytes) -> int:
    """Type B: a signed binary integer, two's complement, least significant byte first."""
    return int.from_bytes(raw, "little", signed=True)


def decode_bcd(raw: bytes) -> int | None:
    """Type A: packed BCD, least significant byte first; None if a digit is not decimal.

    A most significant nibble of F marks a negative value (the remaining
    digits are its magnitude). Any other hexadecimal digit A-F is how a meter
    signals a data error, so the value is None.
    """
    digits = raw[::-1].hex()
    if digits[0] == "f":
        digits = digits[1:]
        sign = -1
    else:
        sign = 1
    if not digits.isdigit():
        return None
    return sign * int(digits)


def bcd_digits(raw: bytes) -> str | None:
    """The BCD digits as written on the meter, leading zeros kept; None if any is not decimal."""
    digits = raw[::-1].hex()
    return digits if digits.isdigit() else None


def decode_real(raw: bytes) -> Decimal | None:
    """Type H: IEEE 754 single precision, as the shortest decimal that reads back the same.

    ``1.1`` is stored as 1.10000002384185791015625; the meter meant 1.1, and
    1.1 is also the shortest decimal that rounds to the same 32 bits, so that
    is the value. NaN and infinities give None.
    """
    (number,) = _REAL.unpack(raw)
    if not math.isfinite(number):
        return None
    for digits in range(1, 10):
        text = f"{number:.{digits}g}"
        try:
            if _REAL.pack(float(text)) == raw:
                return Decimal(text)
        except OverflowError:  # rounded past the largest single-precision number
            continue
    return Decimal(repr(number))  # pragma: no cover - nine digits always read back


def _full_year(two_digits: int, centuries: int = 0) -> int:
    if centuries:
        return 1900 + 100 * centuries + two_digits
    return 2000 + two_digits if two_digits <= 80 else 1900 + two_digits


def _recurring(year: int, month: int, day: int) -> str | None:
    """A date with "every" parts as ISO 8601-2 text ("XXXX-07-01"), or None if it has none.

    EN 13757-3 (types F and G) uses day 0, month 15 and year 127 for "every
    day / month / year", as in a billing date "1 July of every year".
    """
    if year != 127 and month != 15 and day != 0:
        return None
    if not (1 <= month <= 12 or month == 15) or (year > 99 and year != 127):
        return None
    year_text = "XXXX" if year == 127 else f"{_full_year(year):04d}"
    month_text = "XX" if month == 15 else f"{month:02d}"
    day_text = "XX" if day == 0 else f"{day:02d}"
    return f"{year_text}-{month_text}-{day_text}"


def decode_date_g(raw: bytes) -> tuple[DateValue, Note]:
    """Type G (16 bits): a date, or a recurring date, or None when it holds none.

    Day 1-31, month 1-12, year 0-99 form a calendar date (day 31 is a real
    31st). A recurring date comes back as text with X for its "every" parts
    ("XXXX-07-01", 1 July of every year). All bits clear or all set means no
    date.
    """
    low, high = raw[0], raw[1]
    if low == high == 0:
        return None, "no date (all bits clear)"
    if low == high == 0xFF:
        return None, "no date (all bits set)"
    day = low & 0x1F
    month = high & 0x0F
    year = (low >> 5) | ((high & 0xF0) >> 1)
    recurring = _recurring(year, month, day)
    if recurring is not None:
        return recurring, "recurring date"
    try:
        if year > 99:
            raise ValueError(year)
        return date(_full_year(year), month, day), _NO_NOTE
    except ValueError:
        return None, f"invalid date (day {day}, month {month}, year {year})"


def decode_datetime_f(raw: bytes) -> tuple[DateValue, Note]:
    """Type F (32 bits): date and time to the minute, with its invalid and summer-time bits.

    The value is naive: the meter's own clock. A set IV bit means the meter
    itself says the time is not valid, so the value is None; a set SU bit is
    reported in the note ("summer time"), since the meter's clock then runs
    an hour ahead of its standard time. A recurring date-time comes back as
    text, as for type G ("XXXX-01-01T00:00").
    """
    b0, b1, b2, b3 = raw[0], raw[1], raw[2], raw[3]
    if b0 & 0x80:
        return None, "invalid date-time (IV bit set)"
    if not (b0 | b1 | b2 | b3):
        return None, "no date-time (all bits clear)"
    minute = b0 & 0x3F
    hour = b1 & 0x1F
    centuries = (b1 >> 5) & 0x03
    day = b2 & 0x1F
    month = b3 & 0x0F
    year = (b2 >> 5) | ((b3 & 0xF0) >> 1)
    summer = "summer time" if b1 & 0x80 else _NO_NOTE
    recurring = _recurring(year, month, day)
    if recurring is not None and hour < 24 and minute < 60:
        return f"{recurring}T{hour:02d}:{minute:02d}", "; ".join(
            part for part in ("recurring date-time", summer) if part
        )
    try:
        if year > 99:
            raise ValueError(year)
        value = datetime(_full_year(year, centuries), month, day, hour, minute)  # noqa: DTZ001 - the meter's clock
    except ValueError:
        return None, f"invalid date-time ({day}/{month} year {year} {hour}:{minute})"
    return value, summer


def decode_datetime_i(raw: bytes) -> tuple[datetime | None, Note]:
    """Type I (48 bits): date and time to the second, with day of week and week number.

    Bit 7 of the minute byte is the invalid flag, as in type F. Day of week
    and week number are redundant with the date and are not returned.
    """
    b0, b1, b2, b3, b4 = raw[0], raw[1], raw[2], raw[3], raw[4]
    if b1 & 0x80:
        return None, "invalid date-time (IV bit set)"
    second = b0 & 0x3F
    minute = b1 & 0x3F
    hour = b2 & 0x1F
    day = b3 & 0x1F
    month = b4 & 0x0F
    year = (b3 >> 5) | ((b4 & 0xF0) >> 1)
    if year > 99:
        return None, f"invalid date-time (year {year})"
    try:
        value = datetime(_full_year(year), month, day, hour, minute, second)  # noqa: DTZ001 - the meter's clock
    except ValueError:
        return None, f"invalid date-time ({day}/{month} year {year} {hour}:{minute}:{second})"
    return value, _NO_NOTE


def decode_time_j(raw: bytes) -> tuple[str | None, Note]:
    """Type J (24 bits): a time of day, as "HH:MM:SS"."""
    second, minute, hour = raw[0] & 0x3F, raw[1] & 0x3F, raw[2] & 0x1F
    if second > 59 or minute > 59 or hour > 23:
        return None, f"invalid time ({hour}:{minute}:{second})"
    return f"{hour:02d}:{minute:02d}:{second:02d}", _NO_NOTE


def lvar_length(lvar: int) -> int:
    """How many data bytes follow a variable-length (LVAR) byte; -1 if the LVAR is reserved.

    EN 13757-3 coding of LVAR: 00h-BFh text of that many characters, C0h-C9h and
    D0h-D9h positive and negative BCD of (LVAR-C0h) and (LVAR-D0h) bytes,
    E0h-EFh binary of (LVAR-E0h) bytes, F0h-F4h binary of 4*(LVAR-ECh) bytes,
    F5h 48 and F6h 64 bytes of binary.
    """
    if lvar < 0xC0:
        return lvar
    if lvar <= 0xC9:
        return lvar - 0xC0
    if 0xD0 <= lvar <= 0xD9:
        return lvar - 0xD0
    if 0xE0 <= lvar <= 0xEF:
        return lvar - 0xE0
    if 0xF0 <= lvar <= 0xF4:
        return 4 * (lvar - 0xEC)
    if lvar == 0xF5:
        return 48
    if lvar == 0xF6:
        return 64
    return -1


def decode_lvar(lvar: int, raw: bytes) -> tuple[str | int | bytes | None, Note]:
    """A variable-length data field's contents, by its LVAR byte (see :func:`lvar_length`).

    Text is ISO 8859-1 and transmitted last character first, so it is
    reversed here ("0.82.1B" on the wire reads "B1.28.0"). Binary contents
    stay bytes, as transmitted.
    """
    if lvar < 0xC0:
        return raw[::-1].decode("latin-1"), _NO_NOTE
    if lvar < 0xE0:
        if not raw:
            return 0, _NO_NOTE
        magnitude = bcd_digits(raw)
        if magnitude is None:
            return None, f"BCD with non-decimal digits ({raw[::-1].hex().upper()})"
        return (int(magnitude) if lvar < 0xD0 else -int(magnitude)), _NO_NOTE
    return bytes(raw), "binary"


def manufacturer_code(value: int) -> str:
    """The three-letter FLAG code of a 16-bit manufacturer field, e.g. 0x2C2D -> "KAM"."""
    letters = ((value >> 10) & 0x1F, (value >> 5) & 0x1F, value & 0x1F)
    return "".join(chr(64 + letter) if 1 <= letter <= 26 else "?" for letter in letters)


def make_converter(kind: Kind, data_code: int, scale: Decimal) -> Converter:
    """The function that turns a record's data field into its value and a note.

    ``kind`` comes from the VIF tables, ``data_code`` is the DIF's data
    field and ``scale`` turns the raw number into the VIF's unit. A
    variable-length field is given with its LVAR byte.
    """
    if DATA_LENGTHS[data_code] == 0:
        return _no_value
    if data_code == 0x0D:
        return _lvar_converter(kind, scale)
    if kind is Kind.RAW:
        return raw_bytes
    if kind is Kind.TIME_POINT and data_code not in _BCD_CODES and data_code != 0x05:
        return _time_point
    if data_code == 0x05:
        return _real_number(scale) if kind is Kind.NUMBER else _real_number(ONE)
    if data_code in _BCD_CODES:
        if kind is Kind.IDENT:
            return _bcd_ident
        return _bcd_number(scale) if kind is Kind.NUMBER else _bcd_integer
    if kind is Kind.NUMBER:
        return _int_number(scale)
    if kind is Kind.COUNT:
        return _signed
    if kind is Kind.MANUFACTURER and data_code == 0x02:
        return _manufacturer
    return _unsigned


def _no_value(raw: bytes) -> tuple[RecordValue, str]:
    return None, ""


def raw_bytes(raw: bytes) -> tuple[RecordValue, str]:
    """The converter of manufacturer data: the bytes as transmitted."""
    return raw, ""


def _signed(raw: bytes) -> tuple[RecordValue, str]:
    return int.from_bytes(raw, "little", signed=True), ""


def _unsigned(raw: bytes) -> tuple[RecordValue, str]:
    return int.from_bytes(raw, "little"), ""


def _manufacturer(raw: bytes) -> tuple[RecordValue, str]:
    return manufacturer_code(int.from_bytes(raw, "little")), ""


def _bcd_error(raw: bytes) -> tuple[RecordValue, str]:
    return None, f"BCD with non-decimal digits {raw[::-1].hex().upper()}: the meter flags an error"


def _bcd_integer(raw: bytes) -> tuple[RecordValue, str]:
    value = decode_bcd(raw)
    return (value, "") if value is not None else _bcd_error(raw)


def _bcd_ident(raw: bytes) -> tuple[RecordValue, str]:
    digits = bcd_digits(raw)
    return (digits, "") if digits is not None else _bcd_error(raw)


def _power_of_ten(scale: Decimal) -> int | None:
    """The exponent of ``scale`` if it is a power of ten, else None."""
    _, digits, exponent = scale.normalize(_EXACT).as_tuple()
    return exponent if digits == (1,) and isinstance(exponent, int) else None


def _scaled(value: Decimal, scale: Decimal) -> Decimal:
    """``value`` times ``scale``, exactly; a whole result is written without an exponent.

    Decimal keeps the scale's exponent: 19 × 1E+2 is Decimal("1.9E+3"). The
    value is the same, but a reading should print as 1900, so such results are
    brought to exponent 0.
    """
    product = _EXACT.multiply(value, scale)
    exponent = product.as_tuple().exponent
    if isinstance(exponent, int) and exponent > 0:
        return product.quantize(ONE, context=_EXACT)
    return product


def _int_number(scale: Decimal) -> Converter:
    """Type B integers scaled to a Decimal: the hot path, so one closure per kind of scale."""
    exponent = _power_of_ten(scale)
    if exponent is not None and exponent >= 0:
        factor = 10**exponent

        def whole(raw: bytes) -> tuple[RecordValue, str]:
            return Decimal(int.from_bytes(raw, "little", signed=True) * factor), ""

        return whole
    if exponent is not None:

        def fraction(raw: bytes) -> tuple[RecordValue, str]:
            value = Decimal(int.from_bytes(raw, "little", signed=True))
            return value.scaleb(exponent, _EXACT), ""

        return fraction

    def scaled(raw: bytes) -> tuple[RecordValue, str]:
        return _scaled(Decimal(int.from_bytes(raw, "little", signed=True)), scale), ""

    return scaled


def _bcd_number(scale: Decimal) -> Converter:
    """Type A (BCD) scaled to a Decimal; the sign nibble and error digits take the slow path."""
    exponent = _power_of_ten(scale)
    factor = 10 ** max(exponent or 0, 0)

    def convert(raw: bytes) -> tuple[RecordValue, str]:
        try:
            value = int(raw[::-1].hex())  # only when every digit is decimal
        except ValueError:
            signed = decode_bcd(raw)
            if signed is None:
                return _bcd_error(raw)
            value = signed
        if exponent is None:
            return _scaled(Decimal(value), scale), ""
        if exponent >= 0:
            return Decimal(value * factor), ""
        return Decimal(value).scaleb(exponent, _EXACT), ""

    return convert


def _real_number(scale: Decimal) -> Converter:
    def convert(raw: bytes) -> tuple[RecordValue, str]:
        value = decode_real(raw)
        if value is None:
            return None, "not a finite number"
        return _scaled(value, scale), ""

    return convert


def _time_point(raw: bytes) -> tuple[RecordValue, str]:
    length = len(raw)
    if length == 2:
        return decode_date_g(raw)
    if length == 4:
        return decode_datetime_f(raw)
    if length == 6:
        return decode_datetime_i(raw)
    if length == 3:
        return decode_time_j(raw)
    return int.from_bytes(raw, "little"), f"time point in {length} bytes: no type fits"


def _lvar_converter(kind: Kind, scale: Decimal) -> Converter:
    def convert(raw: bytes) -> tuple[RecordValue, str]:
        if kind is Kind.RAW:
            return raw[1:], ""
        value, note = decode_lvar(raw[0], raw[1:])
        if isinstance(value, int) and kind is Kind.NUMBER:
            return _scaled(Decimal(value), scale), note
        return value, note

    return convert
