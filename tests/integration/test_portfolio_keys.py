"""The installation register's manufacturer and key columns, and rows kept or undone one by one."""

from __future__ import annotations

import base64
import json
from io import StringIO
from pathlib import Path

import sqlalchemy as sa
from click.testing import CliRunner
from sqlalchemy.engine import Engine

from openamr.cli import main
from openamr.collect.portfolio import PortfolioReport, import_portfolio, read_portfolio_csv
from openamr.guard.keyring import Keyring
from openamr.settings import MasterKey, Settings
from openamr.store import keys as key_store
from openamr.store.schema import customer, meter, meter_installation, meter_key, rejected_input
from tests.helpers import NOW, OPERATOR

MASTER = MasterKey("2026-06", bytes(range(1, 33)))
HEADER = (
    "customer,property,entrance,apartment,medium,meter,register_unit,register_digits,"
    "installed_at,removed_at,manufacturer,key"
)
KEY_A = "8B1E2D3C4B5A69788796A5B4C3D2E1F7"
KEY_B = "00112233445566778899aabbccddeeff"


def _row(apartment: str, meter_id: str, *, manufacturer: str = "", key: str = "") -> str:
    return (
        f"Hem AB,Uppsala Kåbo 1:23,Kåbovägen 12A,{apartment},heat,{meter_id},kWh,8,"
        f"2025-01-01T00:00:00+01:00,,{manufacturer},{key}"
    )


def _load(
    engine: Engine,
    rows: list[str],
    *,
    keyring: Keyring | None = None,
    chunk_rows: int = 1_000,
    header: str = HEADER,
) -> PortfolioReport:
    return import_portfolio(
        engine,
        read_portfolio_csv(StringIO(header + "\n" + "\n".join(rows) + "\n")),
        access=OPERATOR,
        source="test",
        time_zone="Europe/Stockholm",
        now=NOW,
        keyring=keyring,
        chunk_rows=chunk_rows,
    )


def _stored_keys(engine: Engine) -> dict[str, bytes]:
    keyring = Keyring((MASTER,))
    with engine.connect() as conn:
        meters = {
            row.id: (row.identity, row.customer_id)
            for row in conn.execute(sa.select(meter.c.id, meter.c.identity, meter.c.customer_id))
        }
        sealed = key_store.list_sealed_keys(conn, meters, access=OPERATOR)
    return {
        meters[meter_id][0]: keyring.unseal(
            item, meter_id=meter_id, customer_id=meters[meter_id][1]
        )
        for meter_id, item in sealed.items()
    }


def _column(engine: Engine, column: sa.ColumnElement[object]) -> list[object]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(column).order_by(column)).scalars())


def _manufacturers(engine: Engine) -> dict[str, str | None]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(meter.c.identity, meter.c.manufacturer))
        return {row.identity: row.manufacturer for row in rows}


def test_manufacturer_is_stored_upper_case_and_must_be_three_letters(engine: Engine) -> None:
    report = _load(
        engine,
        [
            _row("1101", "HM-1", manufacturer="kam"),
            _row("1102", "HM-2", manufacturer="KA1"),
            _row("1103", "HM-3", manufacturer="KAMS"),
            _row("1104", "HM-4", manufacturer="@KA"),
            _row("1105", "HM-5", manufacturer=KEY_A),  # a key in the wrong column
            _row("1106", "HM-6"),
        ],
    )
    reasons = {error.line: error.reason for error in report.errors}
    assert sorted(reasons) == [3, 4, 5, 6]
    assert reasons[3] == (
        "manufacturer 'KA1' is not a three-letter M-Bus code (A to Z, such as KAM)"
    )
    assert "'KAMS'" in reasons[4]
    assert "'@KA'" in reasons[5]
    assert reasons[6].startswith("manufacturer of 32 characters is not")
    assert KEY_A not in reasons[6]
    assert _manufacturers(engine) == {"HM-1": "KAM", "HM-6": None}


def test_a_key_column_seals_each_key_and_an_empty_cell_leaves_it(engine: Engine) -> None:
    keyring = Keyring((MASTER,))
    first = _load(
        engine,
        [
            _row("1101", "HM-1", manufacturer="KAM", key=KEY_A),
            _row("1102", "HM-2", manufacturer="KAM", key=KEY_B),
            _row("1103", "HM-3", manufacturer="KAM"),
        ],
        keyring=keyring,
    )
    assert first.errors == []
    assert first.keys_set == 2
    assert _stored_keys(engine) == {"HM-1": bytes.fromhex(KEY_A), "HM-2": bytes.fromhex(KEY_B)}

    # The same file again changes nothing, not even when each key was set.
    with engine.begin() as conn:
        conn.execute(meter_key.update().values(set_at=NOW.replace(year=2025)))
    again = _load(
        engine,
        [
            _row("1101", "HM-1", manufacturer="KAM", key=KEY_A),
            _row("1102", "HM-2", manufacturer="KAM", key=KEY_B),
        ],
        keyring=keyring,
    )
    assert (again.errors, again.created, again.keys_set) == ([], {}, 0)
    assert _column(engine, meter_key.c.set_at) == [NOW.replace(year=2025)] * 2

    # A new key replaces the old; an empty cell keeps what is there.
    changed = _load(
        engine,
        [_row("1101", "HM-1", key=KEY_B), _row("1102", "HM-2", manufacturer="KAM")],
        keyring=keyring,
    )
    assert (changed.errors, changed.keys_set) == ([], 1)
    assert _stored_keys(engine) == {"HM-1": bytes.fromhex(KEY_B), "HM-2": bytes.fromhex(KEY_B)}
    assert _manufacturers(engine) == {"HM-1": "KAM", "HM-2": "KAM", "HM-3": "KAM"}


def test_a_bad_key_is_rejected_with_its_line_and_never_repeated(engine: Engine) -> None:
    report = _load(
        engine,
        [
            _row("1101", "HM-1", key=KEY_A[:-1]),
            _row("1102", "HM-2", key=KEY_A + "00"),
            _row("1103", "HM-3", key=KEY_A[:-1] + "X"),
            _row("1104", "HM-4", key=KEY_B),
        ],
        keyring=Keyring((MASTER,)),
    )
    reasons = {error.line: error.reason for error in report.errors}
    assert reasons == {
        2: "key must be 32 hexadecimal digits (an AES-128 key), not 31 characters",
        3: "key must be 32 hexadecimal digits (an AES-128 key), not 34 characters",
        4: "key must be 32 hexadecimal digits (0-9, a-f), and this one has other characters",
    }
    assert _stored_keys(engine) == {"HM-4": bytes.fromhex(KEY_B)}
    with engine.connect() as conn:
        kept = conn.execute(sa.select(rejected_input.c.payload, rejected_input.c.reason)).all()
    assert len(kept) == 3
    for payload, reason in kept:
        assert json.loads(payload)["key"] == "(given; not kept)"
        assert json.loads(payload)["meter"].startswith("HM-")  # the rest of the row is kept
        for text in (payload, reason):
            assert KEY_A[:-1] not in text
            assert KEY_A[:-1].lower() not in text


def test_without_a_master_key_rows_with_a_key_are_refused_and_the_rest_imports(
    engine: Engine,
) -> None:
    report = _load(
        engine,
        [_row("1101", "HM-1", key=KEY_A), _row("1102", "HM-2"), _row("1103", "HM-3", key=KEY_B)],
        keyring=Keyring(()),
    )
    assert [error.line for error in report.errors] == [2, 4]
    assert report.errors[0].reason == (
        "the row has a key, and no master key is configured to seal it "
        "(OPENAMR_MASTER_KEYS or OPENAMR_MASTER_KEY_FILE); the row was not imported"
    )
    assert _column(engine, meter.c.identity) == ["HM-2"]
    assert _stored_keys(engine) == {}


def test_a_bad_row_inside_a_chunk_is_undone_alone(engine: Engine) -> None:
    rows = [_row(f"11{n:02d}", f"HM-{n}") for n in range(1, 8)]
    # Fails only at its installation, after its new customer, property, entrance,
    # apartment, point and meter were written: all of those must go with it, also
    # for the good row of the same new customer two rows later, in the same chunk.
    rows[3] = (
        "Ny AB,Solna 1:1,Gatan 1,1001,heat,NY-1,kWh,8,"
        "2025-02-01T00:00:00+01:00,2025-01-01T00:00:00+01:00,,"
    )
    rows[5] = "Ny AB,Solna 1:1,Gatan 1,1002,heat,NY-2,kWh,8,2025-01-01T00:00:00+01:00,,,"
    report = _load(engine, rows, chunk_rows=3)
    assert [(error.line, error.reason) for error in report.errors] == [
        (5, "removed_at must be later than installed_at")
    ]
    assert _column(engine, customer.c.name) == ["Hem AB", "Ny AB"]
    assert "NY-1" not in _column(engine, meter.c.identity)
    assert len(_column(engine, meter_installation.c.id)) == 6
    assert report.created == {
        "customers": 2,
        "properties": 2,
        "entrances": 2,
        "apartments": 6,
        "metering_points": 6,
        "meters": 6,
        "installations": 6,
    }
    # Corrected, the row adds only what is its own: nothing of it was left behind.
    fixed = _load(engine, [rows[3].replace("2025-02-01", "2024-12-01")])
    assert fixed.errors == []
    assert fixed.created == {
        "apartments": 1,
        "metering_points": 1,
        "meters": 1,
        "installations": 1,
    }


def test_the_command_line_import_seals_keys_and_reports_bad_rows_without_them(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    file = tmp_path / "register.csv"
    file.write_text(
        HEADER
        + "\n"
        + _row("1101", "HM-1", manufacturer="kam", key=KEY_A)
        + "\n"
        + _row("1102", "HM-2", manufacturer="KAM", key=KEY_B[:-2])
        + "\n",
        encoding="utf-8",
    )
    env = {
        "OPENAMR_DATABASE_URL": settings.database_url,
        "OPENAMR_MASTER_KEYS": f"{MASTER.id}:{base64.b64encode(MASTER.key).decode()}",
    }
    result = CliRunner().invoke(main, ["import", "portfolio", str(file)], env=env)
    assert result.exit_code == 1
    assert result.stdout.strip().endswith("; 1 meter keys set")
    assert result.stderr.strip() == (
        f"{file}:3: key must be 32 hexadecimal digits (an AES-128 key), not 30 characters"
    )
    assert _stored_keys(engine) == {"HM-1": bytes.fromhex(KEY_A)}

    without = CliRunner().invoke(
        main,
        ["import", "portfolio", str(file)],
        env={"OPENAMR_DATABASE_URL": settings.database_url, "OPENAMR_MASTER_KEYS": ""},
    )
    assert without.exit_code == 1
    assert f"{file}:2: the row has a key, and no master key is configured" in without.stderr
    for output in (result.output, without.output):
        assert KEY_A not in output
        assert KEY_B[:-2] not in output


def test_files_without_the_optional_columns_still_load(engine: Engine) -> None:
    header = HEADER.removesuffix(",manufacturer,key")
    report = _load(
        engine,
        ["Hem AB,P 1:1,Gatan 1,1001,heat,HM-1,kWh,8,2025-01-01T00:00:00+01:00,"],
        header=header,
        keyring=Keyring(()),
    )
    assert (report.errors, report.created["meters"], report.keys_set) == ([], 1, 0)
