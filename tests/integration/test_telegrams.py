"""Telegrams from a gateway over HTTP: stored once, filed under their meter, turned into values."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from io import StringIO

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from openamr.access import Role
from openamr.app import create_app
from openamr.collect.gateways import register_gateway
from openamr.collect.portfolio import import_portfolio, read_portfolio_csv
from openamr.collect.rejections import Rejection, keep_rejections
from openamr.collect.reprocess import reprocess_rejected_telegrams
from openamr.collect.telegrams import build_telegram_ingest
from openamr.demo.telegrams import date_time, volume_litres, wmbus
from openamr.present.series import point_series
from openamr.settings import MasterKey, Settings
from openamr.store import queries
from openamr.store.schema import reading, rejected_input, telegram
from openamr.validate import Resolution
from tests.helpers import NOW, OPERATOR, PORTFOLIO_HEADER, customer_id, sign_in

WATER = (
    "Hem AB,Uppsala Kåbo 1:23,Kåbovägen 12A,{apartment},cold_water,{id},m3,8,"
    "2026-01-01T00:00:00+01:00,,KAM"
)
# 2026-02-10 in Stockholm is UTC+1; the meter's clock shows local time.
START = datetime(2026, 2, 9, 23, 0, tzinfo=UTC)  # local midnight


def load(engine: Engine, *device_ids: str) -> None:
    text = (
        PORTFOLIO_HEADER
        + ",manufacturer\n"
        + "".join(
            WATER.format(id=device, apartment=1101 + int(device[-1]) % 2) + "\n"
            for device in device_ids
        )
    )
    report = import_portfolio(
        engine,
        read_portfolio_csv(StringIO(text)),
        access=OPERATOR,
        source="test",
        time_zone="Europe/Stockholm",
        now=NOW,
    )
    assert not report.errors, report.errors


@pytest.fixture
def client(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(settings, engine=engine)) as test_client:
        yield test_client


@pytest.fixture
def token(engine: Engine) -> str:
    load(engine, "12345678")
    _gateway, secret = register_gateway(
        engine,
        customer="Hem AB",
        identity="gw-1",
        property_designation="Uppsala Kåbo 1:23",
        access=OPERATOR,
        now=NOW,
    )
    return secret


def _telegram(litres: int, at: datetime, *, device: str = "12345678", number: int = 1) -> dict:
    shown = (at + timedelta(hours=1)).replace(tzinfo=None)  # the meter's local clock
    frame = wmbus(volume_litres(litres) + date_time(shown), device_id=device, access_number=number)
    return {
        "hex": frame.hex(),
        "received_at": (at + timedelta(seconds=20)).isoformat(),
        "rssi": -71,
    }


def _post(client: TestClient, token: str, items: list[object]) -> dict:
    answer = client.post(
        "/api/v1/telegrams",
        json={"telegrams": items},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def _count(engine: Engine, table: sa.Table, *where: sa.ColumnElement[bool]) -> int:
    with engine.connect() as conn:
        query = sa.select(sa.func.count()).select_from(table)
        return conn.execute(query.where(*where)).scalar_one()


def _hours(engine: Engine) -> list[tuple[int | None, str]]:
    with engine.connect() as conn:
        points = queries.list_metering_points(conn, access=OPERATOR, medium="cold_water")
        series = point_series(
            conn,
            points[:1],
            access=OPERATOR,
            first_day=date(2026, 2, 10),
            end_day=date(2026, 2, 11),
            resolution=Resolution.HOUR,
        )
    return [(v.value, v.status.value) for v in series[0].values[:4]]


def test_telegrams_become_readings_at_the_meters_clock_and_then_hourly_values(
    client: TestClient, engine: Engine, token: str
) -> None:
    items = [_telegram(1000 + 25 * hour, START + timedelta(hours=hour)) for hour in range(4)]
    answer = _post(client, token, items)
    assert answer | {"causes": None} == answer | {
        "received": 4,
        "duplicates": 0,
        "decoded": 4,
        "unassigned": 0,
        "failed": 0,
        "readings": 4,
        "rejected": 0,
        "causes": None,
    }
    # Hourly readings on the hour (the meter's clock, not the reception 20 s later).
    assert _hours(engine) == [(25, "measured")] * 3 + [(None, "missing")]
    with engine.connect() as conn:
        drifts = conn.execute(sa.select(telegram.c.clock_drift_s)).scalars().all()
    assert drifts == [-20] * 4

    again = _post(client, token, items[:2])
    assert (again["received"], again["duplicates"], again["decoded"]) == (2, 2, 0)
    assert _count(engine, telegram) == 4
    assert _count(engine, reading) == 4

    sign_in(client, engine, Role.OPERATIONS, customer=customer_id(engine, "Hem AB"))
    devices = client.get("/api/v1/devices").json()
    assert [(d["device_id"], d["assigned"], d["telegrams"], d["rssi_dbm"]) for d in devices] == [
        ("12345678", True, 4, -71)
    ]
    [gateway] = client.get("/api/v1/gateways").json()
    assert gateway["identity"] == "gw-1"
    assert gateway["last_seen_at"] == "2026-02-10T02:00:20Z"


def test_an_unknown_meter_waits_as_unassigned_until_the_register_has_it(
    client: TestClient, engine: Engine, token: str
) -> None:
    items = [
        _telegram(500 + 10 * hour, START + timedelta(hours=hour), device="87654321")
        for hour in range(3)
    ]
    answer = _post(client, token, items)
    assert (answer["unassigned"], answer["readings"]) == (3, 0)
    sign_in(client, engine, Role.OPERATIONS, customer=customer_id(engine, "Hem AB"))
    unassigned = client.get("/api/v1/devices", params={"unassigned": "true"}).json()
    assert [(d["manufacturer"], d["device_id"]) for d in unassigned] == [("KAM", "87654321")]

    load(engine, "87654321")
    ingest = client.app.state.telegram_ingest  # type: ignore[attr-defined]
    report = ingest.reprocess_fixed()
    assert (report.decoded, report.readings) == (3, 3)
    assert _count(engine, reading) == 3
    assert client.get("/api/v1/devices", params={"unassigned": "true"}).json() == []


def test_unusable_items_are_answered_with_their_place_and_reason_and_kept(
    client: TestClient, engine: Engine, token: str
) -> None:
    good = _telegram(1000, START)
    answer = _post(
        client,
        token,
        [
            good,
            {"hex": "zz"},
            {"hex": "0102"},
            {"hex": good["hex"], "received_at": "2026-02-10 00:00"},
            {"hex": good["hex"], "gateway": "gw-2"},
            "not an object",
            {"hex": "68 05 05 68 08 01 72 00 00 16"},  # a wired frame with a bad checksum
        ],
    )
    assert (answer["received"], answer["rejected"], answer["decoded"], answer["failed"]) == (
        7,
        5,
        1,
        1,
    )
    assert [error["item"] for error in answer["errors"]] == [2, 3, 4, 5, 6]
    assert "offset" in answer["errors"][2]["reason"]
    assert _count(engine, rejected_input, rejected_input.c.kind == "telegram") == 5
    with engine.connect() as conn:
        failed = conn.execute(
            sa.select(telegram.c.cause, telegram.c.reason).where(telegram.c.state == "failed")
        ).one()
    assert failed.cause == "bad_frame"


def test_a_gateway_must_show_its_own_token(client: TestClient, token: str) -> None:
    item = _telegram(1000, START)
    assert client.post("/api/v1/telegrams", json={"telegrams": [item]}).status_code == 401
    wrong = client.post(
        "/api/v1/telegrams",
        json={"telegrams": [item]},
        headers={"Authorization": "Bearer not-a-token"},
    )
    assert wrong.status_code == 401
    named = client.post(
        "/api/v1/telegrams",
        json={"gateway": "gw-2", "telegrams": [item]},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert named.status_code == 403
    assert "gw-1" in named.json()["detail"]
    broken = client.post(
        "/api/v1/telegrams",
        content=b"{not json",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert broken.status_code == 400
    assert "not valid JSON" in broken.json()["detail"]


def test_an_encrypted_telegram_waits_for_its_key_and_a_wrong_key_gives_no_reading(
    settings: Settings, engine: Engine, token: str
) -> None:
    keyed = replace(settings, master_keys=(MasterKey("test-1", bytes(range(32))),))
    key = bytes.fromhex("000102030405060708090A0B0C0D0E0F")
    items = []
    for hour in range(3):
        at = START + timedelta(hours=hour)
        shown = (at + timedelta(hours=1)).replace(tzinfo=None)
        frame = wmbus(
            volume_litres(1000 + 40 * hour) + date_time(shown), access_number=hour, key=key
        )
        items.append({"hex": frame.hex(), "received_at": at.isoformat()})
    with TestClient(create_app(keyed, engine=engine)) as client:
        first = _post(client, token, items[:1])
        assert (first["failed"], first["causes"]) == (1, {"key_needed": 1})
        with engine.connect() as conn:
            meter_id = conn.execute(
                sa.select(telegram.c.meter_id).where(telegram.c.cause == "key_needed")
            ).scalar_one()

        sign_in(client, engine, Role.CUSTOMER_ADMIN, customer=customer_id(engine, "Hem AB"))
        wrong = client.put(f"/api/v1/meters/{meter_id}/key", json={"key": "ff" * 16})
        assert wrong.status_code == 204
        second = _post(client, token, items[1:2])
        assert (second["failed"], second["causes"]) == (1, {"wrong_key": 1})
        assert _count(engine, reading) == 0

        right = client.put(f"/api/v1/meters/{meter_id}/key", json={"key": key.hex()})
        assert right.status_code == 204
        # Setting the key decoded the two telegrams that waited for it.
        assert _count(engine, telegram, telegram.c.state == "decoded") == 2
        third = _post(client, token, items[2:])
        assert third["decoded"] == 1
    assert _count(engine, reading) == 3
    assert _hours(engine)[:2] == [(40, "measured"), (40, "measured")]


def test_telegrams_from_a_gateway_not_yet_registered_are_kept_and_stored_once_it_is(
    engine: Engine, token: str
) -> None:
    item = {k: str(v) for k, v in _telegram(1000, START).items()}  # as dead letters keep it
    with engine.begin() as conn:
        keep_rejections(
            conn,
            [Rejection(1, "no gateway 'gw-9' in the register", item, None)],
            kind="telegram",
            source="mqtt:gw-9",
            received_at=NOW,
        )
    ingest = build_telegram_ingest(engine, Settings(database_url=str(engine.url)))
    assert reprocess_rejected_telegrams(engine, ingest, access=OPERATOR, now=NOW) == 0
    register_gateway(
        engine,
        customer="Hem AB",
        identity="gw-9",
        property_designation=None,
        access=OPERATOR,
        now=NOW,
    )
    assert reprocess_rejected_telegrams(engine, ingest, access=OPERATOR, now=NOW) == 1
    assert _count(engine, telegram, telegram.c.state == "decoded") == 1
    assert _count(engine, rejected_input, rejected_input.c.resolved_at.is_(None)) == 0
