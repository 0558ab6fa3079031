"""The authorisation matrix: every route × every role × own, another customer's, another tenancy's.

`EXPECTED` is the policy of PRINCIPLES.md written out, one line per route of
the application: which roles may call it and how far their reach goes.

    CUSTOMER  its own customer's objects, whichever tenancy they belong to;
              another customer's are refused
    TENANCY   its own tenancy's objects only (a household's, or the one a
              support or platform staff member's active grant opens)
    EVERY     any customer's objects (platform-wide work: customers, grants,
              disclosures)
    PUBLIC    anyone, signed in or not (signing in, the landing page, docs)

A role not named on a line is refused everywhere on it, and so are the
caller without a session and the command line's and openamr's own roles,
which no web credential can carry. Routes whose path or body names no object
have one cell per role (their own). "Refused" is 401, 403 or 404 (another
customer's object is answered as if it did not exist); anything else below
500 is "allowed", i.e. the policy let the request through.

The test walks `app.routes`: a route missing from the table, a line for a
route that does not exist, or a route whose `Allow` names other roles than
its line fails, so a new route cannot be added without deciding its policy.
The world is built once per database and shared by all cells.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from openamr.access import AccessContext, Role, TenancyScope
from openamr.app import create_app
from openamr.guard import grants
from openamr.guard.policy import Allow
from openamr.guard.sessions import CSRF_HEADER, SESSION_COOKIE
from openamr.present import signin_api
from openamr.settings import MasterKey, Settings
from openamr.store.access_log import list_tenancy_accesses
from openamr.store.identities import tenancy_of
from openamr.store.prices import set_price
from openamr.store.schema import entrance, meter_installation, tenancy
from tests.access_world import World, build_world
from tests.conftest import empty_database
from tests.helpers import NOW, Clock, add_household, add_staff, open_session

CUSTOMER, TENANCY, EVERY = "customer", "tenancy", "every"
PUBLIC = "public"
OWN, OTHER_CUSTOMER, OTHER_TENANCY = "own", "another customer's", "another tenancy's"
KINDS = (OWN, OTHER_CUSTOMER, OTHER_TENANCY)

H, CA, OPS = Role.HOUSEHOLD, Role.CUSTOMER_ADMIN, Role.OPERATIONS
SUP, PS, PA, GW = Role.SUPPORT, Role.PLATFORM_STAFF, Role.PLATFORM_ADMIN, Role.GATEWAY
SIGNED_IN = {H: EVERY, CA: EVERY, OPS: EVERY, SUP: EVERY, PS: EVERY, PA: EVERY}

# Fresh grants for the routes that act on one, made anew for every cell.
PENDING, ACTIVE, PENDING_PLATFORM_STAFF = "pending", "active", "pending (platform staff)"

_numbers = itertools.count(1)
DAYS = {"from": "2026-05-30", "to": "2026-06-03", "resolution": "day"}
IN_2030 = "2030-01-01T00:00:00+01:00"


@dataclass(frozen=True)
class Objects:
    """The objects a cell's request names: the caller's own, or the other kinds."""

    customer_id: int
    property_id: int
    entrance_id: int
    apartment_id: int
    point_id: int
    meter_id: int
    installation_id: int
    tenancy_id: int
    staff_id: int
    grant_id: int = 0  # filled per cell, when the line names a grant
    price_id: int = 0  # filled per cell with a fresh price, when the line deletes one


Body = Callable[[Objects], Any]


@dataclass(frozen=True)
class Line:
    method: str
    path: str
    may: dict[Role, str] | str
    body: Body | None = None
    query: dict[str, str] | None = None
    grant: str | None = None
    body_names_object: bool = False
    price: bool = False  # the cell needs a fresh price of its customer

    @property
    def names_objects(self) -> bool:
        return "{" in self.path or self.body_names_object


def line(
    route: str,
    may: dict[Role, str] | str,
    *,
    body: Body | None = None,
    query: dict[str, str] | None = None,
    grant: str | None = None,
    body_names_object: bool = False,
    price: bool = False,
) -> Line:
    method, path = route.split(" ", 1)
    return Line(method, path, may, body, query, grant, body_names_object, price)


def unique(prefix: str) -> str:
    return f"{prefix} {next(_numbers)}"


EXPECTED: list[Line] = [
    # -- open to anyone: signing in and out, the landing page, the documentation
    line("GET /", PUBLIC),
    line("GET /docs", PUBLIC),
    line("GET /openapi.json", PUBLIC),
    line("POST /api/v1/session", PUBLIC),
    line("POST /api/v1/session/totp", PUBLIC),
    line("DELETE /api/v1/session", PUBLIC),
    line("POST /api/v1/household/redeem", PUBLIC),
    line("POST /api/v1/household/redeem/passkey", PUBLIC),
    line("POST /api/v1/household/session", PUBLIC),
    line("POST /api/v1/household/session/passkey/options", PUBLIC),
    line("POST /api/v1/household/session/passkey", PUBLIC),
    # -- who am I, and a household's own credentials
    line("GET /api/v1/session", SIGNED_IN),
    line("POST /api/v1/household/device-codes", {H: EVERY}),
    line("POST /api/v1/household/passkeys/options", {H: EVERY}),
    line("POST /api/v1/household/passkeys", {H: EVERY}, body=lambda o: {}),
    # -- data in: readings from the customer's staff, telegrams from gateways, meter keys
    line("POST /api/v1/readings", {CA: EVERY, OPS: EVERY}, body=lambda o: {"readings": []}),
    line("POST /api/v1/telegrams", {GW: EVERY}, body=lambda o: {"telegrams": []}),
    line("PUT /api/v1/meters/{meter_id}/key", {CA: CUSTOMER}, body=lambda o: {"key": "00" * 16}),
    line("DELETE /api/v1/meters/{meter_id}/key", {CA: CUSTOMER}),
    # -- the register, meter-centric: the customer's staff
    line("GET /api/v1/properties", {CA: EVERY, OPS: EVERY}),
    line("GET /api/v1/properties/{property_id}/apartments", {CA: CUSTOMER, OPS: CUSTOMER}),
    line("GET /api/v1/properties/{property_id}/metering-points", {CA: CUSTOMER, OPS: CUSTOMER}),
    line(
        "GET /api/v1/properties/{property_id}/values",
        {CA: CUSTOMER, OPS: CUSTOMER},
        query=DAYS | {"medium": "electricity"},
    ),
    line("GET /api/v1/gateways", {CA: EVERY, OPS: EVERY}),
    line("GET /api/v1/devices", {CA: EVERY, OPS: EVERY}),
    # -- a household's presentation: its own tenancy, the customer's staff, staff under a grant
    line(
        "GET /api/v1/apartments/{apartment_id}/metering-points",
        {H: TENANCY, CA: CUSTOMER, OPS: CUSTOMER, SUP: TENANCY, PS: TENANCY},
    ),
    line(
        "GET /api/v1/apartments/{apartment_id}/values",
        {H: TENANCY, CA: CUSTOMER, OPS: CUSTOMER, SUP: TENANCY, PS: TENANCY},
        query=DAYS,
    ),
    line(
        "GET /api/v1/metering-points/{point_id}/values",
        {H: TENANCY, CA: CUSTOMER, OPS: CUSTOMER, SUP: TENANCY, PS: TENANCY},
        query=DAYS,
    ),
    # -- grants: platform staff ask, a platform administrator approves second, households decide
    line(
        "POST /api/v1/grants",
        {SUP: EVERY, PS: EVERY},
        body=lambda o: {"apartment_id": o.apartment_id, "ticket": "T-7", "reason": "matrix"},
        body_names_object=True,
    ),
    line("GET /api/v1/grants", {SUP: EVERY, PS: EVERY, PA: EVERY}),
    line(
        "POST /api/v1/grants/{grant_id}/second-approval",
        {PA: EVERY},
        grant=PENDING_PLATFORM_STAFF,
    ),
    line("GET /api/v1/household/grants", {H: EVERY}),
    line("POST /api/v1/household/grants/{grant_id}/approve", {H: TENANCY}, grant=PENDING),
    line("POST /api/v1/household/grants/{grant_id}/deny", {H: TENANCY}, grant=PENDING),
    line("POST /api/v1/household/grants/{grant_id}/end", {H: TENANCY}, grant=ACTIVE),
    line("GET /api/v1/household/accesses", {H: EVERY}),
    # -- disclosures to authorities: platform administrators
    line(
        "POST /api/v1/disclosures",
        {PA: EVERY},
        body=lambda o: {
            "customer_id": o.customer_id,
            "tenancy_id": o.tenancy_id,
            "period_start": "2026-06-01T00:00:00+02:00",
            "period_end": "2026-07-01T00:00:00+02:00",
            "legal_basis": "court order B 123-26",
            "authority": "Polismyndigheten",
        },
        body_names_object=True,
    ),
    line("GET /api/v1/disclosures", {PA: EVERY}),
    # -- administration: customers are the platform's
    line("GET /api/v1/admin/customers", {PA: EVERY}),
    line("POST /api/v1/admin/customers", {PA: EVERY}, body=lambda o: {"name": unique("Kund")}),
    line(
        "PATCH /api/v1/admin/customers/{customer_id}",
        {PA: EVERY},
        body=lambda o: {"name": unique("Kund")},
    ),
    line("GET /api/v1/admin/customers/{customer_id}/settings", {CA: CUSTOMER, PA: EVERY}),
    line(
        "PUT /api/v1/admin/customers/{customer_id}/settings",
        {CA: CUSTOMER, PA: EVERY},
        body=lambda o: {"operations_hourly": False},
    ),
    # -- administration of the register: the customer's administrators change, its staff read
    line("GET /api/v1/admin/properties", {CA: EVERY, OPS: EVERY}),
    line("POST /api/v1/admin/properties", {CA: EVERY}, body=lambda o: {"designation": unique("P")}),
    line("GET /api/v1/admin/properties/{property_id}", {CA: CUSTOMER, OPS: CUSTOMER}),
    line(
        "PATCH /api/v1/admin/properties/{property_id}",
        {CA: CUSTOMER},
        body=lambda o: {"name": unique("Huset")},
    ),
    line("DELETE /api/v1/admin/properties/{property_id}", {CA: CUSTOMER}),
    line("GET /api/v1/admin/properties/{property_id}/entrances", {CA: CUSTOMER, OPS: CUSTOMER}),
    line(
        "POST /api/v1/admin/properties/{property_id}/entrances",
        {CA: CUSTOMER},
        body=lambda o: {"address": unique("Matrisgatan")},
    ),
    line(
        "PATCH /api/v1/admin/entrances/{entrance_id}",
        {CA: CUSTOMER},
        body=lambda o: {"address": unique("Matrisgatan")},
    ),
    line("DELETE /api/v1/admin/entrances/{entrance_id}", {CA: CUSTOMER}),
    line("GET /api/v1/admin/entrances/{entrance_id}/apartments", {CA: CUSTOMER, OPS: CUSTOMER}),
    line(
        "POST /api/v1/admin/entrances/{entrance_id}/apartments",
        {CA: CUSTOMER},
        body=lambda o: {"number": f"{2000 + next(_numbers)}"},
    ),
    line("GET /api/v1/admin/apartments/{apartment_id}", {CA: CUSTOMER, OPS: CUSTOMER}),
    line(
        "PATCH /api/v1/admin/apartments/{apartment_id}",
        {CA: CUSTOMER},
        body=lambda o: {"number": f"{3000 + next(_numbers)}"},
    ),
    line("DELETE /api/v1/admin/apartments/{apartment_id}", {CA: CUSTOMER}),
    line(
        "GET /api/v1/admin/properties/{property_id}/metering-points",
        {CA: CUSTOMER, OPS: CUSTOMER},
    ),
    line(
        "POST /api/v1/admin/properties/{property_id}/metering-points",
        {CA: CUSTOMER},
        body=lambda o: {"medium": "heat"},
    ),
    line(
        "GET /api/v1/admin/apartments/{apartment_id}/metering-points",
        {CA: CUSTOMER, OPS: CUSTOMER},
    ),
    line(
        "POST /api/v1/admin/apartments/{apartment_id}/metering-points",
        {CA: CUSTOMER},
        body=lambda o: {"medium": "hot_water"},
    ),
    line("DELETE /api/v1/admin/metering-points/{point_id}", {CA: CUSTOMER}),
    line(
        "GET /api/v1/admin/metering-points/{point_id}/installations",
        {CA: CUSTOMER, OPS: CUSTOMER},
    ),
    line("GET /api/v1/admin/meters", {CA: EVERY, OPS: EVERY}),
    line(
        "POST /api/v1/admin/meters",
        {CA: EVERY},
        body=lambda o: {"identity": unique("M"), "medium": "heat", "register_unit": "kWh"},
    ),
    line("GET /api/v1/admin/meters/{meter_id}", {CA: CUSTOMER, OPS: CUSTOMER}),
    line(
        "PATCH /api/v1/admin/meters/{meter_id}",
        {CA: CUSTOMER},
        body=lambda o: {"identity": unique("M")},
    ),
    line("DELETE /api/v1/admin/meters/{meter_id}", {CA: CUSTOMER}),
    line("GET /api/v1/admin/meters/{meter_id}/installations", {CA: CUSTOMER, OPS: CUSTOMER}),
    line(
        "POST /api/v1/admin/meters/{meter_id}/installations",
        {CA: CUSTOMER},
        body=lambda o: {"metering_point_id": o.point_id, "installed_at": IN_2030},
    ),
    line(
        "POST /api/v1/admin/installations/{installation_id}/removal",
        {CA: CUSTOMER},
        body=lambda o: {"removed_at": IN_2030},
    ),
    # -- tenancies and access codes: periods only, the customer's administrators alone
    line("GET /api/v1/admin/apartments/{apartment_id}/tenancies", {CA: CUSTOMER}),
    line(
        "POST /api/v1/admin/apartments/{apartment_id}/tenancies",
        {CA: CUSTOMER},
        body=lambda o: {"start": "2031-01-01"},
    ),
    line(
        "POST /api/v1/admin/tenancies/{tenancy_id}/move-out",
        {CA: CUSTOMER},
        body=lambda o: {"end": "2030-01-01"},
    ),
    line("POST /api/v1/admin/apartments/{apartment_id}/access-codes", {CA: CUSTOMER}),
    line("POST /api/v1/admin/tenancies/{tenancy_id}/access-codes/revoke", {CA: CUSTOMER}),
    # -- the customer's staff accounts
    line("GET /api/v1/admin/staff", {CA: EVERY}),
    line(
        "POST /api/v1/admin/staff",
        {CA: EVERY},
        body=lambda o: {
            "email": f"{unique('m').replace(' ', '')}@example.test",
            "role": "operations",
        },
    ),
    line("POST /api/v1/admin/staff/{staff_id}/disable", {CA: CUSTOMER}),
    # -- prices: the customer's administrators set them; households see costs on their page
    line("GET /api/v1/admin/prices", {CA: EVERY}),
    line(
        "PUT /api/v1/admin/prices",
        {CA: CUSTOMER},
        body=lambda o: {
            "customer_id": o.customer_id,
            "medium": "electricity",
            "valid_from": "2031-01-01",
            "price": "1.25",
        },
        body_names_object=True,
    ),
    line("DELETE /api/v1/admin/prices/{price_id}", {CA: CUSTOMER}, price=True),
    # -- pages: static files, the language, the household's sign-in and its own pages
    line("GET /static/{name:path}", PUBLIC),
    line("POST /language", PUBLIC),
    line("GET /household", PUBLIC),
    line("POST /household/redeem", PUBLIC),
    line("POST /household/sign-in", PUBLIC),
    line("POST /household/sign-out", PUBLIC),
    line("GET /home", {H: EVERY, SUP: TENANCY, PS: TENANCY}),
    line("GET /home/welcome", {H: EVERY}),
    line("GET /home/points/{point_id}", {H: TENANCY, SUP: TENANCY, PS: TENANCY}),
    line("GET /home/download.csv", {H: EVERY}),
    line("GET /home/accesses", {H: EVERY}),
    line("POST /home/grants/{grant_id}/approve", {H: TENANCY}, grant=PENDING),
    line("POST /home/grants/{grant_id}/deny", {H: TENANCY}, grant=PENDING),
    line("POST /home/grants/{grant_id}/end", {H: TENANCY}, grant=ACTIVE),
    # -- the operations console's pages: the customer's staff, meter-centric
    line("GET /console/sign-in", PUBLIC),
    line("POST /console/sign-in", PUBLIC),
    line("POST /console/sign-in/totp", PUBLIC),
    line("POST /console/sign-out", PUBLIC),
    line("GET /console", {CA: EVERY, OPS: EVERY}),
    line("GET /console/properties/{property_id}", {CA: CUSTOMER, OPS: CUSTOMER}),
    line("GET /console/meters/{meter_id}", {CA: CUSTOMER, OPS: CUSTOMER}),
    line("GET /console/unassigned", {CA: EVERY, OPS: EVERY}),
    line("POST /console/unassigned/attach", {CA: EVERY, OPS: EVERY}),
    line("GET /console/telegrams", {CA: EVERY, OPS: EVERY}),
    line("POST /console/telegrams/reprocess", {CA: EVERY, OPS: EVERY}),
    line("GET /console/gateways", {CA: EVERY, OPS: EVERY}),
    line("GET /console/search", {CA: EVERY, OPS: EVERY}, query={"q": "EL"}),
    # -- support's pages: signing in with the TOTP step, its own requests and grants
    line("GET /support/sign-in", PUBLIC),
    line("POST /support/sign-in", PUBLIC),
    line("POST /support/sign-in/totp", PUBLIC),
    line("POST /support/sign-out", PUBLIC),
    line("GET /support", {SUP: EVERY, PS: EVERY}),
    line("POST /support/open", {SUP: EVERY, PS: EVERY}),
    line("POST /support/grants", {SUP: EVERY, PS: EVERY}),
    # -- the customer administrator's prices page
    line("GET /admin/prices", {CA: EVERY}),
    line("POST /admin/prices", {CA: EVERY}),
    line("POST /admin/prices/{price_id}/delete", {CA: CUSTOMER}, price=True),
    # -- the customer administrator's pages: the register, tenancies, access code letters
    line("GET /admin/sign-in", PUBLIC),
    line("POST /admin/sign-in", PUBLIC),
    line("POST /admin/sign-in/totp", PUBLIC),
    line("POST /admin/sign-out", PUBLIC),
    line("GET /admin", {CA: EVERY}),
    line("POST /admin/properties", {CA: EVERY}),
    line("POST /admin/settings", {CA: EVERY}),
    line("GET /admin/properties/{property_id}", {CA: CUSTOMER}),
    line("POST /admin/properties/{property_id}/entrances", {CA: CUSTOMER}),
    line("POST /admin/properties/{property_id}/metering-points", {CA: CUSTOMER}),
    line("POST /admin/entrances/{entrance_id}/apartments", {CA: CUSTOMER}),
    line("GET /admin/apartments/{apartment_id}", {CA: CUSTOMER}),
    line("POST /admin/apartments/{apartment_id}/metering-points", {CA: CUSTOMER}),
    line("POST /admin/metering-points/{point_id}/installations", {CA: CUSTOMER}),
    line("POST /admin/metering-points/{point_id}/delete", {CA: CUSTOMER}),
    line("POST /admin/installations/{installation_id}/removal", {CA: CUSTOMER}),
    line("GET /admin/meters", {CA: EVERY}),
    line("POST /admin/meters", {CA: EVERY}),
    line("POST /admin/apartments/{apartment_id}/tenancies", {CA: CUSTOMER}),
    line("POST /admin/tenancies/{tenancy_id}/move-out", {CA: CUSTOMER}),
    line("POST /admin/tenancies/{tenancy_id}/access-codes/revoke", {CA: CUSTOMER}),
    line("POST /admin/apartments/{apartment_id}/letter", {CA: CUSTOMER}),
    line("POST /admin/properties/{property_id}/letters", {CA: CUSTOMER}),
    line("GET /admin/apartments/{apartment_id}/letter", {CA: CUSTOMER}),
    line("GET /admin/properties/{property_id}/letters", {CA: CUSTOMER}),
    # -- the customer administrator's pages: renaming and deleting in the register
    line("POST /admin/properties/{property_id}/change", {CA: CUSTOMER}),
    line("POST /admin/properties/{property_id}/delete", {CA: CUSTOMER}),
    line("POST /admin/entrances/{entrance_id}/change", {CA: CUSTOMER}),
    line("POST /admin/entrances/{entrance_id}/delete", {CA: CUSTOMER}),
    line("POST /admin/apartments/{apartment_id}/change", {CA: CUSTOMER}),
    line("POST /admin/apartments/{apartment_id}/delete", {CA: CUSTOMER}),
    line("POST /admin/meters/{meter_id}/change", {CA: CUSTOMER}),
    line("POST /admin/meters/{meter_id}/delete", {CA: CUSTOMER}),
    # -- the customer administrator's pages: the customer's staff accounts
    line("GET /admin/staff", {CA: EVERY}),
    line("POST /admin/staff", {CA: EVERY}),
    line("POST /admin/staff/{staff_id}/disable", {CA: CUSTOMER}),
    line("POST /admin/staff/{staff_id}/passphrase", {CA: CUSTOMER}),
    line("GET /admin/staff/{staff_id}/passphrase", {CA: CUSTOMER}),
    line("POST /admin/staff/{staff_id}/totp", {CA: CUSTOMER}),
    line("GET /admin/staff/{staff_id}/totp", {CA: CUSTOMER}),
    # -- the platform administrator's pages: customers and their settings, nothing of theirs
    line("GET /platform/sign-in", PUBLIC),
    line("POST /platform/sign-in", PUBLIC),
    line("POST /platform/sign-in/totp", PUBLIC),
    line("POST /platform/sign-out", PUBLIC),
    line("GET /platform", {PA: EVERY}),
    line("POST /platform/customers", {PA: EVERY}),
    line("GET /platform/customers/{customer_id}", {PA: EVERY}),
    line("POST /platform/customers/{customer_id}", {PA: EVERY}),
    line("POST /platform/customers/{customer_id}/settings", {PA: EVERY}),
]

# Roles the web cannot give: no session or token carries them (the database refuses a
# staff account of these roles), so they are callers without a credential.
NO_WEB_CREDENTIAL = (Role.OPERATOR, Role.SYSTEM)
CALLERS: tuple[Role | None, ...] = (H, CA, OPS, SUP, PS, PA, GW, *NO_WEB_CREDENTIAL, None)


def expected_allowed(entry: Line, caller: Role | None, kind: str) -> bool:
    if entry.may == PUBLIC:
        return True
    assert isinstance(entry.may, dict)
    scope = entry.may.get(caller) if caller is not None else None
    if scope is None:
        return False
    if scope == EVERY or kind == OWN:
        return True
    return scope == CUSTOMER and kind == OTHER_TENANCY


def _route_key(method: str, path: str) -> str:
    return f"{method} {path}"


def _allows(dependant: Any) -> list[Allow]:
    found = [dependant.call] if isinstance(dependant.call, Allow) else []
    for sub in dependant.dependencies:
        found += _allows(sub)
    return found


def _routes(app: FastAPI) -> dict[str, list[Allow] | None]:
    """Every route of the application, with the Allow dependencies it takes."""
    found: dict[str, list[Allow] | None] = {}
    for route in iter_route_contexts(app.routes):
        dependant = getattr(route, "dependant", None)
        for method in sorted((route.methods or set()) - {"HEAD"}):
            assert route.path is not None
            found[_route_key(method, route.path)] = (
                None if dependant is None else _allows(dependant)
            )
    return found


# -- the table against the application ------------------------------------------------------


def test_every_route_has_a_line_and_its_allow_matches_it(settings: Settings) -> None:
    app = create_app(settings)
    routes = _routes(app)
    table = {_route_key(entry.method, entry.path): entry for entry in EXPECTED}
    assert len(table) == len(EXPECTED), "a route has two lines"
    assert sorted(set(routes) - set(table)) == [], "routes without a line: decide their policy"
    assert sorted(set(table) - set(routes)) == [], "lines for routes that do not exist"
    for key, allows in routes.items():
        entry = table[key]
        if entry.may == PUBLIC:
            assert not allows, f"{key} is public in the table but takes {allows}"
            continue
        assert allows is not None
        assert len(allows) == 1, f"{key}: a route names its roles once, with one Allow: {allows}"
        [allow] = allows
        assert isinstance(entry.may, dict)
        may = set(entry.may)
        assert allow.roles | allow.under_grant == may, key
        # Support and other platform staff reach a tenancy's data only under a grant.
        granted = {role for role in (SUP, PS) if entry.may.get(role) == TENANCY}
        assert granted == set(allow.under_grant), key
        # Platform administrators never reach a household's data.
        assert not (PA in may and entry.may.get(H) == TENANCY), key
    sign_in_routes = {_route_key(method, path) for method, path in signin_api.PUBLIC}
    assert sign_in_routes == {
        key for key, entry in table.items() if entry.may == PUBLIC and "/api/" in key
    }


def test_no_staff_account_can_carry_a_role_the_web_does_not_give(matrix: Matrix) -> None:
    for role in NO_WEB_CREDENTIAL:
        with pytest.raises(sa.exc.IntegrityError):
            add_staff(matrix.engine, role)


# -- every cell --------------------------------------------------------------------------------


@dataclass
class Matrix:
    app: FastAPI
    engine: Engine
    world: World
    headers: dict[Role, dict[str, str]]
    objects: dict[str, Objects]
    requesters: dict[Role, AccessContext]
    household_id: int  # the household principal's, of tenancy_a1


def _build(settings: Settings, engine: Engine) -> Matrix:
    world = build_world(engine)
    clock = Clock(NOW)
    keyed = dataclasses.replace(settings, master_keys=(MasterKey("matrix", bytes(range(32))),))
    app = create_app(keyed, engine=engine, clock=clock)
    with engine.connect() as conn:
        entrances = dict(conn.execute(sa.select(entrance.c.customer_id, entrance.c.id)).all())
        installations = dict(
            conn.execute(sa.select(meter_installation.c.meter_id, meter_installation.c.id)).all()
        )
    victims = {
        key: add_staff(engine, OPS, customer=customer)
        for key, customer in (
            (OWN, world.customer_a),
            (OTHER_CUSTOMER, world.customer_b),
            (OTHER_TENANCY, world.customer_a),
        )
    }

    def objects(kind: str) -> Objects:
        customer, place = {
            OWN: (world.customer_a, (world.apartment_a1, world.point_a1, world.meter_a1)),
            OTHER_CUSTOMER: (
                world.customer_b,
                (world.apartment_b1, world.point_b1, world.meter_b1),
            ),
            OTHER_TENANCY: (world.customer_a, (world.apartment_a2, world.point_a2, world.meter_a2)),
        }[kind]
        apartment_id, point_id, meter_id = place
        return Objects(
            customer_id=customer,
            property_id=world.property_a if customer == world.customer_a else world.property_b,
            entrance_id=entrances[customer],
            apartment_id=apartment_id,
            point_id=point_id,
            meter_id=meter_id,
            installation_id=installations[meter_id],
            tenancy_id={
                OWN: world.tenancy_a1,
                OTHER_CUSTOMER: world.tenancy_b1,
                OTHER_TENANCY: world.tenancy_a2,
            }[kind],
            staff_id=victims[kind],
        )

    headers: dict[Role, dict[str, str]] = {}
    for role in (CA, OPS, SUP, PS, PA):
        customer = world.customer_a if role in (CA, OPS) else None
        session = open_session(engine, staff_account_id=add_staff(engine, role, customer=customer))
        headers[role] = {
            "Cookie": f"{SESSION_COOKIE}={session.token}",
            CSRF_HEADER: session.csrf_token,
        }
    household_id = add_household(engine, world.tenancy_a1)
    household = open_session(engine, household_id=household_id)
    headers[H] = {
        "Cookie": f"{SESSION_COOKIE}={household.token}",
        CSRF_HEADER: household.csrf_token,
    }
    headers[GW] = {"Authorization": f"Bearer {world.gateway_token_a}"}
    matrix = Matrix(
        app=app,
        engine=engine,
        world=world,
        headers=headers,
        objects={kind: objects(kind) for kind in KINDS},
        requesters={role: _staff_context(role, add_staff(engine, role)) for role in (SUP, PS)},
        household_id=household_id,
    )
    _open_the_principals_grants(matrix)
    return matrix


def _fresh_price(engine: Engine, customer_id: int) -> int:
    """A new price of the customer, on a day of its own, for a cell to delete."""
    with engine.begin() as conn:
        made, _ = set_price(
            conn,
            access=AccessContext.operator("matrix"),
            customer_id=customer_id,
            medium="electricity",
            valid_from=date(2000, 1, 1) + timedelta(days=next(_numbers)),
            micro_per_unit=1_250_000,
            unit="kWh",
            now=NOW,
        )
    return made.id


def _staff_context(role: Role, staff_id: int) -> AccessContext:
    return AccessContext(actor=f"staff:{staff_id}", role=role, customer_ids=frozenset())


def _household_context(matrix: Matrix, tenancy_id: int) -> AccessContext:
    """The household of the tenancy, as authentication would make its context."""
    with matrix.engine.connect() as conn:
        row = conn.execute(sa.select(tenancy).where(tenancy.c.id == tenancy_id)).one()
    mine = tenancy_id == matrix.world.tenancy_a1
    return AccessContext(
        actor=f"household:{matrix.household_id if mine else 'elsewhere'}",
        role=H,
        customer_ids=frozenset({row.customer_id}),
        tenancy=TenancyScope(row.id, row.apartment_id, row.customer_id, row.start_at, row.end_at),
    )


def _open_the_principals_grants(matrix: Matrix) -> None:
    """Support's and other platform staff's principals each get one active grant: on 1101 now."""
    with TestClient(matrix.app) as client:
        for role in (SUP, PS):
            asked = client.post(
                "/api/v1/grants",
                json={"apartment_id": matrix.world.apartment_a1, "ticket": "T-1", "reason": "x"},
                headers=matrix.headers[role],
            )
            assert asked.status_code == 201, asked.text
            grant_id = asked.json()["id"]
            approved = client.post(
                f"/api/v1/household/grants/{grant_id}/approve", headers=matrix.headers[H]
            )
            assert approved.status_code == 200, approved.text
            if role is PS:
                second = client.post(
                    f"/api/v1/grants/{grant_id}/second-approval", headers=matrix.headers[PA]
                )
                assert second.status_code == 200, second.text


def _fresh_grant(matrix: Matrix, state: str, objects: Objects) -> int:
    """A new grant on the cell's tenancy, by a requester who is none of the principals."""
    role = PS if state == PENDING_PLATFORM_STAFF else SUP
    with matrix.engine.begin() as conn:
        at = tenancy_of(conn, tenancy_id=objects.tenancy_id)
        assert at is not None
        made = grants.request_grant(
            conn,
            matrix.requesters[role],
            apartment_id=at.apartment_id,
            ticket="T-2",
            reason="a fresh grant",
            media=None,
            hours=8,
            now=NOW,
        )
        if state == ACTIVE:
            grants.answer_grant(
                conn,
                _household_context(matrix, objects.tenancy_id),
                grant_id=made.id,
                approve=True,
                now=NOW,
            )
    return made.id


@pytest.fixture(scope="module")
def matrix(settings: Settings, migrated_engine: Engine) -> Iterator[Matrix]:
    """The world, its principals and their sessions: built once per database for the module."""
    yield _build(settings, migrated_engine)
    empty_database(migrated_engine)


def _cells() -> Iterator[tuple[Line, Role | None, str]]:
    for entry in EXPECTED:
        if entry.may == PUBLIC:
            continue
        for caller in CALLERS:
            for kind in KINDS if entry.names_objects else (OWN,):
                yield entry, caller, kind


def test_every_cell_is_allowed_or_refused_as_the_principles_say(matrix: Matrix) -> None:
    wrong: list[str] = []
    with TestClient(matrix.app) as client:
        for entry, caller, kind in _cells():
            objects = matrix.objects[kind]
            if entry.grant is not None:
                objects = dataclasses.replace(
                    objects, grant_id=_fresh_grant(matrix, entry.grant, objects)
                )
            if entry.price:
                objects = dataclasses.replace(
                    objects, price_id=_fresh_price(matrix.engine, objects.customer_id)
                )
            path = entry.path.format(**dataclasses.asdict(objects))
            headers = matrix.headers.get(caller, {}) if caller is not None else {}
            answer = client.request(
                entry.method,
                path,
                headers=headers,
                params=entry.query,
                json=entry.body(objects) if entry.body is not None else None,
                # A page's form answers 303 (post, then redirect): that is the route's answer.
                # Followed, the client would drop the Cookie header and meet a 401.
                follow_redirects=False,
            )
            who = caller.value if caller is not None else "nobody"
            cell = f"{entry.method} {entry.path} as {who} on {kind} object: {answer.status_code}"
            assert answer.status_code < 500, f"{cell} {answer.text[:200]}"
            allowed = answer.status_code not in (401, 403, 404)
            if allowed != expected_allowed(entry, caller, kind):
                wrong.append(f"{cell}, expected {'allowed' if not allowed else 'refused'}")
            if (caller is None or caller in NO_WEB_CREDENTIAL) and answer.status_code != 401:
                wrong.append(f"{cell}, expected 401 without a credential")
    assert wrong == [], "\n".join(wrong)


def test_public_routes_answer_anyone_without_failing(matrix: Matrix) -> None:
    with TestClient(matrix.app) as client:
        for entry in EXPECTED:
            if entry.may != PUBLIC:
                continue
            answer = client.request(
                entry.method, entry.path, json={} if entry.method == "POST" else None
            )
            assert answer.status_code < 500, (entry.method, entry.path, answer.text[:200])


# -- what the cells cannot show: periods, resolutions, the audit log ----------------------------


def test_a_household_and_granted_staff_see_nothing_from_before_the_move_in(
    matrix: Matrix,
) -> None:
    world = matrix.world
    with TestClient(matrix.app) as client:
        for role in (H, SUP, PS):
            answer = client.get(
                f"/api/v1/metering-points/{world.point_a1}/values",
                params={"from": "2026-05-30", "to": "2026-06-03", "resolution": "hour"},
                headers=matrix.headers[role],
            )
            assert answer.status_code == 200, (role, answer.text)
            hours = answer.json()["series"][0]["values"]
            before = [h for h in hours if h["start"] < "2026-06-01T00:00:00+02:00"]
            after = [h for h in hours if h["start"] >= "2026-06-01T00:00:00+02:00"]
            assert before
            assert {h["value"] for h in before} == {None}, role
            assert None not in {h["value"] for h in after[:-1]}, role
        # Operations staff see the meter's whole history, by day (a move is not their concern).
        days = client.get(
            f"/api/v1/metering-points/{world.point_a1}/values",
            params=DAYS,
            headers=matrix.headers[OPS],
        ).json()["series"][0]["values"]
        assert [d["value"] for d in days[:2]] == [24_000, 24_000]


def test_every_read_of_a_households_data_by_others_is_in_its_access_log(matrix: Matrix) -> None:
    world = matrix.world
    with TestClient(matrix.app) as client:
        for role in (SUP, OPS, H):
            answer = client.get(
                f"/api/v1/apartments/{world.apartment_a1}/values",
                params={"from": "2026-06-01", "to": "2026-06-02", "resolution": "day"},
                headers=matrix.headers[role],
            )
            assert answer.status_code == 200
        log = client.get("/api/v1/household/accesses", headers=matrix.headers[H])
        assert log.status_code == 200
        entries = log.json()
    reads = [e for e in entries if e["action"] == "values.read.day"]
    assert {e["role"] for e in reads} >= {"support", "operations"}
    assert "household" not in {e["role"] for e in entries}  # never the household itself
    assert {e["grant_id"] for e in reads if e["role"] == "support"} != {None}
    text = str(entries)
    assert "staff:" not in text  # roles, never who
    assert "household:" not in text
    assert {e["action"] for e in entries} >= {"grant.request", "grant.second_approval"}
    # A read over the days of the move touched two households: each page shows it, and only
    # the staff acting under this household's grant never touched the one before.
    with matrix.engine.connect() as conn:
        before = list_tenancy_accesses(
            conn,
            customer_id=world.customer_a,
            tenancy_id=world.tenancy_a1_before,
            except_actor="nobody",
            limit=1000,
        )
    assert "operations" in {e.role for e in before if e.action.startswith("values.read")}
    assert {e.role for e in before} & {"support", "platform_staff"} == set()


def test_customer_staff_get_hourly_values_only_where_the_customer_allows_it(
    matrix: Matrix,
) -> None:
    """Last in the module: it turns hourly values on for the customer's staff."""
    world = matrix.world
    hourly = {"from": "2026-06-01", "to": "2026-06-02", "resolution": "hour"}
    with TestClient(matrix.app) as client:
        for role in (CA, OPS):
            refused = client.get(
                f"/api/v1/apartments/{world.apartment_a1}/values",
                params=hourly,
                headers=matrix.headers[role],
            )
            assert refused.status_code == 403
            assert "resolution=day" in refused.json()["detail"]
        # The building's own heat meter is not a household's: hourly is fine.
        building = client.get(
            f"/api/v1/metering-points/{world.point_heat_a}/values",
            params=hourly,
            headers=matrix.headers[OPS],
        )
        assert building.status_code == 200
        enabled = client.put(
            f"/api/v1/admin/customers/{world.customer_a}/settings",
            json={"operations_hourly": True},
            headers=matrix.headers[CA],
        )
        assert enabled.status_code == 200, enabled.text
        # The choice counts from the next request on: sessions read it, they do not keep it.
        allowed = client.get(
            f"/api/v1/apartments/{world.apartment_a1}/values",
            params=hourly,
            headers=matrix.headers[OPS],
        )
        assert allowed.status_code == 200
