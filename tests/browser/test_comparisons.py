"""The comparisons on the household's page in Chromium: its own earlier month, and the mean of
similar apartments as text and a table that a screen reader can read (`tests.comparison_world`)."""

from __future__ import annotations

from playwright.sync_api import Page, expect
from sqlalchemy.engine import Engine

from tests.browser.conftest import Served, screenshot, sign_in_page
from tests.comparison_world import build_comparison_world
from tests.helpers import NOW, add_household, open_session


def test_a_household_sees_its_month_beside_the_mean_of_similar_apartments(
    engine: Engine, served: Served, page: Page
) -> None:
    world = build_comparison_world(engine)
    served.clock.now = NOW  # 1 November 2026: October has ended
    household = add_household(engine, world.tenancy_stor_1001, now=NOW)
    sign_in_page(page, served, open_session(engine, household_id=household, now=NOW))

    page.goto(f"/home/points/{world.stor_points[1]}?view=month&day=2026-10-05")
    expect(page.get_by_role("heading", name="Jämförelser", level=2)).to_be_visible()
    history = page.get_by_role("table", name="oktober 2026 jämfört med tidigare perioder")
    expect(history.get_by_role("row", name="Månaden innan: september 2026")).to_contain_text(
        "27 % mindre"  # 110 Wh an hour in October, 150 in September
    )
    expect(history.get_by_role("row", name="Samma månad förra året: oktober 2025")).to_contain_text(
        "45 % mindre"
    )
    expect(page.locator("#similar-summary")).to_contain_text(
        "en genomsnittlig lägenhet i samma fastighet använde"
    )
    similar = page.get_by_role("table", name="genomsnittet för liknande lägenheter")
    expect(similar.get_by_role("row")).to_have_count(1 + 31)
    expect(similar.get_by_role("row", name="tor 1 okt")).to_contain_text("2,6")  # 24 · 110 Wh
    expect(similar.get_by_role("row", name="tor 1 okt")).to_contain_text("5,0")  # 24 · 210 Wh
    screenshot(page, "household-comparison")
