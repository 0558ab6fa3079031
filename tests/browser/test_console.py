"""The operations console in Chromium: signing in, a leak alarm, attaching a meter heard, and no
way into a household's page.

The world is `tests.access_world` (Hem AB's property Uppsala Kåbo 1:23, apartments
1101 and 1102, gateway gw-a), with two Kamstrup MULTICAL 21 water meters heard
through gw-a: 11223344, in the register on 1102's new cold-water point, whose
latest telegram raises LEAK; and 55667788, heard but not in the register.
"""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta

import pyotp
from playwright.sync_api import Page, expect
from sqlalchemy.engine import Engine

from openamr.access import Role
from openamr.demo.telegrams import volume_litres, wmbus
from openamr.guard.keyring import Keyring
from openamr.guard.staff import create_staff_account
from openamr.store.meters import create_meter, create_metering_point, install_meter
from openamr.store.telegrams import IncomingTelegram, find_gateway
from tests.access_world import World, build_world
from tests.browser.conftest import Served, screenshot
from tests.helpers import OPERATOR

NOW = datetime(2026, 6, 3, 12, tzinfo=UTC)
LEAKING, HEARD = "11223344", "55667788"


def multical_21(device_id: str, litres: int, *, info: int) -> bytes:
    """A MULTICAL 21 telegram: its info register (FF 20; bit 2 is LEAK) and its volume."""
    return wmbus(
        b"\x02\xff\x20" + struct.pack("<H", info) + volume_litres(litres), device_id=device_id
    )


def _set_up(engine: Engine, served: Served) -> tuple[World, int]:
    """The world, the two meters heard; the id of the building's free cold-water point."""
    world = build_world(engine)
    served.clock.now = NOW
    with engine.begin() as conn:
        flat = create_metering_point(
            conn, access=OPERATOR, medium="cold_water", apartment_id=world.apartment_a2
        )
        building = create_metering_point(
            conn, access=OPERATOR, medium="cold_water", property_id=world.property_a
        )
        leaking = create_meter(
            conn,
            access=OPERATOR,
            customer_id=world.customer_a,
            identity=LEAKING,
            medium="cold_water",
            register_unit="m3",
            register_digits=8,
            manufacturer="KAM",
        )
        install_meter(
            conn,
            access=OPERATOR,
            meter_id=leaking.id,
            point_id=flat.id,
            installed_at=datetime(2026, 1, 1, tzinfo=UTC),
        )
        gateway = find_gateway(conn, "gw-a", access=OPERATOR)
    assert gateway is not None
    served.app.state.telegram_ingest.receive(
        gateway,
        [
            IncomingTelegram(multical_21(LEAKING, 1234, info=0x0004), NOW, -74),
            IncomingTelegram(multical_21(HEARD, 5678, info=0), NOW, -88),
        ],
    )
    return world, building.id


def test_operations_finds_a_leak_attaches_a_meter_and_is_refused_a_households_page(
    engine: Engine, served: Served, page: Page, settings: object
) -> None:
    world, building_point = _set_up(engine, served)
    account = create_staff_account(
        engine,
        access=OPERATOR,
        email="drift@hem.example",
        role=Role.OPERATIONS,
        customer="Hem AB",
        keyring=Keyring.from_settings(served.app.state.settings),
        now=NOW,
    )

    # Signing in: the console asks for it, and comes back to where it was asked.
    page.goto("/console")
    expect(page.get_by_role("heading", name="Logga in i driftkonsolen")).to_be_visible()
    page.get_by_label("E-postadress").fill(account.email)
    page.get_by_label("Lösenfras").fill(account.passphrase)
    page.get_by_role("button", name="Logga in").click()
    expect(page.get_by_role("heading", name="Driftöversikt", level=1)).to_be_visible()
    expect(page.get_by_role("link", name="Uppsala Kåbo 1:23")).to_be_visible()
    expect(page.get_by_text("Solna Råsunda 4:2")).to_have_count(0)  # another customer's
    screenshot(page, "console", docs=True)

    # The leak: an alarm on the overview, and the meter's page says so.
    alarms = page.locator("table.alarms")
    expect(alarms.get_by_text("Läckage")).to_be_visible()
    alarms.get_by_role("link", name=f"KAM {LEAKING}").click()
    expect(page.get_by_role("heading", name=f"Mätare KAM {LEAKING}")).to_be_visible()
    expect(page.locator("dd.flags")).to_contain_text("Läckage")
    expect(page.locator("dl.facts")).to_contain_text("Kåbovägen 12A 1102")
    expect(page.locator("dl.facts")).to_contain_text("-74 dBm")
    expect(page.locator("table.register")).to_contain_text("1234 L")
    # Hourly values are not the operations staff's here: no link, and the page refuses.
    expect(page.get_by_text("er organisation har inte slagit på det")).to_be_visible()
    meter_url = page.url
    refused = page.goto(meter_url + "?resolution=hour")
    assert refused is not None
    assert refused.status == 403

    # The meter heard but unknown: attach it to the building's cold-water point.
    page.goto("/console/unassigned")
    row = page.locator(f"#device-KAM-{HEARD}")
    expect(row).to_be_visible()
    row.get_by_label("Mätpunkt").select_option(str(building_point))
    row.get_by_role("button", name="Koppla").click()
    expect(page.get_by_role("heading", name=f"Mätare KAM {HEARD}")).to_be_visible()
    expect(page.locator("dl.facts")).to_contain_text("Fastigheten")
    # Its stored telegram was filed under it: its register reading is there.
    expect(page.locator("table.register")).to_contain_text("5678 L")
    page.goto("/console/unassigned")
    expect(page.locator(f"#device-KAM-{HEARD}")).to_have_count(0)

    # A household's page: refused, not merely unlinked (P5).
    for path in ("/home", f"/home/points/{world.point_a1}", "/home/accesses"):
        answer = page.goto(path)
        assert answer is not None
        assert answer.status == 403, path


def test_staff_with_totp_sign_in_to_the_console_in_two_steps_and_support_is_sent_away(
    engine: Engine, keyed: Served, page: Page
) -> None:
    served = keyed
    world = build_world(engine)
    served.clock.now = NOW
    keyring = Keyring.from_settings(served.app.state.settings)
    admin = create_staff_account(
        engine,
        access=OPERATOR,
        email="admin@hem.example",
        role=Role.CUSTOMER_ADMIN,
        customer="Hem AB",
        keyring=keyring,
        now=NOW,
        with_totp=True,
    )
    support = create_staff_account(
        engine,
        access=OPERATOR,
        email="support@openamr.example",
        role=Role.SUPPORT,
        customer=None,
        keyring=keyring,
        now=NOW,
    )
    assert admin.totp_uri is not None
    authenticator = pyotp.parse_uri(admin.totp_uri)
    assert isinstance(authenticator, pyotp.TOTP)

    # Support's account is not the console's: refused at the first step, with no session.
    page.goto(f"/console/properties/{world.property_a}")
    page.get_by_label("E-postadress").fill(support.email)
    page.get_by_label("Lösenfras").fill(support.passphrase)
    page.get_by_role("button", name="Logga in").click()
    expect(page.get_by_role("alert")).to_have_text(
        "Ditt konto loggar inte in här. Använd inloggningen för din roll."
    )
    assert page.request.get("/api/v1/session").status == 401

    # The administrator: passphrase, then the code; a wrong code is refused and may be retried.
    page.get_by_label("E-postadress").fill(admin.email)
    page.get_by_label("Lösenfras").fill(admin.passphrase)
    page.get_by_role("button", name="Logga in").click()
    expect(page.get_by_role("heading", name="Din kod")).to_be_visible()
    assert page.request.get("/console").status == 401  # half signed in opens nothing
    page.get_by_label("Kod").fill(authenticator.at(NOW - timedelta(hours=1)))
    page.get_by_role("button", name="Bekräfta koden").click()
    expect(page.get_by_role("alert")).to_contain_text("Koden är fel")
    page.get_by_label("Kod").fill(authenticator.at(NOW))
    page.get_by_role("button", name="Bekräfta koden").click()
    # Back where the sign-in began.
    expect(page.get_by_role("heading", name="Uppsala Kåbo 1:23", level=1)).to_be_visible()
    assert page.url.endswith(f"/console/properties/{world.property_a}")

    # Signing out ends the session: the console asks for the sign-in again.
    page.get_by_role("button", name="Logga ut").click()
    expect(page.get_by_role("heading", name="Logga in i driftkonsolen")).to_be_visible()
    answer = page.goto("/console")
    assert answer is not None
    assert answer.status == 401
    expect(page.get_by_role("heading", name="Logga in i driftkonsolen")).to_be_visible()
