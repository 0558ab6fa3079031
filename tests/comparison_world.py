"""A world for the comparison tests: a 20-apartment property, a 10-apartment one, and a move.

- Stor AB: "Uppsala Stor 1:1" with apartments 1001-1020 (electricity), and
  "Uppsala Annex 1:2" with 1001-1003. Every apartment has hourly values for all
  of October 2026; apartment n of Stor 1:1 uses 100 + 10·n Wh an hour, and
  1020 has one hour of 200 kWh on 10 October (a day it dominates). Stor 1001
  has values for September 2026 and October 2025 too; its household has lived
  there since 2025. Stor 1002 changed households on 15 October 2026 and has
  values from 1 September to 20 November 2026.
- Liten AB: "Uppsala Liten 2:2" with apartments 1001-1010, October 2026.

Hours are written by the store's own writer (the one ingest uses), not
derived from readings: the comparisons read hours, and 30,000 of them load in
well under a second this way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from openamr.store import portfolio as register
from openamr.store.schema import apartment, entrance, metering_point, property_
from openamr.store.values import StoredHour, write_hour_rows
from tests.helpers import load_portfolio

STOCKHOLM = ZoneInfo("Europe/Stockholm")
INSTALLED = "2025-01-01T00:00:00+01:00"
LONG_AGO = datetime(2025, 1, 1, tzinfo=UTC)
MOVE = datetime(2026, 10, 14, 22, tzinfo=UTC)  # 2026-10-15 00:00 in Stockholm
SPIKE_AT = datetime(2026, 10, 10, 10, tzinfo=UTC)  # 12:00 in Stockholm
SPIKE_WH = 200_000


def _rows() -> list[str]:
    rows = []
    for n in range(1, 21):
        rows.append(
            f"Stor AB,Uppsala Stor 1:1,Storgatan 1,{1000 + n},electricity,EL-S{n:02},kWh,7,"
            f"{INSTALLED},"
        )
    for n in range(1, 4):
        rows.append(
            f"Stor AB,Uppsala Annex 1:2,Annexgatan 2,{1000 + n},electricity,EL-A{n:02},kWh,7,"
            f"{INSTALLED},"
        )
    for n in range(1, 11):
        rows.append(
            f"Liten AB,Uppsala Liten 2:2,Lillgatan 3,{1000 + n},electricity,EL-L{n:02},kWh,7,"
            f"{INSTALLED},"
        )
    return rows


@dataclass(frozen=True)
class ComparisonWorld:
    stor_points: dict[int, int]  # apartment number 1..20 -> electricity point
    annex_points: dict[int, int]
    liten_points: dict[int, int]
    tenancy_stor_1001: int  # since 2025
    tenancy_stor_1002: int  # moved in on 2026-10-15
    tenancy_annex_1001: int
    tenancy_liten_1001: int


def hours(first_day: date, end_day: date) -> list[int]:
    """The epoch seconds of every hour of the local days [first_day, end_day) in Stockholm."""
    start = int(datetime.combine(first_day, datetime.min.time(), STOCKHOLM).timestamp())
    end = int(datetime.combine(end_day, datetime.min.time(), STOCKHOLM).timestamp())
    return list(range(start, end, 3600))


OCTOBER_2026 = hours(date(2026, 10, 1), date(2026, 11, 1))


def stor_hourly_wh(n: int) -> int:
    """What apartment n of Stor 1:1 uses in an hour of October 2026 (but 1020's spike)."""
    return 100 + 10 * n


def build_comparison_world(engine: Engine) -> ComparisonWorld:
    assert load_portfolio(engine, _rows()).errors == []
    with engine.begin() as conn:
        points = {
            (row.designation, row.number): (row.id, row.customer_id, row.apartment_id)
            for row in conn.execute(
                sa.select(
                    metering_point.c.id,
                    metering_point.c.customer_id,
                    metering_point.c.apartment_id,
                    property_.c.designation,
                    apartment.c.number,
                )
                .join(apartment, apartment.c.id == metering_point.c.apartment_id)
                .join(entrance, entrance.c.id == apartment.c.entrance_id)
                .join(property_, property_.c.id == entrance.c.property_id)
            )
        }

        def point(designation: str, n: int) -> tuple[int, int, int]:
            return points[(designation, str(1000 + n))]

        rows: list[StoredHour] = []

        def add(designation: str, n: int, seconds: list[int], wh: int) -> None:
            point_id, customer_id, _apartment = point(designation, n)
            rows.extend(
                (
                    point_id,
                    customer_id,
                    second,
                    SPIKE_WH if second == SPIKE_AT.timestamp() and n == 20 else wh,
                    "measured",
                    None,
                )
                for second in seconds
            )

        for n in range(1, 21):
            add("Uppsala Stor 1:1", n, OCTOBER_2026, stor_hourly_wh(n))
        add("Uppsala Stor 1:1", 1, hours(date(2026, 9, 1), date(2026, 10, 1)), 150)
        add("Uppsala Stor 1:1", 1, hours(date(2025, 10, 1), date(2025, 11, 1)), 200)
        add("Uppsala Stor 1:1", 2, hours(date(2026, 9, 1), date(2026, 10, 1)), 500)
        add("Uppsala Stor 1:1", 2, hours(date(2026, 11, 1), date(2026, 11, 20)), 130)
        for n in range(1, 4):
            add("Uppsala Annex 1:2", n, OCTOBER_2026, 300)
        for n in range(1, 11):
            add("Uppsala Liten 2:2", n, OCTOBER_2026, 100 + n)
        write_hour_rows(conn, inserts=rows, updates=[], deletes=[])

        def tenancy(designation: str, n: int, start: datetime, end: datetime | None) -> int:
            _point, customer_id, apartment_id = point(designation, n)
            return register.add_tenancy(
                conn, customer_id=customer_id, apartment_id=apartment_id, start_at=start, end_at=end
            )

        tenancy("Uppsala Stor 1:1", 2, LONG_AGO, MOVE)  # the household before
        return ComparisonWorld(
            stor_points={n: point("Uppsala Stor 1:1", n)[0] for n in range(1, 21)},
            annex_points={n: point("Uppsala Annex 1:2", n)[0] for n in range(1, 4)},
            liten_points={n: point("Uppsala Liten 2:2", n)[0] for n in range(1, 11)},
            tenancy_stor_1001=tenancy("Uppsala Stor 1:1", 1, LONG_AGO, None),
            tenancy_stor_1002=tenancy("Uppsala Stor 1:1", 2, MOVE, None),
            tenancy_annex_1001=tenancy("Uppsala Annex 1:2", 1, LONG_AGO, None),
            tenancy_liten_1001=tenancy("Uppsala Liten 2:2", 1, LONG_AGO, None),
        )
