"""Readings in, hourly values out: once each, in any order, late, and nothing lost."""

from __future__ import annotations

from datetime import UTC, date, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from openamr.collect.reprocess import reprocess_rejected
from openamr.present.series import point_series
from openamr.store import queries
from openamr.store.schema import hourly_value, reading, reading_revision, rejected_input
from openamr.validate import Resolution, Status
from tests.helpers import NOW, OPERATOR, ingest, load_portfolio

EL = "Hem AB,Uppsala Kåbo 1:23,Kåbovägen 12A,1101,electricity,EL-1,kWh,7,2026-01-01T00:00:00+01:00,"


def _hours(
    engine: Engine, day: str, *, medium: str = "electricity"
) -> list[tuple[int | None, str]]:
    with engine.connect() as conn:
        points = queries.list_metering_points(conn, access=OPERATOR, medium=medium)
        first = date.fromisoformat(day)
        series = point_series(
            conn,
            points[:1],
            access=OPERATOR,
            first_day=first,
            end_day=date.fromordinal(first.toordinal() + 1),
            resolution=Resolution.HOUR,
        )
    return [(v.value, v.status.value) for v in series[0].values]


def _count(engine: Engine, table: sa.Table) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def test_hourly_readings_become_hourly_values_and_the_rest_is_missing(engine: Engine) -> None:
    load_portfolio(engine, [EL])
    report = ingest(
        engine,
        [
            ("EL-1", "2026-02-10T00:00:00+01:00", "100.000", "kWh"),
            ("EL-1", "2026-02-10T01:00:00+01:00", "100.250", "kWh"),
            ("EL-1", "2026-02-10T02:00:00+01:00", "100.900", "kWh"),
        ],
    )
    assert (report.stored, report.rejected) == (3, 0)
    hours = _hours(engine, "2026-02-10")
    assert len(hours) == 24
    assert hours[:2] == [(250, "measured"), (650, "measured")]
    assert set(hours[2:]) == {(None, "missing")}


def test_the_same_readings_twice_are_stored_once(engine: Engine) -> None:
    load_portfolio(engine, [EL])
    rows = [
        ("EL-1", "2026-02-10T00:00:00+01:00", "100", "kWh"),
        ("EL-1", "2026-02-10T01:00:00+01:00", "101", "kWh"),
    ]
    ingest(engine, rows)
    again = ingest(engine, rows + rows)
    assert (again.stored, again.duplicates, again.revised) == (0, 4, 0)
    assert _count(engine, reading) == 2
    assert _hours(engine, "2026-02-10")[0] == (1000, "measured")


def test_late_readings_in_any_order_rederive_the_hours_they_touch(engine: Engine) -> None:
    load_portfolio(engine, [EL])
    ingest(
        engine,
        [
            ("EL-1", "2026-02-10T06:00:00+01:00", "106", "kWh"),
            ("EL-1", "2026-02-10T00:00:00+01:00", "100", "kWh"),
        ],
    )
    before = _hours(engine, "2026-02-10")[:6]
    assert {status for _, status in before} == {"estimated"}
    assert sum(value or 0 for value, _ in before) == 6000
    # Days late, in reverse order, one hour at a time.
    ingest(
        engine,
        [
            ("EL-1", f"2026-02-10T0{h}:00:00+01:00", f"{100 + h * h / 5}", "kWh")
            for h in (5, 3, 1, 4, 2)
        ],
    )
    after = _hours(engine, "2026-02-10")[:6]
    assert [status for _, status in after] == ["measured"] * 6
    assert [value for value, _ in after] == [200, 600, 1000, 1400, 1800, 1000]
    assert sum(value or 0 for value, _ in after) == 6000


def test_a_different_value_for_the_same_instant_replaces_it_and_is_recorded(engine: Engine) -> None:
    load_portfolio(engine, [EL])
    ingest(
        engine,
        [
            ("EL-1", "2026-02-10T00:00:00+01:00", "100", "kWh"),
            ("EL-1", "2026-02-10T01:00:00+01:00", "101", "kWh"),
        ],
    )
    report = ingest(engine, [("EL-1", "2026-02-10T01:00:00+01:00", "101.5", "kWh")])
    assert report.revised == 1
    assert _hours(engine, "2026-02-10")[0] == (1500, "measured")
    with engine.connect() as conn:
        revision = conn.execute(sa.select(reading_revision)).one()
    assert (revision.previous_value, revision.value) == (101_000, 101_500)


def test_unusable_rows_are_answered_with_line_and_reason_and_kept(engine: Engine) -> None:
    load_portfolio(engine, [EL])
    report = ingest(
        engine,
        [
            ("EL-1", "2026-02-10T00:00:00+01:00", "100", "kWh"),
            ("NOPE-7", "2026-02-10T00:00:00+01:00", "1", "kWh"),
            ("EL-1", "2026-02-10 01:00", "101", "kWh"),
            ("EL-1", "yesterday", "101", "kWh"),
            ("EL-1", "2026-02-10T02:00:00+01:00", "101", "furlongs"),
            ("EL-1", "2026-02-10T03:00:00+01:00", "lots", "kWh"),
            ("EL-1", "2026-02-10T04:00:00+01:00", "5", "m3"),
            ("EL-1", "2025-12-31T23:00:00+01:00", "99", "kWh"),
        ],
    )
    reasons = {error.line: error.reason for error in report.errors}
    assert report.stored == 1
    assert sorted(reasons) == [3, 4, 5, 6, 7, 8, 9]
    assert "unknown meter 'NOPE-7'" in reasons[3]
    assert "no offset" in reasons[4]
    assert "not ISO 8601" in reasons[5]
    assert "unknown unit 'furlongs'" in reasons[6]
    assert "not a number" in reasons[7]
    assert "does not measure electricity" in reasons[8]
    assert "before meter 'EL-1' was installed" in reasons[9]
    assert _count(engine, rejected_input) == 7


def test_rejected_readings_are_stored_once_their_meter_is_registered(engine: Engine) -> None:
    rows = [
        ("EL-1", "2026-02-10T00:00:00+01:00", "100", "kWh"),
        ("EL-1", "2026-02-10T01:00:00+01:00", "100.5", "kWh"),
    ]
    assert ingest(engine, rows).rejected == 2
    load_portfolio(engine, [EL])
    report = reprocess_rejected(engine, access=OPERATOR, now=NOW, batch_size=100)
    assert (report.received, report.stored, report.rejected) == (2, 2, 0)
    assert _hours(engine, "2026-02-10")[0] == (500, "measured")
    with engine.connect() as conn:
        unresolved = conn.execute(
            sa.select(sa.func.count()).where(rejected_input.c.resolved_at.is_(None))
        ).scalar_one()
    assert unresolved == 0
    # A second run finds nothing left to do.
    assert reprocess_rejected(engine, access=OPERATOR, now=NOW, batch_size=100).received == 0


def test_a_rollover_is_consumption_not_a_negative_value(engine: Engine) -> None:
    load_portfolio(
        engine,
        ["Hem AB,P 1:1,Gatan 1,1001,cold_water,CW-1,m3,3,2026-01-01T00:00:00+01:00,"],
    )
    ingest(
        engine,
        [
            ("CW-1", "2026-02-10T00:00:00+01:00", "999.990", "m3"),
            ("CW-1", "2026-02-10T01:00:00+01:00", "0.015", "m3"),
        ],
    )
    assert _hours(engine, "2026-02-10", medium="cold_water")[0] == (25, "measured")


def test_a_register_that_goes_backwards_is_flagged_never_negative(engine: Engine) -> None:
    load_portfolio(engine, [EL])
    ingest(
        engine,
        [
            ("EL-1", "2026-02-10T00:00:00+01:00", "100", "kWh"),
            ("EL-1", "2026-02-10T01:00:00+01:00", "90", "kWh"),
            ("EL-1", "2026-02-10T02:00:00+01:00", "91", "kWh"),
        ],
    )
    assert _hours(engine, "2026-02-10")[:2] == [(None, "rejected"), (1000, "measured")]
    with engine.connect() as conn:
        negative = conn.execute(
            sa.select(sa.func.count()).where(hourly_value.c.value < 0)
        ).scalar_one()
    assert negative == 0


def test_a_meter_replacement_continues_the_series_without_a_spike(engine: Engine) -> None:
    load_portfolio(
        engine,
        [
            "Hem AB,P 1:1,Gatan 1,1001,hot_water,HW-OLD,m3,5,2026-01-01T00:00:00+01:00,2026-02-10T03:00:00+01:00",
            "Hem AB,P 1:1,Gatan 1,1001,hot_water,HW-NEW,m3,5,2026-02-10T03:00:00+01:00,",
        ],
    )
    ingest(
        engine,
        [
            ("HW-OLD", "2026-02-10T00:00:00+01:00", "4321.000", "m3"),
            ("HW-OLD", "2026-02-10T01:00:00+01:00", "4321.010", "m3"),
            ("HW-OLD", "2026-02-10T03:00:00+01:00", "4321.030", "m3"),
            ("HW-NEW", "2026-02-10T03:00:00+01:00", "0.000", "m3"),
            ("HW-NEW", "2026-02-10T04:00:00+01:00", "0.012", "m3"),
            ("HW-NEW", "2026-02-10T05:00:00+01:00", "0.020", "m3"),
        ],
    )
    hours = _hours(engine, "2026-02-10", medium="hot_water")[:5]
    assert hours == [
        (10, "measured"),
        (10, "measured"),
        (10, "measured"),
        (12, "measured"),
        (8, "measured"),
    ]


@pytest.mark.parametrize(
    ("day", "midnight", "next_midnight", "hours_in_day"),
    [
        ("2026-03-29", "2026-03-29T00:00:00+01:00", "2026-03-30T00:00:00+02:00", 23),
        ("2026-10-25", "2026-10-25T00:00:00+02:00", "2026-10-26T00:00:00+01:00", 25),
    ],
)
def test_days_follow_local_time_on_both_dst_changes(
    engine: Engine, day: str, midnight: str, next_midnight: str, hours_in_day: int
) -> None:
    load_portfolio(engine, [EL])
    # Two readings a day apart: every hour between them is an estimate of 1 kWh.
    ingest(
        engine,
        [
            ("EL-1", midnight, "1000", "kWh"),
            ("EL-1", next_midnight, f"{1000 + hours_in_day}", "kWh"),
        ],
    )
    first = date.fromisoformat(day)
    end = first + timedelta(days=1)
    with engine.connect() as conn:
        points = queries.list_metering_points(conn, access=OPERATOR, medium="electricity")
        hourly = point_series(
            conn, points, access=OPERATOR, first_day=first, end_day=end, resolution=Resolution.HOUR
        )[0].values
        daily = point_series(
            conn, points, access=OPERATOR, first_day=first, end_day=end, resolution=Resolution.DAY
        )[0].values
    assert len(hourly) == hours_in_day
    assert {v.value for v in hourly} == {1000}
    assert [(v.value, v.status) for v in daily] == [(hours_in_day * 1000, Status.ESTIMATED)]
    # Subtracting in one zone would give wall-clock time; the real length is in UTC.
    length = daily[0].end_at.astimezone(UTC) - daily[0].start_at.astimezone(UTC)
    assert length == timedelta(hours=hours_in_day)


def test_a_time_ordered_stream_in_small_batches_gives_the_same_values_as_a_file_order(
    engine: Engine,
) -> None:
    """Grouping by meter before batching changes how fast, never what is stored."""
    second = EL.replace(",1101,", ",1102,").replace("EL-1", "EL-2")
    load_portfolio(engine, [EL, second])
    rows = []
    for hour in range(6):
        for meter, base in (("EL-1", 100), ("EL-2", 500)):
            rows.append((meter, f"2026-02-10T{hour:02}:00:00+01:00", str(base + hour), "kWh"))
    rows.insert(5, ("NOPE", "2026-02-10T03:00:00+01:00", "1", "kWh"))
    rows.append(("EL-1", "not a time", "1", "kWh"))
    # A later row for the same instant still wins after the grouping.
    rows.append(("EL-2", "2026-02-10T05:00:00+01:00", "506", "kWh"))
    report = ingest(engine, rows, batch_size=3)
    assert (report.stored, report.rejected) == (12, 2)
    assert [error.line for error in report.errors] == sorted(e.line for e in report.errors)
    with engine.connect() as conn:
        points = queries.list_metering_points(conn, access=OPERATOR, medium="electricity")
        series = point_series(
            conn,
            points,
            access=OPERATOR,
            first_day=date(2026, 2, 10),
            end_day=date(2026, 2, 11),
            resolution=Resolution.HOUR,
        )
    by_point = {s.metering_point_ids[0]: [v.value for v in s.values[:5]] for s in series}
    assert sorted(by_point.values()) == [[1000] * 5, [1000] * 4 + [2000]]


HCA = (
    "Hem AB,Uppsala Kåbo 1:23,Kåbovägen 12A,1101,heat_cost_allocator,HCA-1,units,6,"
    "2026-01-01T00:00:00+01:00,"
)


def test_a_heat_cost_allocator_restarting_on_its_set_day_is_estimated_not_rejected(
    engine: Engine,
) -> None:
    load_portfolio(engine, [HCA])
    report = ingest(
        engine,
        [
            ("HCA-1", "2026-06-01T00:00:00+02:00", "1500", "units"),
            ("HCA-1", "2026-06-01T01:00:00+02:00", "1504", "units"),
            ("HCA-1", "2026-06-01T03:00:00+02:00", "2", "units"),  # restarted at the set day
            ("HCA-1", "2026-06-01T04:00:00+02:00", "5", "units"),
        ],
    )
    assert (report.stored, report.rejected) == (4, 0)
    hours = _hours(engine, "2026-06-01", medium="heat_cost_allocator")
    assert hours[:4] == [(4, "measured"), (1, "estimated"), (1, "estimated"), (3, "measured")]
    assert "rejected" not in {status for _value, status in hours}
