"""A meter's values as the operations console shows them: daily, hourly only where allowed, audited.

The same rule as the values API (`openamr.present.api`): customer staff read
an apartment's hourly values only where their customer enabled it for
operations (`guard.policy.may_read_hourly`), and every read of an
apartment's values is an audit event of the households it touched.
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa

from openamr.access import AccessContext
from openamr.guard.policy import may_read_hourly
from openamr.guard.reads import record_value_reads
from openamr.present.series import Series, point_series
from openamr.store import queries
from openamr.store.console import MeterDetail
from openamr.validate import Resolution


class UnableToShowHourly(PermissionError):
    """Hourly values of an apartment asked for by staff whose customer has not enabled them."""


def meter_values(
    conn: sa.Connection,
    access: AccessContext,
    meter: MeterDetail,
    *,
    first_day: date,
    end_day: date,
    resolution: Resolution,
    now: datetime,
) -> Series | None:
    """The values of the point the meter is installed on, or None if it is on none.

    Raises UnableToShowHourly, and `series.UnableToReadValues` for a bad period.
    """
    if meter.point_id is None:
        return None
    points = queries.list_metering_points(conn, access=access, point_id=meter.point_id)
    if not points:
        return None
    if (
        resolution is Resolution.HOUR
        and points[0].apartment_id is not None
        and not may_read_hourly(access)
    ):
        raise UnableToShowHourly(
            "hourly values of apartments are shown to your customer's staff only where the "
            "customer has enabled it"
        )
    series = point_series(
        conn, points, access=access, first_day=first_day, end_day=end_day, resolution=resolution
    )
    record_value_reads(
        conn, access, points, first_day=first_day, end_day=end_day, resolution=resolution, now=now
    )
    return series[0]
