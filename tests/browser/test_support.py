"""Support in Chromium: refused without a grant, the household's page with a banner once the
household approves, refused again once it ends the grant, and the household sees the view.

The world is `tests.access_world`: apartment 1101's household moved in on 2026-06-01 and its
points have hourly values from 2026-05-30 to 2026-06-03. Support signs in with the pages'
two steps (passphrase, then the TOTP code at the served app's clock); it asks for the grant
through the API, and the household answers on its "who has seen our data" page.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlalchemy.engine import Engine

from openamr.access import AccessContext, Role, TenancyScope
from openamr.guard import grants
from openamr.guard.households import LETTER, issue_access_code
from openamr.guard.keyring import Keyring
from openamr.guard.staff import NewStaffAccount, create_staff_account
from openamr.store.access_log import list_tenancy_accesses
from openamr.store.identities import tenancy_of
from tests.access_world import build_world
from tests.browser.conftest import Served, screenshot
from tests.helpers import OPERATOR

JUNE_3 = datetime(2026, 6, 3, 12, tzinfo=UTC)  # 14:00 in Stockholm
PASSPHRASE = "korta dagar långa nätter"


@pytest.fixture
def household_page(browser: Browser, served: Served, engine: Engine) -> Iterator[Page]:
    """A second browser, the household's, beside support's `page`."""
    made: BrowserContext = browser.new_context(base_url=served.base_url)
    yield made.new_page()
    made.close()


def _support_account(engine: Engine, served: Served) -> NewStaffAccount:
    return create_staff_account(
        engine,
        access=AccessContext.operator("cli:tests"),
        email="support@example.se",
        role=Role.SUPPORT,
        customer=None,
        keyring=Keyring.from_settings(served.app.state.settings),
        now=served.clock.now,
    )


def _support_signs_in(page: Page, served: Served, account: NewStaffAccount) -> None:
    assert account.totp_uri is not None
    page.goto("/support")
    expect(page.get_by_role("heading", name="Logga in till support")).to_be_visible()
    page.get_by_label("E-postadress").fill(account.email)
    page.get_by_label("Lösenfras").fill(account.passphrase)
    page.get_by_role("button", name="Logga in").click()
    expect(page.get_by_role("heading", name="Din kod")).to_be_visible()
    authenticator = pyotp.parse_uri(account.totp_uri)
    assert isinstance(authenticator, pyotp.TOTP)
    # A code of another time is refused, and the step can be tried again.
    page.get_by_label("Kod").fill(authenticator.at(served.clock.now - timedelta(hours=1)))
    page.get_by_role("button", name="Bekräfta koden").click()
    expect(page.get_by_role("alert")).to_contain_text("Koden är fel")
    page.get_by_label("Kod").fill(authenticator.at(served.clock.now))
    page.get_by_role("button", name="Bekräfta koden").click()
    expect(page.get_by_role("heading", name="Support", level=1)).to_be_visible()


def _refused(page: Page, path: str) -> None:
    answer = page.goto(path)
    assert answer is not None
    assert answer.status == 403, (path, answer.status)
    expect(page.get_by_role("heading", name="Ingen åtkomst")).to_be_visible()


def test_support_sees_the_households_page_only_while_the_household_grants_it(
    engine: Engine, keyed: Served, page: Page, household_page: Page
) -> None:
    served = keyed
    world = build_world(engine)
    served.clock.now = JUNE_3
    account = _support_account(engine, served)
    with engine.begin() as conn:
        code = issue_access_code(
            conn, tenancy_id=world.tenancy_a1, issued_by=OPERATOR, now=JUNE_3, kind=LETTER
        ).code

    # Support, signed in with its second factor, is refused: no grant.
    _support_signs_in(page, served, account)
    expect(page.get_by_text("Inget tillstånd är aktivt.")).to_be_visible()
    _refused(page, "/home")
    _refused(page, f"/home/points/{world.point_a1}")

    # It asks on its page; an apartment that does not exist is refused with the reason.
    page.goto("/support")
    page.get_by_label("Lägenhet (dess nummer i openamr, från ärendet)").fill("999999")
    page.get_by_label("Ärende", exact=True).fill("T-42")
    page.get_by_label("Skäl", exact=True).fill("Mätaren visar 0")
    page.get_by_role("button", name="Skicka begäran").click()
    expect(page.locator("#ask-error")).to_contain_text("no apartment 999999")
    page.get_by_label("Lägenhet (dess nummer i openamr, från ärendet)").fill(
        str(world.apartment_a1)
    )
    page.get_by_label("Ärende", exact=True).fill("T-42")
    page.get_by_label("Skäl", exact=True).fill("Mätaren visar 0")
    page.get_by_label("El", exact=True).check()
    page.get_by_label("Timmar, när den godkänts (1 till 8)").fill("8")
    page.get_by_role("button", name="Skicka begäran").click()
    expect(page.get_by_role("cell", name="väntar på hushållet")).to_be_visible()
    grant_id = int(page.locator("table.values tbody tr td").first.inner_text().lstrip("#"))
    csrf = page.request.get("/api/v1/session").json()["csrf_token"]
    _refused(page, "/home")  # asked is not granted

    # The household signs in with its letter and approves on its page.
    home = household_page
    home.goto("/home/accesses")
    home.get_by_label("Åtkomstkod").fill(code)
    home.get_by_label("Lösenfras", exact=True).first.fill(PASSPHRASE)
    home.get_by_label("Lösenfrasen igen").fill(PASSPHRASE)
    home.get_by_role("button", name="Använd koden").click()
    expect(home.locator("#handle")).to_be_visible()
    home.goto("/home/accesses")
    request = home.locator(f"#grant-{grant_id}")
    expect(request).to_contain_text("T-42")
    request.get_by_role("button", name="Godkänn").click()
    expect(home.locator(f"#grant-{grant_id}")).to_contain_text("pågår")

    # Support now sees the household's page, with the banner: role, grant, until (8 h on).
    page.goto("/support")
    page.get_by_role("button", name=f"Öppna hushållets sida (tillstånd #{grant_id}").click()
    banner = page.locator("#grant-banner")
    expect(banner).to_have_text(f"Visas för Support under tillstånd #{grant_id}, till 22:00")
    expect(page.get_by_role("heading", name="El", level=1)).to_be_visible()
    expect(page.locator("#values tbody tr")).to_have_count(24)
    # The household's own things are not support's: no portability, no access log, no answers.
    assert page.get_by_role("link", name="Vem har sett våra data").count() == 0
    assert page.get_by_role("link", name="Ladda ner alla våra värden (CSV)").count() == 0
    screenshot(page, "support-under-grant")
    _refused(page, "/home/download.csv")
    _refused(page, "/home/accesses")
    other = page.request.post(
        f"/home/grants/{grant_id}/end", form={"csrf_token": csrf}, max_redirects=0
    )
    assert other.status == 403

    # The household sees support's view (a role, never who) and ends the grant.
    home.goto("/home/accesses")
    log = home.locator("table.values")
    expect(log).to_contain_text("Support")
    expect(log).to_contain_text(f"läste timvärden (under tillstånd #{grant_id})")
    assert "staff:" not in log.inner_text()
    assert "support@example.se" not in home.content()
    home.locator(f"#grant-{grant_id}").get_by_role("button", name="Avsluta åtkomsten nu").click()
    expect(home.locator(f"#grant-{grant_id}")).to_have_count(0)

    # Support is refused again.
    _refused(page, "/home")
    _refused(page, f"/home/points/{world.point_a1}")
    page.goto("/support")
    expect(page.get_by_role("cell", name="avslutat")).to_be_visible()


def _approved(engine: Engine, account: NewStaffAccount, tenancy_id: int, ticket: str) -> int:
    """A grant support asked for on the tenancy's apartment, which its household approved."""
    staff = AccessContext(actor=f"staff:{account.id}", role=Role.SUPPORT, customer_ids=frozenset())
    with engine.begin() as conn:
        at = tenancy_of(conn, tenancy_id=tenancy_id)
        assert at is not None
        household = AccessContext(
            actor="household:approver",
            role=Role.HOUSEHOLD,
            customer_ids=frozenset({at.customer_id}),
            tenancy=TenancyScope(at.id, at.apartment_id, at.customer_id, at.start_at, at.end_at),
        )
        asked = grants.request_grant(
            conn,
            staff,
            apartment_id=at.apartment_id,
            ticket=ticket,
            reason="Mätaren visar 0",
            media=None,
            hours=8,
            now=JUNE_3,
        )
        grants.answer_grant(conn, household, grant_id=asked.id, approve=True, now=JUNE_3)
    return asked.id


def test_support_with_several_grants_chooses_the_household_and_stays_under_that_grant(
    engine: Engine, keyed: Served, page: Page
) -> None:
    served = keyed
    world = build_world(engine)
    served.clock.now = JUNE_3
    account = _support_account(engine, served)
    first = _approved(engine, account, world.tenancy_a1, "T-51")
    second = _approved(engine, account, world.tenancy_a2, "T-52")

    _support_signs_in(page, served, account)
    expect(page.get_by_text("Du har flera aktiva tillstånd")).to_be_visible()
    _refused(page, "/home")  # two grants and none chosen: which household is not guessed

    # The second household: its banner, and its own points only.
    page.goto("/support")
    page.get_by_role("button", name=f"Öppna hushållets sida (tillstånd #{second},").click()
    expect(page.locator("#grant-banner")).to_contain_text(f"tillstånd #{second},")
    assert page.url.endswith("/home")
    assert page.goto(f"/home/points/{world.point_a2}").status == 200  # type: ignore[union-attr]
    _refused_as_missing(page, f"/home/points/{world.point_a1}")

    # The first: every link of its pages stays under it.
    page.goto("/support")
    page.get_by_role("button", name=f"Öppna hushållets sida (tillstånd #{first},").click()
    expect(page.locator("#grant-banner")).to_contain_text(f"tillstånd #{first},")
    page.get_by_role("link", name="Dag (en månad)").click()
    expect(page.get_by_role("heading", name="juni 2026")).to_be_visible()
    expect(page.locator("#grant-banner")).to_contain_text(f"tillstånd #{first},")
    _refused_as_missing(page, f"/home/points/{world.point_a2}")

    # Each view is audited under the grant it was made under.
    with engine.connect() as conn:
        reads = {
            (tenancy_id, entry.purpose)
            for tenancy_id in (world.tenancy_a1, world.tenancy_a2)
            for entry in list_tenancy_accesses(
                conn,
                customer_id=world.customer_a,
                tenancy_id=tenancy_id,
                except_actor="household:approver",
                limit=50,
            )
            if entry.action.startswith("values.read")
        }
    assert reads == {(world.tenancy_a1, f"grant:{first}"), (world.tenancy_a2, f"grant:{second}")}

    # The first household ends its grant: the page chosen under it is refused, and is not
    # silently shown under the other grant still active.
    with engine.begin() as conn:
        at = tenancy_of(conn, tenancy_id=world.tenancy_a1)
        assert at is not None
        grants.end_grant(
            conn,
            AccessContext(
                actor="household:approver",
                role=Role.HOUSEHOLD,
                customer_ids=frozenset({at.customer_id}),
                tenancy=TenancyScope(
                    at.id, at.apartment_id, at.customer_id, at.start_at, at.end_at
                ),
            ),
            grant_id=first,
            now=JUNE_3,
        )
    _refused(page, "/home")
    page.goto("/support")
    page.get_by_role("button", name=f"Öppna hushållets sida (tillstånd #{second},").click()
    expect(page.locator("#grant-banner")).to_contain_text(f"tillstånd #{second},")


def _refused_as_missing(page: Page, path: str) -> None:
    answer = page.goto(path)
    assert answer is not None
    assert answer.status == 404, (path, answer.status)
