"""The audit of reads of household-level data: one event per household whose values were read.

Every read of an apartment's values by anyone but the household itself is an
audit event (P5, P9). The event names the tenancy whose period the read
touched, so that each household's page can list the accesses to its own data
and to nobody else's: a read by operations staff over a period that spans a
move is one event for each of the two households, and a read of an apartment
that had no household in the period is one event without a tenancy.
Property-level points (a building's main meter) are not household-level
data, and sums over a property's apartments are not one household's: neither
is an event.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from openamr.access import AccessContext
from openamr.guard.audit import Target, record_access
from openamr.store.queries import PointRow, list_tenancies_in, tenancy_window
from openamr.validate import Resolution, local_span


def record_value_reads(
    conn: sa.Connection,
    access: AccessContext,
    points: Sequence[PointRow],
    *,
    first_day: date,
    end_day: date,
    resolution: Resolution,
    now: datetime,
) -> None:
    """Audit a read of these points' values over local days [first_day, end_day).

    Nothing is written for a household reading its own data. The action says
    the resolution (``values.read.hour``, ``.day``, ``.month``), never a value.
    """
    if not access.audited_reads:
        return
    apartments: dict[int, PointRow] = {}
    for point in points:
        if point.apartment_id is not None:
            apartments.setdefault(point.apartment_id, point)
    if not apartments or end_day <= first_day:
        return
    action = f"values.read.{resolution.value}"
    zone = ZoneInfo(next(iter(apartments.values())).time_zone)
    start, end = tenancy_window(
        access, *local_span(first_day=first_day, end_day=end_day, zone=zone, resolution=resolution)
    )
    tenancies: dict[int, list[int | None]] = {}
    if access.tenancy is not None:
        tenancies[access.tenancy.apartment_id] = [access.tenancy.tenancy_id]
    else:
        for span in list_tenancies_in(conn, apartment_ids=list(apartments), start=start, end=end):
            tenancies.setdefault(span.apartment_id, []).append(span.id)
    for apartment_id, point in sorted(apartments.items()):
        for tenancy_id in tenancies.get(apartment_id) or [None]:
            record_access(
                conn,
                access,
                action=action,
                now=now,
                target=Target(
                    customer_id=point.customer_id,
                    property_id=point.property_id,
                    apartment_id=apartment_id,
                    tenancy_id=tenancy_id,
                ),
            )
