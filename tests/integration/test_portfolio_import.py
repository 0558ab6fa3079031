"""The installation register loads from CSV, again and again, and refuses what contradicts it."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from openamr.store.schema import (
    apartment,
    meter,
    meter_installation,
    metering_point,
    rejected_input,
)
from tests.helpers import load_portfolio

ROWS = [
    "Hem AB,Uppsala Kåbo 1:23,Kåbovägen 12A,1101,electricity,EL-1,kWh,7,2025-01-01T00:00:00+01:00,",
    "Hem AB,Uppsala Kåbo 1:23,Kåbovägen 12A,1101,cold_water,CW-1,m3,5,2025-01-01T00:00:00+01:00,",
    "Hem AB,Uppsala Kåbo 1:23,Kåbovägen 12B,1101,electricity,EL-2,kWh,7,2025-01-01T00:00:00+01:00,",
    "Hem AB,Uppsala Kåbo 1:23,Kåbovägen 12A,,heat,HM-1,MWh,6,2025-01-01T00:00:00+01:00,",
]


def _count(engine: Engine, table: sa.Table) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def test_a_portfolio_loads_and_loading_it_again_changes_nothing(engine: Engine) -> None:
    first = load_portfolio(engine, ROWS)
    assert first.errors == []
    assert first.created == {
        "customers": 1,
        "properties": 1,
        "entrances": 2,
        "apartments": 2,
        "metering_points": 4,
        "meters": 4,
        "installations": 4,
    }
    second = load_portfolio(engine, ROWS)
    assert second.errors == []
    assert second.created == {}
    assert _count(engine, meter) == 4
    assert _count(engine, apartment) == 2  # 1101 exists at both entrances
    with engine.connect() as conn:
        building = (
            conn.execute(
                sa.select(metering_point.c.medium).where(metering_point.c.apartment_id.is_(None))
            )
            .scalars()
            .all()
        )
    assert building == ["heat"]


def test_bad_rows_get_their_line_and_reason_and_are_kept(engine: Engine) -> None:
    report = load_portfolio(
        engine,
        [
            ROWS[0],
            "Hem AB,Uppsala Kåbo 1:23,Kåbovägen 12A,11A1,electricity,EL-9,kWh,7,2025-01-01T00:00:00+01:00,",
            "Hem AB,Uppsala Kåbo 1:23,Kåbovägen 12A,1102,gas,G-1,m3,5,2025-01-01T00:00:00+01:00,",
            "Hem AB,Uppsala Kåbo 1:23,Kåbovägen 12A,1102,electricity,EL-3,m3,5,2025-01-01T00:00:00+01:00,",
            "Hem AB,Uppsala Kåbo 1:23,Kåbovägen 12A,1102,electricity,EL-4,kWh,7,2025-01-01T00:00:00,",
            # The same meter cannot sit on a second point at the same time.
            "Hem AB,Uppsala Kåbo 1:23,Kåbovägen 12A,1103,electricity,EL-1,kWh,7,2025-06-01T00:00:00+02:00,",
        ],
    )
    reasons = {error.line: error.reason for error in report.errors}
    assert sorted(reasons) == [3, 4, 5, 6, 7]
    assert "four-digit" in reasons[3]
    assert "gas" in reasons[4]
    assert "does not measure electricity" in reasons[5]
    assert "no offset" in reasons[6]
    assert "already installed elsewhere" in reasons[7]
    assert _count(engine, rejected_input) == 5
    assert _count(engine, meter_installation) == 1


def test_a_replacement_is_two_installations_on_one_point(engine: Engine) -> None:
    report = load_portfolio(
        engine,
        [
            "Hem AB,P 1:1,Gatan 1,1001,hot_water,HW-OLD,m3,5,2025-01-01T00:00:00+01:00,2026-05-01T10:30:00+02:00",
            "Hem AB,P 1:1,Gatan 1,1001,hot_water,HW-NEW,m3,5,2026-05-01T10:30:00+02:00,",
        ],
    )
    assert report.errors == []
    with engine.connect() as conn:
        points = conn.execute(
            sa.select(sa.func.count(sa.distinct(meter_installation.c.metering_point_id)))
        ).scalar_one()
    assert points == 1
    assert _count(engine, meter_installation) == 2
