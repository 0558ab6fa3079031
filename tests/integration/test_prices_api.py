"""Prices over HTTP: a customer administrator sets its own customer's prices, exactly, audited;
nobody else may, another customer's price is not found, and bad input is told what is wrong."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from openamr.access import Role
from openamr.app import create_app
from openamr.settings import Settings
from openamr.store.schema import audit_event
from tests.helpers import NOW, add_customer, customer_id, load_portfolio, sign_in

PRICES = "/api/v1/admin/prices"
PORTFOLIO = [
    "Hem AB,Uppsala Kåbo 1:23,Kåbovägen 12A,1101,electricity,EL-1,kWh,7,2025-01-01T00:00:00+01:00,",
]


@dataclass(frozen=True)
class World:
    app: Any
    engine: Engine
    hem: int
    bo: int

    def client(self, role: Role, customer: int | None = None, **kw: Any) -> TestClient:
        client = TestClient(self.app, base_url="https://testserver")
        return sign_in(client, self.engine, role, customer=customer, **kw)


@pytest.fixture
def world(settings: Settings, engine: Engine) -> World:
    assert load_portfolio(engine, PORTFOLIO).errors == []
    app = create_app(settings, engine=engine, clock=lambda: NOW)
    return World(
        app=app, engine=engine, hem=customer_id(engine, "Hem AB"), bo=add_customer(engine, "Bo AB")
    )


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def test_an_administrator_sets_replaces_lists_and_deletes_prices_exactly_and_audited(
    world: World,
) -> None:
    admin = world.client(Role.CUSTOMER_ADMIN, world.hem)

    made = _ok(
        admin.put(
            PRICES, json={"medium": "electricity", "valid_from": "2026-05-01", "price": "1,25"}
        ),
        201,
    )
    assert made["customer_id"] == world.hem
    assert (made["price"], made["unit"], made["currency"]) == ("1.25", "kWh", "SEK")
    # The same day again replaces it; a JSON number is read as a decimal, never a float.
    again = _ok(
        admin.put(PRICES, json={"medium": "electricity", "valid_from": "2026-05-01", "price": 0.1})
    )
    assert (again["id"], again["price"]) == (made["id"], "0.10")
    _ok(
        admin.put(
            PRICES, json={"medium": "cold_water", "valid_from": "2026-01-01", "price": "24.123456"}
        ),
        201,
    )
    listed = _ok(admin.get(PRICES))
    assert [(p["medium"], p["valid_from"], p["price"], p["unit"]) for p in listed] == [
        ("cold_water", "2026-01-01", "24.123456", "m3"),
        ("electricity", "2026-05-01", "0.10", "kWh"),
    ]
    assert [p["medium"] for p in _ok(admin.get(PRICES, params={"medium": "cold_water"}))] == [
        "cold_water"
    ]

    assert admin.delete(f"{PRICES}/{made['id']}").status_code == 204
    assert [p["medium"] for p in _ok(admin.get(PRICES))] == ["cold_water"]
    assert admin.delete(f"{PRICES}/{made['id']}").status_code == 404

    with world.engine.connect() as conn:
        events = conn.execute(
            sa.select(audit_event.c.action, audit_event.c.customer_id, audit_event.c.role)
            .where(audit_event.c.action.like("admin.price.%"))
            .order_by(audit_event.c.seq)
        ).all()
    assert [tuple(e) for e in events] == [
        ("admin.price.set", world.hem, "customer_admin"),
        ("admin.price.set", world.hem, "customer_admin"),
        ("admin.price.set", world.hem, "customer_admin"),
        ("admin.price.delete", world.hem, "customer_admin"),
    ]


def test_only_the_customers_own_administrators_reach_its_prices(world: World) -> None:
    hem_admin = world.client(Role.CUSTOMER_ADMIN, world.hem)
    bo_admin = world.client(Role.CUSTOMER_ADMIN, world.bo)
    body = {"medium": "heat", "valid_from": "2026-01-01", "price": "0.95"}
    hem_price = _ok(hem_admin.put(PRICES, json=body), 201)

    # Another customer's administrator: not found, neither listed nor changed nor deleted.
    assert _ok(bo_admin.get(PRICES)) == []
    assert bo_admin.delete(f"{PRICES}/{hem_price['id']}").status_code == 404
    other = bo_admin.put(PRICES, json=body | {"customer_id": world.hem, "price": "9"})
    assert other.status_code == 404
    assert other.json()["detail"] == f"no customer {world.hem}"
    assert [p["price"] for p in _ok(hem_admin.get(PRICES))] == ["0.95"]

    for role, customer in (
        (Role.OPERATIONS, world.hem),
        (Role.PLATFORM_ADMIN, None),
        (Role.SUPPORT, None),
    ):
        refused = world.client(role, customer)
        assert refused.get(PRICES).status_code == 403, role
        assert refused.put(PRICES, json=body).status_code == 403, role
        assert refused.delete(f"{PRICES}/{hem_price['id']}").status_code == 403, role
    nobody = TestClient(world.app, base_url="https://testserver")
    assert nobody.put(PRICES, json=body).status_code == 401


UNUSABLE: list[tuple[Any, str]] = [
    (
        {"medium": "electricity", "valid_from": "2026-05-01", "price": "-1"},
        "price '-1' is not a number of kronor such as 1.25 or 1,25",
    ),
    (
        {"medium": "electricity", "valid_from": "2026-05-01", "price": -1},
        "price must not be negative",
    ),
    (
        {"medium": "electricity", "valid_from": "2026-05-01", "price": "0.1234567"},
        "price 0.1234567 has more than 6 decimals",
    ),
    (
        {"medium": "electricity", "valid_from": "2026-05-01", "price": "1e3"},
        "price '1e3' is not a number of kronor such as 1.25 or 1,25",
    ),
    (
        {"medium": "electricity", "valid_from": "2026-05-01", "price": True},
        'price must be a number or a decimal string such as "1.25"',
    ),
    (
        {"medium": "electricity", "valid_from": "2026-05-01", "price": 200000},
        "price 200000 is more than 100000 kronor per unit",
    ),
    (
        {"medium": "electricity", "valid_from": "2026-13-01", "price": "1"},
        "valid_from '2026-13-01' is not a day such as 2026-05-01",
    ),
    (
        {"medium": "electricity", "valid_from": "1999-12-31", "price": "1"},
        "valid_from 1999-12-31 is not between 2000 and 2100",
    ),
    (
        {"medium": "gas", "valid_from": "2026-05-01", "price": "1"},
        "medium 'gas' is not one of",
    ),
    (
        {"medium": "room_climate", "valid_from": "2026-05-01", "price": "1"},
        "room_climate has no consumption to price",
    ),
    ({"medium": "electricity", "valid_from": "2026-05-01"}, "price is missing"),
    (
        {"medium": "electricity", "valid_from": "2026-05-01", "price": "1", "vat": 25},
        "vat is not a field here",
    ),
    (
        {"medium": "electricity", "valid_from": 20260501, "price": "1"},
        "valid_from must be a string",
    ),
    ([], "the body must be a JSON object"),
]


def test_unusable_input_is_refused_with_what_is_wrong(world: World) -> None:
    admin = world.client(Role.CUSTOMER_ADMIN, world.hem)
    wrong = []
    for body, detail in UNUSABLE:
        answer = admin.put(PRICES, json=body)
        if answer.status_code != 422 or not answer.json()["detail"].startswith(detail):
            wrong.append(f"{body}: {answer.status_code} {answer.text}")
    assert wrong == []
    assert _ok(admin.get(PRICES)) == []


def test_a_body_that_is_not_json_is_a_bad_request(world: World) -> None:
    admin = world.client(Role.CUSTOMER_ADMIN, world.hem)
    answer = admin.put(
        PRICES, content=b"medium=electricity", headers={"content-type": "text/plain"}
    )
    assert answer.status_code == 400
    assert "JSON object with medium, valid_from, price" in answer.json()["detail"]
