"""Compact profiles (VIFE 1Eh, 1Fh): one record per element, dated from the profile's storage.

Profiles are built by hand: a date (or date-time) record for the base storage,
then the profile record with its spacing control, spacing value and elements.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openamr.collect.mbus.compact import LayoutCache, format_signature, parse_compact
from openamr.collect.mbus.model import BadFrame, Device, Record, UnableToDecodeTelegram
from openamr.collect.mbus.records import parse_records

PROPERTIES = settings(max_examples=200, deadline=None)

HCA_PROFILE = "4D EE 1F"  # storage 1, variable length, HCA units, compact profile
HCA_PROFILE_WITH_REGISTERS = "4D EE 1E"
VOLUME_PROFILE_WITH_REGISTERS = "8D 04 93 1E"  # storage 8, volume 10^-3 m3
ABSOLUTE, INCREMENTS, DECREMENTS, DIFFERENCES = 0, 1, 2, 3
SECONDS, MINUTES, HOURS, DAYS = 0, 1, 2, 3
MONTH = 0xFE


def type_g(day: date) -> str:
    """A date as EN 13757-3 type G, hex."""
    year = day.year % 100
    low = day.day | (year & 0x07) << 5
    high = day.month | (year >> 3) << 4
    return bytes([low, high]).hex()


def type_f(moment: datetime) -> str:
    """A date-time as EN 13757-3 type F, hex."""
    year = moment.year % 100
    return bytes(
        [
            moment.minute,
            moment.hour,
            moment.day | (year & 0x07) << 5,
            moment.month | (year >> 3) << 4,
        ]
    ).hex()


def control(mode: int, unit: int, data_code: int) -> int:
    return mode << 6 | unit << 4 | data_code


def profile_record(header: str, spacing_control: int, spacing: int, elements: bytes) -> str:
    data = bytes([spacing_control, spacing]) + elements
    return header + bytes([len(data)]).hex() + data.hex()


def with_base(base: date | None, record: str, *, date_dif: str = "42") -> bytes:
    """The profile record after a date record (DIF ``date_dif``: storage 1) or date-time record.

    A date-time is given in storage 1 (DIF 44h, type F).
    """
    if base is None:
        return bytes.fromhex(record)
    if isinstance(base, datetime):
        base_record = "44 6D" + type_f(base)
    else:
        base_record = date_dif + "6C" + type_g(base)
    return bytes.fromhex(base_record + record)


def elements_of(records: tuple[Record, ...]) -> list[tuple[str, object, int, object]]:
    """(quantity, value, storage, at) of the records that came out of the profile."""
    return [
        (r.quantity, r.value, r.storage, r.at)
        for r in records
        if r.quantity not in ("date", "date_time")
    ]


def int16(*values: int, signed: bool = False) -> bytes:
    return b"".join(value.to_bytes(2, "little", signed=signed) for value in values)


# -- increment modes -----------------------------------------------------------


def test_increments_run_forward_from_the_base_month_end() -> None:
    record = profile_record(HCA_PROFILE, control(INCREMENTS, DAYS, 0x2), MONTH, int16(5, 0, 7, 1))
    records = parse_records(with_base(date(2019, 10, 31), record))
    assert elements_of(records) == [
        ("hca_units_change", Decimal(5), 1, date(2019, 11, 30)),
        ("hca_units_change", Decimal(0), 1, date(2019, 12, 31)),
        ("hca_units_change", Decimal(7), 1, date(2020, 1, 31)),
        ("hca_units_change", Decimal(1), 1, date(2020, 2, 29)),
    ]
    assert {r.unit for r in records if r.quantity == "hca_units_change"} == {"units"}
    assert "element 4 of 4, every month, increments" in records[-1].description


def test_increments_are_unsigned() -> None:
    record = profile_record(HCA_PROFILE, control(INCREMENTS, DAYS, 0x1), 1, bytes([0xFF]))
    (element,) = elements_of(parse_records(with_base(date(2021, 3, 1), record)))
    assert element == ("hca_units_change", Decimal(255), 1, date(2021, 3, 2))


def test_decrements_are_negative_changes_and_zero_stays_zero() -> None:
    record = profile_record(HCA_PROFILE, control(DECREMENTS, DAYS, 0x1), 1, bytes([3, 0, 0xFF]))
    records = parse_records(with_base(date(2021, 3, 1), record))
    assert elements_of(records) == [
        ("hca_units_change", Decimal(-3), 1, date(2021, 3, 2)),
        ("hca_units_change", Decimal(0), 1, date(2021, 3, 3)),
        ("hca_units_change", Decimal(-255), 1, date(2021, 3, 4)),
    ]
    assert str(records[2].value) == "0"  # not "-0"


def test_signed_differences_every_seven_days() -> None:
    elements = int16(-2, 5, signed=True)
    record = profile_record(HCA_PROFILE, control(DIFFERENCES, DAYS, 0x2), 7, elements)
    records = parse_records(with_base(date(2021, 12, 27), record))
    assert elements_of(records) == [
        ("hca_units_change", Decimal(-2), 1, date(2022, 1, 3)),
        ("hca_units_change", Decimal(5), 1, date(2022, 1, 10)),
    ]


def test_absolute_values_start_at_the_base_and_keep_the_quantity() -> None:
    record = profile_record(HCA_PROFILE, control(ABSOLUTE, DAYS, 0x2), MONTH, int16(10, 12))
    records = parse_records(with_base(date(2020, 1, 30), record))
    assert elements_of(records) == [
        ("hca_units", Decimal(10), 1, date(2020, 1, 30)),
        ("hca_units", Decimal(12), 1, date(2020, 2, 29)),  # no 30 February: its last day
    ]


def test_a_month_from_a_day_that_is_not_the_last_keeps_its_day() -> None:
    elements = int16(1, 2, 3)
    record = profile_record(HCA_PROFILE, control(ABSOLUTE, DAYS, 0x2), MONTH, elements)
    records = parse_records(with_base(date(2020, 11, 15), record))
    assert [r.at for r in records if r.quantity == "hca_units"] == [
        date(2020, 11, 15),
        date(2020, 12, 15),
        date(2021, 1, 15),
    ]


# -- spacing units ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("unit", "spacing", "step"),
    [
        (SECONDS, 30, timedelta(seconds=30)),
        (MINUTES, 15, timedelta(minutes=15)),
        (HOURS, 1, timedelta(hours=1)),
        (DAYS, 2, timedelta(days=2)),
    ],
)
def test_each_spacing_unit_from_a_base_date_time(unit: int, spacing: int, step: timedelta) -> None:
    base = datetime(2021, 12, 31, 23, 0)
    record = profile_record(HCA_PROFILE, control(INCREMENTS, unit, 0x1), spacing, bytes([4, 6]))
    records = parse_records(with_base(base, record))
    assert elements_of(records) == [
        ("hca_units_change", Decimal(4), 1, base + step),
        ("hca_units_change", Decimal(6), 1, base + 2 * step),
    ]


def test_monthly_from_a_base_date_time_keeps_the_time_of_day() -> None:
    base = datetime(2021, 1, 31, 0, 0)
    record = profile_record(HCA_PROFILE, control(ABSOLUTE, DAYS, 0x1), MONTH, bytes([1, 2]))
    records = parse_records(with_base(base, record))
    assert [r.at for r in records if r.quantity == "hca_units"] == [
        base,
        datetime(2021, 2, 28, 0, 0),
    ]


# -- register numbers, scales and data types ----------------------------------------


def test_with_register_numbers_each_element_is_its_own_storage() -> None:
    bcd = bytes.fromhex("33000000 43000000 34180000")  # 8 BCD digits each: 33, 43, 1834 litres
    record = profile_record(VOLUME_PROFILE_WITH_REGISTERS, control(ABSOLUTE, DAYS, 0xC), MONTH, bcd)
    records = parse_records(with_base(date(2017, 9, 1), record, date_dif="82 04"))
    assert elements_of(records) == [
        ("volume", Decimal("0.033"), 8, date(2017, 9, 1)),
        ("volume", Decimal("0.043"), 9, date(2017, 10, 1)),
        ("volume", Decimal("1.834"), 10, date(2017, 11, 1)),
    ]
    assert {r.unit for r in records if r.quantity == "volume"} == {"m3"}


def test_with_register_numbers_a_change_is_the_register_at_its_end() -> None:
    record = profile_record(
        HCA_PROFILE_WITH_REGISTERS, control(INCREMENTS, DAYS, 0x1), MONTH, bytes([2, 3])
    )
    records = parse_records(with_base(date(2020, 12, 31), record))
    assert elements_of(records) == [
        ("hca_units_change", Decimal(2), 2, date(2021, 1, 31)),
        ("hca_units_change", Decimal(3), 3, date(2021, 2, 28)),
    ]


def test_with_register_numbers_and_no_base_the_storages_still_say_which() -> None:
    record = profile_record(
        HCA_PROFILE_WITH_REGISTERS, control(ABSOLUTE, DAYS, 0x1), MONTH, bytes([7, 8])
    )
    records = parse_records(with_base(None, record))
    assert elements_of(records) == [
        ("hca_units", Decimal(7), 1, None),
        ("hca_units", Decimal(8), 2, None),
    ]


def test_bcd_elements_with_an_error_digit_have_no_value_and_say_why() -> None:
    bcd = bytes.fromhex("1200 AB00")  # 4 BCD digits each: 12, then a digit A
    record = profile_record(HCA_PROFILE, control(ABSOLUTE, DAYS, 0xA), MONTH, bcd)
    first, second = (
        r for r in parse_records(with_base(date(2020, 1, 1), record)) if r.quantity == "hca_units"
    )
    assert first.value == Decimal(12)
    assert second.value is None
    assert "non-decimal digits" in second.description


# -- what is kept raw, and what is a bad frame ----------------------------------------


@pytest.mark.parametrize(
    ("base", "record", "reason"),
    [
        (
            None,
            profile_record(HCA_PROFILE, control(INCREMENTS, DAYS, 0x1), MONTH, b"\x01"),
            "storage 1 has no time point",
        ),
        (
            date(2020, 1, 1),
            profile_record(HCA_PROFILE, control(INCREMENTS, HOURS, 0x1), 1, b"\x01"),
            "needs a base date-time",
        ),
        (
            date(2020, 1, 1),
            profile_record(HCA_PROFILE, control(INCREMENTS, DAYS, 0x1), 0xFF, b"\x01"),
            "spacing value FFh",
        ),
        (
            date(2020, 1, 1),
            profile_record(HCA_PROFILE, control(INCREMENTS, HOURS, 0x1), MONTH, b"\x01"),
            "spacing value FEh in hours",
        ),
        (
            date(2020, 1, 1),
            profile_record(HCA_PROFILE, control(INCREMENTS, DAYS, 0x1), 0, b"\x01"),
            "spacing value 00h",
        ),
        (
            date(2020, 1, 1),
            profile_record(HCA_PROFILE, control(INCREMENTS, DAYS, 0xD), MONTH, b"\x01"),
            "element data field Dh is not a number",
        ),
        (
            date(2020, 1, 1),
            profile_record("4D FD 97 1F", control(ABSOLUTE, DAYS, 0x1), MONTH, b"\x01"),
            "a profile of flags values is not read",
        ),
    ],
)
def test_a_profile_that_cannot_be_read_is_kept_with_the_reason(
    base: date | None, record: str, reason: str
) -> None:
    (kept,) = (r for r in parse_records(with_base(base, record)) if r.quantity != "date")
    assert kept.quantity.endswith("_compact_profile")
    assert isinstance(kept.value, bytes)
    assert reason in kept.description


def test_a_profile_in_storage_0_cannot_be_dated() -> None:
    record = profile_record("0D EE 1F", control(INCREMENTS, DAYS, 0x1), MONTH, b"\x01")
    frame = bytes.fromhex("046D" + type_f(datetime(2021, 1, 5, 12, 0)) + record)
    (kept,) = (r for r in parse_records(frame) if r.quantity != "date_time")
    assert kept.quantity == "hca_units_compact_profile"
    assert "storage 0 has no time point" in kept.description


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        (
            profile_record(HCA_PROFILE, control(INCREMENTS, DAYS, 0x2), MONTH, b"\x01\x00\x02"),
            "3 element bytes are not a whole number of 2-byte elements; the profile is cut short",
        ),
        (
            profile_record(HCA_PROFILE, control(ABSOLUTE, DAYS, 0xC), MONTH, bytes(6)),
            "6 element bytes are not a whole number of 4-byte elements",
        ),
        (HCA_PROFILE + "01 72", "1 data bytes, too short for its spacing control"),
        (HCA_PROFILE + "00", "0 data bytes, too short"),
        ("40 EE 1F", "0 data bytes, too short"),  # no data field at all (DIF data 0h)
    ],
)
def test_a_truncated_profile_is_a_bad_frame(record: str, reason: str) -> None:
    with pytest.raises(BadFrame, match=reason) as caught:
        parse_records(with_base(date(2020, 1, 1), record))
    # Where the profile is: after the 4-byte date record, and its header.
    assert caught.value.reason.startswith("record at offset 4: compact profile 4")


# -- compact frames and properties ---------------------------------------------------


def test_a_compact_frame_expands_its_profile_as_the_full_frame_does() -> None:
    meter = Device("ABC", "12345678", 0x01, 0x08, "heat cost allocator")
    date_header, profile_header = bytes.fromhex("426C"), bytes.fromhex("4DEE1F")
    date_data = bytes.fromhex(type_g(date(2019, 10, 31)))
    profile_data = bytes.fromhex(
        profile_record("", control(INCREMENTS, DAYS, 0x2), MONTH, int16(3, 22))
    )
    full = date_header + date_data + profile_header + profile_data
    layouts = LayoutCache()
    layouts.learn(meter, full)
    compact = (
        format_signature(date_header + profile_header).to_bytes(2, "little")
        + format_signature(full).to_bytes(2, "little")
        + date_data
        + profile_data
        + b"\x2f" * 5  # an encryption's padding
    )
    records = parse_compact(meter, compact, layouts)
    assert records == parse_records(full)
    assert elements_of(records) == [
        ("hca_units_change", Decimal(3), 1, date(2019, 11, 30)),
        ("hca_units_change", Decimal(22), 1, date(2019, 12, 31)),
    ]


@PROPERTIES
@given(st.lists(st.integers(0, 0xFFFF), max_size=60), st.dates(date(1990, 1, 1), date(2070, 1, 1)))
def test_monthly_increments_come_out_in_order_one_month_apart(
    increments: list[int], base: date
) -> None:
    record = profile_record(HCA_PROFILE, control(INCREMENTS, DAYS, 0x2), MONTH, int16(*increments))
    records = [r for r in parse_records(with_base(base, record)) if r.quantity != "date"]
    assert [r.value for r in records] == [Decimal(value) for value in increments]
    points = [base] + [r.at for r in records]
    for earlier, later in pairwise(points):
        assert isinstance(earlier, date)
        assert isinstance(later, date)
        assert (later.year * 12 + later.month) - (earlier.year * 12 + earlier.month) == 1


@PROPERTIES
@given(st.binary(max_size=40), st.sampled_from(["EE 1F", "EE 1E", "93 1F", "FD 97 1E"]))
def test_any_profile_bytes_give_records_or_a_reason(data: bytes, vif: str) -> None:
    record = "4D " + vif + bytes([len(data)]).hex() + data.hex()
    reason = None
    try:
        parse_records(with_base(date(2024, 2, 29), record))
    except UnableToDecodeTelegram as exc:  # anything else fails the test
        reason = exc.reason
    assert reason is None or reason
