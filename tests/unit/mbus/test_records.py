"""EN 13757-3 data records: DIF/DIFE, the VIF tables, combinable VIFEs, special DIFs and errors.

Records are built by hand from the standard's tables, with values chosen so
that a wrong exponent, unit, sign or storage number shows.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openamr.collect.mbus import records as records_module
from openamr.collect.mbus.model import (
    BadFrame,
    Function,
    Record,
    UnableToDecodeTelegram,
    UnsupportedTelegram,
)
from openamr.collect.mbus.records import parse_records

PROPERTIES = settings(max_examples=300, deadline=None)


def one(hex_record: str) -> Record:
    """The single record of a hand-built data record."""
    (record,) = parse_records(bytes.fromhex(hex_record.replace(" ", "")))
    return record


def reading(hex_record: str) -> tuple[str, object, str | None]:
    record = one(hex_record)
    return record.quantity, record.value, record.unit


class TestDataField:
    @pytest.mark.parametrize(
        ("hex_record", "value"),
        [
            ("01 13 FE", Decimal("-0.002")),  # 8-bit integer
            ("02 13 E8 03", Decimal("1.000")),  # 16-bit
            ("03 13 FF FF 7F", Decimal("8388.607")),  # 24-bit, largest positive
            ("04 13 08 19 00 00", Decimal("6.408")),  # 32-bit
            ("06 13 00 00 00 00 00 80", Decimal(-(2**47)) / 1000),  # 48-bit, most negative
            ("07 13 01 00 00 00 00 00 00 00", Decimal("0.001")),  # 64-bit
            ("09 13 99", Decimal("0.099")),  # 2-digit BCD
            ("0A 13 34 12", Decimal("1.234")),  # 4-digit BCD
            ("0B 13 56 34 12", Decimal("123.456")),  # 6-digit BCD
            ("0C 13 78 56 34 12", Decimal("12345.678")),  # 8-digit BCD
            ("0E 13 12 90 78 56 34 12", Decimal("123456789.012")),  # 12-digit BCD
            ("0B 13 56 34 F2", Decimal("-23.456")),  # BCD with sign nibble
        ],
    )
    def test_integer_and_bcd_types(self, hex_record: str, value: Decimal) -> None:
        assert one(hex_record).value == value

    def test_real(self) -> None:
        # 32-bit real with VIF 2E (power 10^3 W): 1.5 kW.
        assert reading("05 2E 00 00 C0 3F") == ("power", Decimal(1500), "W")

    def test_no_data_and_selection_for_readout(self) -> None:
        assert one("00 13").value is None
        assert one("08 13").value is None

    def test_bcd_error_digits_give_no_value_and_say_why(self) -> None:
        record = one("0C 13 78 56 3A 12")
        assert record.value is None
        assert "non-decimal" in record.description

    def test_variable_length_text_is_reversed(self) -> None:
        record = one("0D FD 0F 05 30 2E 30 2E 34")
        assert (record.quantity, record.value) == ("software_version", "4.0.0")

    def test_variable_length_bcd_is_scaled(self) -> None:
        assert one("0D 13 C2 34 12").value == Decimal("1.234")
        assert one("0D 13 D2 34 12").value == Decimal("-1.234")

    def test_whole_values_print_without_exponent(self) -> None:
        # 19 x 10^2 W is 1900 W, and should read "1900", not "1.9E+3".
        assert str(one("02 2D 13 00").value) == "1900"


class TestDataInformation:
    @pytest.mark.parametrize(
        ("dif", "function"),
        [
            ("04", Function.INSTANTANEOUS),
            ("14", Function.MAXIMUM),
            ("24", Function.MINIMUM),
            ("34", Function.DURING_ERROR),
        ],
    )
    def test_function_field(self, dif: str, function: Function) -> None:
        assert one(f"{dif} 13 00 00 00 00").function is function

    @pytest.mark.parametrize(
        ("head", "storage", "tariff", "subunit"),
        [
            ("44", 1, 0, 0),  # storage number LSB in the DIF
            ("84 01", 2, 0, 0),  # DIFE storage bits above it
            ("C4 01", 3, 0, 0),
            ("84 10", 0, 1, 0),  # DIFE tariff
            ("84 40", 0, 0, 1),  # DIFE subunit (device unit)
            ("84 80 40", 0, 0, 2),  # second DIFE: subunit bit 1
            ("84 90 10", 0, 5, 0),  # tariff 01 + 01 << 2
            ("84 8F 0F", 510, 0, 0),  # storage 15 << 1 | 15 << 5
        ],
    )
    def test_storage_tariff_subunit(
        self, head: str, storage: int, tariff: int, subunit: int
    ) -> None:
        record = one(f"{head} 13 00 00 00 00")
        assert (record.storage, record.tariff, record.subunit) == (storage, tariff, subunit)

    def test_raw_is_the_header(self) -> None:
        assert one("84 80 40 14 00 00 00 00").raw == bytes.fromhex("84804014")

    def test_ten_difes_are_allowed_eleven_are_not(self) -> None:
        assert one("84" + "80" * 9 + "00 13 00 00 00 00").subunit == 0
        with pytest.raises(BadFrame, match=r"offset 0: more than 10 DIFEs"):
            parse_records(bytes.fromhex("84" + "80" * 10 + "00 13 00 00 00 00"))


class TestPrimaryVif:
    @pytest.mark.parametrize(
        ("hex_record", "expected"),
        [
            ("04 03 E8 03 00 00", ("energy", Decimal("1.000"), "kWh")),  # 10^0 Wh
            ("04 06 AF 7D 00 00", ("energy", Decimal(32175), "kWh")),  # 10^3 Wh
            ("04 07 01 00 00 00", ("energy", Decimal(10), "kWh")),  # 10^4 Wh
            ("04 0E 04 00 00 00", ("energy", Decimal("0.004"), "GJ")),  # 10^6 J
            ("03 0F C5 10 00", ("energy", Decimal("42.93"), "GJ")),  # 10^7 J
            ("04 14 CC 7A 05 00", ("volume", Decimal("3591.16"), "m3")),
            ("04 16 98 4E 01 00", ("volume", Decimal(85656), "m3")),
            ("02 1B 05 00", ("mass", Decimal(5), "kg")),
            ("04 20 0F 13 CF 01", ("on_time", Decimal(30348047), "s")),
            ("04 22 50 43 00 00", ("on_time", Decimal(17232), "h")),
            ("02 23 0C 02", ("on_time", Decimal(524), "d")),
            ("04 25 C7 D0 27 00", ("operating_time", Decimal(2609351), "min")),
            ("04 2B 86 F1 FF FF", ("power", Decimal(-3706), "W")),
            ("04 2E 30 02 00 00", ("power", Decimal(560000), "W")),
            ("04 33 07 00 00 00", ("power", Decimal("0.000007"), "GJ/h")),  # 10^3 J/h
            ("04 3B 0F 02 00 00", ("volume_flow", Decimal("0.527"), "m3/h")),
            ("02 43 02 00", ("volume_flow", Decimal("0.012"), "m3/h")),  # 10^-4 m3/min
            ("02 4E 01 00", ("volume_flow", Decimal("3.6"), "m3/h")),  # 10^-3 m3/s
            ("02 53 10 00", ("mass_flow", Decimal(16), "kg/h")),
            ("02 59 81 0C", ("flow_temperature", Decimal("32.01"), "°C")),
            ("02 5D 93 0D", ("return_temperature", Decimal("34.75"), "°C")),
            ("02 61 C8 FF", ("temperature_difference", Decimal("-0.56"), "K")),
            ("02 65 2E 08", ("external_temperature", Decimal("20.94"), "°C")),
            ("02 6A 0F 00", ("pressure", Decimal("1.5"), "bar")),
            ("03 6E 77 00 00", ("hca_units", Decimal(119), "units")),
            ("01 72 18", ("averaging_duration", Decimal(24), "h")),
            ("09 74 04", ("actuality_duration", Decimal(4), "s")),
        ],
    )
    def test_quantities_units_and_scale(
        self, hex_record: str, expected: tuple[str, Decimal, str]
    ) -> None:
        assert reading(hex_record) == expected

    def test_date_and_date_time(self) -> None:
        assert reading("02 6C BF 2C") == ("date", date(2021, 12, 31), None)
        assert reading("04 6D 03 0F B7 26") == ("date_time", datetime(2021, 6, 23, 15, 3), None)
        assert one("06 6D 2C 1A A1 D5 21 00").value == datetime(2022, 1, 21, 1, 26, 44)

    def test_identifiers_keep_their_digits(self) -> None:
        assert reading("0C 78 08 64 01 03") == ("fabrication_number", "03016408", None)
        assert one("0E 79 67 83 72 08 21 00").value == "002108728367"
        assert one("04 78 91 7B 6F 01").value == 24083345
        assert reading("01 7A 05") == ("bus_address", 5, None)

    def test_plain_text_unit_read_backwards(self) -> None:
        # Elvaco CMa10: VIF FC, "HR%" on the wire, then VIFE 74 (x 10^-2).
        record = one("02 FC 03 48 52 25 74 22 15")
        assert (record.quantity, record.value, record.unit) == (
            "relative_humidity",
            Decimal("54.10"),
            "%RH",
        )
        assert record.raw == bytes.fromhex("02FC0348522574")

    def test_other_plain_text_units_keep_their_text(self) -> None:
        assert reading("01 7C 03 68 70 72 07") == ("plain_text_unit", Decimal(7), "rph")

    def test_manufacturer_specific_vif_keeps_the_data(self) -> None:
        record = one("04 FF 07 34 44 02 00")
        assert (record.quantity, record.value, record.unit) == (
            "manufacturer_specific",
            bytes.fromhex("34440200"),
            None,
        )
        assert record.raw == bytes.fromhex("04FF07")

    def test_any_vif_and_reserved_vif_still_read(self) -> None:
        assert one("01 7E 05").value == Decimal(5)
        assert one("01 6F 05").quantity == "unknown"


class TestExtensionTables:
    @pytest.mark.parametrize(
        ("hex_record", "expected"),
        [
            ("04 FB 00 60 83 00 00", ("energy", Decimal(3363200), "kWh")),  # 10^-1 MWh
            ("04 FB 09 02 00 00 00", ("energy", Decimal(2), "GJ")),
            ("04 FB 0D 0A 00 00 00", ("energy", Decimal("0.041868"), "GJ")),  # 10 MCal
            ("02 FB 1A AE 01", ("relative_humidity", Decimal("43.0"), "%RH")),
            ("02 FB 21 0A 00", ("volume", Decimal("0.028316846592"), "m3")),  # 10 x 0.1 ft3
            ("02 FB 29 03 00", ("power", Decimal(3000000), "W")),  # 10^0 MW
            ("02 FD 01 E8 03", ("credit", Decimal("10.00"), "currency")),
            ("02 FD 46 61 0E", ("voltage", Decimal("3.681"), "V")),
            ("02 FD 59 10 00", ("current", Decimal("0.016"), "A")),
            ("02 FD 74 87 13", ("remaining_battery_life", Decimal(4999), "d")),
            ("03 FD 6C 5E 15 00", ("battery_operating_time", Decimal(5470), "h")),
            ("01 FD 3A 07", ("dimensionless", Decimal(7), None)),
        ],
    )
    def test_numbers(self, hex_record: str, expected: tuple[str, Decimal, str | None]) -> None:
        assert reading(hex_record) == expected

    @pytest.mark.parametrize(
        ("hex_record", "quantity", "value"),
        [
            ("01 FD 08 30", "access_number", 48),
            ("01 FD 09 07", "medium", 7),
            ("02 FD 0A 2D 2C", "manufacturer", "KAM"),
            ("02 FD 0B 21 11", "parameter_set_id", 0x1121),
            ("0B FD 0F 02 00 01", "software_version", "010002"),
            ("0D FD 0C 07 35 33 31 33 4D 45 69", "model_version", "iEM3135"),
            ("0C FD 10 78 56 34 12", "customer_location", "12345678"),
            ("02 FD 17 00 80", "error_flags", 0x8000),  # flags are unsigned
            ("01 FD 1A 01", "digital_output", 1),
            ("02 FD 1B 30 03", "digital_input", 0x0330),
            ("02 FD 60 02 00", "reset_counter", 2),
            ("02 FD 61 0C 00", "cumulation_counter", 12),
        ],
    )
    def test_codes_counts_and_identifiers(
        self, hex_record: str, quantity: str, value: object
    ) -> None:
        record = one(hex_record)
        assert (record.quantity, record.value) == (quantity, value)

    def test_reserved_entries_are_named_not_fatal(self) -> None:
        record = one("01 FD 7F 05")
        assert record.quantity == "unknown"
        assert "FD code 0x7F" in record.description


class TestCombinableVife:
    def test_multiplicative_correction(self) -> None:
        assert one("02 93 74 10 27").value == Decimal("0.10000")  # 10^-3 m3 x 10^-2
        assert one("02 93 7D 05 00").value == Decimal(5)  # 10^-3 m3 x 10^3

    def test_per_time_changes_the_unit(self) -> None:
        assert reading("02 93 22 05 00") == ("volume_per_hour", Decimal("0.005"), "m3/h")

    def test_forward_and_backward_accumulation(self) -> None:
        assert reading("04 86 3B 00 00 00 00")[0] == "energy_forward"
        record = one("04 86 3C DC 00 00 00")
        assert (record.quantity, record.value) == ("energy_backward", Decimal(220))
        assert "negative contributions" in record.description

    def test_phase_extension_after_fc(self) -> None:
        # ABB/Apator electricity: volts 10^0 V at phase L1.
        assert reading("0A FD C9 FC 01 36 02") == ("voltage_phase_l1", Decimal(236), "V")

    def test_record_error_keeps_the_value_under_its_own_name(self) -> None:
        # Diehl Sharky: operating time (hours) with VIFE 18h, "data error".
        record = one("0A A6 18 00 00")
        assert (record.quantity, record.value, record.unit) == (
            "operating_time_data_error",
            Decimal(0),
            "h",
        )
        assert "record error: data error" in record.description

    def test_date_of_vife_makes_the_value_a_date(self) -> None:
        # Landis+Gyr: date(/time) of begin of the last maximum of the flow temperature.
        record = one("94 10 DA 6F 32 14 7A 18")
        assert (record.quantity, record.value, record.unit) == (
            "flow_temperature_last_begin_date",
            datetime(2011, 8, 26, 20, 50),
            None,
        )

    def test_duration_and_count_vifes(self) -> None:
        assert reading("02 93 52 10 00") == (
            "volume_first_lower_limit_exceed_duration",
            Decimal(16),
            "h",
        )
        assert reading("02 93 49 03 00") == ("volume_upper_limit_exceeds", 3, None)

    def test_manufacturer_vifes_are_named_not_interpreted(self) -> None:
        record = one("04 A5 FF 21 C7 D0 27 00")
        assert (record.quantity, record.value) == ("operating_time", Decimal(2609351))
        assert "manufacturer-specific VIFEs 21" in record.description

    def test_compact_profile_without_a_time_point_keeps_its_bytes(self) -> None:
        # Storage 8 has no date record here, so the elements cannot be dated
        # (test_profile.py has the profiles that can).
        record = one("8D 04 EE 1F 04 72 FE 03 00")
        assert record.quantity == "hca_units_compact_profile"
        assert record.value == bytes.fromhex("72FE0300")
        assert "not read: storage 8 has no time point" in record.description

    def test_unknown_vife_is_named(self) -> None:
        record = one("02 93 44 05 00")
        assert record.value == Decimal("0.005")
        assert "unknown VIFE 0x44" in record.description

    def test_ten_vifes_are_allowed_eleven_are_not(self) -> None:
        assert one("02 93" + "BE" * 9 + "3E 05 00").value == Decimal("0.005")
        with pytest.raises(BadFrame, match=r"offset 0: more than 10 VIFEs"):
            parse_records(bytes.fromhex("02 93" + "BE" * 10 + "3E 05 00"))


class TestSpecialFunctions:
    def test_idle_fillers_are_skipped_anywhere(self) -> None:
        values = [r.value for r in parse_records(bytes.fromhex("2F2F 0113 05 2F 0113 06 2F2F"))]
        assert values == [Decimal("0.005"), Decimal("0.006")]

    def test_manufacturer_data_takes_the_rest(self) -> None:
        *_, last = parse_records(bytes.fromhex("0113 05 0F 01 02 03 13"))
        assert (last.quantity, last.value, last.unit, last.raw) == (
            "manufacturer_data",
            bytes.fromhex("01020313"),
            None,
            b"\x0f",
        )

    def test_more_records_follow(self) -> None:
        record = one("1F")
        assert record.value == b""
        assert "more records follow in the next telegram" in record.description

    @pytest.mark.parametrize("dif", ["3F", "4F", "5F", "6F", "7F", "8F"])
    def test_reserved_special_functions_are_unsupported(self, dif: str) -> None:
        with pytest.raises(UnsupportedTelegram, match="offset 3"):
            parse_records(bytes.fromhex(f"0113 05 {dif} 00"))


class TestMalformed:
    @pytest.mark.parametrize(
        ("hex_data", "reason"),
        [
            ("0113 05 0413 0000", r"offset 3: data field needs 4 bytes, 2 left"),
            ("84", r"offset 0: the data ends inside its DIFEs"),
            ("04", r"offset 0: the data ends before its VIF"),
            ("0493", r"offset 0: the data ends inside its VIFEs"),
            ("01FC0548", r"offset 0: the data ends inside its plain-text VIF"),
            ("0D13", r"offset 0: the variable-length byte is missing"),
            ("0D13 05 3132", r"offset 0: data field needs 6 bytes, 3 left"),
        ],
    )
    def test_bad_frames_name_the_offset(self, hex_data: str, reason: str) -> None:
        with pytest.raises(BadFrame, match=reason):
            parse_records(bytes.fromhex(hex_data.replace(" ", "")))

    def test_reserved_variable_length_code(self) -> None:
        with pytest.raises(
            UnsupportedTelegram, match="offset 0: reserved variable-length code 0xF7"
        ):
            parse_records(bytes.fromhex("0D13F7"))

    @PROPERTIES
    @given(st.binary(max_size=80))
    def test_random_bytes_give_records_or_a_reason(self, data: bytes) -> None:
        try:
            parse_records(data)
        except UnableToDecodeTelegram as exc:  # anything else fails the test
            reason = exc.reason
        else:
            return
        assert "offset" in reason


class TestTimePoints:
    def test_storage_takes_its_date(self) -> None:
        records = parse_records(bytes.fromhex("0413 01000000 4413 02000000 426C BF2C"))
        assert [record.at for record in records] == [None, date(2021, 12, 31), None]

    def test_date_time_wins_over_the_same_day_as_a_date(self) -> None:
        records = parse_records(bytes.fromhex("4413 02000000 426C BF2C 446D 3B17BF2C"))
        assert records[0].at == datetime(2021, 12, 31, 23, 59)

    def test_two_different_time_points_fill_nothing(self) -> None:
        records = parse_records(bytes.fromhex("4413 02000000 426C BF2C 426C 9F2C"))
        assert records[0].at is None

    def test_a_subunit_falls_back_to_subunit_0(self) -> None:
        records = parse_records(bytes.fromhex("C440 13 02000000 426C BF2C"))
        assert (records[0].subunit, records[0].at) == (1, date(2021, 12, 31))

    def test_storage_0_and_invalid_dates_fill_nothing(self) -> None:
        records = parse_records(bytes.fromhex("0413 01000000 026C BF2C 4413 02000000 426C 0000"))
        assert all(record.at is None for record in records)


class TestLayoutCache:
    def test_same_layout_other_values(self) -> None:
        first = parse_records(bytes.fromhex("0413 01000000 015B 10"))
        second = parse_records(bytes.fromhex("0413 02000000 015B 11"))
        assert [r.value for r in first] == [Decimal("0.001"), Decimal(16)]
        assert [r.value for r in second] == [Decimal("0.002"), Decimal(17)]

    def test_same_length_other_layout(self) -> None:
        parse_records(bytes.fromhex("0413 01000000"))
        (record,) = parse_records(bytes.fromhex("0406 01000000"))
        assert record.quantity == "energy"

    @PROPERTIES
    @given(
        st.lists(
            st.sampled_from(["0413", "0C06", "4413", "025B", "8440 14", "0DFD0F", "02FD17", "2F"]),
            min_size=1,
            max_size=8,
        ),
        st.data(),
    )
    def test_a_known_layout_reads_as_a_first_walk_does(
        self, headers: list[str], data: st.DataObject
    ) -> None:
        lengths = {"04": 4, "0C": 4, "44": 4, "02": 2, "84": 4}
        telegram = bytearray()
        for header in headers:
            telegram += bytes.fromhex(header)
            if header == "2F":
                continue
            if header.startswith("0D"):
                text = data.draw(st.binary(max_size=5))
                telegram += bytes([len(text)]) + text
            else:
                size = lengths[header[:2]]
                telegram += data.draw(st.binary(min_size=size, max_size=size))
        cached = parse_records(bytes(telegram))
        records_module._PLANS.clear()
        records_module._VARIABLE_PLANS.clear()
        records_module._SPECS.clear()
        assert parse_records(bytes(telegram)) == cached

    def test_the_fast_constructor_makes_equal_records(self) -> None:
        fields = (
            "volume",
            Decimal("1.5"),
            "m3",
            1,
            2,
            3,
            Function.MINIMUM,
            None,
            "Volume",
            b"\x04\x13",
        )
        fast = records_module._new_record(*fields)
        assert fast == Record(*fields)
        assert hash(fast) == hash(Record(*fields))

    def test_accepts_any_bytes_like(self) -> None:
        data = bytes.fromhex("0413 01000000")
        assert parse_records(bytearray(data)) == parse_records(data)  # type: ignore[arg-type]
        assert parse_records(memoryview(data)) == parse_records(data)  # type: ignore[arg-type]
