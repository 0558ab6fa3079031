"""Two imports of the same readings at once store each reading once, on both databases."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from openamr.collect.readings import IngestReport
from openamr.store.schema import hourly_value, reading
from tests.helpers import ingest, load_portfolio

METERS = [f"EL-{n}" for n in range(20)]


def test_concurrent_imports_of_the_same_readings_store_them_once(engine: Engine) -> None:
    load_portfolio(
        engine,
        [
            f"Hem AB,P 1:1,Gatan 1,{1001 + n},electricity,{meter},kWh,7,2026-01-01T00:00:00+01:00,"
            for n, meter in enumerate(METERS)
        ],
    )
    start = datetime(2026, 2, 1, tzinfo=UTC)
    rows = [
        (meter, (start + timedelta(hours=hour)).isoformat(), f"{1000 + hour}", "kWh")
        for hour in range(48)
        for meter in METERS
    ]
    reports: list[IngestReport] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            reports.append(ingest(engine, rows, batch_size=97))
        except BaseException as exc:  # the test reports it below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(report.stored for report in reports) == len(rows)
    assert sum(report.duplicates for report in reports) == 2 * len(rows)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(reading)).scalar_one() == len(
            rows
        )
        hours = conn.execute(sa.select(sa.func.count(), sa.func.sum(hourly_value.c.value))).one()
    assert tuple(hours) == (20 * 47, 20 * 47 * 1000)
