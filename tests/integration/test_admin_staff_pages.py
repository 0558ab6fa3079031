"""The administration's staff pages over HTTP: accounts of the administrator's own customer only,
secrets shown once that work for signing in, disabling that ends sessions, and the register's
rename and delete forms with their refusals."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from openamr.access import Role
from openamr.app import create_app
from openamr.collect import admin
from openamr.guard import totp
from openamr.guard.sessions import CSRF_FIELD, CSRF_HEADER
from openamr.settings import MasterKey, Settings
from openamr.store.schema import audit_event, staff_account
from tests.helpers import OPERATOR, Clock, add_customer, add_staff, open_session, use_session

NOW = datetime(2026, 6, 3, 12, tzinfo=UTC)
PASSPHRASE = re.compile(r'<p class="letter-code" id="passphrase">([^<]+)</p>')
TOTP_URI = re.compile(r'<p class="letter-address" id="totp-uri">([^<]+)</p>')


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def client(settings: Settings, engine: Engine, clock: Clock) -> Iterator[TestClient]:
    keyed = dataclasses.replace(settings, master_keys=(MasterKey("pages", bytes(range(32))),))
    with TestClient(create_app(keyed, engine=engine, clock=clock)) as test_client:
        yield test_client


def _admin(client: TestClient, engine: Engine, customer: int) -> int:
    """Sign `client` in as a new administrator of `customer`; the account's id."""
    account = add_staff(engine, Role.CUSTOMER_ADMIN, customer=customer, now=NOW)
    use_session(client, open_session(engine, staff_account_id=account, now=NOW))
    return account


def _post(client: TestClient, path: str, **fields: str) -> Any:
    return client.post(path, data=fields, follow_redirects=False)


def _console_sign_in(client: TestClient, email: str, passphrase: str) -> Any:
    """A new browser's sign-in on /console, as the holder of the account would do it."""
    browser = TestClient(client.app, base_url="https://testserver")
    answer = browser.post(
        "/console/sign-in",
        data={"email": email, "passphrase": passphrase},
        follow_redirects=False,
    )
    return browser, answer


def _staff_rows(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(staff_account.c.email, staff_account.c.role)).all()
    return sorted((email, role) for email, role in rows)


def _events(engine: Engine) -> str:
    with engine.connect() as conn:
        return str(conn.execute(sa.select(audit_event)).all())


def test_an_operations_account_is_added_its_passphrase_shown_once_and_it_signs_in(
    client: TestClient, engine: Engine
) -> None:
    me = _admin(client, engine, add_customer(engine, "Hem AB"))
    page = client.get("/admin/staff")
    assert page.status_code == 200
    assert "(du)" in page.text
    assert f'action="/admin/staff/{me}/disable"' not in page.text  # not oneself

    # A form carries the session's token as a field; without it, nothing is made.
    token = re.search(rf'name="{CSRF_FIELD}" value="([^"]+)"', page.text)
    assert token is not None
    header = client.headers.pop(CSRF_HEADER)
    forged = _post(client, "/admin/staff", email="drift@hem.example.se", role="operations")
    assert forged.status_code == 403
    assert ("drift@hem.example.se", "operations") not in _staff_rows(engine)
    made = _post(
        client,
        "/admin/staff",
        email="Drift@Hem.example.se",
        role="operations",
        **{CSRF_FIELD: token[1]},
    )
    client.headers[CSRF_HEADER] = header
    assert made.status_code == 200, made.text[:300]
    assert made.headers["cache-control"] == "no-store"
    passphrase = PASSPHRASE.search(made.text)
    assert passphrase is not None
    assert "drift@hem.example.se" in made.text
    assert TOTP_URI.search(made.text) is None  # none asked for
    assert passphrase[1] not in str(made.url)
    assert "staff.create" in _events(engine)
    assert passphrase[1] not in _events(engine)

    # Listed, and the passphrase is not shown again; it opens the console.
    listed = client.get("/admin/staff").text
    assert "drift@hem.example.se" in listed
    assert "Hyresvärdens drifttekniker" in listed
    assert passphrase[1] not in listed
    browser, signed = _console_sign_in(client, "drift@hem.example.se", passphrase[1])
    assert signed.status_code == 303, signed.text[:300]
    assert signed.headers["location"] == "/console"
    assert browser.get("/console").status_code == 200
    assert browser.get("/admin/staff").status_code == 403  # operations staff do not administer


def test_only_the_customers_own_roles_and_accounts_are_reached(
    client: TestClient, engine: Engine
) -> None:
    me = _admin(client, engine, add_customer(engine, "Hem AB"))
    other = add_staff(engine, Role.OPERATIONS, customer=add_customer(engine, "Annat AB"))
    platform = add_staff(engine, Role.SUPPORT)
    before = _staff_rows(engine)

    for role in ("platform_admin", "support", "platform_staff", "operator"):
        refused = _post(client, "/admin/staff", email=f"{role}@hem.example.se", role=role)
        assert refused.status_code == 422, role
        assert "is not a role of a customer" in refused.text
    unusable = _post(client, "/admin/staff", email="not-an-address", role="operations")
    assert unusable.status_code == 422
    assert "name@example.se" in unusable.text
    assert _staff_rows(engine) == before

    listed = client.get("/admin/staff").text
    for stranger in (other, platform):
        assert f"/admin/staff/{stranger}/" not in listed
        for action in ("disable", "passphrase", "totp"):
            assert _post(client, f"/admin/staff/{stranger}/{action}").status_code == 404
        assert client.get(f"/admin/staff/{stranger}/passphrase").status_code == 404
    with engine.connect() as conn:
        disabled = conn.execute(
            sa.select(staff_account.c.id).where(staff_account.c.disabled_at.is_not(None))
        ).all()
    assert disabled == []

    # Not oneself: the page says why, and the administrator is still signed in.
    itself = _post(client, f"/admin/staff/{me}/disable")
    assert itself.status_code == 409
    assert "you cannot disable your own account" in itself.text
    assert client.get("/admin/staff").status_code == 200


def test_a_new_passphrase_and_totp_end_the_sessions_and_a_disabled_account_signs_in_no_more(
    client: TestClient, engine: Engine, clock: Clock
) -> None:
    customer = add_customer(engine, "Hem AB")
    _admin(client, engine, customer)
    made = _post(client, "/admin/staff", email="tekniker@hem.example.se", role="operations")
    listed = client.get("/admin/staff").text
    [account] = map(int, re.findall(r'action="/admin/staff/(\d+)/disable"', listed))
    first = PASSPHRASE.search(made.text)
    assert first is not None
    holder, _ = _console_sign_in(client, "tekniker@hem.example.se", first[1])
    assert holder.get("/console").status_code == 200

    # A new passphrase: shown once, the old one and the holder's session end.
    renewed = _post(client, f"/admin/staff/{account}/passphrase")
    assert renewed.status_code == 200
    assert renewed.headers["cache-control"] == "no-store"
    second = PASSPHRASE.search(renewed.text)
    assert second is not None
    assert second[1] != first[1]
    assert holder.get("/console").status_code == 401
    assert _console_sign_in(client, "tekniker@hem.example.se", first[1])[1].status_code == 401
    again = client.get(f"/admin/staff/{account}/passphrase", follow_redirects=False)
    assert again.headers["location"] == "/admin/staff"

    # A TOTP secret: its link and QR code shown once; signing in now asks for the code.
    enrolled = _post(client, f"/admin/staff/{account}/totp")
    assert enrolled.status_code == 200
    assert enrolled.headers["cache-control"] == "no-store"
    uri = TOTP_URI.search(enrolled.text)
    assert uri is not None
    assert uri[1].startswith("otpauth://totp/")
    assert 'class="qr"' in enrolled.text
    assert "<svg" in enrolled.text
    assert PASSPHRASE.search(enrolled.text) is None
    assert "Ny engångskod" in client.get("/admin/staff").text  # it has one now
    holder, step = _console_sign_in(client, "tekniker@hem.example.se", second[1])
    assert step.status_code == 200
    csrf = re.search(rf'name="{CSRF_FIELD}" value="([^"]+)"', step.text)
    assert csrf is not None
    secret = parse_qs(urlsplit(uri[1].replace("&amp;", "&")).query)["secret"][0]
    code = totp.code_at_step(secret, totp.step_at(clock.now))
    done = holder.post(
        "/console/sign-in/totp", data={"code": code, CSRF_FIELD: csrf[1]}, follow_redirects=False
    )
    assert done.status_code == 303, done.text[:300]
    assert holder.get("/console").status_code == 200
    events = _events(engine)
    assert "staff.passphrase_set" in events
    assert "staff.totp_set" in events
    assert secret not in events

    # Disabled: the holder's session ends, signing in is refused, nothing new is given.
    disabled = _post(client, f"/admin/staff/{account}/disable")
    assert disabled.headers["location"] == "/admin/staff?done=disabled"
    page = client.get(disabled.headers["location"]).text
    assert "Kontot är inaktiverat" in page
    assert "Inaktiverat 2026-06-03" in page
    assert f'action="/admin/staff/{account}/passphrase"' not in page
    assert holder.get("/console").status_code == 401
    assert _console_sign_in(client, "tekniker@hem.example.se", second[1])[1].status_code == 401
    assert _post(client, f"/admin/staff/{account}/passphrase").status_code == 409
    assert "staff.disable" in _events(engine)


def test_the_register_is_renamed_and_deleted_with_forms_and_refusals_give_their_reason(
    client: TestClient, engine: Engine
) -> None:
    customer = add_customer(engine, "Hem AB")
    stranger = add_customer(engine, "Annat AB")
    with engine.begin() as conn:
        places = {}
        for owner, designation in ((customer, "Uppsala Kåbo 1:23"), (stranger, "Lund 1:1")):
            prop = admin.create_property(
                conn,
                OPERATOR,
                customer_id=owner,
                designation=designation,
                name=None,
                zone="Europe/Stockholm",
                now=NOW,
            )
            door = admin.create_entrance(
                conn, OPERATOR, property_id=prop.id, address="Gatan 1", now=NOW
            )
            flat = admin.create_apartment(
                conn, OPERATOR, entrance_id=door.id, number="1102", now=NOW
            )
            meter = admin.create_meter(
                conn,
                OPERATOR,
                customer_id=owner,
                identity=f"EL-{owner}",
                medium_name="electricity",
                unit="kWh",
                digits=None,
                manufacturer_code=None,
                now=NOW,
            )
            places[owner] = (prop.id, door.id, flat.id, meter.id)
    _admin(client, engine, customer)
    prop, door, flat, meter = places[customer]

    # Renamed, renumbered, corrected.
    assert _post(
        client, f"/admin/properties/{prop}/change", designation="Uppsala Kåbo 1:24", name="Kåbo"
    ).is_redirect
    assert _post(client, f"/admin/entrances/{door}/change", address="Kåbovägen 12A").is_redirect
    assert _post(client, f"/admin/apartments/{flat}/change", number="1103").is_redirect
    assert _post(
        client, f"/admin/meters/{meter}/change", identity="EL-9", manufacturer="KAM"
    ).is_redirect
    page = client.get(f"/admin/properties/{prop}").text
    assert "Uppsala Kåbo 1:24" in page
    assert "Kåbovägen 12A" in page
    assert ">1103</a>" in page
    assert "EL-9" in client.get("/admin/meters").text
    wrong = _post(client, f"/admin/apartments/{flat}/change", number="12")
    assert wrong.status_code == 422
    assert "four-digit lägenhetsnummer" in wrong.text

    # Refused while in use, with the reason; then deleted from the inside out.
    for path in (f"/admin/properties/{prop}/delete", f"/admin/entrances/{door}/delete"):
        refused = _post(client, path)
        assert refused.status_code == 409, path
        assert "Ändringen gjordes inte" in refused.text
        assert "delete or move those first" in refused.text
    assert _post(client, f"/admin/apartments/{flat}/delete").headers["location"] == (
        f"/admin/properties/{prop}"
    )
    assert _post(client, f"/admin/entrances/{door}/delete").is_redirect
    assert _post(client, f"/admin/properties/{prop}/delete").headers["location"] == "/admin"
    assert "Inga fastigheter ännu." in client.get("/admin").text
    assert _post(client, f"/admin/meters/{meter}/delete").is_redirect
    assert "EL-9" not in client.get("/admin/meters").text

    # Another customer's objects are not found, whatever the form says.
    theirs = places[stranger]
    for path in (
        f"/admin/properties/{theirs[0]}/change",
        f"/admin/properties/{theirs[0]}/delete",
        f"/admin/entrances/{theirs[1]}/change",
        f"/admin/entrances/{theirs[1]}/delete",
        f"/admin/apartments/{theirs[2]}/change",
        f"/admin/apartments/{theirs[2]}/delete",
        f"/admin/meters/{theirs[3]}/change",
        f"/admin/meters/{theirs[3]}/delete",
    ):
        answer = _post(client, path, designation="X 1:1", address="X", number="1001")
        assert answer.status_code == 404, path
    events = _events(engine)
    for action in ("property.update", "entrance.rename", "apartment.renumber", "meter.delete"):
        assert f"admin.{action}" in events
