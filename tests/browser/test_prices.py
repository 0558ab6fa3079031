"""Prices in Chromium: a customer administrator sets them on /admin/prices, and the household's
page then shows what its consumption cost at them, split where the price changed.

The world is `tests.access_world`: apartment 1101's household moved in on 2026-06-01; its
electricity has 1 kWh every hour until 2026-06-03.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from playwright.sync_api import Page, expect
from sqlalchemy.engine import Engine

from openamr.access import Role
from openamr.store.prices import set_price
from tests.access_world import build_world
from tests.browser.conftest import Served, sign_in_page
from tests.helpers import OPERATOR, add_household, add_staff, open_session

JUNE_3 = datetime(2026, 6, 3, 12, tzinfo=UTC)


def _set_price(page: Page, medium: str, valid_from: str, price: str) -> None:
    page.get_by_label("Medium").select_option(label=medium)
    page.get_by_label("Gäller från").fill(valid_from)
    page.get_by_label("Pris i kronor per kWh, m³ eller enhet").fill(price)
    page.get_by_role("button", name="Spara priset").click()


def _kwh(text: str) -> Decimal:
    """A Swedish number of kWh as the page writes it: 24,00 kWh."""
    return Decimal(text.removesuffix(" kWh").replace("\u00a0", "").replace(",", "."))


def test_a_price_set_by_the_administrator_prices_the_households_consumption(
    engine: Engine, served: Served, page: Page
) -> None:
    world = build_world(engine)
    served.clock.now = JUNE_3
    admin = add_staff(engine, Role.CUSTOMER_ADMIN, customer=world.customer_a, now=JUNE_3)
    sign_in_page(page, served, open_session(engine, staff_account_id=admin, now=JUNE_3))

    page.goto("/admin/prices")
    expect(page.locator("#prices-none")).to_be_visible()
    _set_price(page, "El", "2026-06-02", "1,25")
    _set_price(page, "El", "2026-06-02", "-1")  # refused, with the reason, nothing lost
    expect(page.locator("#prices-error")).to_contain_text("is not a number of kronor")
    expect(page.get_by_label("Pris i kronor per kWh, m³ eller enhet")).to_have_value("-1")
    rows = page.locator("#prices tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("2026-06-02")
    expect(rows.first).to_contain_text("1,25 kr/kWh")

    household = add_household(engine, world.tenancy_a1, now=JUNE_3)
    sign_in_page(page, served, open_session(engine, household_id=household, now=JUNE_3))

    # Yesterday, by hour: all of it at the new price.
    page.goto(f"/home/points/{world.point_a1}?view=day&day=2026-06-02")
    consumption = _kwh(page.locator("p.total strong").first.inner_text())
    assert consumption == Decimal(24)
    cost = page.locator("#cost strong")
    expect(cost).to_have_text("30,00 kr")  # 24 kWh × 1,25 kr
    assert Decimal(cost.get_attribute("data-amount") or "") == consumption * Decimal("1.25")
    expect(page.locator("#cost .cost-source")).to_have_text(
        "Enligt fastighetsägarens pris: 1,25 kr/kWh från 2 juni 2026."
    )

    # June, by day: 1 June has no price, so the month's cost is not known.
    page.goto(f"/home/points/{world.point_a1}?view=month&day=2026-06-02")
    expect(page.locator("#cost strong")).to_have_text("inte tillgänglig")
    expect(page.locator("#cost .cost-source")).to_contain_text("inte angett något pris")

    # With an earlier price as well, the known days are split at the change.
    with engine.begin() as conn:
        set_price(
            conn,
            access=OPERATOR,
            customer_id=world.customer_a,
            medium="electricity",
            valid_from=date(2026, 1, 1),
            micro_per_unit=1_000_000,
            unit="kWh",
            now=JUNE_3,
        )
    page.reload()
    expect(page.locator("#cost strong")).to_have_text("54,00 kr")
    expect(page.locator("#cost .cost-source")).to_have_text(
        "Enligt fastighetsägarens pris: 1,00 kr/kWh 1 januari 2026–1 juni 2026;"
        " 1,25 kr/kWh från 2 juni 2026."
    )
