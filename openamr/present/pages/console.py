"""/console: the operations console of a customer's staff (P2, P5), as server-rendered pages.

Meter-centric data of the caller's own customer: the portfolio with its data
completeness, a property's apartments and their meters, a meter's register,
status and flags, its daily values (hourly only where the customer enabled
it, audited), the devices heard but not in the register (attached to a
metering point with a form), the telegrams that could not be used (processed
again with a form button), gateways, and search. Every route names its
roles with `Allow`; no route here serves a household's presentation, and
the household's pages refuse customer staff themselves (P5: denied, not
hidden). Staff sign in with the shared two-step sign-in (`staff_signin`: the TOTP
step for those who have one). Every page works without JavaScript.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.engine import Engine

from openamr.access import AccessContext, Role
from openamr.collect import console as actions
from openamr.collect.telegrams import TelegramIngest
from openamr.guard.http import RowId, current_engine, current_now
from openamr.guard.policy import Allow, may_read_hourly
from openamr.present.console_values import UnableToShowHourly, meter_values
from openamr.present.pages.forms import read_form_csrf
from openamr.present.pages.rendering import render
from openamr.present.pages.staff_signin import StaffArea, sign_in_router
from openamr.present.series import UnableToReadValues
from openamr.store import console as store
from openamr.store import telegrams as radio
from openamr.store.meters import find_meter
from openamr.store.ownership import UnableToChange, UnableToFind
from openamr.units import STORAGE_UNITS, parse_unit
from openamr.validate import Resolution

PREFIX = "/console"
ROLES = frozenset({Role.OPERATIONS, Role.CUSTOMER_ADMIN})
SIGN_IN = StaffArea(prefix=PREFIX, roles=ROLES, template="console/signin.html")

router = APIRouter(prefix=PREFIX, include_in_schema=False, dependencies=[Depends(read_form_csrf)])
router.include_router(sign_in_router(SIGN_IN))  # with the TOTP step for staff who have one

Staff = Annotated[AccessContext, Depends(Allow(*ROLES))]
Db = Annotated[Engine, Depends(current_engine)]
Now = Annotated[datetime, Depends(current_now)]

COMPLETENESS_DAYS = 7  # the overview's window of data completeness
VALUE_DAYS = 14  # a meter page's default window of daily values


def _page(request: Request, template: str, *, status_code: int = 200, **context: Any) -> Response:
    return render(request, f"console/{template}", status_code=status_code, **context)


# --- the portfolio ------------------------------------------------------------------------------


@router.get("", response_class=HTMLResponse)
def overview(request: Request, access: Staff, engine: Db, now: Now) -> Response:
    """Properties with their counts and completeness per day, alarms, what waits."""
    with engine.connect() as conn:
        properties = store.list_property_summaries(conn, access=access, now=now)
        zone = ZoneInfo(properties[0].time_zone) if properties else ZoneInfo("UTC")
        today = now.astimezone(zone).date()
        first_day = today - timedelta(days=COMPLETENESS_DAYS)
        completeness = actions.daily_completeness(
            conn, access=access, properties=properties, first_day=first_day, end_day=today
        )
        flagged = store.list_flagged_devices(conn, access=access)
        unassigned = radio.list_heard_devices(conn, access=access, unassigned_only=True)
        waiting = store.count_undecoded_telegrams(conn, access=access)
    days = [first_day + timedelta(days=n) for n in range(COMPLETENESS_DAYS)]
    return _page(
        request,
        "overview.html",
        properties=properties,
        completeness=completeness,
        days=days,
        flagged=flagged,
        unassigned=len(unassigned),
        waiting=sum(waiting.values()),
    )


@router.get("/properties/{property_id}", response_class=HTMLResponse)
def property_page(
    request: Request, property_id: RowId, access: Staff, engine: Db, now: Now
) -> Response:
    """A property's apartments by entrance and number, their metering points and meters."""
    with engine.connect() as conn:
        found = store.list_property_summaries(conn, access=access, now=now, property_id=property_id)
        if not found:
            raise HTTPException(404, f"no property {property_id}")
        points = store.list_placed_points(conn, access=access, property_id=property_id, now=now)
    return _page(request, "property.html", prop=found[0], points=points)


# --- a meter ------------------------------------------------------------------------------------


@router.get("/meters/{meter_id}", response_class=HTMLResponse)
def meter_page(
    request: Request,
    meter_id: RowId,
    access: Staff,
    engine: Db,
    now: Now,
    resolution: Annotated[Resolution, Query()] = Resolution.DAY,
    day: Annotated[date | None, Query(description="for hourly values: the local day")] = None,
) -> Response:
    """A meter's register, status, flags, signal, and its values (hourly only where allowed)."""
    if resolution is Resolution.MONTH:
        raise HTTPException(422, "a meter page shows days or, where allowed, hours")
    with engine.begin() as conn:
        meter = store.find_meter_detail(conn, access=access, meter_id=meter_id, now=now)
        if meter is None:
            raise HTTPException(404, f"no meter {meter_id}")
        readings = store.list_latest_readings(conn, access=access, meter_id=meter_id)
        zone = ZoneInfo(meter.time_zone or request.app.state.settings.default_time_zone)
        today = now.astimezone(zone).date()
        if resolution is Resolution.HOUR:
            first_day = day or today - timedelta(days=1)
            end_day = first_day + timedelta(days=1)
        else:
            first_day, end_day = today - timedelta(days=VALUE_DAYS), today
        try:
            series = meter_values(
                conn,
                access,
                meter,
                first_day=first_day,
                end_day=end_day,
                resolution=resolution,
                now=now,
            )
        except UnableToShowHourly as exc:
            raise HTTPException(403, str(exc)) from None
        except UnableToReadValues as exc:
            raise HTTPException(422, str(exc)) from None
    return _page(
        request,
        "meter.html",
        meter=meter,
        readings=readings,
        series=series,
        resolution=resolution.value,
        first_day=first_day,
        hourly_allowed=may_read_hourly(access),
        zone=zone,
        amount=amount,
        storage_unit=STORAGE_UNITS[parse_unit(meter.register_unit).quantity],
    )


def amount(value: int, unit: str) -> str:
    """A value in its storage unit as people read it: kWh for Wh, litres as they are."""
    if unit == "Wh":
        return f"{value / 1000:.3f} kWh"
    return f"{value} {unit}"


# --- unassigned meters --------------------------------------------------------------------------


@router.get("/unassigned", response_class=HTMLResponse)
def unassigned_page(request: Request, access: Staff, engine: Db, now: Now) -> Response:
    """Devices heard that the register does not know, each with a form to attach it."""
    return _unassigned(request, access, engine, now, error=None, status_code=200)


def _unassigned(
    request: Request,
    access: AccessContext,
    engine: Engine,
    now: datetime,
    *,
    error: str | None,
    status_code: int,
) -> Response:
    with engine.connect() as conn:
        devices = radio.list_heard_devices(conn, access=access, unassigned_only=True)
        points = store.list_free_points(conn, access=access, now=now)
    return _page(
        request,
        "unassigned.html",
        status_code=status_code,
        devices=devices,
        points=points,
        today=now.astimezone(ZoneInfo(request.app.state.settings.default_time_zone))
        .date()
        .isoformat(),
        error=error,
    )


@router.post("/unassigned/attach")
def attach(
    request: Request,
    access: Staff,
    engine: Db,
    now: Now,
    manufacturer: Annotated[str, Form(max_length=3)],
    device_id: Annotated[str, Form(max_length=8)],
    point_id: Annotated[int, Form(ge=1, le=2**31 - 1)],
    installed_from: Annotated[str, Form(max_length=40)],
    unit: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    """Make a device heard a meter on a metering point; its waiting telegrams are filed."""
    try:
        with engine.begin() as conn:
            installation = actions.attach_heard_device(
                conn,
                access,
                manufacturer=manufacturer,
                device_id=device_id,
                point_id=point_id,
                installed_from=installed_from,
                unit=unit or None,
                now=now,
            )
            customer_id = find_meter(
                conn, access=access, meter_id=installation.meter_id
            ).customer_id
    except (actions.UnableToAttach, UnableToFind, UnableToChange) as exc:
        return _unassigned(request, access, engine, now, error=str(exc), status_code=422)
    ingest: TelegramIngest = request.app.state.telegram_ingest
    actions.process_device_telegrams(
        engine, ingest, customer_id=customer_id, manufacturer=manufacturer, device_id=device_id
    )
    return RedirectResponse(f"{PREFIX}/meters/{installation.meter_id}", status_code=303)


# --- telegrams that could not be used -----------------------------------------------------------


@router.get("/telegrams", response_class=HTMLResponse)
def telegrams_page(request: Request, access: Staff, engine: Db) -> Response:
    """Telegrams that could not be decoded or filed, with why, and a button to try again."""
    return _telegrams(request, access, engine, decoded=None)


@router.post("/telegrams/reprocess", response_class=HTMLResponse)
def reprocess(request: Request, access: Staff, engine: Db) -> Response:
    """Process again the telegrams whose reason for waiting is gone; the rest keep theirs.

    The answer is the list as it now stands, with how many were decoded (not
    a redirect: processing again twice is harmless, so a reload may repeat it).
    """
    ingest: TelegramIngest = request.app.state.telegram_ingest
    report = actions.reprocess_waiting(ingest, access)
    return _telegrams(request, access, engine, decoded=report.decoded)


def _telegrams(
    request: Request, access: AccessContext, engine: Engine, *, decoded: int | None
) -> Response:
    with engine.connect() as conn:
        rows = store.list_undecoded_telegrams(conn, access=access)
        counts = store.count_undecoded_telegrams(conn, access=access)
    return _page(request, "telegrams.html", rows=rows, counts=counts, decoded=decoded)


# --- gateways and search ------------------------------------------------------------------------


@router.get("/gateways", response_class=HTMLResponse)
def gateways_page(request: Request, access: Staff, engine: Db, now: Now) -> Response:
    """The customer's gateways: last contact, traffic, devices heard."""
    with engine.connect() as conn:
        rows = radio.list_gateways(conn, access=access, now=now)
    return _page(request, "gateways.html", rows=rows, now=now)


@router.get("/search", response_class=HTMLResponse)
def search_page(
    request: Request,
    access: Staff,
    engine: Db,
    q: Annotated[str, Query(max_length=100)] = "",
) -> Response:
    """Meters by id, properties by designation or name, apartments by number."""
    with engine.connect() as conn:
        hits = store.search(conn, access=access, text=q)
    return _page(request, "search.html", q=q, hits=hits)
