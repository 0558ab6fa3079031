"""The household page's cost on both databases: a year's months priced through their days where
the price changed inside one, the same amount in every view, and nothing priced before move-in."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from openamr.access import Role
from openamr.app import create_app
from openamr.settings import Settings
from openamr.store.prices import set_price
from tests.access_world import World, build_world
from tests.helpers import OPERATOR, Clock, ingest, sign_in

JULY_2 = datetime(2026, 7, 2, 10, tzinfo=UTC)
AMOUNT = re.compile(r'data-amount="([0-9.]+)"')


@pytest.fixture
def june(settings: Settings, engine: Engine) -> tuple[World, TestClient]:
    """The world, with EL-A1's register read again at the end of June: every June hour 1 kWh."""
    world = build_world(engine)
    # The world's last reading is 1096 kWh at 2026-06-03 00:00; 28 days of 24 kWh follow.
    assert ingest(engine, [("EL-A1", "2026-07-01T00:00:00+02:00", "1768", "kWh")]).rejected == 0
    with engine.begin() as conn:
        for valid_from, micro in ((date(2026, 1, 1), 1_000_000), (date(2026, 6, 15), 2_000_000)):
            set_price(
                conn,
                access=OPERATOR,
                customer_id=world.customer_a,
                medium="electricity",
                valid_from=valid_from,
                micro_per_unit=micro,
                unit="kWh",
                now=JULY_2,
            )
    app = create_app(settings, engine=engine, clock=Clock(JULY_2))
    client = TestClient(app, base_url="https://testserver")
    return world, sign_in(client, engine, Role.HOUSEHOLD, tenancy_id=world.tenancy_a1)


def _amount(client: TestClient, path: str) -> Decimal | None:
    page = client.get(path)
    assert page.status_code == 200, page.text
    found = AMOUNT.search(page.text)
    return None if found is None else Decimal(found.group(1))


def test_a_year_is_priced_through_the_days_of_a_month_whose_price_changed(
    june: tuple[World, TestClient],
) -> None:
    world, household = june
    point = f"/home/points/{world.point_a1}"
    # 14 days of 24 kWh at 1 kr, then 16 days at 2 kr.
    expected = Decimal(14 * 24 * 1 + 16 * 24 * 2)
    assert _amount(household, f"{point}?view=year&day=2026-06-15") == expected
    assert _amount(household, f"{point}?view=month&day=2026-06-15") == expected
    assert _amount(household, f"{point}?view=day&day=2026-06-14") == Decimal(24)
    assert _amount(household, f"{point}?view=day&day=2026-06-15") == Decimal(48)
    year = household.get(f"{point}?view=year&day=2026-06-15").text
    assert "1 104,00 kr" in year.replace("\u00a0", " ")
    assert "1,00 kr/kWh 1 januari 2026–14 juni 2026; 2,00 kr/kWh från 15 juni 2026." in year
