"""EN 13757-3 Annex A data types: BCD, integers, reals, dates, times and variable-length fields."""

from __future__ import annotations

import struct
from datetime import date, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openamr.collect.mbus.datatypes import (
    bcd_digits,
    decode_bcd,
    decode_date_g,
    decode_datetime_f,
    decode_datetime_i,
    decode_int,
    decode_lvar,
    decode_real,
    decode_time_j,
    lvar_length,
    manufacturer_code,
)

PROPERTIES = settings(max_examples=300, deadline=None)


def bcd(value: int, size: int) -> bytes:
    """``value`` as packed BCD in ``size`` bytes, least significant byte first; F sign if negative."""
    digits = f"{abs(value):0{2 * size}d}"
    if value < 0:
        digits = "f" + digits[1:]
    return bytes.fromhex(digits)[::-1]


def date_g(year: int, month: int, day: int) -> bytes:
    """A type G date, as a meter writes it (year as its two digits)."""
    two = year % 100
    return bytes([day | (two & 0x07) << 5, month | (two >> 3) << 4])


def datetime_f(moment: datetime, *, invalid: bool = False, summer: bool = False) -> bytes:
    two = moment.year % 100
    return bytes(
        [
            moment.minute | (0x80 if invalid else 0),
            moment.hour | (0x80 if summer else 0),
            moment.day | (two & 0x07) << 5,
            moment.month | (two >> 3) << 4,
        ]
    )


class TestBcd:
    def test_digits_least_significant_byte_first(self) -> None:
        assert decode_bcd(bytes.fromhex("78563412")) == 12345678

    def test_sign_nibble_f_makes_the_value_negative(self) -> None:
        # A Landis+Gyr power of -2 (x 10^2 W), 6 digits: F0 00 02 on the wire reversed.
        assert decode_bcd(bytes.fromhex("0200F0")) == -2

    @pytest.mark.parametrize("raw", ["0A00", "00E0", "FFFF", "12AB"])
    def test_hex_digits_are_a_data_error(self, raw: str) -> None:
        assert decode_bcd(bytes.fromhex(raw)) is None

    def test_digits_keep_their_leading_zeros(self) -> None:
        assert bcd_digits(bytes.fromhex("08640103")) == "03016408"
        assert bcd_digits(bytes.fromhex("0A00")) is None

    @PROPERTIES
    @given(
        st.integers(1, 6).flatmap(
            lambda n: st.tuples(st.just(n), st.integers(0, 10 ** (2 * n) - 1))
        )
    )
    def test_round_trip(self, case: tuple[int, int]) -> None:
        size, value = case
        assert decode_bcd(bcd(value, size)) == value

    @PROPERTIES
    @given(
        st.integers(1, 6).flatmap(
            lambda n: st.tuples(st.just(n), st.integers(1, 10 ** (2 * n - 1) - 1))
        )
    )
    def test_negative_round_trip(self, case: tuple[int, int]) -> None:
        size, value = case
        assert decode_bcd(bcd(-value, size)) == -value


class TestIntegers:
    @PROPERTIES
    @given(
        st.sampled_from([1, 2, 3, 4, 6, 8]).flatmap(
            lambda n: st.tuples(st.just(n), st.integers(-(2 ** (8 * n - 1)), 2 ** (8 * n - 1) - 1))
        )
    )
    def test_signed_little_endian_round_trip(self, case: tuple[int, int]) -> None:
        size, value = case
        assert decode_int(value.to_bytes(size, "little", signed=True)) == value

    def test_top_bit_is_the_sign(self) -> None:
        assert decode_int(bytes.fromhex("86F1FFFF")) == -3706


class TestReal:
    def test_reads_as_the_shortest_decimal(self) -> None:
        assert decode_real(struct.pack("<f", 1.1)) == Decimal("1.1")
        assert decode_real(bytes.fromhex("0000803F")) == Decimal(1)

    @pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
    def test_not_a_finite_number_has_no_value(self, value: float) -> None:
        assert decode_real(struct.pack("<f", value)) is None

    @PROPERTIES
    @given(st.floats(width=32, allow_nan=False, allow_infinity=False))
    def test_the_decimal_reads_back_the_same_bits(self, value: float) -> None:
        raw = struct.pack("<f", value)
        decoded = decode_real(raw)
        assert decoded is not None
        assert struct.pack("<f", float(decoded)) == raw


class TestDateG:
    def test_day_31_is_a_real_day(self) -> None:
        assert decode_date_g(bytes.fromhex("BF2C")) == (date(2021, 12, 31), "")

    def test_years_81_to_99_are_the_last_century(self) -> None:
        assert decode_date_g(date_g(1999, 11, 30))[0] == date(1999, 11, 30)
        assert decode_date_g(date_g(2080, 1, 1))[0] == date(2080, 1, 1)

    @pytest.mark.parametrize(
        ("raw", "note"), [("0000", "all bits clear"), ("FFFF", "all bits set")]
    )
    def test_no_date(self, raw: str, note: str) -> None:
        value, said = decode_date_g(bytes.fromhex(raw))
        assert value is None
        assert note in said

    def test_every_year_is_a_recurring_date(self) -> None:
        # Sontex: set date 1 July of every year (year 127).
        assert decode_date_g(bytes.fromhex("E1F7")) == ("XXXX-07-01", "recurring date")

    def test_a_day_the_calendar_lacks_is_no_date(self) -> None:
        value, note = decode_date_g(date_g(2021, 2, 31))
        assert value is None
        assert "invalid date" in note

    @PROPERTIES
    @given(st.dates(date(2000, 1, 1), date(2080, 12, 31)))
    def test_round_trip(self, day: date) -> None:
        assert decode_date_g(date_g(day.year, day.month, day.day)) == (day, "")

    @PROPERTIES
    @given(st.binary(min_size=2, max_size=2))
    def test_any_bytes_give_a_value_or_a_reason(self, raw: bytes) -> None:
        value, note = decode_date_g(raw)
        assert value is not None or note


class TestDateTimeF:
    def test_known_value(self) -> None:
        assert decode_datetime_f(bytes.fromhex("030FB726")) == (datetime(2021, 6, 23, 15, 3), "")

    def test_invalid_bit_means_no_value(self) -> None:
        value, note = decode_datetime_f(datetime_f(datetime(2021, 6, 23, 15, 3), invalid=True))
        assert value is None
        assert "IV" in note

    def test_summer_time_is_noted(self) -> None:
        moment = datetime(2021, 6, 23, 15, 3)
        assert decode_datetime_f(datetime_f(moment, summer=True)) == (moment, "summer time")

    def test_hundred_year_bits_count_centuries_from_1900(self) -> None:
        raw = bytearray(datetime_f(datetime(2021, 6, 23, 15, 3)))
        raw[1] |= 1 << 5
        assert decode_datetime_f(bytes(raw))[0] == datetime(2021, 6, 23, 15, 3)

    def test_all_clear_is_no_date_time(self) -> None:
        assert decode_datetime_f(bytes(4))[0] is None

    def test_every_year_is_recurring(self) -> None:
        # Landis+Gyr T230: 1 January of every year, midnight.
        assert decode_datetime_f(bytes.fromhex("0000E1F1"))[0] == "XXXX-01-01T00:00"

    @PROPERTIES
    @given(st.datetimes(datetime(2000, 1, 1), datetime(2080, 12, 31)))
    def test_round_trip_to_the_minute(self, moment: datetime) -> None:
        expected = moment.replace(second=0, microsecond=0)
        assert decode_datetime_f(datetime_f(moment)) == (expected, "")

    @PROPERTIES
    @given(st.binary(min_size=4, max_size=4))
    def test_any_bytes_give_a_value_or_a_reason(self, raw: bytes) -> None:
        value, note = decode_datetime_f(raw)
        assert value is not None or note


class TestDateTimeIAndTimeJ:
    def test_type_i_to_the_second(self) -> None:
        # Itron: 2022-01-21 01:26:44, a Friday (day of week 5).
        assert decode_datetime_i(bytes.fromhex("2C1AA1D52100")) == (
            datetime(2022, 1, 21, 1, 26, 44),
            "",
        )

    def test_type_i_invalid_bit(self) -> None:
        assert decode_datetime_i(bytes.fromhex("2C9AA1D52100"))[0] is None

    def test_type_j_time_of_day(self) -> None:
        assert decode_time_j(bytes([44, 26, 13])) == ("13:26:44", "")
        assert decode_time_j(bytes([60, 0, 0]))[0] is None

    @PROPERTIES
    @given(st.binary(min_size=6, max_size=6))
    def test_any_bytes_give_a_value_or_a_reason(self, raw: bytes) -> None:
        value, note = decode_datetime_i(raw)
        assert value is not None or note


class TestVariableLength:
    def test_text_is_sent_last_character_first(self) -> None:
        assert decode_lvar(0x05, bytes.fromhex("302E302E34")) == ("4.0.0", "")

    def test_positive_and_negative_bcd(self) -> None:
        assert decode_lvar(0xC2, bytes.fromhex("3412")) == (1234, "")
        assert decode_lvar(0xD2, bytes.fromhex("3412")) == (-1234, "")

    def test_binary_stays_bytes(self) -> None:
        assert decode_lvar(0xE3, b"\x01\x02\x03") == (b"\x01\x02\x03", "binary")

    @pytest.mark.parametrize(
        ("lvar", "length"),
        [
            (0x00, 0),
            (0xBF, 191),
            (0xC9, 9),
            (0xD4, 4),
            (0xEF, 15),
            (0xF0, 16),
            (0xF4, 32),
            (0xF5, 48),
            (0xF6, 64),
        ],
    )
    def test_lengths(self, lvar: int, length: int) -> None:
        assert lvar_length(lvar) == length

    @pytest.mark.parametrize("lvar", [0xCA, 0xCF, 0xDA, 0xF7, 0xFF])
    def test_reserved_codes(self, lvar: int) -> None:
        assert lvar_length(lvar) == -1


def test_manufacturer_code_is_three_letters() -> None:
    assert manufacturer_code(0x2C2D) == "KAM"
    assert manufacturer_code(0x4DEE) == "SON"
