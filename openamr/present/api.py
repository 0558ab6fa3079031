"""HTTP: the portfolio and its values, at hour, day or month resolution, as JSON or CSV.

Who may call what (`openamr.guard.policy`): the register (properties,
apartments, points) is the customer's staff's; an apartment's points and
values are also the household's own (its tenancy only) and, under an
approved grant, support's and other platform staff's (the granted tenancy
only); a property's values are the customer's staff's. Customer staff get
hourly values of apartments only where their customer enabled it. Every
read of an apartment's values by anyone but its household is audited.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import JSONResponse, Response
from sqlalchemy.engine import Engine

from openamr.access import AccessContext, Role
from openamr.guard.http import RowId, current_engine, current_now
from openamr.guard.policy import Allow, refuse_hourly
from openamr.guard.reads import record_value_reads
from openamr.present.series import Series, point_series, total
from openamr.store import queries
from openamr.units import Medium
from openamr.validate import Resolution

router = APIRouter(prefix="/api/v1", tags=["portfolio and values"])

# The register and a property's values: the customer's own staff.
Staff = Annotated[AccessContext, Depends(Allow(Role.CUSTOMER_ADMIN, Role.OPERATIONS))]
# An apartment's points and values: also its household, and platform staff under a grant.
Presentation = Annotated[
    AccessContext,
    Depends(
        Allow(
            Role.HOUSEHOLD,
            Role.CUSTOMER_ADMIN,
            Role.OPERATIONS,
            under_grant=(Role.SUPPORT, Role.PLATFORM_STAFF),
        )
    ),
]
Db = Annotated[Engine, Depends(current_engine)]
Now = Annotated[datetime, Depends(current_now)]
FromDay = Annotated[date, Query(alias="from", description="First local day, YYYY-MM-DD")]
ToDay = Annotated[date, Query(alias="to", description="Local day after the last, YYYY-MM-DD")]
ResolutionQuery = Annotated[Resolution, Query(description="hour, day or month")]
FormatQuery = Annotated[Literal["json", "csv"], Query(description="json or csv")]

CSV_HEADER = ("metering_point", "medium", "start", "end", "value", "unit", "status")


@router.get("/properties", summary="Properties the caller may see")
def get_properties(engine: Db, access: Staff) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = queries.list_properties(conn, access=access)
    return [
        {
            "id": row.id,
            "customer": row.customer,
            "designation": row.designation,
            "name": row.name,
            "time_zone": row.time_zone,
            "apartments": row.apartments,
        }
        for row in rows
    ]


@router.get("/properties/{property_id}/apartments", summary="Apartments of a property")
def get_apartments(property_id: RowId, engine: Db, access: Staff) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        _property_or_404(conn, access, property_id)
        rows = queries.list_apartments(conn, access=access, property_id=property_id)
    return [{"id": row.id, "entrance": row.entrance, "number": row.number} for row in rows]


@router.get("/properties/{property_id}/metering-points", summary="Metering points of a property")
def get_property_points(property_id: RowId, engine: Db, access: Staff) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        _property_or_404(conn, access, property_id)
        rows = queries.list_metering_points(conn, access=access, property_id=property_id)
    return [_point_json(row) for row in rows]


@router.get("/apartments/{apartment_id}/metering-points", summary="Metering points of an apartment")
def get_apartment_points(
    apartment_id: RowId, engine: Db, access: Presentation
) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        _apartment_or_404(conn, access, apartment_id)
        rows = queries.list_metering_points(conn, access=access, apartment_id=apartment_id)
    return [_point_json(row) for row in rows]


@router.get(
    "/metering-points/{point_id}/values",
    summary="Values of one metering point",
    description="Every period from `from` to `to` (exclusive) in the property's local time, "
    "each with its status: measured, estimated, missing or rejected.",
)
def get_point_values(
    point_id: RowId,
    engine: Db,
    access: Presentation,
    now: Now,
    first_day: FromDay,
    end_day: ToDay,
    resolution: ResolutionQuery = Resolution.HOUR,
    format: FormatQuery = "json",
) -> Response:
    with engine.begin() as conn:
        points = queries.list_metering_points(conn, access=access, point_id=point_id)
        if not points:
            raise HTTPException(404, f"no metering point {point_id}")
        series = _read_values(
            conn,
            access,
            points,
            first_day=first_day,
            end_day=end_day,
            resolution=resolution,
            now=now,
        )
    return _answer(series, first_day, end_day, resolution, format)


@router.get(
    "/apartments/{apartment_id}/values", summary="Values of an apartment, per metering point"
)
def get_apartment_values(
    apartment_id: RowId,
    engine: Db,
    access: Presentation,
    now: Now,
    first_day: FromDay,
    end_day: ToDay,
    resolution: ResolutionQuery = Resolution.HOUR,
    medium: Medium | None = None,
    format: FormatQuery = "json",
) -> Response:
    with engine.begin() as conn:
        _apartment_or_404(conn, access, apartment_id)
        points = queries.list_metering_points(
            conn, access=access, apartment_id=apartment_id, medium=medium
        )
        series = _read_values(
            conn,
            access,
            points,
            first_day=first_day,
            end_day=end_day,
            resolution=resolution,
            now=now,
        )
    return _answer(series, first_day, end_day, resolution, format)


@router.get(
    "/properties/{property_id}/values",
    summary="Values of a property for one medium",
    description="The sum over the property's apartments, and each property-level point "
    "(such as the building's main heat meter) as a series of its own.",
)
def get_property_values(
    property_id: RowId,
    engine: Db,
    access: Staff,
    medium: Medium,
    first_day: FromDay,
    end_day: ToDay,
    resolution: ResolutionQuery = Resolution.DAY,
    format: FormatQuery = "json",
) -> Response:
    with engine.connect() as conn:
        _property_or_404(conn, access, property_id)
        points = queries.list_metering_points(
            conn, access=access, property_id=property_id, medium=medium
        )
        if resolution is Resolution.HOUR and any(p.apartment_id is not None for p in points):
            refuse_hourly(access)  # a sum over few apartments is close to one household's hours
        series = point_series(
            conn, points, access=access, first_day=first_day, end_day=end_day, resolution=resolution
        )
    apartments = [s for s, p in zip(series, points, strict=True) if p.apartment_id is not None]
    building = [s for s, p in zip(series, points, strict=True) if p.apartment_id is None]
    answer = ([total("apartments total", apartments)] if apartments else []) + building
    return _answer(answer, first_day, end_day, resolution, format)


def _read_values(
    conn: sa.Connection,
    access: AccessContext,
    points: list[queries.PointRow],
    *,
    first_day: date,
    end_day: date,
    resolution: Resolution,
    now: datetime,
) -> list[Series]:
    """The points' values as the caller may see them, and the read in the audit log."""
    if resolution is Resolution.HOUR and any(p.apartment_id is not None for p in points):
        refuse_hourly(access)
    series = point_series(
        conn, points, access=access, first_day=first_day, end_day=end_day, resolution=resolution
    )
    record_value_reads(
        conn, access, points, first_day=first_day, end_day=end_day, resolution=resolution, now=now
    )
    return series


def _property_or_404(conn: sa.Connection, access: AccessContext, property_id: int) -> None:
    if not queries.list_properties(conn, access=access, property_id=property_id):
        raise HTTPException(404, f"no property {property_id}")


def _apartment_or_404(conn: sa.Connection, access: AccessContext, apartment_id: int) -> None:
    if queries.get_apartment(conn, access=access, apartment_id=apartment_id) is None:
        raise HTTPException(404, f"no apartment {apartment_id}")


def _point_json(row: queries.PointRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "property_id": row.property_id,
        "apartment_id": row.apartment_id,
        "medium": row.medium,
        "unit": row.unit,
    }


def _answer(
    series: list[Series], first_day: date, end_day: date, resolution: Resolution, format: str
) -> Response:
    if format == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(CSV_HEADER)
        for item in series:
            label = "+".join(str(p) for p in item.metering_point_ids)
            for value in item.values:
                writer.writerow(
                    (
                        label,
                        item.medium,
                        value.start_at.isoformat(),
                        value.end_at.isoformat(),
                        "" if value.value is None else value.value,
                        item.unit,
                        value.status.value,
                    )
                )
        return Response(buffer.getvalue(), media_type="text/csv; charset=utf-8")
    return JSONResponse(
        {
            "from": first_day.isoformat(),
            "to": end_day.isoformat(),
            "resolution": resolution.value,
            "series": [
                {
                    "label": item.label,
                    "metering_point_ids": list(item.metering_point_ids),
                    "medium": item.medium,
                    "unit": item.unit,
                    "values": [
                        {
                            "start": value.start_at.isoformat(),
                            "end": value.end_at.isoformat(),
                            "value": value.value,
                            "status": value.status.value,
                        }
                        for value in item.values
                    ],
                }
                for item in series
            ],
        }
    )
