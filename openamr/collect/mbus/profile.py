"""Compact profiles (EN 13757-3, VIFE 1Eh and 1Fh): a series of values in one record, read out.

A compact profile is one data record whose data field (variable length, or
a fixed-length field that happens to fit) holds a series of values of the
quantity its VIF names, oldest first:

=======  ===============================================================
byte     meaning
=======  ===============================================================
0        spacing control: bits 7-6 the increment mode (00 absolute values,
         01 unsigned increments, 10 unsigned decrements, 11 signed
         differences), bits 5-4 the spacing unit (00 seconds, 01 minutes,
         10 hours, 11 days), bits 3-0 each element's data field, coded as
         a DIF's (2h a 16-bit integer, Ch 8 BCD digits, ...)
1        spacing value: 1-250 spacing units between two elements; FEh with
         the unit days is one calendar month
2-       the elements, each as long as its data field says
=======  ===============================================================

The record's storage number names the profile's base time point ``t0``: the
date (or date-time) record of that storage in the same telegram. Element
``k`` belongs to time point ``i``, ``t0 + i`` spacings:

- absolute values: ``i = k``, the first element is the register at ``t0``;
- increments, decrements and differences: ``i = k + 1``, the element is the
  change over the spacing that ends at its time point (the base register
  holds the value at ``t0`` the changes start from).

With register numbers (VIFE 1Eh) the element of time point ``i`` is the
register of storage ``s + i``, ``s`` the record's storage number; without
(VIFE 1Fh) every element keeps the record's storage number, and its own
``at`` says when it was taken. A month from a month's last day is the next
month's last day (31 October, 30 November, 31 December, 29 February).

Records: an absolute element is the quantity itself (``hca_units``,
``volume``) with its ``at``, like any register of an earlier storage. A
change is ``<quantity>_change`` (``hca_units_change``), signed: a decrement
is negative. Changes are not added up into register values: an allocator's
register restarts at every annual set date, and nothing in a profile says
when.

The standard's text on the order and dating of elements can be read more
than one way, and decoders differ. What the real telegrams in the test
vectors prove: Techem's FHKV data IV (1Fh, increments, 14 monthly values,
base 31 October 2019) gives the months oldest first, ending on its last set
date: the increments dated in 2020 add up to the 25 units its register held
at the 31 December 2020 set date, while newest first (wmbusmeters' reading,
which pairs the same 14 values with the same 14 month ends the other way
round) they would add up to 0. The Sontex Supercom 587's volume profile (1Eh,
absolute, monthly) starts with the value of its base register and only
grows, so it too runs forward from ``t0``. No vector shows an absolute
profile without register numbers or a change profile with them: those follow
the same rules, which are our reading.

Not read (the record is kept as it came, raw, its description saying why):
a spacing value of 0 or FBh-FFh other than FEh in days, a spacing below a
day from a base that is only a date, an element data field that is not a
number (0h, 8h, Dh, Fh), values that are not numbers or counts, and a
profile without register numbers whose storage has no time point (storage
0 among them: its elements cannot be dated). The inverse compact profile
(VIFE 13h) stays raw as well.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import Enum

from openamr.collect.mbus.datatypes import DATA_LENGTHS, Converter, make_converter
from openamr.collect.mbus.model import BadFrame, Record, RecordValue
from openamr.collect.mbus.vif import Kind

CHANGE_SUFFIX = "_change"
_MONTH = 0xFE  # spacing value: one calendar month (spacing unit days)
_MAX_SPACING = 250
_SPACING_UNITS = (
    (timedelta(seconds=1), "second"),
    (timedelta(minutes=1), "minute"),
    (timedelta(hours=1), "hour"),
    (timedelta(days=1), "day"),
)
_DAYS = 3
_BCD_CODES = frozenset({0x09, 0x0A, 0x0B, 0x0C, 0x0E})
_REAL = 0x05
_NUMERIC_KINDS = frozenset({Kind.NUMBER, Kind.COUNT})


class Mode(Enum):
    """The increment mode, bits 7-6 of the spacing control byte."""

    ABSOLUTE = "absolute values"
    INCREMENTS = "increments"
    DECREMENTS = "decrements"
    DIFFERENCES = "signed differences"


_MODES = (Mode.ABSOLUTE, Mode.INCREMENTS, Mode.DECREMENTS, Mode.DIFFERENCES)


@dataclass(frozen=True, slots=True)
class ProfileSpec:
    """What a compact profile's header says about its elements."""

    quantity: str  # the elements' quantity: the record's, without the profile VIFE
    unit: str | None
    kind: Kind  # how an element's number becomes its value, as for a record
    scale: Decimal
    with_registers: bool  # VIFE 1Eh: each element is the register of its own storage


@dataclass(frozen=True, slots=True)
class _Spacing:
    step: timedelta | None  # None: calendar months
    name: str

    def after(self, base: date, count: int) -> date:
        """``count`` spacings after ``base``; a date for a date, a date-time for a date-time."""
        if self.step is None:
            return _months_after(base, count)
        return base + self.step * count


class _NotRead(Exception):
    """A profile this module does not read: why, for the record it leaves raw."""


def expand_profile(
    record: Record, profile: ProfileSpec, base: date | None, *, place: str = ""
) -> tuple[Record, ...]:
    """One record per element of the compact profile ``record`` (see the module docstring).

    ``record`` is the profile as its header and data field give it (its value
    the data bytes after any LVAR byte), ``base`` the time point of its
    storage, if the telegram gives one. A profile this module does not read is
    returned as it is, its description saying why.

    Raises BadFrame when the data field is too short for the spacing control
    and value, or its elements do not fill it in whole elements; the reason
    starts with ``place`` (where the record is, "record at offset 12"), if
    given, and names the profile's header.
    """
    data = record.value
    where = f"compact profile {record.raw.hex().upper()}"
    if place:
        where = f"{place}: {where}"
    if not isinstance(data, bytes) or len(data) < 2:
        size = len(data) if isinstance(data, bytes) else 0
        raise BadFrame(
            f"{where}: {size} data bytes, too short for its spacing control and spacing value"
        )
    control, spacing_value = data[0], data[1]
    mode = _MODES[control >> 6]
    data_code = control & 0x0F
    size = DATA_LENGTHS[data_code]
    elements = data[2:]
    try:
        convert = _element_converter(profile, mode, data_code)
        if len(elements) % size:
            raise BadFrame(
                f"{where}: {len(elements)} element bytes are not a whole number of "
                f"{size}-byte elements; the profile is cut short"
            )
        count = len(elements) // size
        offset = 0 if mode is Mode.ABSOLUTE else 1
        spacing = _spacing((control >> 4) & 0x03, spacing_value)
        points = _time_points(record, profile, base, spacing, offset, count)
    except _NotRead as reason:
        return (_kept(record, str(reason)),)
    quantity = profile.quantity if mode is Mode.ABSOLUTE else profile.quantity + CHANGE_SUFFIX
    what = f"every {spacing.name}, {mode.value}"
    expanded = []
    for index in range(count):
        value, note = convert(elements[index * size : (index + 1) * size])
        if mode is Mode.DECREMENTS and isinstance(value, Decimal | int):
            value = -value
        description = f"{record.description}; element {index + 1} of {count}, {what}"
        expanded.append(
            _element(
                record,
                quantity,
                value,
                profile,
                storage=record.storage + index + offset if profile.with_registers else None,
                at=points[index],
                description=f"{description}; {note}" if note else description,
            )
        )
    return tuple(expanded)


def _element_converter(profile: ProfileSpec, mode: Mode, data_code: int) -> Converter:
    """How one element's bytes become its value; _NotRead for what is not a number."""
    if profile.kind not in _NUMERIC_KINDS:
        raise _NotRead(f"a profile of {profile.kind.name.lower()} values is not read")
    if DATA_LENGTHS[data_code] <= 0:  # no data (0h, 8h), variable length (Dh), special (Fh)
        raise _NotRead(f"element data field {data_code:X}h is not a number")
    convert = make_converter(profile.kind, data_code, profile.scale)
    if mode in (Mode.INCREMENTS, Mode.DECREMENTS) and not (
        data_code in _BCD_CODES or data_code == _REAL
    ):
        # Unsigned binary: a zero byte above the element makes the signed reader's
        # two's complement an unsigned number, scaled as a record's would be.
        return lambda raw: convert(raw + b"\x00")
    return convert


def _spacing(unit: int, value: int) -> _Spacing:
    if value == _MONTH and unit == _DAYS:
        return _Spacing(None, "month")
    step, name = _SPACING_UNITS[unit]
    if not 1 <= value <= _MAX_SPACING:
        raise _NotRead(f"spacing value {value:02X}h in {name}s is not read")
    return _Spacing(step * value, name if value == 1 else f"{value} {name}s")


def _time_points(
    record: Record,
    profile: ProfileSpec,
    base: date | None,
    spacing: _Spacing,
    offset: int,
    count: int,
) -> list[date | None]:
    """Each element's ``at``; None where a register's own date record is to say it."""
    if base is None:
        if profile.with_registers:
            return [None] * count
        raise _NotRead(f"storage {record.storage} has no time point to date its elements from")
    below_a_day = spacing.step is not None and spacing.step < timedelta(days=1)
    if below_a_day and not isinstance(base, datetime):
        raise _NotRead(f"a spacing of {spacing.name} needs a base date-time, not a date")
    try:
        return [spacing.after(base, index + offset) for index in range(count)]
    except (OverflowError, ValueError) as exc:
        raise _NotRead(f"its time points fall outside the calendar ({exc})") from None


def _months_after(base: date, months: int) -> date:
    """``months`` calendar months after ``base``; a month's last day stays its last day."""
    year, month = divmod(base.year * 12 + base.month - 1 + months, 12)
    month += 1
    last = calendar.monthrange(year, month)[1]
    at_month_end = base.day == calendar.monthrange(base.year, base.month)[1]
    return base.replace(year=year, month=month, day=last if at_month_end else min(base.day, last))


def _kept(record: Record, reason: str) -> Record:
    return _element(
        record,
        record.quantity,
        record.value,
        None,
        storage=None,
        at=record.at,
        description=f"{record.description}; not read: {reason}",
    )


def _element(
    record: Record,
    quantity: str,
    value: RecordValue,
    profile: ProfileSpec | None,
    *,
    storage: int | None,
    at: date | None,
    description: str,
) -> Record:
    return Record(
        quantity=quantity,
        value=value,
        unit=record.unit if profile is None else profile.unit,
        storage=record.storage if storage is None else storage,
        tariff=record.tariff,
        subunit=record.subunit,
        function=record.function,
        at=at,
        description=description,
        raw=record.raw,
    )


_ELEMENT = re.compile(r"; element \d+ of \d+")


def is_profile_element(record: Record) -> bool:
    """Whether `record` is one element of an expanded compact profile (see expand_profile)."""
    return _ELEMENT.search(record.description) is not None
