"""Passkeys in Chromium, with its virtual authenticator (WebAuthn over CDP): a household adds one
after redeeming its letter with a passphrase, or redeems the letter with one, and signs in with
it later; without JavaScript the page offers the passphrase only.

The world is `tests.access_world`; the app is served as http://localhost:PORT, so the relying
party is `localhost` and the origin that address, which Chromium treats as a secure context.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from playwright.sync_api import Browser, CDPSession, Page, expect
from sqlalchemy.engine import Engine

from openamr.guard.households import LETTER, issue_access_code
from tests.access_world import build_world
from tests.browser.conftest import Served, screenshot
from tests.helpers import OPERATOR

JUNE_3 = datetime(2026, 6, 3, 12, tzinfo=UTC)  # 14:00 in Stockholm
PASSPHRASE = "korta dagar långa nätter"


def _letter(engine: Engine, served: Served, tenancy: str) -> str:
    world = build_world(engine)
    served.clock.now = JUNE_3
    with engine.begin() as conn:
        return issue_access_code(
            conn, tenancy_id=getattr(world, tenancy), issued_by=OPERATOR, now=JUNE_3, kind=LETTER
        ).code


@dataclass(frozen=True)
class Authenticator:
    """Chromium's virtual platform authenticator, with user verification, in one page."""

    cdp: CDPSession
    id: str

    @classmethod
    def add_to(cls, page: Page) -> Authenticator:
        cdp = page.context.new_cdp_session(page)
        cdp.send("WebAuthn.enable")
        made = cdp.send(
            "WebAuthn.addVirtualAuthenticator",
            {
                "options": {
                    "protocol": "ctap2",
                    "transport": "internal",
                    "hasResidentKey": True,
                    "hasUserVerification": True,
                    "isUserVerified": True,
                }
            },
        )
        return cls(cdp, made["authenticatorId"])

    def credentials(self) -> list[dict[str, Any]]:
        """The passkeys it holds."""
        found: list[dict[str, Any]] = self.cdp.send(
            "WebAuthn.getCredentials", {"authenticatorId": self.id}
        )["credentials"]
        return found


def _signs_out_and_in_with_the_passkey(page: Page) -> None:
    page.get_by_role("button", name="Logga ut").click()
    expect(page.get_by_role("heading", name="Logga in", level=1)).to_be_visible()
    page.get_by_role("button", name="Logga in med nyckel").click()
    expect(page.get_by_role("heading", name="El", level=1)).to_be_visible()
    expect(page.locator("#values tbody tr")).to_have_count(24)


def test_a_household_adds_a_passkey_after_its_passphrase_and_signs_in_with_it(
    engine: Engine, served: Served, page: Page
) -> None:
    code = _letter(engine, served, "tenancy_a1")
    authenticator = Authenticator.add_to(page)
    # The script runs under the strict CSP, and without an error.
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on(
        "console",
        lambda message: problems.append(message.text) if "Policy" in message.text else None,
    )

    page.goto("/household")
    page.get_by_label("Åtkomstkod").fill(code)
    page.get_by_label("Lösenfras", exact=True).first.fill(PASSPHRASE)
    page.get_by_label("Lösenfrasen igen").fill(PASSPHRASE)
    page.get_by_role("button", name="Använd koden", exact=True).click()
    expect(page.locator("#handle")).to_be_visible()

    page.get_by_role("button", name="Spara en nyckel på den här enheten").click()
    expect(page.get_by_role("status")).to_have_text(
        "Nyckeln är sparad. Nästa gång kan ni logga in med den."
    )
    [passkey] = authenticator.credentials()
    assert passkey["isResidentCredential"]
    assert passkey["rpId"] == "localhost"

    _signs_out_and_in_with_the_passkey(page)
    assert authenticator.credentials()[0]["signCount"] > passkey["signCount"]
    assert problems == []


def test_a_household_redeems_its_letter_with_a_passkey_and_signs_in_with_it(
    engine: Engine, served: Served, page: Page
) -> None:
    code = _letter(engine, served, "tenancy_a1")
    authenticator = Authenticator.add_to(page)

    page.goto("/household")
    redeem = page.get_by_role("button", name="Använd en nyckel i stället")
    redeem.click()  # no code yet: the page says what is missing, and makes no passkey
    expect(page.get_by_role("status")).to_have_text("Skriv först koden från brevet.")
    screenshot(page, "household-signin")
    page.get_by_label("Åtkomstkod").fill("AAAA-BBBB-CCCC")
    redeem.click()
    expect(page.get_by_role("status")).to_contain_text("Koden känns inte igen")
    assert authenticator.credentials() == []

    page.get_by_label("Åtkomstkod").fill(code)
    redeem.click()
    expect(page.locator("#passkey-made")).to_contain_text("Er nyckel är sparad")
    expect(page.locator("#handle")).to_have_count(0)  # nothing to note down
    assert len(authenticator.credentials()) == 1

    _signs_out_and_in_with_the_passkey(page)

    # The letter is used up: a second passkey cannot be made with it.
    page.get_by_role("button", name="Logga ut").click()
    page.get_by_label("Åtkomstkod").fill(code)
    page.get_by_role("button", name="Använd en nyckel i stället").click()
    expect(page.get_by_role("status")).to_contain_text("gäller inte längre")
    assert len(authenticator.credentials()) == 1


def test_without_javascript_the_sign_in_page_offers_the_passphrase_only(
    browser: Browser, served: Served, engine: Engine
) -> None:
    context = browser.new_context(base_url=served.base_url, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto("/household")
        expect(page.get_by_role("button", name="Använd koden", exact=True)).to_be_visible()
        expect(page.get_by_role("button", name="Logga in", exact=True)).to_be_visible()
        expect(page.get_by_role("button", name="Använd en nyckel i stället")).to_be_hidden()
        expect(page.get_by_role("button", name="Logga in med nyckel")).to_be_hidden()
    finally:
        context.close()
