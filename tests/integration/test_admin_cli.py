"""Administration from the command line: customers and tenancies, each change audited with its user."""

from __future__ import annotations

import getpass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result
from sqlalchemy.engine import Engine

from openamr.cli import main
from openamr.guard.sessions import token_digest
from openamr.settings import Settings
from openamr.store.schema import audit_event, auth_session, customer, tenancy
from tests.helpers import add_household, load_portfolio, open_session

PORTFOLIO = [
    "Hem AB,Uppsala Kåbo 1:23,Kåbovägen 12A,1101,electricity,EL-1,kWh,7,2025-01-01T00:00:00+01:00,",
    "Hem AB,Uppsala Kåbo 1:23,Kåbovägen 12B,1101,electricity,EL-2,kWh,7,2025-01-01T00:00:00+01:00,",
    "Hem AB,Uppsala Kåbo 1:23,Kåbovägen 12B,1102,electricity,EL-3,kWh,7,2025-01-01T00:00:00+01:00,",
    "Bo AB,Solna Råsunda 4:1,Råsundavägen 3,1001,electricity,BO-1,kWh,7,2025-01-01T00:00:00+01:00,",
]
STOCKHOLM = ZoneInfo("Europe/Stockholm")
APARTMENT = ["--property", "Uppsala Kåbo 1:23", "--apartment", "1102"]


@pytest.fixture
def run(settings: Settings, engine: Engine) -> Any:
    assert load_portfolio(engine, PORTFOLIO).errors == []
    env = {"OPENAMR_DATABASE_URL": settings.database_url}

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(main, list(args), env=env)

    return invoke


def _events(engine: Engine) -> list[sa.Row[Any]]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(audit_event).order_by(audit_event.c.seq)))


def test_customers_are_listed_renamed_and_set_up_by_the_operator(run: Any, engine: Engine) -> None:
    listed = run("customer", "list")
    assert listed.exit_code == 0, listed.output
    lines = listed.stdout.splitlines()
    assert [line.split()[1:3] for line in lines] == [["Bo", "AB"], ["Hem", "AB"]]
    assert lines[1].split()[-3:] == ["operations", "hourly", "off"]
    assert "3 apartments" in " ".join(lines[1].split())

    renamed = run("customer", "rename", "Hem AB", "Uppsalahem AB")
    assert renamed.exit_code == 0, renamed.output
    switched = run("customer", "set-operations-hourly", "Uppsalahem AB", "on")
    assert switched.exit_code == 0, switched.output
    assert switched.stdout.strip() == "operations staff of 'Uppsalahem AB' see hourly values"
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(customer.c.id, customer.c.operations_hourly).where(
                customer.c.name == "Uppsalahem AB"
            )
        ).one()
    assert row.operations_hourly is True

    taken = run("customer", "rename", "Uppsalahem AB", "Bo AB")
    assert taken.exit_code == 1
    assert taken.stderr.strip() == "Error: there is a customer named 'Bo AB' already"
    missing = run("customer", "set-operations-hourly", "Nobody AB", "off")
    assert (missing.exit_code, missing.stderr.strip()) == (1, "Error: no customer 'Nobody AB'")
    bad = run("customer", "set-operations-hourly", "Bo AB", "yes")
    assert bad.exit_code == 2

    events = _events(engine)
    assert [(e.actor, e.role, e.action, e.customer_id) for e in events] == [
        (f"cli:{getpass.getuser()}", "operator", "admin.customer.rename", row.id),
        (f"cli:{getpass.getuser()}", "operator", "admin.customer.operations_hourly_on", row.id),
    ]


def test_a_household_moves_in_and_out_and_its_sessions_end(run: Any, engine: Engine) -> None:
    moved_in = run("tenancy", "move-in", *APARTMENT, "--start", "2026-03-29")
    assert moved_in.exit_code == 0, moved_in.output
    # Midnight of the day clocks go forward in Stockholm is still winter time.
    assert moved_in.stdout.strip().endswith(
        "of apartment 1102 at Kåbovägen 12B from 2026-03-28T23:00:00+00:00"
    )
    again = run("tenancy", "move-in", *APARTMENT, "--start", "2026-06-01")
    assert again.exit_code == 1
    assert "record its move-out first" in again.stderr

    with engine.connect() as conn:
        tenancy_id = conn.execute(sa.select(tenancy.c.id)).scalar_one()
    household_id = add_household(engine, tenancy_id, now=datetime(2026, 4, 1, tzinfo=UTC))
    session = open_session(
        engine,
        household_id=household_id,
        now=datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5),
    )

    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    moved_out = run("tenancy", "move-out", *APARTMENT, "--end", yesterday)
    assert moved_out.exit_code == 0, moved_out.output
    assert moved_out.stdout.strip().endswith("1 sessions ended, 0 unused access codes revoked")
    with engine.connect() as conn:
        ended = conn.execute(
            sa.select(auth_session.c.ended_at).where(
                auth_session.c.token_hash == token_digest(session.token)
            )
        ).scalar_one()
    assert ended is not None

    listed = run("tenancy", "list", *APARTMENT)
    assert listed.exit_code == 0, listed.output
    end_at = datetime.combine(date.fromisoformat(yesterday), time(), STOCKHOLM).astimezone(UTC)
    assert listed.stdout.split() == [
        "tenancy",
        str(tenancy_id),
        "2026-03-28T23:00:00+00:00",
        "until",
        end_at.isoformat(),
    ]
    nobody = run("tenancy", "move-out", *APARTMENT, "--end", yesterday)
    assert nobody.exit_code == 1
    assert nobody.stderr.strip().endswith("has no tenancy without an end")
    assert [(e.action, e.tenancy_id) for e in _events(engine)] == [
        ("admin.tenancy.move_in", tenancy_id),
        ("admin.tenancy.move_out", tenancy_id),
    ]


def test_an_apartment_is_named_as_precisely_as_needed(run: Any) -> None:
    ambiguous = run("tenancy", "list", "--property", "Uppsala Kåbo 1:23", "--apartment", "1101")
    assert ambiguous.exit_code == 1
    assert ambiguous.stderr.strip() == (
        "Error: apartment 1101 exists at several entrances (Kåbovägen 12A, Kåbovägen 12B); "
        "name one with --entrance"
    )
    precise = run(
        "tenancy",
        "list",
        "--property",
        "Uppsala Kåbo 1:23",
        "--entrance",
        "Kåbovägen 12A",
        "--apartment",
        "1101",
    )
    assert precise.exit_code == 0, precise.output
    assert precise.stdout.strip() == "apartment 1101 at Kåbovägen 12A has no tenancies"
    missing = run("tenancy", "list", "--property", "Uppsala Kåbo 1:23", "--apartment", "1909")
    assert missing.stderr.strip() == "Error: no apartment 1909 in Uppsala Kåbo 1:23"
    malformed = run("tenancy", "move-in", *APARTMENT, "--start", "den 1 maj")
    assert malformed.exit_code == 1
    assert malformed.stderr.strip() == (
        "Error: start 'den 1 maj' is not a date or time such as 2026-05-01 (midnight at the "
        "property) or 2026-05-01T00:00:00+02:00"
    )
