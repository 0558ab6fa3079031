"""A newcomer's journey: load a portfolio, send readings over the API, read them back everywhere."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from openamr.access import Role
from openamr.app import create_app
from openamr.cli import main
from openamr.settings import Settings
from openamr.store.schema import apartment, audit_event
from tests.helpers import (
    add_customer,
    customer_id,
    enable_operations_hourly,
    portfolio_csv,
    sign_in,
)

PORTFOLIO = [
    "Hem AB,Uppsala Kåbo 1:23,Kåbovägen 12A,1101,electricity,EL-1,kWh,7,2026-01-01T00:00:00+01:00,",
    "Hem AB,Uppsala Kåbo 1:23,Kåbovägen 12A,1101,cold_water,CW-1,m3,5,2026-01-01T00:00:00+01:00,",
    "Hem AB,Uppsala Kåbo 1:23,Kåbovägen 12B,1102,electricity,EL-2,kWh,7,2026-01-01T00:00:00+01:00,",
    "Hem AB,Uppsala Kåbo 1:23,Kåbovägen 12A,,heat,HM-1,MWh,6,2026-01-01T00:00:00+01:00,",
]


@pytest.fixture
def cli_env(settings: Settings, engine: Engine) -> dict[str, str]:
    return {"OPENAMR_DATABASE_URL": settings.database_url, "OPENAMR_INGEST_BATCH_SIZE": "7"}


@pytest.fixture
def client(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(settings, engine=engine)) as test_client:
        yield test_client


def _apartment_id(engine: Engine, number: str) -> int:
    with engine.connect() as conn:
        found: int = conn.execute(
            sa.select(apartment.c.id).where(apartment.c.number == number)
        ).scalar_one()
    return found


def _run(env: dict[str, str], *args: str) -> str:
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_portfolio_then_readings_over_the_api_then_export(
    tmp_path: Path, cli_env: dict[str, str], client: TestClient, engine: Engine
) -> None:
    portfolio = tmp_path / "portfolio.csv"
    portfolio.write_text(portfolio_csv(PORTFOLIO), encoding="utf-8")
    assert "created: 1 apartments" not in _run(cli_env, "import", "portfolio", str(portfolio))
    # The customer's administrator sends readings and reads hourly values, which Hem AB allows.
    hem = customer_id(engine, "Hem AB")
    enable_operations_hourly(engine, hem)
    sign_in(client, engine, Role.CUSTOMER_ADMIN, customer=hem)

    body = (
        "meter,timestamp,value,unit\n"
        + "".join(
            f"EL-1,2026-03-29T{hour:02d}:00:00{'+01:00' if hour < 2 else '+02:00'},{1000 + hour * 0.5},kWh\n"
            for hour in (0, 1, 3, 4, 5)
        )
        + "UNKNOWN,2026-03-29T00:00:00+01:00,1,kWh\n"
    )
    answer = client.post("/api/v1/readings", content=body, headers={"Content-Type": "text/csv"})
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert (report["stored"], report["rejected"]) == (5, 1)
    assert report["errors"] == [
        {
            "line": 7,
            "reason": "unknown meter 'UNKNOWN'; load it with `openamr import portfolio` first",
        }
    ]

    readings = [
        {"meter": "HM-1", "timestamp": "2026-03-29T00:00:00+01:00", "value": 12.5, "unit": "MWh"},
        {
            "meter": "HM-1",
            "timestamp": "2026-03-30T00:00:00+02:00",
            "value": "12.569",
            "unit": "MWh",
        },
    ]
    answer = client.post("/api/v1/readings", json={"readings": readings})
    assert answer.status_code == 200, answer.text
    assert answer.json()["stored"] == 2

    # Electricity of apartment 1101 on the spring DST day: 23 hours, three measured.
    exported = _run(
        cli_env,
        "export",
        "values",
        "--property",
        "Uppsala Kåbo 1:23",
        "--apartment",
        "1101",
        "--medium",
        "electricity",
        "--resolution",
        "hour",
        "--from",
        "2026-03-29",
        "--to",
        "2026-03-30",
    )
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert list(rows[0]) == ["start", "end", "value", "unit", "status"]
    assert len(rows) == 23
    assert rows[0] == {
        "start": "2026-03-29T00:00:00+01:00",
        "end": "2026-03-29T01:00:00+01:00",
        "value": "500",
        "unit": "Wh",
        "status": "measured",
    }
    assert rows[1]["start"] == "2026-03-29T01:00:00+01:00"
    assert rows[2]["start"] == "2026-03-29T03:00:00+02:00"
    assert [row["status"] for row in rows[1:4]] == ["measured", "measured", "measured"]
    assert rows[5]["status"] == "missing"
    # The command line read an apartment's values: an audit event names its user, not the values.
    with engine.connect() as conn:
        [read] = conn.execute(
            sa.select(audit_event.c.actor, audit_event.c.role, audit_event.c.apartment_id).where(
                audit_event.c.action == "values.read.hour"
            )
        ).all()
    assert read.actor.startswith("cli:")
    assert (read.role, read.apartment_id) == ("operator", _apartment_id(engine, "1101"))

    # The building's heat meter: the property-level point, one day, 69 kWh over 23 hours.
    daily = _run(
        cli_env,
        "export",
        "values",
        "--property",
        "Uppsala Kåbo 1:23",
        "--medium",
        "heat",
        "--resolution",
        "day",
        "--from",
        "2026-03-29",
        "--to",
        "2026-03-30",
    )
    assert daily.splitlines()[1] == (
        "2026-03-29T00:00:00+01:00,2026-03-30T00:00:00+02:00,69000,Wh,estimated"
    )

    # The same values over the API, as JSON and CSV.
    properties = client.get("/api/v1/properties").json()
    assert [(p["designation"], p["apartments"]) for p in properties] == [("Uppsala Kåbo 1:23", 2)]
    apartments = client.get(f"/api/v1/properties/{properties[0]['id']}/apartments").json()
    apartment = next(a for a in apartments if a["number"] == "1101")
    values = client.get(
        f"/api/v1/apartments/{apartment['id']}/values",
        params={"from": "2026-03-29", "to": "2026-03-30", "medium": "electricity"},
    ).json()
    hourly = values["series"][0]["values"]
    # 01:00+01:00 to 03:00+02:00 is one real hour, in which the register rose by 1 kWh.
    assert [(v["value"], v["status"]) for v in hourly[:3]] == [
        (500, "measured"),
        (1000, "measured"),
        (500, "measured"),
    ]
    as_csv = client.get(
        f"/api/v1/apartments/{apartment['id']}/values",
        params={"from": "2026-03-29", "to": "2026-03-30", "medium": "electricity", "format": "csv"},
    )
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert len(as_csv.text.strip().splitlines()) == 24


def test_the_api_answers_bad_requests_precisely(client: TestClient, engine: Engine) -> None:
    sign_in(client, engine, Role.CUSTOMER_ADMIN, customer=add_customer(engine, "Hem AB"))
    answer = client.post("/api/v1/readings", content="x", headers={"Content-Type": "text/plain"})
    assert answer.status_code == 415
    assert "text/csv" in answer.json()["detail"]
    answer = client.post(
        "/api/v1/readings", content="a,b\n1,2\n", headers={"Content-Type": "text/csv"}
    )
    assert answer.status_code == 400
    assert "meter,timestamp,value,unit" in answer.json()["detail"]
    answer = client.post(
        "/api/v1/readings", content='{"readings": [', headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 400
    assert "not valid JSON" in answer.json()["detail"]
    answer = client.get(
        "/api/v1/metering-points/999/values", params={"from": "2026-01-01", "to": "2026-01-02"}
    )
    assert answer.status_code == 404
    answer = client.get(
        "/api/v1/metering-points/1/values", params={"from": "2026-01-01", "to": "soon"}
    )
    assert answer.status_code == 422


def test_a_large_csv_batch_in_one_request(
    tmp_path: Path, cli_env: dict[str, str], client: TestClient, engine: Engine
) -> None:
    portfolio = tmp_path / "portfolio.csv"
    portfolio.write_text(portfolio_csv(PORTFOLIO), encoding="utf-8")
    _run(cli_env, "import", "portfolio", str(portfolio))
    sign_in(client, engine, Role.CUSTOMER_ADMIN, customer=customer_id(engine, "Hem AB"))
    # 100,000 rows: 50,000 minutes of two meters.
    lines = ["meter,timestamp,value,unit"]
    for minute in range(50_000):
        stamp = "2026-02-01T00:00:00+00:00"
        moment = f"{minute * 60}"
        lines.append(f"EL-1,{_at(minute)},{1000 + minute / 1000:.3f},kWh")
        lines.append(f"CW-1,{_at(minute)},{minute / 1000:.3f},m3")
        del stamp, moment
    answer = client.post(
        "/api/v1/readings", content="\n".join(lines) + "\n", headers={"Content-Type": "text/csv"}
    )
    assert answer.status_code == 200, answer.text[:500]
    report = answer.json()
    assert (report["received"], report["stored"], report["rejected"]) == (100_000, 100_000, 0)
    assert json.dumps(report)  # the answer stays small: no per-row echo


def _at(minute: int) -> str:
    from datetime import UTC, datetime, timedelta

    return (datetime(2026, 2, 1, tzinfo=UTC) + timedelta(minutes=minute)).isoformat()


def test_readings_from_a_file_wait_for_their_meter_and_are_reprocessed(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    readings = tmp_path / "readings.csv"
    readings.write_text(
        "meter,timestamp,value,unit\n"
        "EL-1,2026-02-10T00:00:00+01:00,100,kWh\n"
        "EL-1,2026-02-10T01:00:00+01:00,100.75,kWh\n"
        "EL-1,2026-02-10T02:00:00,101,kWh\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["import", "readings", str(readings)], env=cli_env)
    assert result.exit_code == 0, result.output
    assert "0 stored" in result.stdout
    assert "3 rejected" in result.stdout
    assert f"{readings}:2: unknown meter 'EL-1'" in result.stderr
    assert f"{readings}:4: unknown meter 'EL-1'" in result.stderr

    portfolio = tmp_path / "portfolio.csv"
    portfolio.write_text(portfolio_csv(PORTFOLIO), encoding="utf-8")
    _run(cli_env, "import", "portfolio", str(portfolio))
    assert "2 stored" in _run(cli_env, "reprocess")
    exported = _run(
        cli_env,
        "export",
        "values",
        "--property",
        "Uppsala Kåbo 1:23",
        "--entrance",
        "Kåbovägen 12A",
        "--apartment",
        "1101",
        "--medium",
        "electricity",
        "--from",
        "2026-02-10",
        "--to",
        "2026-02-11",
    )
    assert exported.splitlines()[1].endswith(",750,Wh,measured")
    # The third row is still wrong, and now says why.
    assert "1 still rejected" in _run(cli_env, "reprocess")
    listing = _run(cli_env, "rejected")
    assert "readings.csv:4" in listing
    assert "timestamp '2026-02-10T02:00:00' has no offset" in listing
    assert "100.75" not in listing  # reasons and places, never consumption values


def test_the_command_line_refuses_what_it_cannot_do(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    portfolio = tmp_path / "portfolio.csv"
    portfolio.write_text(portfolio_csv(PORTFOLIO), encoding="utf-8")
    _run(cli_env, "import", "portfolio", str(portfolio))
    runner = CliRunner()
    ambiguous = runner.invoke(
        main,
        [
            "export",
            "values",
            "--property",
            "Nowhere 1:1",
            "--medium",
            "heat",
            "--from",
            "2026-01-01",
            "--to",
            "2026-01-02",
        ],
        env=cli_env,
    )
    assert ambiguous.exit_code == 1
    assert "no property 'Nowhere 1:1'" in ambiguous.stderr
    bad_header = tmp_path / "bad.csv"
    bad_header.write_text("meter;timestamp;value;unit\n", encoding="utf-8")
    result = runner.invoke(main, ["import", "readings", str(bad_header)], env=cli_env)
    assert result.exit_code == 1
    assert "header must name the columns meter,timestamp,value,unit" in result.stderr
