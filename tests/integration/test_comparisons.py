"""Comparisons on the household's page, on both databases: earlier periods of its own, and
similar apartments only when the group passes the cohort screen, never by hour, never
before the move-in. The world (`tests.comparison_world`) is built once per module."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from openamr.access import AccessContext, Role, TenancyScope
from openamr.app import create_app
from openamr.guard import grants
from openamr.guard.sessions import NewSession
from openamr.present.pages.comparisons import build_comparison
from openamr.present.pages.periods import RESOLUTION, Span, View, span_of
from openamr.settings import Settings
from openamr.store import queries
from openamr.store.access_log import list_tenancy_accesses
from openamr.store.comparisons import (
    Scope,
    SimilarApartments,
    UnableToCompare,
    compare_with_similar,
    list_own_periods,
)
from openamr.store.queries import PointRow
from openamr.store.schema import tenancy
from openamr.validate import PeriodValue, Resolution, Status
from openamr.validate.cohort import Position
from tests.comparison_world import (
    MOVE,
    SPIKE_WH,
    STOCKHOLM,
    ComparisonWorld,
    build_comparison_world,
    stor_hourly_wh,
)
from tests.conftest import empty_database
from tests.helpers import NOW, add_household, add_staff, open_session, use_session

OCTOBER = (date(2026, 10, 1), date(2026, 11, 1))


@pytest.fixture(scope="module")
def world(migrated_engine: Engine) -> Iterator[ComparisonWorld]:
    built = build_comparison_world(migrated_engine)
    yield built
    empty_database(migrated_engine)


@pytest.fixture(scope="module")
def client(settings: Settings, migrated_engine: Engine) -> Iterator[TestClient]:
    app = create_app(settings, engine=migrated_engine, clock=lambda: NOW)
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def signed_in(
    client: TestClient, migrated_engine: Engine, world: ComparisonWorld
) -> Callable[[int], TestClient]:
    """`signed_in(tenancy_id)`: the client, signed in as that tenancy's one household."""
    sessions: dict[int, NewSession] = {}

    def sign(tenancy_id: int) -> TestClient:
        if tenancy_id not in sessions:
            household_id = add_household(migrated_engine, tenancy_id)
            sessions[tenancy_id] = open_session(migrated_engine, household_id=household_id)
        return use_session(client, sessions[tenancy_id])

    return sign


def household(engine: Engine, tenancy_id: int) -> AccessContext:
    """The access context a household of `tenancy_id` gets from signing in."""
    with engine.connect() as conn:
        row = conn.execute(sa.select(tenancy).where(tenancy.c.id == tenancy_id)).one()
    scope = TenancyScope(row.id, row.apartment_id, row.customer_id, row.start_at, row.end_at)
    return AccessContext(
        actor=f"household:{tenancy_id}",
        role=Role.HOUSEHOLD,
        customer_ids=frozenset({row.customer_id}),
        tenancy=scope,
    )


def own_point(engine: Engine, access: AccessContext) -> queries.PointRow:
    assert access.tenancy is not None
    with engine.connect() as conn:
        [point] = queries.list_metering_points(
            conn, access=access, apartment_id=access.tenancy.apartment_id
        )
    return point


def _view_values(
    conn: sa.Connection, access: AccessContext, point: PointRow, span: Span
) -> list[PeriodValue]:
    """The view's own values, as the household's page reads them before its comparisons."""
    return list_own_periods(
        conn,
        access=access,
        point=point,
        first_day=span.first_day,
        end_day=span.end_day,
        resolution=RESOLUTION[span.view],
    )


def similar(
    engine: Engine, access: AccessContext, days: tuple[date, date], resolution: Resolution
) -> SimilarApartments | None:
    point = own_point(engine, access)
    with engine.connect() as conn:
        own = list_own_periods(
            conn,
            access=access,
            point=point,
            first_day=days[0],
            end_day=days[1],
            resolution=resolution,
        )
        return compare_with_similar(
            conn,
            access=access,
            point=point,
            first_day=days[0],
            end_day=days[1],
            resolution=resolution,
            own=own,
            now=NOW,
        )


def test_a_household_of_a_20_apartment_property_sees_the_mean_of_the_other_19_by_day(
    migrated_engine: Engine, world: ComparisonWorld
) -> None:
    found = similar(
        migrated_engine,
        household(migrated_engine, world.tenancy_stor_1001),
        OCTOBER,
        Resolution.DAY,
    )
    assert found is not None
    assert found.scope is Scope.PROPERTY
    periods = found.periods
    assert len(periods) == 31
    assert periods[0].start_at == datetime(2026, 10, 1, tzinfo=STOCKHOLM)
    others = [stor_hourly_wh(n) for n in range(2, 21)]  # the household's own 1001 is not in it
    hourly_mean = sum(others) // len(others)
    assert hourly_mean * len(others) == sum(others)  # 210 Wh an hour, exactly
    by_day = {period.start_at.day: period for period in periods}
    assert by_day[1].own == 24 * stor_hourly_wh(1)
    assert by_day[1].mean == 24 * hourly_mean
    assert by_day[25].mean == 25 * hourly_mean  # the day the clocks went back
    # On 10 October apartment 1020 used far more than 15 % of the group's total: not shown.
    assert by_day[10].mean is None
    assert by_day[10].own == 24 * stor_hourly_wh(1)
    assert found.compared == 30
    assert found.own_total == sum(p.own or 0 for p in periods if p.mean is not None)
    assert found.mean_total == sum(p.mean or 0 for p in periods if p.mean is not None)
    assert found.position is Position.LOWEST


def test_the_household_page_shows_the_comparison_as_text_and_a_table(
    signed_in: Callable[[int], TestClient], migrated_engine: Engine, world: ComparisonWorld
) -> None:
    page = signed_in(world.tenancy_stor_1001).get(
        f"/home/points/{world.stor_points[1]}?view=month&day=2026-10-05"
    )
    assert page.status_code == 200
    similar_table = _section(page.text, 'id="similar"', "</table>")
    assert similar_table.count("<tr>") == 1 + 31  # the head and one row a day
    assert "5,0</td>" in similar_table  # 5.04 kWh a day, the mean of the others
    assert "i samma fastighet" in page.text
    summary = _section(page.text, 'id="similar-summary"', "</p>")
    assert "Under de 30 dagar" in summary
    assert "den fjärdedel av lägenheterna som använder minst" in summary
    assert str(SPIKE_WH // 1000) not in similar_table  # the dominant day is not in any mean


def test_a_household_of_a_10_apartment_property_sees_no_comparison_with_others(
    signed_in: Callable[[int], TestClient], migrated_engine: Engine, world: ComparisonWorld
) -> None:
    access = household(migrated_engine, world.tenancy_liten_1001)
    assert similar(migrated_engine, access, OCTOBER, Resolution.DAY) is None
    assert (
        similar(migrated_engine, access, (date(2026, 1, 1), date(2027, 1, 1)), Resolution.MONTH)
        is None
    )
    page = signed_in(world.tenancy_liten_1001).get(
        f"/home/points/{world.liten_points[1]}?view=month&day=2026-10-05"
    )
    assert page.status_code == 200
    assert 'id="similar-none"' in page.text
    assert 'id="similar"' not in page.text


def test_a_property_too_small_on_its_own_is_compared_with_the_customers_apartments(
    migrated_engine: Engine, world: ComparisonWorld
) -> None:
    found = similar(
        migrated_engine,
        household(migrated_engine, world.tenancy_annex_1001),
        OCTOBER,
        Resolution.DAY,
    )
    assert found is not None
    assert found.scope is Scope.CUSTOMER
    # 20 apartments of Stor 1:1 and the two other apartments of the annex (300 Wh an hour).
    first = found.periods[0]
    expected = 24 * (sum(stor_hourly_wh(n) for n in range(1, 21)) + 2 * 300)
    assert first.mean == round(expected / 22)


def test_similar_apartments_are_never_compared_by_hour(
    signed_in: Callable[[int], TestClient], migrated_engine: Engine, world: ComparisonWorld
) -> None:
    access = household(migrated_engine, world.tenancy_stor_1001)
    with pytest.raises(UnableToCompare):
        similar(migrated_engine, access, (date(2026, 10, 5), date(2026, 10, 6)), Resolution.HOUR)
    page = signed_in(world.tenancy_stor_1001).get(
        f"/home/points/{world.stor_points[1]}?view=day&day=2026-10-05"
    )
    assert page.status_code == 200
    assert 'id="similar"' not in page.text
    assert "aldrig per timme" in page.text
    history = _section(page.text, 'id="comparison-history"', "</table>")
    # The day before and the same day last year (200 Wh an hour then, 110 now), hour by hour.
    assert 'data-kind="previous" data-outcome="compared"' in history
    assert 'data-kind="last_year" data-outcome="compared"' in history
    assert "45 % mindre" in history
    assert history.count("24 av 24 timmar jämförda") == 2


def test_a_household_that_moved_in_last_month_is_compared_with_nothing_before_its_move_in(
    signed_in: Callable[[int], TestClient], migrated_engine: Engine, world: ComparisonWorld
) -> None:
    access = household(migrated_engine, world.tenancy_stor_1002)
    point = own_point(migrated_engine, access)
    with migrated_engine.connect() as conn:
        days = list_own_periods(
            conn,
            access=access,
            point=point,
            first_day=date(2026, 9, 1),
            end_day=date(2026, 11, 1),
            resolution=Resolution.DAY,
        )
    known = [day.start_at for day in days if day.status is Status.MEASURED]
    assert known[0] == MOVE.astimezone(STOCKHOLM)  # 15 October: the previous household's
    assert all(day.value is None for day in days if day.start_at < MOVE)  # September is not read

    found = similar(migrated_engine, access, OCTOBER, Resolution.DAY)
    assert found is not None
    assert [p.start_at.day for p in found.periods] == list(range(15, 32))

    page = signed_in(world.tenancy_stor_1002).get(
        f"/home/points/{point.id}?view=month&day=2026-10-20"
    )
    assert page.status_code == 200
    history = _section(page.text, 'id="comparison-history"', "</table>")
    assert 'data-kind="previous" data-outcome="before_move_in"' in history
    assert 'data-kind="last_year" data-outcome="before_move_in"' in history
    assert "12,0" not in page.text  # the previous household's September days (12 kWh)
    similar_table = _section(page.text, 'id="similar"', "</table>")
    days_shown = re.findall(r'scope="row">\w+ (\d+) okt</th>', similar_table)
    assert days_shown == [str(day) for day in range(15, 32)]


def test_a_month_partly_before_the_move_in_is_compared_from_the_move_in_on(
    migrated_engine: Engine, world: ComparisonWorld
) -> None:
    access = household(migrated_engine, world.tenancy_stor_1002)
    point = own_point(migrated_engine, access)
    now = datetime(2026, 11, 20, 12, tzinfo=UTC)
    span = span_of(View.MONTH, date(2026, 11, 20), move_in=date(2026, 10, 15), today=now.date())
    with migrated_engine.connect() as conn:
        comparison = build_comparison(
            conn, access, point, span, _view_values(conn, access, point, span), now=now, lang="en"
        )
    assert comparison is not None
    previous = next(row for row in comparison.history if row.kind == "previous")
    # November 1-19 against October 15-19, the days of October that are the household's.
    assert previous.outcome == "compared"
    assert (previous.compared, previous.of, previous.from_move_in) == (5, 30, True)
    assert previous.this_shown == f"{5 * 24 * 130 / 1000:.1f}"
    assert previous.other_shown == f"{5 * 24 * stor_hourly_wh(2) / 1000:.1f}"
    assert previous.change == {"direction": "more", "percent": "8"}


def _section(text: str, start: str, end: str) -> str:
    match = re.search(re.escape(start) + ".*?" + re.escape(end), text, re.S)
    assert match is not None, f"{start} is not on the page"
    return match.group(0)


def test_support_under_a_grant_is_audited_for_the_earlier_periods_it_is_shown(
    migrated_engine: Engine, world: ComparisonWorld
) -> None:
    home = household(migrated_engine, world.tenancy_stor_1001)
    staff = add_staff(migrated_engine, Role.SUPPORT, now=NOW)
    support = AccessContext(actor=f"staff:{staff}", role=Role.SUPPORT, customer_ids=frozenset())
    with migrated_engine.begin() as conn:
        assert home.tenancy is not None
        grant = grants.request_grant(
            conn,
            support,
            apartment_id=home.tenancy.apartment_id,
            ticket="T-1",
            reason="the household asked about its October",
            media=["electricity"],
            hours=2,
            now=NOW,
        )
        grant = grants.answer_grant(conn, home, grant_id=grant.id, approve=True, now=NOW)
        under_grant = grants.granted_access(support, grant)
        span = span_of(View.MONTH, date(2026, 10, 5), move_in=date(2025, 1, 1), today=NOW.date())
        point = own_point(migrated_engine, home)
        current = _view_values(conn, under_grant, point, span)
        comparison = build_comparison(conn, under_grant, point, span, current, now=NOW, lang="sv")
        assert comparison is not None
        assert comparison.similar is not None
        reads = [
            entry.action
            for entry in list_tenancy_accesses(
                conn,
                customer_id=home.tenancy.customer_id,
                tenancy_id=home.tenancy.tenancy_id,
                except_actor=home.actor,
                limit=10,
            )
            if entry.action.startswith("values.read")
        ]
    # September 2026 and October 2025, the household's own values shown to support.
    assert reads == ["values.read.day", "values.read.day"]
