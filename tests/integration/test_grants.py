"""Access grants and disclosures, one story at a time (the state machine explores the rest)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from openamr.access import Role
from openamr.app import create_app
from openamr.guard import grants
from openamr.guard.sessions import CSRF_HEADER, SESSION_COOKIE
from openamr.settings import Settings
from openamr.store.schema import audit_event, tenancy
from tests.access_world import World, build_world
from tests.helpers import NOW, Clock, add_household, add_staff, open_session


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


class People:
    """Who takes part, each with a session opened afresh at the clock's instant when asked."""

    def __init__(self, engine: Engine, world: World, clock: Clock) -> None:
        self.engine, self.clock = engine, clock
        self.ids = {
            "support": ("staff", add_staff(engine, Role.SUPPORT)),
            "staff": ("staff", add_staff(engine, Role.PLATFORM_STAFF)),
            "other staff": ("staff", add_staff(engine, Role.PLATFORM_STAFF)),
            "admin": ("staff", add_staff(engine, Role.PLATFORM_ADMIN)),
            "household": ("household", add_household(engine, world.tenancy_a1)),
            "neighbour": ("household", add_household(engine, world.tenancy_a2)),
        }

    def __call__(self, who: str) -> dict[str, str]:
        kind, key = self.ids[who]
        session = open_session(
            self.engine,
            staff_account_id=key if kind == "staff" else None,
            household_id=key if kind == "household" else None,
            now=self.clock.now,
        )
        return {"Cookie": f"{SESSION_COOKIE}={session.token}", CSRF_HEADER: session.csrf_token}


@pytest.fixture
def people(engine: Engine, world: World, clock: Clock) -> People:
    return People(engine, world, clock)


def _ask(client: TestClient, people: People, who: str, apartment_id: int, **extra: object) -> dict:
    body = {"apartment_id": apartment_id, "ticket": "SUP-1234", "reason": "the chart is empty"}
    answer = client.post("/api/v1/grants", json=body | extra, headers=people(who))
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def _sees(client: TestClient, people: People, who: str, world: World) -> int:
    path = f"/api/v1/apartments/{world.apartment_a1}/metering-points"
    return client.get(path, headers=people(who)).status_code


def _status(client: TestClient, people: People, who: str, grant_id: int) -> str:
    [found] = [
        g for g in client.get("/api/v1/grants", headers=people(who)).json() if g["id"] == grant_id
    ]
    return str(found["status"])


def test_support_sees_the_household_only_between_approval_and_expiry(
    client: TestClient, people: People, world: World, clock: Clock
) -> None:
    asked = _ask(client, people, "support", world.apartment_a1, hours=2)
    assert asked["status"] == "pending"
    assert asked["lapses_at"] == (NOW + timedelta(hours=12)).isoformat()
    assert _sees(client, people, "support", world) == 403
    # The household sees who asks by role, the ticket and the reason; never which staff member.
    [shown] = client.get("/api/v1/household/grants", headers=people("household")).json()
    assert (shown["requester_role"], shown["ticket"], shown["reason"]) == (
        "support",
        "SUP-1234",
        "the chart is empty",
    )
    assert "staff" not in str(shown)
    # The neighbour is not asked, and cannot answer.
    assert client.get("/api/v1/household/grants", headers=people("neighbour")).json() == []
    stranger = client.post(
        f"/api/v1/household/grants/{asked['id']}/approve", headers=people("neighbour")
    )
    assert stranger.status_code == 404
    clock.advance(hours=1)
    approved = client.post(
        f"/api/v1/household/grants/{asked['id']}/approve", headers=people("household")
    )
    assert approved.status_code == 200
    assert approved.json()["expires_at"] == (NOW + timedelta(hours=3)).isoformat()
    assert _sees(client, people, "support", world) == 200
    clock.advance(hours=1, minutes=59, seconds=59)
    assert _sees(client, people, "support", world) == 200
    clock.advance(seconds=1)
    assert _sees(client, people, "support", world) == 403
    assert _status(client, people, "support", asked["id"]) == "expired"


def test_an_unanswered_request_lapses_after_twelve_hours(
    client: TestClient, people: People, world: World, clock: Clock
) -> None:
    asked = _ask(client, people, "support", world.apartment_a1)
    clock.advance(hours=11, minutes=59)
    assert _status(client, people, "support", asked["id"]) == "pending"
    clock.advance(minutes=1)
    assert _status(client, people, "support", asked["id"]) == "lapsed"
    late = client.post(
        f"/api/v1/household/grants/{asked['id']}/approve", headers=people("household")
    )
    assert late.status_code == 409
    assert "lapsed" in late.json()["detail"]


def test_the_household_denies_or_ends_a_grant_at_any_time(
    client: TestClient, people: People, world: World, clock: Clock
) -> None:
    denied = _ask(client, people, "support", world.apartment_a1)
    answer = client.post(
        f"/api/v1/household/grants/{denied['id']}/deny", headers=people("household")
    )
    assert answer.json()["status"] == "denied"
    assert _sees(client, people, "support", world) == 403
    ended = _ask(client, people, "support", world.apartment_a1)
    client.post(f"/api/v1/household/grants/{ended['id']}/approve", headers=people("household"))
    clock.advance(minutes=10)
    assert _sees(client, people, "support", world) == 200
    answer = client.post(f"/api/v1/household/grants/{ended['id']}/end", headers=people("household"))
    assert answer.status_code == 200
    assert _sees(client, people, "support", world) == 403
    again = client.post(f"/api/v1/household/grants/{ended['id']}/end", headers=people("household"))
    assert again.status_code == 409


@pytest.mark.parametrize("admin_first", [True, False])
def test_other_platform_staff_need_a_platform_administrators_approval_too(
    client: TestClient, people: People, world: World, admin_first: bool
) -> None:
    asked = _ask(client, people, "staff", world.apartment_a1)
    assert asked["second_approval_needed"] is True
    second = f"/api/v1/grants/{asked['id']}/second-approval"
    approve = f"/api/v1/household/grants/{asked['id']}/approve"
    # Neither the requester nor a colleague of the same tier is a second approver.
    assert client.post(second, headers=people("staff")).status_code == 403
    assert client.post(second, headers=people("other staff")).status_code == 403
    awaiting = [g["id"] for g in client.get("/api/v1/grants", headers=people("admin")).json()]
    assert asked["id"] in awaiting
    if admin_first:
        assert client.post(second, headers=people("admin")).status_code == 200
        assert _sees(client, people, "staff", world) == 403  # the household has not answered
        assert client.post(approve, headers=people("household")).status_code == 200
    else:
        answer = client.post(approve, headers=people("household"))
        assert answer.json()["status"] == "awaiting_second_approval"
        assert _sees(client, people, "staff", world) == 403
        assert client.post(second, headers=people("admin")).status_code == 200
    assert _sees(client, people, "staff", world) == 200
    assert client.post(second, headers=people("admin")).status_code == 409  # once is enough


def test_supports_requests_need_no_second_approval(
    client: TestClient, people: People, world: World
) -> None:
    asked = _ask(client, people, "support", world.apartment_a1)
    answer = client.post(f"/api/v1/grants/{asked['id']}/second-approval", headers=people("admin"))
    assert answer.status_code == 409
    assert "needs no second approval" in answer.json()["detail"]


def test_a_grant_ends_with_the_tenancy_and_opens_only_its_period(
    client: TestClient, engine: Engine, people: People, world: World, clock: Clock
) -> None:
    asked = _ask(client, people, "support", world.apartment_a1)
    client.post(f"/api/v1/household/grants/{asked['id']}/approve", headers=people("household"))
    hours = client.get(
        f"/api/v1/metering-points/{world.point_a1}/values",
        params={"from": "2026-05-31", "to": "2026-06-02"},
        headers=people("support"),
    ).json()["series"][0]["values"]
    # The previous household's Sunday is not shown; the present household's Monday is.
    assert {h["value"] for h in hours[:24]} == {None}
    assert None not in {h["value"] for h in hours[24:]}
    # The scope is the apartment's media: all of them, as asked; a neighbour's apartment never.
    points = client.get(
        f"/api/v1/apartments/{world.apartment_a1}/metering-points", headers=people("support")
    ).json()
    assert {p["id"] for p in points} == {world.point_a1, world.point_a1_water}
    neighbour = client.get(
        f"/api/v1/apartments/{world.apartment_a2}/values",
        params={"from": "2026-05-31", "to": "2026-06-02"},
        headers=people("support"),
    )
    assert neighbour.status_code == 404
    with engine.begin() as conn:
        conn.execute(
            tenancy.update()
            .where(tenancy.c.id == world.tenancy_a1)
            .values(end_at=clock.now + timedelta(hours=1))
        )
    clock.advance(hours=1)
    assert _sees(client, people, "support", world) == 403
    assert _status(client, people, "support", asked["id"]) == "ended"


def test_a_grant_opens_only_the_media_of_its_scope(
    client: TestClient, people: People, world: World
) -> None:
    asked = _ask(client, people, "support", world.apartment_a1, media=["cold_water"])
    assert asked["media"] == ["cold_water"]
    client.post(f"/api/v1/household/grants/{asked['id']}/approve", headers=people("household"))
    points = client.get(
        f"/api/v1/apartments/{world.apartment_a1}/metering-points", headers=people("support")
    ).json()
    assert [p["id"] for p in points] == [world.point_a1_water]
    electricity = client.get(
        f"/api/v1/metering-points/{world.point_a1}/values",
        params={"from": "2026-06-01", "to": "2026-06-02"},
        headers=people("support"),
    )
    assert electricity.status_code == 404


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ({"ticket": " "}, 422, "ticket must not be empty"),
        ({"reason": ""}, 422, "reason must not be empty"),
        ({"hours": 9}, 422, "1 to 8 hours"),
        ({"hours": 0}, 422, "1 to 8 hours"),
        ({"media": ["gas"]}, 422, "unknown media ['gas']"),
        ({"apartment_id": 999_999}, 404, "no apartment 999999"),
    ],
)
def test_a_request_that_cannot_be_made_says_why(
    client: TestClient,
    people: People,
    world: World,
    body: dict[str, object],
    status: int,
    detail: str,
) -> None:
    request = {"apartment_id": world.apartment_a1, "ticket": "T-1", "reason": "why"} | body
    answer = client.post("/api/v1/grants", json=request, headers=people("support"))
    assert answer.status_code == status, answer.text
    assert detail in answer.json()["detail"]


def test_an_empty_apartment_has_nobody_to_ask(
    client: TestClient, engine: Engine, people: People, world: World, clock: Clock
) -> None:
    with engine.begin() as conn:
        conn.execute(
            tenancy.update().where(tenancy.c.id == world.tenancy_a2).values(end_at=clock.now)
        )
    answer = client.post(
        "/api/v1/grants",
        json={"apartment_id": world.apartment_a2, "ticket": "T-1", "reason": "why"},
        headers=people("support"),
    )
    assert answer.status_code == 422
    assert "no household now" in answer.json()["detail"]


def test_requests_decisions_and_lapses_are_audit_events(
    client: TestClient, engine: Engine, people: People, world: World, clock: Clock
) -> None:
    approved = _ask(client, people, "support", world.apartment_a1)
    client.post(f"/api/v1/household/grants/{approved['id']}/approve", headers=people("household"))
    lapsing = _ask(client, people, "support", world.apartment_a1)
    clock.advance(hours=12)
    client.get("/api/v1/grants", headers=people("support"))  # anything that looks notices
    client.get("/api/v1/grants", headers=people("support"))  # and notes it once
    with engine.connect() as conn:
        events = conn.execute(
            sa.select(audit_event.c.action, audit_event.c.role, audit_event.c.purpose)
            .where(audit_event.c.action.like("grant.%"))
            .order_by(audit_event.c.seq)
        ).all()
    assert [tuple(e) for e in events] == [
        ("grant.request", "support", f"grant:{approved['id']}"),
        ("grant.approve", "household", f"grant:{approved['id']}"),
        ("grant.request", "support", f"grant:{lapsing['id']}"),
        ("grant.expire", "system", f"grant:{approved['id']}"),
        ("grant.lapse", "system", f"grant:{lapsing['id']}"),
    ]


# -- disclosures ---------------------------------------------------------------------------------


def _disclosure(world: World, **extra: object) -> dict[str, object]:
    return {
        "customer_id": world.customer_a,
        "tenancy_id": world.tenancy_a1,
        "period_start": "2026-06-01T00:00:00+02:00",
        "period_end": "2026-07-01T00:00:00+02:00",
        "media": ["electricity"],
        "legal_basis": "Rättegångsbalken 27 kap. 1 §, beslut B 123-26",
        "authority": "Polismyndigheten",
    } | extra


def test_a_disclosure_is_recorded_with_its_legal_basis_before_any_export(
    client: TestClient, engine: Engine, people: People, world: World, clock: Clock
) -> None:
    answer = client.post("/api/v1/disclosures", json=_disclosure(world), headers=people("admin"))
    assert answer.status_code == 201, answer.text
    recorded = answer.json()
    assert recorded["apartment_id"] == world.apartment_a1  # from the tenancy
    assert recorded["legal_basis"].startswith("Rättegångsbalken")
    listed = client.get("/api/v1/disclosures", headers=people("admin")).json()
    assert [d["id"] for d in listed] == [recorded["id"]]
    with engine.begin() as conn:
        found = grants.disclosure_for(conn, recorded["id"], clock.now)
        assert (found.customer_id, found.media) == (world.customer_a, ("electricity",))
        with pytest.raises(grants.UnableToFindDisclosure):
            grants.disclosure_for(conn, recorded["id"] + 1, clock.now)
        event = conn.execute(
            sa.select(audit_event.c.action, audit_event.c.purpose, audit_event.c.tenancy_id).where(
                audit_event.c.action == "disclosure.record"
            )
        ).one()
    assert tuple(event) == ("disclosure.record", f"disclosure:{recorded['id']}", world.tenancy_a1)
    # Support staff and households neither record nor read disclosures.
    for who in ("support", "household"):
        assert client.get("/api/v1/disclosures", headers=people(who)).status_code == 403


@pytest.mark.parametrize(
    ("extra", "detail"),
    [
        ({"legal_basis": " "}, "legal_basis must not be empty"),
        ({"authority": ""}, "authority must not be empty"),
        ({"period_end": "2026-05-01T00:00:00+02:00"}, "must end after it starts"),
        ({"period_start": "2026-01-01T00:00:00+01:00"}, "must lie within tenancy"),
        ({"apartment_id": -1}, "is not in apartment -1"),
        ({"media": ["gas"]}, "unknown media"),
        ({"period_start": "2026-06-01T00:00:00"}, "need a UTC offset"),
    ],
)
def test_a_disclosure_that_cannot_be_recorded_says_why(
    client: TestClient, people: People, world: World, extra: dict[str, object], detail: str
) -> None:
    answer = client.post(
        "/api/v1/disclosures", json=_disclosure(world, **extra), headers=people("admin")
    )
    assert answer.status_code == 422, answer.text
    assert detail in answer.json()["detail"]
