"""The household's page in Chromium: signing in with the letter, the hourly chart against the API,
English, the CSV, another apartment's page, and nothing before the move-in.

The world is `tests.access_world`: apartment 1101's present household moved in on
2026-06-01 and every apartment point has hourly values from 2026-05-30 to 2026-06-03.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

from playwright.sync_api import Page, expect
from sqlalchemy.engine import Engine

from openamr.guard.households import LETTER, issue_access_code
from tests.access_world import World, build_world
from tests.browser.conftest import DESKTOP, PHONE, Served, screenshot, sign_in_page
from tests.helpers import OPERATOR, add_household, open_session

PASSPHRASE = "korta dagar långa nätter"
# 2026-06-03 14:00 in Stockholm: "yesterday" is 2026-06-02, a whole day of hours.
JUNE_3 = datetime(2026, 6, 3, 12, tzinfo=UTC)


def _letter(engine: Engine, tenancy_id: int, now: datetime) -> str:
    with engine.begin() as conn:
        return issue_access_code(
            conn, tenancy_id=tenancy_id, issued_by=OPERATOR, now=now, kind=LETTER
        ).code


def _world_at(engine: Engine, served: Served, now: datetime) -> World:
    world = build_world(engine)
    served.clock.now = now
    return world


def test_a_household_redeems_its_letter_and_sees_yesterdays_hours_as_the_api_gives_them(
    engine: Engine, served: Served, page: Page
) -> None:
    world = _world_at(engine, served, JUNE_3)
    code = _letter(engine, world.tenancy_a1, JUNE_3)

    # The letter's QR code opens the sign-in page with the code in the address's
    # fragment, which the page moves into the code field and out of the address.
    page.goto(f"/household#code={code}")
    expect(page.locator("html")).to_have_attribute("lang", "sv")
    expect(page.get_by_role("heading", name="Logga in", level=1)).to_be_visible()
    expect(page.get_by_label("Åtkomstkod")).to_have_value(code)
    assert "#" not in page.url
    assert code not in page.url
    page.get_by_label("Lösenfras", exact=True).first.fill(PASSPHRASE)
    page.get_by_label("Lösenfrasen igen").fill(PASSPHRASE)
    page.get_by_role("button", name="Använd koden", exact=True).click()

    handle = page.locator("#handle")
    expect(handle).to_have_text(handle.inner_text())  # shown, to note down
    assert handle.inner_text().startswith("h")
    page.get_by_role("link", name="Till vår förbrukning").click()

    expect(page.get_by_role("heading", name="El", level=1)).to_be_visible()
    expect(page.get_by_role("heading", name="Tisdag 2 juni 2026")).to_be_visible()
    expect(page.locator("#chart[data-drawn=true] canvas")).to_have_count(1)
    cells = page.locator("#values tbody td.num")
    shown = [int(value) for value in cells.evaluate_all("cs => cs.map(c => c.dataset.value)")]

    api = page.request.get(
        f"/api/v1/metering-points/{world.point_a1}/values",
        params={"from": "2026-06-02", "to": "2026-06-03", "resolution": "hour"},
    )
    assert api.ok, api.text()
    [series] = api.json()["series"]
    assert shown == [value["value"] for value in series["values"]]
    assert len(shown) == 24
    assert cells.first.inner_text() == "1,00"  # 1000 Wh in an hour, as a Swede writes 1 kWh

    page.get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", name="Electricity", level=1)).to_be_visible()
    expect(page.get_by_role("heading", name="Tuesday 2 June 2026")).to_be_visible()
    assert cells.first.inner_text() == "1.00"
    page.reload()  # remembered
    expect(page.locator("html")).to_have_attribute("lang", "en")

    for name, size in (("household-desktop", DESKTOP), ("household-phone", PHONE)):
        page.set_viewport_size(size)
        page.reload()
        expect(page.locator("#chart[data-drawn=true] canvas")).to_have_count(1)
        screenshot(page, name, docs=True)

    with page.expect_download() as waiting:
        page.get_by_role("link", name="Download all our values (CSV)").click()
    rows = list(csv.DictReader(io.StringIO(Path(waiting.value.path()).read_text("utf-8"))))
    electricity = [row for row in rows if row["metering_point"] == str(world.point_a1)]
    assert electricity[0]["start"] == "2026-06-01T00:00:00+02:00"  # the move-in, nothing before
    assert {row["metering_point"] for row in rows} == {
        str(world.point_a1),
        str(world.point_a1_water),
    }
    by_start = {row["start"]: row["value"] for row in electricity}
    assert [by_start[value["start"]] for value in series["values"]] == [str(v) for v in shown]


def test_another_apartments_page_is_not_found_by_editing_the_address(
    engine: Engine, served: Served, page: Page
) -> None:
    world = _world_at(engine, served, JUNE_3)
    sign_in_page(
        page,
        served,
        open_session(engine, household_id=add_household(engine, world.tenancy_a1), now=JUNE_3),
    )
    for point in (world.point_a2, world.point_b1):
        answer = page.goto(f"/home/points/{point}")
        assert answer is not None
        assert answer.status == 404
        expect(page.get_by_role("heading", name="Sidan finns inte")).to_be_visible()
    answer = page.goto(f"/home/points/{world.point_a1}")
    assert answer is not None
    assert answer.status == 200


def test_a_household_that_moved_in_last_month_sees_nothing_from_before(
    engine: Engine, served: Served, page: Page
) -> None:
    world = _world_at(engine, served, datetime(2026, 7, 2, 10, tzinfo=UTC))
    session = open_session(
        engine, household_id=add_household(engine, world.tenancy_a1), now=served.clock.now
    )
    sign_in_page(page, served, session)

    page.goto(f"/home/points/{world.point_a1}?view=month&day=2026-06-15")
    expect(page.get_by_role("heading", name="juni 2026")).to_be_visible()
    starts = page.locator("#values tbody tr").evaluate_all("rs => rs.map(r => r.dataset.start)")
    assert starts[0] == "2026-06-01T00:00:00+02:00"
    assert page.get_by_role("link", name="Föregående månad").count() == 0

    # An address from before the move-in shows the move-in day, and offers nothing earlier.
    page.goto(f"/home/points/{world.point_a1}?view=day&day=2026-05-31")
    expect(page.get_by_role("heading", name="Måndag 1 juni 2026")).to_be_visible()
    assert page.get_by_role("link", name="Föregående dygn").count() == 0
    page.goto(f"/home/points/{world.point_a1}?view=year&day=2026-05-31")
    starts = page.locator("#values tbody tr").evaluate_all("rs => rs.map(r => r.dataset.start)")
    assert starts[0] == "2026-06-01T00:00:00+02:00"
    assert page.locator("#values").inner_text().count("maj") == 0
