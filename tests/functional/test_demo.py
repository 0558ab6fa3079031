"""The demo loads through the real paths and shows the cases it promises."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from openamr.access import Role
from openamr.app import create_app
from openamr.demo.accounts import make_demo_sign_ins
from openamr.demo.load import load_demo
from openamr.settings import MasterKey, Settings
from openamr.store.schema import customer, property_
from tests.helpers import OPERATOR, enable_operations_hourly, sign_in

NOW = datetime(2026, 11, 29, 5, tzinfo=UTC)


@pytest.fixture
def demo(settings: Settings, engine: Engine) -> tuple[TestClient, dict[str, object]]:
    """The demo, and a client that signs in as the staff of whichever customer it asks about."""
    cases = load_demo(engine, access=OPERATOR, settings=settings, now=NOW, scale=0.05)
    client = TestClient(create_app(settings, engine=engine, demo_cases=cases))
    return client, {case.kind: case for case in cases}


def _as_staff_of(client: TestClient, engine: Engine, designation: str) -> None:
    """Sign in as operations staff of the customer owning the property, hourly values enabled."""
    with engine.connect() as conn:
        owner = conn.execute(
            sa.select(property_.c.customer_id).where(property_.c.designation == designation)
        ).scalar_one()
    enable_operations_hourly(engine, owner)
    sign_in(client, engine, Role.OPERATIONS, customer=owner)


def _point(client: TestClient, engine: Engine, case: object) -> dict[str, object]:
    _as_staff_of(client, engine, case.property)  # type: ignore[attr-defined]
    properties = client.get("/api/v1/properties").json()
    prop = next(p for p in properties if p["designation"] == case.property)  # type: ignore[attr-defined]
    apartments = client.get(f"/api/v1/properties/{prop['id']}/apartments").json()
    apartment = next(
        a
        for a in apartments
        if (a["entrance"], a["number"]) == (case.entrance, case.apartment)  # type: ignore[attr-defined]
    )
    points = client.get(f"/api/v1/apartments/{apartment['id']}/metering-points").json()
    return next(p for p in points if p["medium"] == case.medium)  # type: ignore[attr-defined]


def _hours(client: TestClient, point_id: object, first: str, end: str) -> list[dict[str, object]]:
    answer = client.get(
        f"/api/v1/metering-points/{point_id}/values",
        params={"from": first, "to": end, "resolution": "hour"},
    )
    assert answer.status_code == 200, answer.text
    values: list[dict[str, object]] = answer.json()["series"][0]["values"]
    return values


def test_the_demo_shows_its_cases(
    demo: tuple[TestClient, dict[str, object]], engine: Engine
) -> None:
    client, cases = demo
    assert set(cases) == {
        "running_toilet",
        "silent_meter",
        "rollover",
        "meter_replacement",
        "move_out",
        "move_in",
    }
    landing = client.get("/")
    assert landing.status_code == 200
    assert "running_toilet" in landing.text
    assert cases["running_toilet"].property not in landing.text  # type: ignore[attr-defined]
    with engine.connect() as conn:
        customers = conn.execute(sa.select(customer.c.id)).scalars().all()
    seen = []
    for owner in customers:
        sign_in(client, engine, Role.CUSTOMER_ADMIN, customer=owner)
        seen += [p["designation"] for p in client.get("/api/v1/properties").json()]
    assert len(seen) == len(set(seen)) == 5

    last_week = ((NOW - timedelta(days=8)).date().isoformat(), NOW.date().isoformat())

    # A running toilet: cold water every night hour of the last week.
    toilet = _point(client, engine, cases["running_toilet"])
    nights = [
        v
        for v in _hours(client, toilet["id"], *last_week)
        if v["start"][11:13] in ("02", "03") and v["value"] is not None  # type: ignore[index]
    ]
    assert nights
    assert min(v["value"] for v in nights) >= 10  # type: ignore[type-var]

    # A rollover and a replacement: never negative, never a spike.
    for kind, ceiling in (("rollover", 1_000), ("meter_replacement", 50_000)):
        point = _point(client, engine, cases[kind])
        daily = client.get(
            f"/api/v1/metering-points/{point['id']}/values",
            params={"from": "2026-01-01", "to": "2026-11-29", "resolution": "hour"},
        ).json()["series"][0]["values"]
        known = [v["value"] for v in daily if v["value"] is not None]
        assert known, kind
        assert min(known) >= 0, kind
        assert max(known) < ceiling, kind
        assert not [v for v in daily if v["status"] == "rejected"], kind

    # A silent meter: its last days are missing.
    silent = _point(client, engine, cases["silent_meter"])
    assert {v["status"] for v in _hours(client, silent["id"], *last_week)} == {"missing"}


def test_the_demo_prints_sign_ins_that_work_and_renews_them_on_every_run(
    settings: Settings, engine: Engine
) -> None:
    load_demo(engine, access=OPERATOR, settings=settings, now=NOW, scale=0.05)
    keyed = dataclasses.replace(settings, master_keys=(MasterKey("demo", bytes(range(32))),))
    first = make_demo_sign_ins(engine, access=OPERATOR, settings=keyed, now=NOW)
    second = make_demo_sign_ins(engine, access=OPERATOR, settings=keyed, now=NOW)
    client = TestClient(
        create_app(keyed, engine=engine, clock=lambda: NOW), base_url="https://testserver"
    )

    def staff(lines: tuple[str, ...], role: str) -> dict[str, str]:
        line = next(line for line in lines if line.startswith(f"{role}:"))
        found = re.fullmatch(rf"{role}: e-mail (\S+), passphrase (\S+)", line)
        assert found, line
        return {"email": found[1], "passphrase": found[2]}

    for role in ("customer_admin", "operations"):
        stale = client.post("/api/v1/session", json=staff(first.lines, role))
        assert stale.status_code == 401, role  # the previous run's passphrase is gone
        fresh = client.post("/api/v1/session", json=staff(second.lines, role))
        assert (fresh.status_code, fresh.json()["role"]) == (200, role)
        assert client.get("/api/v1/properties").status_code == 200
    for role in ("support", "platform_admin"):  # platform roles: the TOTP step follows
        started = client.post("/api/v1/session", json=staff(second.lines, role))
        assert (started.status_code, started.json()["totp_due"]) == (200, True), role

    household = next(line for line in second.lines if ": handle " in line)
    found = re.search(r"handle (\S+), passphrase (\S+)$", household)
    assert found, household
    signed_in = client.post(
        "/api/v1/household/session", json={"handle": found[1], "passphrase": found[2]}
    )
    assert signed_in.status_code == 200, signed_in.text
    me = client.get("/api/v1/session").json()
    assert me["role"] == "household"
    assert me["household"]["apartment"] in household

    letter = next(line for line in second.lines if "access code" in line)
    code = re.search(r"access code (\S+)", letter)
    assert code, letter
    redeemed = client.post(
        "/api/v1/household/redeem",
        json={"code": code[1], "credential": "passphrase", "passphrase": "a long demo passphrase"},
    )
    assert (redeemed.status_code, redeemed.json()["signed_in"]) == (201, True), redeemed.text
