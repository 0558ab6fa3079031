"""The administration pages over HTTP: a register built with forms, letters whose codes work,
the move-out that ends them, refusals as pages, and the platform's customers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from openamr.access import Role
from openamr.app import create_app
from openamr.collect import admin
from openamr.guard.sessions import CSRF_FIELD, CSRF_HEADER, SESSION_COOKIE
from openamr.settings import Settings
from openamr.store.schema import audit_event
from tests.helpers import OPERATOR, Clock, add_customer, sign_in

NOW = datetime(2026, 6, 3, 12, tzinfo=UTC)  # 14:00 in Stockholm
CODE = re.compile(r'<p class="letter-code">([0-9A-Z]{4}(?:-[0-9A-Z]{4}){5})</p>')
PASSPHRASE = "midsommar vid sjön i år"


@pytest.fixture
def app_clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def client(settings: Settings, engine: Engine, app_clock: Clock) -> Iterator[TestClient]:
    with TestClient(create_app(settings, engine=engine, clock=app_clock)) as test_client:
        yield test_client


def _made(answer: Any, pattern: str) -> int:
    """The id in the address a change redirected to."""
    assert answer.status_code == 303, answer.text[:300]
    found = re.fullmatch(pattern, answer.headers["location"])
    assert found is not None, answer.headers["location"]
    return int(found.group(1))


def _post(client: TestClient, path: str, **fields: str) -> Any:
    return client.post(path, data=fields, follow_redirects=False)


def test_an_administrator_builds_an_apartment_moves_a_household_in_and_its_letter_works(
    client: TestClient, settings: Settings, engine: Engine
) -> None:
    customer = add_customer(engine, "Hem AB")
    sign_in(client, engine, Role.CUSTOMER_ADMIN, customer=customer)
    assert "Inga fastigheter ännu." in client.get("/admin").text

    # A form carries the session's token as a field; without it, nothing is changed.
    token = re.search(rf'name="{CSRF_FIELD}" value="([^"]+)"', client.get("/admin").text)
    assert token is not None
    header = client.headers.pop(CSRF_HEADER)
    assert _post(client, "/admin/properties", designation="Uppsala Kåbo 1:23").status_code == 403
    made = _post(
        client, "/admin/properties", designation="Uppsala Kåbo 1:23", **{CSRF_FIELD: token[1]}
    )
    property_id = _made(made, r"/admin/properties/(\d+)")
    client.headers[CSRF_HEADER] = header

    assert _post(client, "/admin/settings", operations_hourly="on").is_redirect
    assert 'name="operations_hourly" value="on" checked>' in client.get("/admin").text
    twice = _post(client, "/admin/properties", designation="Uppsala Kåbo 1:23")
    assert twice.status_code == 409
    assert "Ändringen gjordes inte" in twice.text
    assert _post(
        client, f"/admin/properties/{property_id}/entrances", address="Kåbovägen 12A"
    ).is_redirect
    page = client.get(f"/admin/properties/{property_id}").text
    entrance = re.search(r'action="/admin/entrances/(\d+)/apartments"', page)
    assert entrance is not None
    assert "Kåbovägen 12A" in page
    wrong = _post(client, f"/admin/entrances/{entrance[1]}/apartments", number="12")
    assert wrong.status_code == 422
    assert "four-digit lägenhetsnummer" in wrong.text
    apartment_id = _made(
        _post(client, f"/admin/entrances/{entrance[1]}/apartments", number="1102"),
        r"/admin/apartments/(\d+)",
    )

    # A metering point, a meter, the meter installed on the point.
    flat = f"/admin/apartments/{apartment_id}"
    assert _post(client, f"{flat}/metering-points", medium="electricity").is_redirect
    assert _post(
        client, "/admin/meters", identity="EL-1102", medium="electricity", register_unit="kWh"
    ).is_redirect
    page = client.get(flat).text
    point = re.search(r'action="/admin/metering-points/(\d+)/installations"', page)
    meter = re.search(r'<option value="(\d+)">EL-1102</option>', page)
    assert point is not None
    assert meter is not None
    installed = _post(
        client,
        f"/admin/metering-points/{point[1]}/installations",
        meter_id=meter[1],
        installed_at="2026-06-01",
    )
    assert installed.is_redirect
    assert "sedan 2026-06-01" in client.get(flat).text

    # A point made by mistake can be deleted; one that has had a meter cannot.
    assert _post(client, f"{flat}/metering-points", medium="cold_water").is_redirect
    offered = re.findall(r'action="/admin/metering-points/(\d+)/delete"', client.get(flat).text)
    assert len(offered) == 1  # not for the point with a meter on it
    extra = offered[0]
    assert extra != point[1]
    assert _post(client, f"/admin/metering-points/{extra}/delete").headers["location"] == flat
    assert f"/admin/metering-points/{extra}/delete" not in client.get(flat).text
    kept = _post(client, f"/admin/metering-points/{point[1]}/delete")  # posted all the same
    assert kept.status_code == 409, kept.status_code
    assert "Ändringen gjordes inte" in kept.text
    assert "sedan 2026-06-01" in client.get(flat).text

    # The move-in offers the letter; the letter shows the code once, kept by no cache.
    moved = _post(client, f"{flat}/tenancies", start="2026-06-01")
    assert moved.headers["location"] == f"{flat}?done=moved_in"
    page = client.get(moved.headers["location"]).text
    assert "Inflyttningen är registrerad" in page
    assert "Bor här sedan 2026-06-01" in page
    letter = _post(client, f"{flat}/letter")
    assert letter.status_code == 200
    assert letter.headers["cache-control"] == "no-store"
    code = CODE.search(letter.text)
    assert code is not None
    assert '<svg viewBox="0 0 ' in letter.text
    assert 'class="qr"' in letter.text
    assert "Uppsala Kåbo 1:23" in letter.text
    assert "1102" in letter.text
    assert f"{settings.public_url}/household" in letter.text
    assert code[1] not in str(letter.url)
    with engine.connect() as conn:
        events = conn.execute(sa.select(audit_event)).all()
    assert "access_code.issue_letter" in str(events)
    assert code[1] not in str(events)
    assert code[1].replace("-", "") not in str(events)
    again = client.get(f"{flat}/letter", follow_redirects=False)  # a reload, a bookmark
    assert again.headers["location"] == flat
    assert code[1] not in client.get(flat).text

    # The household redeems the code on the sign-in page; the administration is not its.
    household = TestClient(client.app)
    redeemed = household.post(
        "/household/redeem",
        data={"code": code[1], "passphrase": PASSPHRASE, "passphrase_again": PASSPHRASE},
        follow_redirects=False,
    )
    assert redeemed.headers["location"] == "/home/welcome", redeemed.text[:300]
    household.headers["Cookie"] = f"{SESSION_COOKIE}={redeemed.cookies[SESSION_COOKIE]}"
    assert household.get("/home").status_code == 200
    assert household.get("/admin").status_code == 403

    # The move-out (today) ends the household's session at once.
    tenancy = re.search(r'action="/admin/tenancies/(\d+)/move-out"', client.get(flat).text)
    assert tenancy is not None
    gone = _post(client, f"/admin/tenancies/{tenancy[1]}/move-out", end="2026-06-03")
    assert gone.headers["location"] == f"{flat}?done=moved_out"
    assert "flyttar ut 2026-06-03" in client.get(flat).text
    assert household.get("/home").status_code == 401


def test_letters_for_a_property_one_page_each_and_the_earlier_codes_stop_working(
    client: TestClient, engine: Engine
) -> None:
    customer = add_customer(engine, "Hem AB")
    flats = []
    with engine.begin() as conn:
        prop = admin.create_property(
            conn,
            OPERATOR,
            customer_id=customer,
            designation="Solna Råsunda 4:2",
            name=None,
            zone="Europe/Stockholm",
            now=NOW,
        )
        door = admin.create_entrance(
            conn, OPERATOR, property_id=prop.id, address="Råsundavägen 1", now=NOW
        )
        for number in ("1001", "1002", "1101"):
            flats.append(
                admin.create_apartment(
                    conn, OPERATOR, entrance_id=door.id, number=number, now=NOW
                ).id
            )
        for flat in flats[:2]:  # 1101 has nobody
            admin.move_in(conn, OPERATOR, apartment_id=flat, start="2026-05-01", now=NOW)
    sign_in(client, engine, Role.CUSTOMER_ADMIN, customer=customer)
    page = client.get(f"/admin/properties/{prop.id}").text
    assert page.count('name="apartment"') == 2  # only apartments with a household
    every = _post(client, f"/admin/properties/{prop.id}/letters")
    assert every.status_code == 200
    assert every.text.count('<article class="letter"') == 2
    first_codes = CODE.findall(every.text)
    assert len(set(first_codes)) == 2
    # Chosen ones only (ids not of this property's apartments choose nothing).
    chosen = [str(flats[0]), *(str(900_000 + n) for n in range(20))]
    one = client.post(f"/admin/properties/{prop.id}/letters", data={"apartment": chosen})
    assert one.text.count('<article class="letter"') == 1
    assert "1001" in one.text
    assert "1002" not in one.text
    nobody = client.post(f"/admin/properties/{prop.id}/letters", data={"apartment": str(flats[2])})
    assert nobody.status_code == 409
    household = TestClient(client.app)
    stale = household.post(
        "/household/redeem",
        data={"code": first_codes[0], "passphrase": PASSPHRASE, "passphrase_again": PASSPHRASE},
        follow_redirects=False,
    )
    assert stale.status_code == 410  # 1001's first letter was replaced by the second


def test_others_are_refused_and_another_customers_objects_do_not_exist(
    client: TestClient, engine: Engine
) -> None:
    mine, theirs = add_customer(engine, "Hem AB"), add_customer(engine, "Annat AB")
    with engine.begin() as conn:
        prop = admin.create_property(
            conn,
            OPERATOR,
            customer_id=theirs,
            designation="Solna Råsunda 4:2",
            name=None,
            zone="Europe/Stockholm",
            now=NOW,
        )
        door = admin.create_entrance(
            conn, OPERATOR, property_id=prop.id, address="Gatan 1", now=NOW
        )
        flat = admin.create_apartment(conn, OPERATOR, entrance_id=door.id, number="1001", now=NOW)
        admin.move_in(conn, OPERATOR, apartment_id=flat.id, start="2026-05-01", now=NOW)

    unsigned = client.get("/admin/apartments/1")
    assert unsigned.status_code == 401
    assert 'action="/admin/sign-in"' in unsigned.text
    assert 'value="/admin/apartments/1"' in unsigned.text
    assert 'action="/platform/sign-in"' in client.get("/platform").text

    sign_in(client, engine, Role.OPERATIONS, customer=mine)
    assert client.get("/admin").status_code == 403
    assert _post(client, f"/admin/apartments/{flat.id}/letter").status_code == 403

    sign_in(client, engine, Role.CUSTOMER_ADMIN, customer=mine)
    assert client.get("/admin").status_code == 200
    assert "Solna Råsunda 4:2" not in client.get("/admin").text
    assert client.get(f"/admin/properties/{prop.id}").status_code == 404
    assert client.get(f"/admin/apartments/{flat.id}").status_code == 404
    refused = _post(client, f"/admin/apartments/{flat.id}/letter")
    assert refused.status_code == 404
    assert "letter-code" not in refused.text
    assert _post(client, f"/admin/entrances/{door.id}/apartments", number="1002").status_code == 404
    assert client.get("/platform").status_code == 403


def test_a_platform_administrator_adds_a_customer_and_changes_its_settings(
    client: TestClient, engine: Engine
) -> None:
    add_customer(engine, "Hem AB")
    sign_in(client, engine, Role.PLATFORM_ADMIN)
    assert "Hem AB" in client.get("/platform").text
    customer_id = _made(
        _post(client, "/platform/customers", name="Uppsalahem AB"),
        r"/platform/customers/(\d+)",
    )
    assert _post(client, "/platform/customers", name="Uppsalahem AB").status_code == 409
    page = client.get(f"/platform/customers/{customer_id}").text
    assert 'name="operations_hourly" value="on">' in page  # not checked
    assert _post(
        client, f"/platform/customers/{customer_id}/settings", operations_hourly="on"
    ).is_redirect
    assert 'value="on" checked>' in client.get(f"/platform/customers/{customer_id}").text
    assert _post(client, f"/platform/customers/{customer_id}", name="Uppsalahem").is_redirect
    renamed = f'<td><a href="/platform/customers/{customer_id}">Uppsalahem</a></td>'
    assert renamed in client.get("/platform").text
    assert client.get("/admin").status_code == 403  # no customer's register
