"""Administration over HTTP: each customer administrator manages its own register and nothing else.

Callers are signed in the way sign-in leaves them: a staff account row and a
session from `start_session`, its token in the `__Host-` cookie and its CSRF
token in the header, on an HTTPS client.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from openamr.access import Role
from openamr.app import create_app
from openamr.guard.sessions import CSRF_HEADER, token_digest
from openamr.settings import Settings
from openamr.store.schema import (
    access_code,
    apartment,
    audit_event,
    auth_session,
    customer,
    disclosure,
    entrance,
    meter,
    meter_installation,
    metering_point,
    property_,
    staff_account,
    tenancy,
)
from tests.helpers import add_household, load_portfolio, open_session, use_session

NOW = datetime.fromisoformat("2026-11-01T12:00:00+00:00")

# Two customers with one apartment each: Hem AB's admin must never reach Bo AB's.
PORTFOLIO = [
    "Hem AB,Uppsala Kåbo 1:23,Kåbovägen 12A,1101,electricity,EL-1,kWh,7,2025-01-01T00:00:00+01:00,",
    "Bo AB,Solna Råsunda 4:1,Råsundavägen 3,1001,electricity,BO-1,kWh,7,2025-01-01T00:00:00+01:00,",
]


@dataclass(frozen=True)
class World:
    """The ids of what the portfolio made, per customer."""

    engine: Engine
    app: Any
    ids: dict[str, dict[str, int]]
    staff: dict[str, int]

    def client(self, who: str) -> TestClient:
        """A client signed in as one of the staff accounts (see `staff`)."""
        return self.client_of(self.staff[who])

    def client_of(self, staff_id: int) -> TestClient:
        """A client signed in as the staff account `staff_id`, past its second factor."""
        session = open_session(self.engine, staff_account_id=staff_id, now=NOW)
        return use_session(TestClient(self.app, base_url="https://testserver"), session)


def _ids(conn: sa.Connection, name: str) -> dict[str, int]:
    customer_id = conn.execute(sa.select(customer.c.id).where(customer.c.name == name)).scalar_one()

    def one(table: sa.Table) -> int:
        found: int = conn.execute(
            sa.select(table.c.id).where(table.c.customer_id == customer_id)
        ).scalar_one()
        return found

    return {
        "customer": customer_id,
        "property": one(property_),
        "entrance": one(entrance),
        "apartment": one(apartment),
        "point": one(metering_point),
        "meter": one(meter),
        "installation": one(meter_installation),
    }


def _add_staff(conn: sa.Connection, email: str, role: Role, customer_id: int | None) -> int:
    staff_id: int = conn.execute(
        staff_account.insert()
        .values(
            customer_id=customer_id,
            role=role.value,
            email=email,
            passphrase_hash="$argon2id$not-used-here",
            # Platform roles must have a second factor; sessions here have passed it.
            totp_secret=None if customer_id is not None else b"sealed-elsewhere",
            created_at=NOW,
        )
        .returning(staff_account.c.id)
    ).scalar_one()
    return staff_id


@pytest.fixture
def world(settings: Settings, engine: Engine) -> World:
    assert load_portfolio(engine, PORTFOLIO).errors == []
    with engine.begin() as conn:
        ids = {"hem": _ids(conn, "Hem AB"), "bo": _ids(conn, "Bo AB")}
        staff = {
            "hem_admin": _add_staff(
                conn, "admin@hem.example", Role.CUSTOMER_ADMIN, ids["hem"]["customer"]
            ),
            "hem_ops": _add_staff(
                conn, "drift@hem.example", Role.OPERATIONS, ids["hem"]["customer"]
            ),
            "bo_admin": _add_staff(
                conn, "admin@bo.example", Role.CUSTOMER_ADMIN, ids["bo"]["customer"]
            ),
            "platform": _add_staff(conn, "admin@openamr.example", Role.PLATFORM_ADMIN, None),
        }
    app = create_app(settings, engine=engine, clock=lambda: NOW)
    return World(engine=engine, app=app, ids=ids, staff=staff)


def _events(engine: Engine) -> list[sa.Row[Any]]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(audit_event).order_by(audit_event.c.seq)))


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


# --- the customer administrator's register ------------------------------------------------------


def test_a_customer_admin_builds_its_register_and_every_change_is_audited(world: World) -> None:
    admin = world.client("hem_admin")
    hem = world.ids["hem"]

    prop = _ok(
        admin.post("/api/v1/admin/properties", json={"designation": "Uppsala Luthagen 2:5"}), 201
    )
    assert prop["customer_id"] == hem["customer"]
    assert (prop["name"], prop["time_zone"]) == ("Uppsala Luthagen 2:5", "Europe/Stockholm")
    renamed = _ok(admin.patch(f"/api/v1/admin/properties/{prop['id']}", json={"name": "Luthagen"}))
    assert (renamed["designation"], renamed["name"]) == ("Uppsala Luthagen 2:5", "Luthagen")

    door = _ok(
        admin.post(
            f"/api/v1/admin/properties/{prop['id']}/entrances", json={"address": "Sysslomansg. 4"}
        ),
        201,
    )
    door = _ok(
        admin.patch(f"/api/v1/admin/entrances/{door['id']}", json={"address": "Sysslomansgatan 4"})
    )
    flat = _ok(
        admin.post(f"/api/v1/admin/entrances/{door['id']}/apartments", json={"number": "1201"}),
        201,
    )
    flat = _ok(admin.patch(f"/api/v1/admin/apartments/{flat['id']}", json={"number": "1202"}))
    assert (flat["entrance"], flat["number"]) == ("Sysslomansgatan 4", "1202")
    listed = _ok(admin.get(f"/api/v1/admin/entrances/{door['id']}/apartments"))
    assert [a["number"] for a in listed] == ["1202"]

    point = _ok(
        admin.post(
            f"/api/v1/admin/apartments/{flat['id']}/metering-points", json={"medium": "hot_water"}
        ),
        201,
    )
    building = _ok(
        admin.post(
            f"/api/v1/admin/properties/{prop['id']}/metering-points", json={"medium": "heat"}
        ),
        201,
    )
    assert (point["apartment_id"], building["apartment_id"]) == (flat["id"], None)

    water = _ok(
        admin.post(
            "/api/v1/admin/meters",
            json={
                "identity": "12345678",
                "manufacturer": "kam",
                "medium": "hot_water",
                "register_unit": "m3",
                "register_digits": 8,
            },
        ),
        201,
    )
    assert (water["manufacturer"], water["register_unit"]) == ("KAM", "m3")
    water = _ok(admin.patch(f"/api/v1/admin/meters/{water['id']}", json={"identity": "12345679"}))
    assert water["identity"] == "12345679"

    installed = _ok(
        admin.post(
            f"/api/v1/admin/meters/{water['id']}/installations",
            json={"metering_point_id": point["id"], "installed_at": "2026-10-01"},
        ),
        201,
    )
    # A local day is its midnight at the property: 2026-10-01 00:00 in Stockholm (CEST).
    assert installed["installed_at"] == "2026-09-30T22:00:00Z"
    removed = _ok(
        admin.post(
            f"/api/v1/admin/installations/{installed['id']}/removal",
            json={"removed_at": "2026-10-15T08:30:00+02:00"},
        )
    )
    assert removed["removed_at"] == "2026-10-15T06:30:00Z"
    history = _ok(admin.get(f"/api/v1/admin/metering-points/{point['id']}/installations"))
    assert [(i["meter_id"], i["removed_at"]) for i in history] == [
        (water["id"], "2026-10-15T06:30:00Z")
    ]

    # What was made by mistake can go again, innermost first.
    spare = _ok(
        admin.post(
            "/api/v1/admin/meters",
            json={"identity": "SPARE-1", "medium": "heat", "register_unit": "kWh"},
        ),
        201,
    )
    _ok(admin.delete(f"/api/v1/admin/meters/{spare['id']}"), 204)
    _ok(admin.delete(f"/api/v1/admin/metering-points/{building['id']}"), 204)
    empty = _ok(
        admin.post(f"/api/v1/admin/properties/{prop['id']}/entrances", json={"address": "Gård"}),
        201,
    )
    _ok(admin.delete(f"/api/v1/admin/entrances/{empty['id']}"), 204)
    assert [
        e["address"] for e in _ok(admin.get(f"/api/v1/admin/properties/{prop['id']}/entrances"))
    ] == ["Sysslomansgatan 4"]
    assert admin.get(f"/api/v1/admin/meters/{spare['id']}").status_code == 404

    events = _events(world.engine)
    actor = f"staff:{world.staff['hem_admin']}"
    assert [e.action for e in events] == [
        "admin.property.create",
        "admin.property.update",
        "admin.entrance.create",
        "admin.entrance.rename",
        "admin.apartment.create",
        "admin.apartment.renumber",
        "admin.metering_point.create",
        "admin.metering_point.create",
        "admin.meter.create",
        "admin.meter.update",
        "admin.meter.install",
        "admin.meter.remove",
        "admin.meter.create",
        "admin.meter.delete",
        "admin.metering_point.delete",
        "admin.entrance.create",
        "admin.entrance.delete",
    ]
    assert {(e.actor, e.role, e.customer_id, e.outcome) for e in events} == {
        (actor, "customer_admin", hem["customer"], "ok")
    }
    renumbered = events[5]
    assert (renumbered.property_id, renumbered.apartment_id) == (prop["id"], flat["id"])
    # Ids only: no designation, address or apartment number is written to the log.
    # (The hashes are left out of the search: "1202" can occur in a hex digest by chance.)
    written = (
        value
        for event in events
        for column, value in event._mapping.items()
        if column not in ("hash", "prev_hash")
    )
    text = " ".join(str(value) for value in written)
    for name in ("Luthagen", "Syssloman", "1202", "12345679"):
        assert name not in text


def test_deleting_what_is_still_used_is_refused_with_what_uses_it(world: World) -> None:
    admin = world.client("hem_admin")
    hem = world.ids["hem"]
    answer = admin.delete(f"/api/v1/admin/properties/{hem['property']}")
    assert answer.status_code == 409
    assert answer.json() == {
        "detail": f"property {hem['property']} still has 1 entrances, 1 metering points; "
        "delete or move those first"
    }
    answer = admin.delete(f"/api/v1/admin/apartments/{hem['apartment']}")
    assert answer.status_code == 409
    assert "1 metering points" in answer.json()["detail"]
    answer = admin.delete(f"/api/v1/admin/meters/{hem['meter']}")
    assert answer.status_code == 409
    assert answer.json()["detail"].startswith(f"meter {hem['meter']} still has 1 installations")
    with world.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(property_)).scalar_one() == 2
    assert _events(world.engine) == []  # a refused change leaves no event


# --- isolation: another customer's objects are not there ---------------------------------------

# (method, path template, body): every route that names an object of a customer.
OBJECT_ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/api/v1/admin/properties/{property}", None),
    ("PATCH", "/api/v1/admin/properties/{property}", {"name": "mine now"}),
    ("DELETE", "/api/v1/admin/properties/{property}", None),
    ("GET", "/api/v1/admin/properties/{property}/entrances", None),
    ("POST", "/api/v1/admin/properties/{property}/entrances", {"address": "Ny gata 1"}),
    ("GET", "/api/v1/admin/properties/{property}/metering-points", None),
    ("POST", "/api/v1/admin/properties/{property}/metering-points", {"medium": "cooling"}),
    ("PATCH", "/api/v1/admin/entrances/{entrance}", {"address": "Ny gata 1"}),
    ("DELETE", "/api/v1/admin/entrances/{entrance}", None),
    ("GET", "/api/v1/admin/entrances/{entrance}/apartments", None),
    ("POST", "/api/v1/admin/entrances/{entrance}/apartments", {"number": "1301"}),
    ("GET", "/api/v1/admin/apartments/{apartment}", None),
    ("PATCH", "/api/v1/admin/apartments/{apartment}", {"number": "1301"}),
    ("DELETE", "/api/v1/admin/apartments/{apartment}", None),
    ("GET", "/api/v1/admin/apartments/{apartment}/metering-points", None),
    ("POST", "/api/v1/admin/apartments/{apartment}/metering-points", {"medium": "heat"}),
    ("GET", "/api/v1/admin/apartments/{apartment}/tenancies", None),
    ("POST", "/api/v1/admin/apartments/{apartment}/tenancies", {"start": "2026-01-01"}),
    ("DELETE", "/api/v1/admin/metering-points/{point}", None),
    ("GET", "/api/v1/admin/metering-points/{point}/installations", None),
    ("GET", "/api/v1/admin/meters/{meter}", None),
    ("PATCH", "/api/v1/admin/meters/{meter}", {"identity": "X-1"}),
    ("DELETE", "/api/v1/admin/meters/{meter}", None),
    ("GET", "/api/v1/admin/meters/{meter}/installations", None),
    ("POST", "/api/v1/admin/installations/{installation}/removal", {"removed_at": "2026-06-01"}),
    ("GET", "/api/v1/admin/customers/{customer}/settings", None),
    ("PUT", "/api/v1/admin/customers/{customer}/settings", {"operations_hourly": True}),
]


@pytest.mark.parametrize(("method", "template", "body"), OBJECT_ROUTES)
def test_another_customers_objects_answer_404_like_missing_ones(
    world: World, method: str, template: str, body: dict[str, Any] | None
) -> None:
    intruder = world.client("bo_admin")
    theirs = template.format(**world.ids["hem"])
    missing = template.format(**dict.fromkeys(world.ids["hem"], 999999))
    answer = intruder.request(method, theirs, json=body)
    nothing = intruder.request(method, missing, json=body)
    assert answer.status_code == nothing.status_code == 404, answer.text
    # The same words for a real object of another customer as for none at all.
    assert answer.json()["detail"].split()[:-1] == nothing.json()["detail"].split()[:-1]
    assert _events(world.engine) == []


def test_another_customers_objects_cannot_be_reached_through_a_body_either(world: World) -> None:
    intruder = world.client("bo_admin")
    bo, hem = world.ids["bo"], world.ids["hem"]
    answer = intruder.post(
        f"/api/v1/admin/meters/{bo['meter']}/installations",
        json={"metering_point_id": hem["point"], "installed_at": "2027-01-01"},
    )
    assert (answer.status_code, answer.json()) == (
        404,
        {"detail": f"no metering point {hem['point']}"},
    )
    answer = intruder.post(
        "/api/v1/admin/properties",
        json={"designation": "Kåbo 9:9", "customer_id": hem["customer"]},
    )
    assert (answer.status_code, answer.json()) == (
        404,
        {"detail": f"no customer {hem['customer']}"},
    )
    # Lists hold only the caller's own.
    assert [p["id"] for p in _ok(intruder.get("/api/v1/admin/properties"))] == [bo["property"]]
    assert [m["id"] for m in _ok(intruder.get("/api/v1/admin/meters"))] == [bo["meter"]]


# --- roles --------------------------------------------------------------------------------------

WRITES: list[tuple[str, str, dict[str, Any] | None]] = [
    (m, t, b) for m, t, b in OBJECT_ROUTES if m != "GET"
] + [
    ("POST", "/api/v1/admin/properties", {"designation": "Kåbo 9:9"}),
    ("POST", "/api/v1/admin/meters", {"identity": "N", "medium": "heat", "register_unit": "kWh"}),
    (
        "POST",
        "/api/v1/admin/meters/{meter}/installations",
        {"metering_point_id": 1, "installed_at": "2027-01-01"},
    ),
    ("POST", "/api/v1/admin/tenancies/1/move-out", {"end": "2027-01-01"}),
]


@pytest.mark.parametrize(("method", "template", "body"), WRITES)
def test_operations_staff_read_the_register_but_may_not_change_it(
    world: World, method: str, template: str, body: dict[str, Any] | None
) -> None:
    ops = world.client("hem_ops")
    answer = ops.request(method, template.format(**world.ids["hem"]), json=body)
    assert (answer.status_code, answer.json()) == (403, {"detail": "your role may not do this"})


def test_operations_staff_see_their_customers_meters_and_buildings(world: World) -> None:
    ops = world.client("hem_ops")
    hem = world.ids["hem"]
    assert [p["id"] for p in _ok(ops.get("/api/v1/admin/properties"))] == [hem["property"]]
    assert [m["identity"] for m in _ok(ops.get("/api/v1/admin/meters"))] == ["EL-1"]
    assert (
        _ok(ops.get(f"/api/v1/admin/meters/{hem['meter']}/installations"))[0]["id"]
        == (hem["installation"])
    )
    # Tenancies are the households' periods: not the technicians' business.
    assert ops.get(f"/api/v1/admin/apartments/{hem['apartment']}/tenancies").status_code == 403
    assert ops.get("/api/v1/admin/customers").status_code == 403


def test_the_platform_admin_manages_customers_but_not_their_buildings(world: World) -> None:
    platform = world.client("platform")
    hem = world.ids["hem"]
    made = _ok(platform.post("/api/v1/admin/customers", json={"name": "Ny Bostad AB"}), 201)
    assert (made["name"], made["operations_hourly"], made["properties"]) == (
        "Ny Bostad AB",
        False,
        0,
    )
    renamed = _ok(platform.patch(f"/api/v1/admin/customers/{made['id']}", json={"name": "Nybo AB"}))
    assert renamed["name"] == "Nybo AB"
    listed = _ok(platform.get("/api/v1/admin/customers"))
    assert [(c["name"], c["apartments"]) for c in listed] == [
        ("Bo AB", 1),
        ("Hem AB", 1),
        ("Nybo AB", 0),
    ]
    assert _ok(
        platform.put(
            f"/api/v1/admin/customers/{made['id']}/settings", json={"operations_hourly": True}
        )
    ) == {"customer_id": made["id"], "operations_hourly": True}

    for path in (
        "/api/v1/admin/properties",
        f"/api/v1/admin/apartments/{hem['apartment']}",
        f"/api/v1/admin/apartments/{hem['apartment']}/tenancies",
        "/api/v1/admin/meters",
    ):
        assert platform.get(path).status_code == 403, path
    answer = platform.post(
        f"/api/v1/admin/apartments/{hem['apartment']}/tenancies", json={"start": "2026-01-01"}
    )
    assert answer.status_code == 403

    # And customer administrators do not manage customers.
    admin = world.client("hem_admin")
    assert admin.get("/api/v1/admin/customers").status_code == 403
    assert admin.post("/api/v1/admin/customers", json={"name": "Mitt AB"}).status_code == 403
    assert [e.action for e in _events(world.engine)] == [
        "admin.customer.create",
        "admin.customer.rename",
        "admin.customer.operations_hourly_on",
    ]


def test_a_customer_admin_decides_whether_its_operations_staff_see_hours(world: World) -> None:
    admin = world.client("hem_admin")
    hem = world.ids["hem"]
    path = f"/api/v1/admin/customers/{hem['customer']}/settings"
    assert _ok(admin.get(path)) == {"customer_id": hem["customer"], "operations_hourly": False}
    _ok(admin.put(path, json={"operations_hourly": True}))
    # The operations staff's next session carries the customer's choice.
    with world.engine.connect() as conn:
        assert conn.execute(
            sa.select(customer.c.operations_hourly).where(customer.c.id == hem["customer"])
        ).scalar_one()
    event = _events(world.engine)[-1]
    assert (event.action, event.customer_id, event.role) == (
        "admin.customer.operations_hourly_on",
        hem["customer"],
        "customer_admin",
    )


def test_nobody_signed_in_gets_401_everywhere(world: World) -> None:
    anonymous = TestClient(world.app, base_url="https://testserver")
    for method, template, body in [*OBJECT_ROUTES, ("GET", "/api/v1/admin/customers", None)]:
        answer = anonymous.request(method, template.format(**world.ids["hem"]), json=body)
        assert answer.status_code == 401, (method, template)


def test_a_change_without_the_sessions_csrf_token_is_refused(world: World) -> None:
    admin = world.client("hem_admin")
    del admin.headers[CSRF_HEADER]
    answer = admin.post("/api/v1/admin/properties", json={"designation": "Kåbo 9:9"})
    assert answer.status_code == 403
    assert _events(world.engine) == []


# --- bad input ----------------------------------------------------------------------------------

BAD: list[tuple[str, str, Any, int, str]] = [
    (
        "POST",
        "/api/v1/admin/properties",
        b"designation=x",
        400,
        "the body must be a JSON object with designation, name, time_zone, customer_id",
    ),
    (
        "POST",
        "/api/v1/admin/properties",
        [],
        422,
        "the body must be a JSON object with designation, name, time_zone, customer_id",
    ),
    ("POST", "/api/v1/admin/properties", {}, 422, "designation is missing"),
    ("POST", "/api/v1/admin/properties", {"designation": 5}, 422, "designation must be a string"),
    (
        "POST",
        "/api/v1/admin/properties",
        {"designation": "A 1:1", "adress": "x"},
        422,
        "adress is not a field here; the fields are designation, name, time_zone, customer_id",
    ),
    ("POST", "/api/v1/admin/properties", {"designation": "   "}, 422, "designation is empty"),
    (
        "POST",
        "/api/v1/admin/properties",
        {"designation": "x" * 201},
        422,
        "designation is longer than 200 characters",
    ),
    (
        "POST",
        "/api/v1/admin/properties",
        {"designation": "A\n1:1"},
        422,
        "designation contains a control character (such as a line break)",
    ),
    (
        "POST",
        "/api/v1/admin/properties",
        {"designation": "A 1:1", "time_zone": "Europe/Uppsala"},
        422,
        "time zone 'Europe/Uppsala' is not an IANA time zone such as Europe/Stockholm",
    ),
    (
        "POST",
        "/api/v1/admin/properties",
        {"designation": "A 1:1", "time_zone": "Asia/Kolkata"},
        422,
        "time zone 'Asia/Kolkata' is not a whole number of hours from UTC; "
        "hourly values could not be summed into its days exactly",
    ),
    (
        "POST",
        "/api/v1/admin/properties",
        {"designation": "Uppsala Kåbo 1:23"},
        409,
        "the customer has a property 'Uppsala Kåbo 1:23' already",
    ),
    (
        "PATCH",
        "/api/v1/admin/properties/{property}",
        {},
        422,
        "nothing to change: give designation or name",
    ),
    (
        "POST",
        "/api/v1/admin/entrances/{entrance}/apartments",
        {"number": "110"},
        422,
        "apartment number '110' is not a four-digit lägenhetsnummer such as 1102 "
        "(floor 10 is the entrance floor; then the door, from 01)",
    ),
    (
        "POST",
        "/api/v1/admin/entrances/{entrance}/apartments",
        {"number": 1102},
        422,
        "number must be a string",
    ),
    (
        "POST",
        "/api/v1/admin/entrances/{entrance}/apartments",
        {"number": "1101"},
        409,
        "entrance {entrance} has an apartment 1101 already",
    ),
    (
        "POST",
        "/api/v1/admin/properties/{property}/entrances",
        {"address": "Kåbovägen 12A"},
        409,
        "property {property} has an entrance 'Kåbovägen 12A' already",
    ),
    (
        "POST",
        "/api/v1/admin/apartments/{apartment}/metering-points",
        {"medium": "gas"},
        422,
        "medium 'gas' is not one of electricity, heat, cooling, hot_water, cold_water, "
        "heat_cost_allocator, room_climate",
    ),
    (
        "POST",
        "/api/v1/admin/apartments/{apartment}/metering-points",
        {"medium": "electricity"},
        409,
        "apartment {apartment} has a electricity metering point already ({point})",
    ),
    (
        "POST",
        "/api/v1/admin/meters",
        {"identity": "H-1", "medium": "heat", "register_unit": "m3"},
        422,
        "register unit m3 does not measure heat",
    ),
    (
        "POST",
        "/api/v1/admin/meters",
        {"identity": "H-1", "medium": "heat", "register_unit": "kWh", "register_digits": 40},
        422,
        "register_digits 40 must be a whole number from 1 to 15",
    ),
    (
        "POST",
        "/api/v1/admin/meters",
        {"identity": "H-1", "medium": "heat", "register_unit": "kWh", "manufacturer": "KAMSTRUP"},
        422,
        "manufacturer 'KAMSTRUP' is not a three-letter M-Bus code (A to Z, such as KAM)",
    ),
    (
        "POST",
        "/api/v1/admin/meters",
        {"identity": "EL-1", "medium": "electricity", "register_unit": "kWh"},
        409,
        "the customer has a meter 'EL-1' already",
    ),
    (
        "POST",
        "/api/v1/admin/meters/{meter}/installations",
        {"metering_point_id": "{point}", "installed_at": "2026-01-01"},
        422,
        "metering_point_id must be a whole number",
    ),
    (
        "POST",
        "/api/v1/admin/meters/{meter}/installations",
        {"metering_point_id": 2**40, "installed_at": "2026-01-01"},
        404,
        f"no metering point {2**40}",
    ),
    (
        "POST",
        "/api/v1/admin/installations/{installation}/removal",
        {"removed_at": "1.1.2026"},
        422,
        "removed_at '1.1.2026' is not a date or time such as 2026-05-01 (midnight at the property) "
        "or 2026-05-01T00:00:00+02:00",
    ),
    (
        "POST",
        "/api/v1/admin/installations/{installation}/removal",
        {"removed_at": "2026-05-01T10:00:00"},
        422,
        "removed_at '2026-05-01T10:00:00' is not a date or time such as 2026-05-01 (midnight at the "
        "property) or 2026-05-01T00:00:00+02:00",
    ),
    (
        "POST",
        "/api/v1/admin/installations/{installation}/removal",
        {"removed_at": "2024-12-31"},
        409,
        "installation {installation} began at 2024-12-31T23:00:00+00:00; "
        "a meter is removed after it was installed",
    ),
    (
        "POST",
        "/api/v1/admin/apartments/{apartment}/tenancies",
        {"start": "9999-12-31"},
        422,
        "start '9999-12-31' is not between 1970 and 2100",
    ),
    # An id no database row can have is refused at the door, before any SQL.
    (
        "GET",
        "/api/v1/admin/apartments/99999999999999",
        None,
        422,
        "path.apartment_id: Input should be less than or equal to 2147483647",
    ),
]


@pytest.mark.parametrize(("method", "template", "body", "status", "detail"), BAD)
def test_bad_input_gets_a_precise_answer(
    world: World, method: str, template: str, body: Any, status: int, detail: str
) -> None:
    admin = world.client("hem_admin")
    hem = world.ids["hem"]
    kwargs: dict[str, Any] = {"content": body} if isinstance(body, bytes) else {"json": body}
    answer = admin.request(method, template.format(**hem), **kwargs)
    assert (answer.status_code, answer.json()) == (status, {"detail": detail.format(**hem)})
    assert _events(world.engine) == []


# --- tenancies ----------------------------------------------------------------------------------


def _household_signed_in(world: World, tenancy_id: int) -> tuple[int, str]:
    """A household for the tenancy and an open session of it, as sign-in would leave them."""
    household_id = add_household(world.engine, tenancy_id, now=NOW - timedelta(days=30))
    session = open_session(world.engine, household_id=household_id, now=NOW - timedelta(hours=1))
    return household_id, session.token


def _code(world: World, tenancy_id: int, digest: str) -> None:
    with world.engine.begin() as conn:
        customer_id = conn.execute(
            sa.select(tenancy.c.customer_id).where(tenancy.c.id == tenancy_id)
        ).scalar_one()
        conn.execute(
            access_code.insert().values(
                customer_id=customer_id,
                tenancy_id=tenancy_id,
                kind="device",
                code_hash=digest,
                issued_by="household:1",
                issued_at=NOW - timedelta(days=1),
                expires_at=NOW + timedelta(days=89),
            )
        )


def _session(world: World, token: str) -> sa.Row[Any]:
    with world.engine.connect() as conn:
        return conn.execute(
            sa.select(auth_session).where(auth_session.c.token_hash == token_digest(token))
        ).one()


def _code_row(world: World, digest: str) -> sa.Row[Any]:
    with world.engine.connect() as conn:
        return conn.execute(sa.select(access_code).where(access_code.c.code_hash == digest)).one()


def test_move_in_then_move_out_ends_the_households_sessions_and_codes(world: World) -> None:
    admin = world.client("hem_admin")
    hem = world.ids["hem"]
    path = f"/api/v1/admin/apartments/{hem['apartment']}/tenancies"
    moved_in = _ok(admin.post(path, json={"start": "2026-05-01"}), 201)
    assert (moved_in["start_at"], moved_in["end_at"]) == ("2026-04-30T22:00:00Z", None)

    # A second household cannot move in while the first lives there.
    answer = admin.post(path, json={"start": "2026-08-01"})
    assert answer.status_code == 409
    assert answer.json() == {
        "detail": f"the apartment already has tenancy {moved_in['id']} in that period: from "
        "2026-04-30T22:00:00+00:00 until no end (its household lives there); "
        "record its move-out first"
    }

    household_id, token = _household_signed_in(world, moved_in["id"])
    _code(world, moved_in["id"], "a" * 64)

    moved_out = _ok(
        admin.post(f"/api/v1/admin/tenancies/{moved_in['id']}/move-out", json={"end": "2026-11-01"})
    )
    assert moved_out["end_at"] == "2026-10-31T23:00:00Z"
    assert (moved_out["sessions_ended"], moved_out["access_codes_revoked"]) == (1, 1)
    assert _session(world, token).ended_at == NOW
    assert _code_row(world, "a" * 64).revoked_at == NOW

    # The next household moves in the day the last one's tenancy ended; the old one cannot
    # move out twice.
    second = _ok(admin.post(path, json={"start": "2026-11-01"}), 201)
    assert second["start_at"] == moved_out["end_at"]
    answer = admin.post(
        f"/api/v1/admin/tenancies/{moved_in['id']}/move-out", json={"end": "2026-12-01"}
    )
    assert (answer.status_code, answer.json()) == (
        409,
        {"detail": f"tenancy {moved_in['id']} ended already at 2026-10-31T23:00:00+00:00"},
    )
    listed = _ok(admin.get(path))
    assert [(t["id"], t["end_at"]) for t in listed] == [
        (moved_in["id"], "2026-10-31T23:00:00Z"),
        (second["id"], None),
    ]
    events = _events(world.engine)
    assert [(e.action, e.tenancy_id, e.apartment_id) for e in events] == [
        ("admin.tenancy.move_in", moved_in["id"], hem["apartment"]),
        ("admin.tenancy.move_out", moved_in["id"], hem["apartment"]),
        ("admin.tenancy.move_in", second["id"], hem["apartment"]),
    ]
    assert household_id  # the household row stays: its tenancy's history is kept


def test_a_move_out_ahead_of_time_keeps_access_until_the_day_and_not_after(world: World) -> None:
    admin = world.client("hem_admin")
    hem = world.ids["hem"]
    moved_in = _ok(
        admin.post(
            f"/api/v1/admin/apartments/{hem['apartment']}/tenancies", json={"start": "2026-01-01"}
        ),
        201,
    )
    _household, token = _household_signed_in(world, moved_in["id"])
    _code(world, moved_in["id"], "b" * 64)
    end = "2026-11-01T18:00:00Z"
    moved_out = _ok(
        admin.post(f"/api/v1/admin/tenancies/{moved_in['id']}/move-out", json={"end": end})
    )
    assert (moved_out["sessions_ended"], moved_out["access_codes_revoked"]) == (0, 0)
    session = _session(world, token)
    assert session.ended_at is None
    assert session.expires_at == datetime.fromisoformat(end)
    assert _code_row(world, "b" * 64).expires_at == datetime.fromisoformat(end)
    assert _code_row(world, "b" * 64).revoked_at is None


def test_a_move_out_before_the_move_in_is_refused(world: World) -> None:
    admin = world.client("hem_admin")
    hem = world.ids["hem"]
    moved_in = _ok(
        admin.post(
            f"/api/v1/admin/apartments/{hem['apartment']}/tenancies", json={"start": "2026-05-01"}
        ),
        201,
    )
    answer = admin.post(
        f"/api/v1/admin/tenancies/{moved_in['id']}/move-out", json={"end": "2026-05-01"}
    )
    assert (answer.status_code, answer.json()) == (
        409,
        {
            "detail": f"tenancy {moved_in['id']} began at 2026-04-30T22:00:00+00:00; "
            "a move-out comes after the move-in"
        },
    )


# --- access codes -------------------------------------------------------------------------------


def test_a_letter_is_issued_for_the_current_tenancy_and_can_be_revoked(world: World) -> None:
    admin = world.client("hem_admin")
    hem = world.ids["hem"]
    path = f"/api/v1/admin/apartments/{hem['apartment']}/access-codes"
    answer = admin.post(path)
    assert (answer.status_code, answer.json()) == (
        409,
        {
            "detail": f"apartment {hem['apartment']} has no tenancy now or to come; "
            "record the move-in first"
        },
    )
    moved_in = _ok(
        admin.post(
            f"/api/v1/admin/apartments/{hem['apartment']}/tenancies", json={"start": "2026-10-01"}
        ),
        201,
    )
    answer = admin.post(path)
    letter = _ok(answer, 201)
    assert answer.headers["cache-control"] == "no-store"
    assert (letter["kind"], letter["tenancy_id"]) == ("letter", moved_in["id"])
    assert letter["expires_at"] == (NOW + timedelta(days=90)).isoformat()
    digest = token_digest(letter["code"].replace("-", ""))
    assert _code_row(world, digest).tenancy_id == moved_in["id"]  # only the digest is kept

    assert world.client("bo_admin").post(path).status_code == 404
    assert world.client("hem_ops").post(path).status_code == 403

    revoked = _ok(admin.post(f"/api/v1/admin/tenancies/{moved_in['id']}/access-codes/revoke"))
    assert revoked == {"tenancy_id": moved_in["id"], "revoked": 1}
    assert _code_row(world, digest).revoked_at == NOW
    intruder = world.client("bo_admin").post(
        f"/api/v1/admin/tenancies/{moved_in['id']}/access-codes/revoke"
    )
    assert (intruder.status_code, intruder.json()) == (
        404,
        {"detail": f"no tenancy {moved_in['id']}"},
    )
    actions = [e.action for e in _events(world.engine)]
    assert actions == [
        "admin.tenancy.move_in",
        "access_code.issue_letter",
        "admin.access_code.revoke",
    ]
    assert letter["code"] not in " ".join(str(v) for e in _events(world.engine) for v in e)


# --- staff --------------------------------------------------------------------------------------


def test_a_customer_admin_adds_and_disables_its_staff(world: World) -> None:
    admin = world.client("hem_admin")
    answer = admin.post(
        "/api/v1/admin/staff", json={"email": " Tekniker@Hem.example ", "role": "operations"}
    )
    made = _ok(answer, 201)
    assert answer.headers["cache-control"] == "no-store"
    assert (made["email"], made["role"], made["totp_uri"]) == (
        "tekniker@hem.example",
        "operations",
        None,
    )
    assert len(made["passphrase"]) >= 15
    listed = _ok(admin.get("/api/v1/admin/staff"))
    assert [(s["email"], s["role"], s["disabled_at"]) for s in listed] == [
        ("admin@hem.example", "customer_admin", None),
        ("drift@hem.example", "operations", None),
        ("tekniker@hem.example", "operations", None),
    ]
    # No secret leaves in a list: not the passphrase's hash, not the TOTP secret.
    assert set(listed[0]) == {
        "id",
        "customer_id",
        "email",
        "role",
        "second_factor",
        "created_at",
        "disabled_at",
    }

    technician = world.client_of(made["id"])
    assert technician.get("/api/v1/admin/properties").status_code == 200
    disabled = _ok(admin.post(f"/api/v1/admin/staff/{made['id']}/disable"))
    assert disabled["disabled_at"] == "2026-11-01T12:00:00Z"
    assert technician.get("/api/v1/admin/properties").status_code == 401

    own = admin.post(f"/api/v1/admin/staff/{world.staff['hem_admin']}/disable")
    assert (own.status_code, own.json()) == (
        409,
        {"detail": "you cannot disable your own account; ask another administrator"},
    )
    for other in ("bo_admin", "platform"):
        answer = admin.post(f"/api/v1/admin/staff/{world.staff[other]}/disable")
        assert (answer.status_code, answer.json()) == (
            404,
            {"detail": f"no staff account {world.staff[other]}"},
        )
    assert [e.action for e in _events(world.engine)] == ["staff.create", "staff.disable"]


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        (
            {"email": "tekniker", "role": "operations"},
            422,
            "email must be a business address of the form name@example.se",
        ),
        (
            {"email": "t@hem.example", "role": "platform_admin"},
            422,
            "role 'platform_admin' is not a role of a customer's staff: customer_admin or operations",
        ),
        (
            {"email": "t@hem.example", "role": "operations", "second_factor": "yes"},
            422,
            "second_factor must be true or false",
        ),
        (
            {"email": "DRIFT@hem.example", "role": "operations"},
            409,
            "a staff account with that e-mail address exists already",
        ),
    ],
)
def test_a_staff_account_that_cannot_be_made_is_answered_precisely(
    world: World, body: dict[str, Any], status: int, detail: str
) -> None:
    answer = world.client("hem_admin").post("/api/v1/admin/staff", json=body)
    assert (answer.status_code, answer.json()) == (status, {"detail": detail})


def test_staff_routes_are_the_customer_admins(world: World) -> None:
    for who in ("hem_ops", "platform"):
        client = world.client(who)
        assert client.get("/api/v1/admin/staff").status_code == 403
        answer = client.post("/api/v1/admin/staff", json={"email": "x@y.se", "role": "operations"})
        assert answer.status_code == 403
    others = _ok(world.client("bo_admin").get("/api/v1/admin/staff"))
    assert [s["email"] for s in others] == ["admin@bo.example"]


def test_a_second_factor_needs_a_master_key_to_seal_it(world: World) -> None:
    answer = world.client("hem_admin").post(
        "/api/v1/admin/staff",
        json={"email": "t@hem.example", "role": "customer_admin", "second_factor": True},
    )
    assert answer.status_code == 503
    assert answer.json()["detail"].startswith("no master key is configured")
    assert [s["email"] for s in _ok(world.client("hem_admin").get("/api/v1/admin/staff"))] == [
        "admin@hem.example",
        "drift@hem.example",
    ]


def test_a_reference_the_checks_do_not_name_still_refuses_a_deletion(world: World) -> None:
    admin = world.client("hem_admin")
    hem = world.ids["hem"]
    flat = _ok(
        admin.post(
            f"/api/v1/admin/entrances/{hem['entrance']}/apartments", json={"number": "1402"}
        ),
        201,
    )
    with world.engine.begin() as conn:
        conn.execute(
            disclosure.insert().values(
                customer_id=hem["customer"],
                apartment_id=flat["id"],
                period_start_at=NOW - timedelta(days=30),
                period_end_at=NOW,
                media="electricity",
                legal_basis="court order T 1234-26",
                authority="Uppsala tingsrätt",
                recorded_by=world.staff["platform"],
                recorded_at=NOW,
            )
        )
    answer = admin.delete(f"/api/v1/admin/apartments/{flat['id']}")
    assert (answer.status_code, answer.json()) == (
        409,
        {"detail": f"apartment {flat['id']} is still referred to by other records; it stays"},
    )
    assert _ok(admin.get(f"/api/v1/admin/apartments/{flat['id']}"))["number"] == "1402"
    assert [e.action for e in _events(world.engine)] == ["admin.apartment.create"]
