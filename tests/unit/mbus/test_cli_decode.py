"""`openamr decode HEX`: a telegram on the command line, as a table or as JSON."""

from __future__ import annotations

import json

from click.testing import CliRunner

from openamr.cli import main
from tests.unit.mbus.vector_matching import vector

ELL_CTR = "wmbusmeters-kamwater-multical21-c1-ell-encrypted"
WIRED = "libmbus-tch-telegramm1"


def test_table_shows_the_meter_and_its_records() -> None:
    result = CliRunner().invoke(
        main, ["decode", vector(ELL_CTR)["hex"], "--key", vector(ELL_CTR)["key"]]
    )
    assert result.exit_code == 0, result.output
    assert "KAM 76348799" in result.output
    assert "security  ell ctr" in result.output
    assert "6.408" in result.output


def test_json_writes_bytes_as_hex_decimals_as_strings_and_dates_in_iso() -> None:
    result = CliRunner().invoke(
        main, ["decode", *vector(WIRED)["hex_as_written"].split(), "--json"]
    )
    assert result.exit_code == 0, result.output
    decoded = json.loads(result.output)
    assert decoded["device"]["id"] == "21519982"
    records = {record["quantity"]: record for record in decoded["records"]}
    assert records["volume"]["value"] == "0.064"
    assert records["volume"]["raw"] == "0C13"
    assert records["date_time"]["value"] == "2000-09-29T13:50:00"


def test_rejected_telegram_exits_with_its_cause_and_reason() -> None:
    result = CliRunner().invoke(main, ["decode", vector(ELL_CTR)["hex"]])
    assert result.exit_code == 1
    assert "key_needed: the ELL payload is AES-CTR encrypted" in result.output


def test_key_must_be_sixteen_bytes() -> None:
    result = CliRunner().invoke(main, ["decode", vector(ELL_CTR)["hex"], "--key", "0011"])
    assert result.exit_code == 2
    assert "AES-128 needs 16" in result.output
