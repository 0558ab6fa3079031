"""Units convert exactly, and settings take URLs as people paste them."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openamr.settings import InvalidSettings, Settings, normalise_database_url
from openamr.timeutil import UnusableTimestamp, parse_instant
from openamr.units import UnknownUnit, UnusableValue, parse_unit, register_modulus


@pytest.mark.parametrize(
    ("value", "unit", "stored"),
    [
        ("12345.678", "kWh", 12_345_678),
        ("0.0005", "kWh", 1),  # half a watt-hour rounds up
        ("1.5", "MWh", 1_500_000),
        ("6.408", "m3", 6_408),
        ("6.4085", "m³", 6_409),
        ("3.6", "MJ", 1_000),
        ("1", "GJ", 277_778),
        ("250", "l", 250),
        ("21.55", "°C", 21_550),
        (Decimal("1E+3"), "Wh", 1_000),
    ],
)
def test_values_become_exact_integers_in_storage_units(
    value: str | Decimal, unit: str, stored: int
) -> None:
    assert parse_unit(unit).to_storage(value) == stored


def test_unknown_units_and_unusable_values_say_what_is_wrong() -> None:
    with pytest.raises(UnknownUnit, match="unknown unit 'BTU'; known units: Wh, kWh"):
        parse_unit("BTU")
    with pytest.raises(UnusableValue, match="not a number"):
        parse_unit("kWh").to_storage("12,5")
    with pytest.raises(UnusableValue, match="not a finite number"):
        parse_unit("kWh").to_storage("NaN")


def test_a_register_wraps_at_its_digits_in_storage_units() -> None:
    assert register_modulus(parse_unit("m3"), 5) == 100_000_000
    assert register_modulus(parse_unit("kWh"), 7) == 10_000_000_000
    assert register_modulus(parse_unit("kWh"), None) is None
    assert register_modulus(parse_unit("°C"), 3) is None  # not a register


def test_timestamps_need_an_offset_and_become_utc() -> None:
    assert parse_instant("2026-03-29T01:07:00+01:00").isoformat() == "2026-03-29T00:07:00+00:00"
    assert parse_instant("2026-03-29T00:07:00.9Z").isoformat() == "2026-03-29T00:07:00+00:00"
    with pytest.raises(UnusableTimestamp, match="no offset"):
        parse_instant("2026-03-29T01:07:00")


def test_database_urls_as_people_paste_them() -> None:
    assert normalise_database_url("postgresql://me@db:5432/amr") == (
        "postgresql+psycopg://me@db:5432/amr"
    )
    assert normalise_database_url("postgres://me@db/amr") == "postgresql+psycopg://me@db/amr"
    assert normalise_database_url("sqlite:///var/x.sqlite3") == "sqlite:///var/x.sqlite3"
    with pytest.raises(InvalidSettings, match="OPENAMR_DATABASE_URL"):
        normalise_database_url("mysql://root@localhost/amr")


def test_settings_from_the_environment() -> None:
    settings = Settings.from_env(
        {"OPENAMR_DATABASE_URL": "postgresql://u@h/d", "OPENAMR_INGEST_BATCH_SIZE": "500"}
    )
    assert settings.database_url == "postgresql+psycopg://u@h/d"
    assert settings.ingest_batch_size == 500
    with pytest.raises(InvalidSettings, match="OPENAMR_INGEST_BATCH_SIZE='-1'"):
        Settings.from_env({"OPENAMR_INGEST_BATCH_SIZE": "-1"})
    with pytest.raises(InvalidSettings, match="OPENAMR_TIME_ZONE"):
        Settings.from_env({"OPENAMR_TIME_ZONE": "Mars/Olympus"})


def test_the_mqtt_collectors_settings_keep_the_brokers_password_out_of_sight() -> None:
    settings = Settings.from_env(
        {
            "OPENAMR_MQTT_URL": "mqtt://collector:s3cret@broker.example.se:8883",
            "OPENAMR_MQTT_TOPIC": "site/+/wmbus",
            "OPENAMR_MQTT_CLIENT_ID": "openamr-1",
        }
    )
    assert settings.mqtt_url == "mqtt://collector:s3cret@broker.example.se:8883"
    assert (settings.mqtt_topic, settings.mqtt_client_id) == ("site/+/wmbus", "openamr-1")
    assert "s3cret" not in repr(settings)
    assert Settings.from_env({}).mqtt_url == "mqtt://127.0.0.1:1883"
    for unusable in ("http://broker", "mqtt://", "mqtt://u:s3cret@broker:port"):
        with pytest.raises(InvalidSettings, match="OPENAMR_MQTT_URL") as refused:
            Settings.from_env({"OPENAMR_MQTT_URL": unusable})
        assert "s3cret" not in str(refused.value)


@given(
    st.sampled_from(["Wh", "kWh", "MWh", "m3", "L", "units", "°C", "%RH", "GJ", "MJ"]),
    st.from_regex(r"\A\s?[0-9]{0,12}(\.[0-9]{0,9})?\s?\Z")
    | st.decimals(allow_nan=False, allow_infinity=False, places=4).map(str),
)
def test_plain_decimal_text_converts_exactly_as_decimal_arithmetic_does(
    symbol: str, text: str
) -> None:
    unit = parse_unit(symbol)
    try:
        expected: int | type[Exception] = unit.to_storage(Decimal(text.strip()))
    except (InvalidOperation, UnusableValue):
        expected = UnusableValue
    try:
        got: int | type[Exception] = unit.to_storage(text)
    except UnusableValue:
        got = UnusableValue
    assert got == expected
