"""Accessibility in Chromium: axe-core finds no WCAG 2.1 A or AA violation on any kind of page, as
each role sees it, and the household works its page with the keyboard alone, seeing where it is.

One world for the module (`tests.access_world` for the console, administration and support,
`tests.comparison_world` for a household with cost and comparisons), built once per database, and
one browser page per role, language and size. Each case opens one address (and, for some, the
page a button there leads to) and runs axe with the tags of WCAG 2.0 and 2.1, levels A and AA; a
failure names each violation's rule, impact, elements and help. The household's pages are also
opened 320 CSS px wide, where WCAG 1.4.10 (reflow) wants no scrolling sideways, which axe does
not check. Axe is given to every page of these browsers before the page's own scripts, by
Playwright (which the pages' strict CSP does not govern), rather than evaluated for each check."""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect
from sqlalchemy.engine import Engine

from openamr.access import AccessContext, Role, TenancyScope
from openamr.demo.telegrams import volume_litres, wmbus
from openamr.guard import grants
from openamr.guard.households import LETTER, issue_access_code
from openamr.guard.sessions import SESSION_COOKIE
from openamr.present.pages.i18n import LANGUAGE_COOKIE
from openamr.store.identities import tenancy_of
from openamr.store.meters import create_meter, create_metering_point, install_meter
from openamr.store.prices import set_price
from openamr.store.telegrams import IncomingTelegram, find_gateway
from tests.access_world import build_world
from tests.browser.conftest import DESKTOP, Served
from tests.comparison_world import build_comparison_world
from tests.conftest import empty_database
from tests.helpers import NOW, OPERATOR, add_household, add_staff, open_session

# NOW is 1 November 2026: October, the comparison world's month, has ended.
AXE_SCRIPT = Axe().axe_script  # axe-core, as axe-playwright-python bundles it
NARROW = {"width": 320, "height": 640}  # WCAG 1.4.10: no scrolling sideways at 320 CSS px
WCAG_A_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
LEAKING, HEARD, LOCKED = "11223344", "55667788", "87654321"
ANYONE, HOUSEHOLD, OPERATIONS, ADMIN, SUPPORT, PLATFORM = (
    "anyone",
    "household",
    "operations",
    "admin",
    "support",
    "platform",
)


@dataclass
class Place:
    """The ids the pages are opened with, and each role's session token."""

    point: int  # the household's electricity (Stor 1001)
    property_id: int
    apartment_id: int
    meter_id: int  # the leaking water meter
    customer_id: int
    tokens: dict[str, str] = field(default_factory=dict)


def _multical_21(device_id: str, litres: int, *, info: int, key: bytes | None = None) -> bytes:
    """A MULTICAL 21 telegram: its info register (bit 2 is LEAK) and its volume."""
    return wmbus(
        b"\x02\xff\x20" + struct.pack("<H", info) + volume_litres(litres),
        device_id=device_id,
        key=key,
    )


def _as_household(conn: Any, tenancy_id: int) -> AccessContext:
    at = tenancy_of(conn, tenancy_id=tenancy_id)
    assert at is not None
    return AccessContext(
        actor="household:a11y",
        role=Role.HOUSEHOLD,
        customer_ids=frozenset({at.customer_id}),
        tenancy=TenancyScope(at.id, at.apartment_id, at.customer_id, at.start_at, at.end_at),
    )


@pytest.fixture(scope="module")
def place(migrated_engine: Engine, served: Served) -> Iterator[Place]:
    """Both worlds, a leak, a meter heard and one waiting for its key, a price, two support
    requests (one approved), a household moved in to be sent a letter, and a session per role."""
    engine = migrated_engine
    served.clock.now = NOW
    world = build_world(engine)
    homes = build_comparison_world(engine)
    with engine.begin() as conn:
        flat = create_metering_point(
            conn, access=OPERATOR, medium="cold_water", apartment_id=world.apartment_a2
        )
        create_metering_point(  # free, for the meter heard to be attached to
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
        stor = _as_household(conn, homes.tenancy_stor_1001)
        assert stor.tenancy is not None
        set_price(
            conn,
            access=OPERATOR,
            customer_id=stor.tenancy.customer_id,
            medium="electricity",
            valid_from=date(2026, 1, 1),
            micro_per_unit=1_250_000,
            unit="kWh",
            now=NOW,
        )
        issue_access_code(
            conn, tenancy_id=world.tenancy_a1, issued_by=OPERATOR, now=NOW, kind=LETTER
        )
    assert gateway is not None
    served.app.state.telegram_ingest.receive(
        gateway,
        [
            IncomingTelegram(_multical_21(LEAKING, 1234, info=0x0004), NOW, -74),
            IncomingTelegram(_multical_21(HEARD, 5678, info=0), NOW, -88),
            IncomingTelegram(_multical_21(LOCKED, 9, info=0, key=bytes(16)), NOW, -90),
        ],
    )

    support = add_staff(engine, Role.SUPPORT, now=NOW)
    as_support = AccessContext(
        actor=f"staff:{support}", role=Role.SUPPORT, customer_ids=frozenset()
    )
    with engine.begin() as conn:
        for ticket, approve in (("T-7", True), ("T-8", False)):
            asked = grants.request_grant(
                conn,
                as_support,
                apartment_id=stor.tenancy.apartment_id,
                ticket=ticket,
                reason="Mätaren visar 0",
                media=None,
                hours=8,
                now=NOW,
            )
            if approve:
                grants.answer_grant(conn, stor, grant_id=asked.id, approve=True, now=NOW)

    sessions = {
        HOUSEHOLD: open_session(
            engine, household_id=add_household(engine, homes.tenancy_stor_1001), now=NOW
        ),
        SUPPORT: open_session(engine, staff_account_id=support, now=NOW),
    }
    for role, name, customer in (
        (Role.OPERATIONS, OPERATIONS, world.customer_a),
        (Role.CUSTOMER_ADMIN, ADMIN, world.customer_a),
        (Role.PLATFORM_ADMIN, PLATFORM, None),
    ):
        staff = add_staff(engine, role, customer=customer, now=NOW)
        sessions[name] = open_session(engine, staff_account_id=staff, now=NOW)
    yield Place(
        point=homes.stor_points[1],
        property_id=world.property_a,
        apartment_id=world.apartment_a1,
        meter_id=leaking.id,
        customer_id=world.customer_a,
        tokens={name: session.token for name, session in sessions.items()},
    )
    empty_database(engine)


def _cookie(served: Served, name: str, value: str) -> dict[str, Any]:
    # As in conftest.sign_in_page: a Secure cookie is set through the https URL of the host.
    return {
        "name": name,
        "value": value,
        "url": served.base_url.replace("http://", "https://", 1) + "/",
        "secure": True,
        "httpOnly": True,
        "sameSite": "Lax",
    }


Opener = Callable[[str, str, dict[str, int]], Page]


@pytest.fixture(scope="module")
def tabs(browser: Browser, served: Served, place: Place) -> Iterator[Opener]:
    """`tabs(role, lang, viewport)`: the one page of a browser of that role, language and size.

    Made once and used for every case of its kind: a new page costs more than a page load.
    """
    made: dict[tuple[str, str, int], Page] = {}

    def tab(role: str, lang: str, viewport: dict[str, int]) -> Page:
        key = (role, lang, viewport["width"])
        if key not in made:
            opened = browser.new_context(base_url=served.base_url, viewport=viewport)  # type: ignore[arg-type]
            cookies = [_cookie(served, LANGUAGE_COOKIE, lang)]
            if role != ANYONE:
                cookies.append(_cookie(served, SESSION_COOKIE, place.tokens[role]))
            opened.add_cookies(cookies)  # type: ignore[arg-type]
            opened.add_init_script(AXE_SCRIPT)
            made[key] = opened.new_page()
        return made[key]

    yield tab
    for page in made.values():
        page.context.close()


@dataclass(frozen=True)
class Case:
    """One page as one role sees it: its address, the status it answers with, what to do then."""

    name: str
    role: str
    path: Callable[[Place], str]
    status: int = 200
    lang: str = "sv"
    viewport: dict[str, int] = field(default_factory=lambda: DESKTOP)
    shows: str | None = None  # what must be on the page, so that axe has it to check
    then: Callable[[Page], None] | None = None  # a second page reached from this one, checked too


def _point(view: str, day: str = "2026-10-05") -> Callable[[Place], str]:
    return lambda p: f"/home/points/{p.point}?view={view}&day={day}"


def _fixed(path: str) -> Callable[[Place], str]:
    return lambda _p: path


def _letter(page: Page) -> None:
    page.get_by_role("button", name="Skapa brev med ny åtkomstkod").click()
    expect(page.locator("article.letter")).to_have_count(1)


def _open_under_grant(page: Page) -> None:
    page.get_by_role("button", name="Öppna hushållets sida").click()
    expect(page.locator("#grant-banner")).to_be_visible()


CASES = [
    # The household: signing in, its page by hour, day and month with cost and comparisons, who
    # has seen its data, the welcome after the letter; in English, and on a small phone.
    Case("household-sign-in", ANYONE, _fixed("/household"), shows="#code"),
    Case("household-sign-in-en", ANYONE, _fixed("/household"), lang="en", shows="#code"),
    Case("household-day", HOUSEHOLD, _point("day"), shows="#cost"),
    Case("household-month", HOUSEHOLD, _point("month"), shows="#similar"),
    Case("household-year", HOUSEHOLD, _point("year"), shows="#comparison-history"),
    Case("household-accesses", HOUSEHOLD, _fixed("/home/accesses"), shows="form.inline"),
    Case("household-month-en", HOUSEHOLD, _point("month"), lang="en", shows="#similar"),
    Case("household-accesses-en", HOUSEHOLD, _fixed("/home/accesses"), lang="en"),
    Case("household-day-narrow", HOUSEHOLD, _point("day"), viewport=NARROW, shows="#values"),
    Case("household-month-narrow", HOUSEHOLD, _point("month"), viewport=NARROW, shows="#values"),
    Case("household-year-narrow", HOUSEHOLD, _point("year"), viewport=NARROW),
    Case("household-welcome", HOUSEHOLD, _fixed("/home/welcome")),
    Case("household-sign-in-narrow", ANYONE, _fixed("/household"), viewport=NARROW),
    # Operations.
    Case(
        "console-overview",
        OPERATIONS,
        _fixed("/console"),
        shows='td.completeness:has-text("saknas")',  # read out, not only in a title
    ),
    Case("console-property", OPERATIONS, lambda p: f"/console/properties/{p.property_id}"),
    Case("console-meter", OPERATIONS, lambda p: f"/console/meters/{p.meter_id}", shows=".flag"),
    Case(
        "console-unassigned",
        OPERATIONS,
        _fixed("/console/unassigned"),
        shows=f'#device-KAM-{HEARD} td:text-is("Kallvatten")',  # the decoder's "cold water"
    ),
    Case("console-telegrams", OPERATIONS, _fixed("/console/telegrams"), shows="table.telegrams"),
    Case("console-gateways", OPERATIONS, _fixed("/console/gateways")),
    Case("console-search", OPERATIONS, _fixed("/console/search?q=11")),
    # Support: its requests, then a household's page under the approved one.
    Case("support", SUPPORT, _fixed("/support"), then=_open_under_grant),
    # The customer's administrator; the apartment's page, then the letter made there.
    Case("admin-overview", ADMIN, _fixed("/admin")),
    Case("admin-property", ADMIN, lambda p: f"/admin/properties/{p.property_id}"),
    Case("admin-apartment", ADMIN, lambda p: f"/admin/apartments/{p.apartment_id}", then=_letter),
    Case("admin-meters", ADMIN, _fixed("/admin/meters")),
    Case("admin-prices", ADMIN, _fixed("/admin/prices")),
    # The platform's administrator.
    Case("platform", PLATFORM, _fixed("/platform")),
    Case("platform-customer", PLATFORM, lambda p: f"/platform/customers/{p.customer_id}"),
    # Refusals: a staff area's sign-in form (401; the four areas share its template), no access
    # (403), not found (404).
    Case("console-401", ANYONE, _fixed("/console"), status=401, shows="input[type=password]"),
    Case(
        "refused-403",
        OPERATIONS,
        lambda p: f"/console/meters/{p.meter_id}?resolution=hour",
        status=403,
    ),
    Case("missing-404", HOUSEHOLD, _fixed("/home/points/999999"), status=404),
]


def _report(violations: list[dict[str, Any]]) -> str:
    lines = []
    for violation in violations:
        lines.append(
            f"{violation['id']} ({violation['impact']}) on {violation['page']}: {violation['help']}"
        )
        lines.extend(
            f"    {', '.join(map(str, node['target']))}: {node.get('failureSummary', '')}"
            for node in violation["nodes"]
        )
    return "\n".join(lines)


def _violations(page: Page) -> list[dict[str, Any]]:
    """Axe's WCAG 2.0/2.1 A and AA violations on the page as it stands, each with its address."""
    if page.locator("#chart").count():
        expect(page.locator("#chart[data-drawn=true] canvas")).to_have_count(1)
    found: list[dict[str, Any]] = page.evaluate(
        "options => axe.run(document, options).then(results => results.violations)",
        {"runOnly": {"type": "tag", "values": WCAG_A_AA}, "resultTypes": ["violations"]},
    )
    for violation in found:
        violation["page"] = page.url
    return found


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_axe_finds_no_wcag_violation(case: Case, tabs: Opener, place: Place) -> None:
    page = tabs(case.role, case.lang, case.viewport)
    answer = page.goto(case.path(place))
    assert answer is not None
    assert answer.status == case.status, (case.path(place), answer.status)
    expect(page.locator("html")).to_have_attribute("lang", case.lang)
    if case.shows is not None:
        expect(page.locator(case.shows).first).to_be_visible()
    found = _violations(page)
    if case.viewport == NARROW:
        wide = page.evaluate("document.documentElement.scrollWidth")
        assert wide <= NARROW["width"], f"{case.name}: {wide} px wide, scrolls sideways"
    if case.then is not None:
        case.then(page)
        found += _violations(page)
    if found:
        print(_report(found))
    assert not found, f"{case.name}:\n{_report(found)}"


def _tab_to(page: Page, selector: str, *, most: int = 40) -> None:
    """Press Tab until the element matching `selector` has the focus."""
    for _ in range(most):
        page.keyboard.press("Tab")
        if page.evaluate("selector => document.activeElement.matches(selector)", selector):
            return
    pytest.fail(f"{selector} was not reached in {most} presses of Tab")


FOCUSED = """() => {
    const element = document.activeElement;
    if (!element || element === document.body) return null;
    const style = getComputedStyle(element);
    return [element.outerHTML.slice(0, 100), `${style.outlineStyle} ${style.outlineWidth}`];
}"""


def _focus_stops(page: Page, *, most: int = 120) -> list[tuple[str, str]]:
    """Tab from the top of the page to its end: each element reached, and its focus outline."""
    stops: list[tuple[str, str]] = []
    for _ in range(most):
        page.keyboard.press("Tab")
        stop = page.evaluate(FOCUSED)
        if stop is None or (stops and tuple(stop) == stops[0]):
            return stops
        stops.append((stop[0], stop[1]))
    pytest.fail(f"Tab did not come to the end of the page in {most} presses")


def _shown(outline: str) -> bool:
    style, width = outline.split()
    return style != "none" and width != "0px"


def test_the_household_moves_between_periods_and_languages_with_the_keyboard_alone(
    browser: Browser, served: Served, place: Place
) -> None:
    context = browser.new_context(base_url=served.base_url, viewport=DESKTOP)  # type: ignore[arg-type]
    try:
        context.add_cookies([_cookie(served, SESSION_COOKIE, place.tokens[HOUSEHOLD])])  # type: ignore[list-item]
        page = context.new_page()
        page.goto(f"/home/points/{place.point}?view=month&day=2026-10-05")
        expect(page.get_by_role("heading", name="oktober 2026")).to_be_visible()

        # Every link, button and field on the way through the page shows that it has the focus.
        stops = _focus_stops(page)
        assert len(stops) > 15, stops
        unseen = [element for element, outline in stops if not _shown(outline)]
        assert not unseen, f"focus not drawn on: {unseen}"

        # The first Tab brings the link past the header onto the screen.
        page.reload()
        page.keyboard.press("Tab")
        skip = page.get_by_role("link", name="Hoppa till innehållet")
        expect(skip).to_be_focused()
        expect(skip).to_be_in_viewport()

        # The period, back and forth, with Tab and Enter.
        _tab_to(page, "a.nav-prev")
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", name="september 2026")).to_be_visible()
        _tab_to(page, "a.nav-next")
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", name="oktober 2026")).to_be_visible()

        # The language, and the page stays where it was.
        _tab_to(page, "form.language button")
        page.keyboard.press("Enter")
        expect(page.locator("html")).to_have_attribute("lang", "en")
        expect(page.get_by_role("heading", name="October 2026")).to_be_visible()
    finally:
        context.close()
