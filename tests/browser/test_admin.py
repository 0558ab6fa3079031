"""A customer administrator in Chromium: signs in with the TOTP step, adds a property, an entrance
and an apartment, moves a household in, prints its letter, and the letter's code opens /home.

The letter is checked as printed (`emulate_media(media="print")`): the page's header and
navigation are gone and the letter, with its code and QR code, remains. And an administrator adds
an operations account whose passphrase, shown once, signs its holder in to /console.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pyotp
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlalchemy.engine import Engine

from openamr.access import Role
from openamr.guard.keyring import Keyring
from openamr.guard.staff import create_staff_account
from tests.browser.conftest import Served, screenshot, sign_in_page
from tests.helpers import OPERATOR, add_customer, add_staff, open_session

JUNE_3 = datetime(2026, 6, 3, 12, tzinfo=UTC)  # 14:00 in Stockholm
PASSPHRASE = "ljusa nätter i juni månad"


@pytest.fixture
def other_page(browser: Browser, served: Served, engine: Engine) -> Iterator[Page]:
    """A second browser beside the administrator's `page`: a household's, or a new colleague's."""
    made: BrowserContext = browser.new_context(base_url=served.base_url)
    yield made.new_page()
    made.close()


def test_an_administrator_moves_a_household_in_and_prints_the_letter_that_opens_its_page(
    engine: Engine, keyed: Served, page: Page, other_page: Page
) -> None:
    served = keyed
    served.clock.now = JUNE_3
    add_customer(engine, "Hem AB", now=JUNE_3)
    account = create_staff_account(
        engine,
        access=OPERATOR,
        email="admin@hem.example.se",
        role=Role.CUSTOMER_ADMIN,
        customer="Hem AB",
        keyring=Keyring.from_settings(served.app.state.settings),
        now=JUNE_3,
        with_totp=True,
    )
    assert account.totp_uri is not None

    # Signing in: the passphrase, then the TOTP code the administrator's account has.
    page.goto("/admin")
    expect(page.get_by_role("heading", name="Logga in till administrationen")).to_be_visible()
    page.get_by_label("E-postadress").fill(account.email)
    page.get_by_label("Lösenfras").fill(account.passphrase)
    page.get_by_role("button", name="Logga in").click()
    expect(page.get_by_role("heading", name="Din kod")).to_be_visible()
    authenticator = pyotp.parse_uri(account.totp_uri)
    assert isinstance(authenticator, pyotp.TOTP)
    page.get_by_label("Kod").fill(authenticator.at(served.clock.now))
    page.get_by_role("button", name="Bekräfta koden").click()
    expect(page.get_by_role("heading", name="Administration", level=1)).to_be_visible()

    # A property, an entrance, an apartment.
    page.get_by_label("Fastighetsbeteckning").fill("Uppsala Kåbo 1:23")
    page.get_by_role("button", name="Lägg till fastigheten").click()
    expect(page.get_by_role("heading", name="Uppsala Kåbo 1:23", level=1)).to_be_visible()
    page.get_by_label("Adress").fill("Kåbovägen 12A")
    page.get_by_role("button", name="Lägg till uppgången").click()
    page.get_by_label("Lägenhetsnummer").fill("1102")
    page.get_by_role("button", name="Lägg till lägenheten").click()
    expect(
        page.get_by_role("heading", name="Lägenhet 1102, Kåbovägen 12A", level=1)
    ).to_be_visible()

    # The move-in, which offers the letter.
    page.get_by_label("Inflyttningsdag").fill("2026-06-01")
    page.get_by_role("button", name="Registrera inflyttning").click()
    expect(page.get_by_role("status")).to_contain_text("Inflyttningen är registrerad")
    expect(page.locator("#tenancies")).to_contain_text("Bor här sedan 2026-06-01")
    screenshot(page, "admin-apartment")
    page.get_by_role("button", name="Skapa brev med ny åtkomstkod").click()

    # The letter: the place, the code, a QR code drawn as SVG; printed, nothing else.
    letter = page.locator("article.letter")
    expect(letter).to_have_count(1)
    expect(letter).to_contain_text("Uppsala Kåbo 1:23")
    expect(letter.locator(".letter-number")).to_have_text("1102")
    expect(letter.locator("svg.qr")).to_be_visible()
    expect(page.get_by_role("button", name="Skriv ut")).to_be_visible()  # with scripts
    code = letter.locator(".letter-code").inner_text()
    assert re.fullmatch(r"[0-9A-Z]{4}(-[0-9A-Z]{4}){5}", code), code
    assert code not in page.url
    page.emulate_media(media="print")
    expect(page.locator("header.top")).to_be_hidden()
    expect(page.get_by_role("navigation")).to_be_hidden()
    expect(page.locator(".letters-intro")).to_be_hidden()
    expect(letter.locator(".letter-code")).to_be_visible()
    expect(letter.locator("svg.qr")).to_be_visible()
    screenshot(page, "admin-letter-print")
    printed = page.pdf(format="A4")
    assert len(re.findall(rb"/Type\s*/Page[^s]", printed)) == 1  # the letter is one A4 page

    # The household redeems the code and sees its page.
    home = other_page
    home.goto("/household")
    home.get_by_label("Åtkomstkod").fill(code)
    home.get_by_label("Lösenfras", exact=True).first.fill(PASSPHRASE)
    home.get_by_label("Lösenfrasen igen").fill(PASSPHRASE)
    home.get_by_role("button", name="Använd koden", exact=True).click()
    expect(home.locator("#handle")).to_be_visible()


def test_an_administrator_adds_an_operations_account_that_signs_in_to_the_console(
    engine: Engine, served: Served, page: Page, other_page: Page
) -> None:
    served.clock.now = JUNE_3
    customer = add_customer(engine, "Hem AB", now=JUNE_3)
    admin_id = add_staff(engine, Role.CUSTOMER_ADMIN, customer=customer, now=JUNE_3)
    sign_in_page(page, served, open_session(engine, staff_account_id=admin_id, now=JUNE_3))

    page.goto("/admin")
    page.get_by_role("link", name="Personal").click()
    expect(page.get_by_role("heading", name="Personal", level=1)).to_be_visible()
    page.get_by_label("E-postadress").fill("drift@hem.example.se")
    page.get_by_label("Roll").select_option(label="Hyresvärdens drifttekniker")
    page.get_by_role("button", name="Lägg till kontot").click()
    expect(page.get_by_role("heading", name="Nytt konto", level=1)).to_be_visible()
    passphrase = page.locator("#passphrase").inner_text()
    assert passphrase not in page.url
    screenshot(page, "admin-staff-once")

    # The new holder, in a browser of their own, signs in to the console with it.
    console = other_page
    console.goto("/console")
    console.get_by_label("E-postadress").fill("drift@hem.example.se")
    console.get_by_label("Lösenfras").fill(passphrase)
    console.get_by_role("button", name="Logga in").click()
    expect(console.get_by_role("heading", name="Driftöversikt", level=1)).to_be_visible()
