"""The web surface: security headers, CSRF and Sec-Fetch-Site refusals, session limits, move-out."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from openamr.access import Role
from openamr.app import create_app
from openamr.guard.sessions import SESSION_COOKIE, end_session
from openamr.settings import Settings
from openamr.store.portfolio import add_tenancy
from openamr.store.schema import auth_session, staff_account, tenancy
from tests.access_world import World, build_world
from tests.helpers import (
    NOW,
    Clock,
    add_household,
    add_staff,
    open_session,
    sign_in,
    use_session,
)

STRICT = "default-src 'self'; frame-ancestors 'none'; object-src 'none'; base-uri 'none'"
NO_READINGS = {"readings": []}


@pytest.fixture
def world(engine: Engine) -> World:
    return build_world(engine)


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def client(settings: Settings, engine: Engine, clock: Clock) -> Iterator[TestClient]:
    with TestClient(create_app(settings, engine=engine, clock=clock)) as test_client:
        yield test_client


def _assert_surface(answer: object) -> None:
    headers = answer.headers  # type: ignore[attr-defined]
    assert headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"


def test_every_answer_carries_the_security_headers(
    client: TestClient, engine: Engine, world: World
) -> None:
    landing = client.get("/")
    _assert_surface(landing)
    assert landing.headers["content-security-policy"] == STRICT
    assert "style=" not in landing.text
    assert "<script" not in landing.text

    anonymous = client.get("/api/v1/properties")
    assert anonymous.status_code == 401
    missing = client.get("/nowhere")
    assert missing.status_code == 404
    sign_in(client, engine, Role.OPERATIONS, customer=world.customer_a)
    data = client.get("/api/v1/properties")
    assert data.status_code == 200
    schema = client.get("/openapi.json")
    for answer in (anonymous, missing, data, schema):
        _assert_surface(answer)
        assert answer.headers["content-security-policy"] == STRICT
    for answer in (anonymous, data, schema):  # data, and refusals of data, are never cached
        assert answer.headers["cache-control"] == "no-store"


def test_the_documentation_page_alone_may_load_swagger_from_its_cdn(client: TestClient) -> None:
    docs = client.get("/docs")
    assert docs.status_code == 200
    _assert_surface(docs)
    policy = docs.headers["content-security-policy"]
    assert "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy
    assert "frame-ancestors 'none'" in policy
    assert "object-src 'none'" in policy
    assert "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/" in policy
    # The one inline script is allowed by its digest, so no other inline script would run.
    [script] = re.findall(r"<script>(.*?)</script>", docs.text, re.DOTALL)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"'sha256-{digest}'" in policy
    assert client.get("/redoc").status_code == 404


def test_a_state_changing_request_needs_the_sessions_csrf_token(
    client: TestClient, engine: Engine, world: World
) -> None:
    sign_in(client, engine, Role.CUSTOMER_ADMIN, customer=world.customer_a)
    token = client.headers.pop("X-CSRF-Token")
    assert client.get("/api/v1/properties").status_code == 200  # reads need none
    without = client.post("/api/v1/readings", json=NO_READINGS)
    assert without.status_code == 403
    assert "X-CSRF-Token" in without.json()["detail"]
    wrong = client.post("/api/v1/readings", json=NO_READINGS, headers={"X-CSRF-Token": "x" * 43})
    assert wrong.status_code == 403
    right = client.post("/api/v1/readings", json=NO_READINGS, headers={"X-CSRF-Token": token})
    assert right.status_code == 200, right.text


@pytest.mark.parametrize(
    ("site", "status"),
    [("cross-site", 403), ("same-site", 403), ("same-origin", 200), ("none", 200), (None, 200)],
)
def test_a_write_a_browser_marks_as_from_another_site_is_refused(
    client: TestClient, engine: Engine, world: World, site: str | None, status: int
) -> None:
    sign_in(client, engine, Role.CUSTOMER_ADMIN, customer=world.customer_a)
    headers = {} if site is None else {"Sec-Fetch-Site": site}
    answer = client.post("/api/v1/readings", json=NO_READINGS, headers=headers)
    assert answer.status_code == status, answer.text
    if status == 403:
        assert "another site" in answer.json()["detail"]
        _assert_surface(answer)
    # Reads are not state-changing: a link from elsewhere may open a page.
    assert client.get("/api/v1/properties", headers=headers).status_code == 200


def test_a_cross_site_write_is_refused_even_without_a_session(client: TestClient) -> None:
    answer = client.post(
        "/api/v1/readings", json=NO_READINGS, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert answer.status_code == 403


def test_a_gateways_bearer_token_needs_no_csrf_token_and_outranks_a_cookie(
    client: TestClient, engine: Engine, world: World
) -> None:
    bearer = {"Authorization": f"Bearer {world.gateway_token_a}"}
    answer = client.post("/api/v1/telegrams", json={"telegrams": []}, headers=bearer)
    assert answer.status_code == 200, answer.text
    # A browser's session cookie beside the bearer token gives the session no say.
    sign_in(client, engine, Role.CUSTOMER_ADMIN, customer=world.customer_a)
    del client.headers["X-CSRF-Token"]
    answer = client.post("/api/v1/telegrams", json={"telegrams": []}, headers=bearer)
    assert answer.status_code == 200
    as_gateway = client.get("/api/v1/properties", headers=bearer)
    assert as_gateway.status_code == 403  # the gateway's role, not the administrator's
    revoked = client.get("/api/v1/properties", headers={"Authorization": "Bearer nonsense"})
    assert revoked.status_code == 401


def test_a_staff_session_ends_after_thirty_idle_minutes(
    client: TestClient, engine: Engine, world: World, clock: Clock
) -> None:
    sign_in(client, engine, Role.OPERATIONS, customer=world.customer_a)
    for _ in range(4):  # used every 29 minutes, it stays open
        clock.advance(minutes=29)
        assert client.get("/api/v1/properties").status_code == 200
    clock.advance(minutes=30, seconds=1)
    assert client.get("/api/v1/properties").status_code == 401
    clock.advance(minutes=1)
    assert client.get("/api/v1/properties").status_code == 401  # and does not come back


def test_a_staff_session_ends_after_twelve_hours_however_busy(
    client: TestClient, engine: Engine, world: World, clock: Clock
) -> None:
    sign_in(client, engine, Role.OPERATIONS, customer=world.customer_a)
    for _ in range(12 * 3 - 1):
        clock.advance(minutes=20)
        assert client.get("/api/v1/properties").status_code == 200
    clock.advance(minutes=20)  # 12 hours after sign-in
    assert client.get("/api/v1/properties").status_code == 401


def test_the_last_use_is_written_at_most_once_a_minute(
    client: TestClient, engine: Engine, world: World, clock: Clock
) -> None:
    staff = add_staff(engine, Role.OPERATIONS, customer=world.customer_a)
    use_session(client, open_session(engine, staff_account_id=staff, now=clock.now))

    def last_seen() -> object:
        with engine.connect() as conn:
            return conn.execute(
                sa.select(auth_session.c.last_seen_at).where(
                    auth_session.c.staff_account_id == staff
                )
            ).scalar_one()

    clock.advance(seconds=30)
    assert client.get("/api/v1/properties").status_code == 200
    assert last_seen() == NOW
    clock.advance(seconds=31)
    assert client.get("/api/v1/properties").status_code == 200
    assert last_seen() == NOW + timedelta(seconds=61)


def test_a_household_is_refused_once_its_tenancy_has_ended(
    client: TestClient, engine: Engine, world: World, clock: Clock
) -> None:
    values = f"/api/v1/apartments/{world.apartment_a1}/metering-points"
    sign_in(client, engine, Role.HOUSEHOLD, tenancy_id=world.tenancy_a1)
    assert client.get(values).status_code == 200
    # The move-out is recorded ahead of time: the household keeps access until it moves.
    moving = clock.now + timedelta(hours=2)
    with engine.begin() as conn:
        conn.execute(tenancy.update().where(tenancy.c.id == world.tenancy_a1).values(end_at=moving))
    clock.advance(hours=1, minutes=59)
    assert client.get(values).status_code == 200
    clock.advance(minutes=1)
    assert client.get(values).status_code == 401


def test_a_household_is_refused_before_its_tenancy_begins(
    client: TestClient, engine: Engine, world: World, clock: Clock
) -> None:
    with engine.begin() as conn:
        conn.execute(
            tenancy.update()
            .where(tenancy.c.id == world.tenancy_a2)
            .values(end_at=clock.now + timedelta(days=1))
        )
        coming = add_tenancy(
            conn,
            customer_id=world.customer_a,
            apartment_id=world.apartment_a2,
            start_at=clock.now + timedelta(days=1),
            end_at=None,
        )
    sign_in(client, engine, Role.HOUSEHOLD, tenancy_id=coming)
    points = f"/api/v1/apartments/{world.apartment_a2}/metering-points"
    assert client.get(points).status_code == 401
    clock.advance(days=1)
    assert client.get(points).status_code == 200


def test_a_household_session_ends_after_seven_idle_days(
    client: TestClient, engine: Engine, world: World, clock: Clock
) -> None:
    sign_in(client, engine, Role.HOUSEHOLD, tenancy_id=world.tenancy_a1)
    points = f"/api/v1/apartments/{world.apartment_a1}/metering-points"
    clock.advance(days=7)
    assert client.get(points).status_code == 200
    clock.advance(days=7, seconds=1)
    assert client.get(points).status_code == 401


def test_sessions_that_authenticate_nobody(
    settings: Settings, engine: Engine, world: World, clock: Clock
) -> None:
    app = create_app(settings, engine=engine, clock=clock)
    half = open_session(
        engine,
        staff_account_id=add_staff(engine, Role.OPERATIONS, customer=world.customer_a),
        second_factor_done=False,
    )
    disabled_staff = add_staff(engine, Role.OPERATIONS, customer=world.customer_a)
    disabled = open_session(engine, staff_account_id=disabled_staff)
    with engine.begin() as conn:
        conn.execute(
            staff_account.update()
            .where(staff_account.c.id == disabled_staff)
            .values(disabled_at=clock.now)
        )
    ended = open_session(
        engine, staff_account_id=add_staff(engine, Role.OPERATIONS, customer=world.customer_a)
    )
    with engine.begin() as conn:
        end_session(conn, ended.token, now=clock.now)
    household = open_session(engine, household_id=add_household(engine, world.tenancy_a1))
    for session, status in ((half, 401), (disabled, 401), (ended, 401)):
        with TestClient(app) as client:
            use_session(client, session)
            assert client.get("/api/v1/properties").status_code == status
    with TestClient(app) as client:
        client.headers["Cookie"] = f"{SESSION_COOKIE}={household.token}x"  # not its token
        assert (
            client.get(f"/api/v1/apartments/{world.apartment_a1}/metering-points").status_code
            == 401
        )
