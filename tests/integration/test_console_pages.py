"""The console's pages over HTTP: the own customer's, refusals as pages, forms with their token."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from openamr.access import Role
from openamr.app import create_app
from openamr.demo.telegrams import wmbus
from openamr.guard.sessions import CSRF_FIELD, CSRF_HEADER
from openamr.settings import Settings
from openamr.store.telegrams import IncomingTelegram, find_gateway
from tests.access_world import World, build_world
from tests.helpers import OPERATOR, enable_operations_hourly, sign_in

NOW = datetime(2026, 6, 3, 12, tzinfo=UTC)


@pytest.fixture
def world(engine: Engine) -> World:
    return build_world(engine)


@pytest.fixture
def client(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(settings, engine=engine, clock=lambda: NOW)) as test_client:
        yield test_client


def test_the_overview_and_a_property_are_the_own_customers_and_another_is_not_found(
    client: TestClient, engine: Engine, world: World
) -> None:
    sign_in(client, engine, Role.OPERATIONS, customer=world.customer_a)
    overview = client.get("/console")
    assert overview.status_code == 200
    assert "Uppsala Kåbo 1:23" in overview.text
    assert "Solna Råsunda 4:2" not in overview.text
    own = client.get(f"/console/properties/{world.property_a}")
    assert own.status_code == 200
    assert re.search(r"Kåbovägen 12A</td>\s*<td>1102", own.text)
    assert client.get(f"/console/properties/{world.property_b}").status_code == 404
    assert client.get(f"/console/meters/{world.meter_b1}").status_code == 404


def test_a_browser_without_a_session_gets_the_consoles_sign_in_form(client: TestClient) -> None:
    answer = client.get("/console/gateways")
    assert answer.status_code == 401
    assert 'action="/console/sign-in"' in answer.text
    assert 'value="/console/gateways"' in answer.text  # comes back after signing in


def test_hourly_values_are_refused_until_the_customer_enables_them(
    client: TestClient, engine: Engine, world: World
) -> None:
    sign_in(client, engine, Role.OPERATIONS, customer=world.customer_a)
    hourly = f"/console/meters/{world.meter_a1}?resolution=hour&day=2026-06-01"
    assert client.get(f"/console/meters/{world.meter_a1}").status_code == 200
    assert client.get(hourly).status_code == 403
    enable_operations_hourly(engine, world.customer_a)
    sign_in(client, engine, Role.OPERATIONS, customer=world.customer_a)  # a new session
    answer = client.get(hourly)
    assert answer.status_code == 200
    assert answer.text.count('<tr class="status-measured">') == 24


def test_operations_staff_are_refused_every_household_page(
    client: TestClient, engine: Engine, world: World
) -> None:
    for role in (Role.OPERATIONS, Role.CUSTOMER_ADMIN):
        sign_in(client, engine, role, customer=world.customer_a)
        for path in ("/home", "/home/accesses", f"/home/points/{world.point_a1}"):
            assert client.get(path).status_code == 403, (role, path)


def test_the_reprocess_button_is_a_form_with_the_sessions_token(
    client: TestClient, engine: Engine, world: World
) -> None:
    with engine.connect() as conn:
        gateway = find_gateway(conn, "gw-a", access=OPERATOR)
    assert gateway is not None
    broken = wmbus(b"\x0f", device_id="99999999")[:-1] + b"\xff\xff"
    client.app.state.telegram_ingest.receive(  # type: ignore[attr-defined]
        gateway, [IncomingTelegram(broken, NOW, -90)]
    )
    sign_in(client, engine, Role.OPERATIONS, customer=world.customer_a)
    page = client.get("/console/telegrams")
    assert "<td>gw-a</td>" in page.text
    # Its state and cause in words, and the decoder's reason beside them.
    assert "kunde inte avkodas (felaktig ram eller kontrollsumma)" in page.text
    token = re.search(rf'name="{CSRF_FIELD}" value="([^"]+)"', page.text)
    assert token is not None
    del client.headers[CSRF_HEADER]  # a form sends its token as a field, not a header
    refused = client.post("/console/telegrams/reprocess", data={})
    assert refused.status_code == 403
    answer = client.post("/console/telegrams/reprocess", data={CSRF_FIELD: token.group(1)})
    assert answer.status_code == 200
    assert "kunde inte avkodas (" in answer.text  # still undecodable: kept, with its reason


def test_search_and_gateways_in_english(client: TestClient, engine: Engine, world: World) -> None:
    sign_in(client, engine, Role.CUSTOMER_ADMIN, customer=world.customer_a)
    client.headers["Cookie"] += "; openamr-lang=en"  # the language chosen, beside the session
    found = client.get("/console/search", params={"q": "1101"})
    assert found.status_code == 200
    assert "Apartment" in found.text
    assert f'href="/console/properties/{world.property_a}"' in found.text
    assert "EL-B1" not in client.get("/console/search", params={"q": "EL"}).text
    gateways = client.get("/console/gateways")
    assert "Last contact" in gateways.text
    assert "gw-a" in gateways.text
    assert "gw-b" not in gateways.text
