"""/admin: a customer administrator's pages for the register (properties to meters), as forms.

    GET  /admin                                       properties, a form to add one, settings
    POST /admin/properties                            add a property
    POST /admin/settings                              operations staff see hourly values, or not
    GET  /admin/properties/{id}                       entrances and apartments, with their tenancy
    POST /admin/properties/{id}/entrances             add an entrance
    POST /admin/entrances/{id}/apartments             add an apartment
    POST /admin/properties/{id}/metering-points       add the building's own metering point
    GET  /admin/apartments/{id}                       points and meters, tenancies, letters
    POST /admin/apartments/{id}/metering-points       add a metering point to the apartment
    POST /admin/metering-points/{id}/installations    install a meter on a point
    POST /admin/installations/{id}/removal            take a meter off its point
    GET  /admin/meters                                the customer's meters and where they are
    POST /admin/meters                                add a meter
    POST /admin/{properties,entrances,apartments,meters}/{id}/change    rename (renumber)
    POST /admin/{properties,entrances,apartments,meters}/{id}/delete    delete, if unused
    POST /admin/metering-points/{id}/delete           delete a point that never had a meter

Administrators sign in with the staff's two steps (`staff_signin`: passphrase,
then the TOTP code for those who have one) under /admin/sign-in. Tenancies
and access code letters are in `admin_tenancies`; prices have a page of their own
(/admin/prices), and so do the customer's staff accounts (`admin_staff`). Every change goes
through `openamr.collect.admin`, as the API's do, so the checks, the
refusals and the audit events are the same; reads come from
the register's store modules and `openamr.store.admin_views`. Another customer's
object is 404, as if it did not exist. A change the register refuses shows
the page again with the reason above its form (422 for input that cannot be
used, 409 for a contradiction); a change made redirects (post, then get).
Form fields default to empty, so that a missing object is answered 404
before its input is looked at.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.engine import Engine

from openamr.access import AccessContext, Role
from openamr.collect import admin
from openamr.guard.http import RowId, current_engine, current_now
from openamr.guard.policy import Allow
from openamr.present.pages.forms import read_form_csrf
from openamr.present.pages.rendering import render
from openamr.present.pages.staff_signin import StaffArea, sign_in_router
from openamr.store import admin_views as views
from openamr.store.buildings import (
    find_apartment,
    find_entrance,
    find_property,
    list_entrances,
    list_properties,
)
from openamr.store.customers import find_customer
from openamr.store.meters import (
    PointRow,
    find_installation,
    find_meter,
    find_metering_point,
    list_installations,
    list_metering_points,
)
from openamr.store.ownership import UnableToFind
from openamr.store.portfolio import UnableToRegister
from openamr.store.tenancies import list_tenancies
from openamr.units import Medium

PREFIX = "/admin"
SIGN_IN = StaffArea(
    prefix=PREFIX, roles=frozenset({Role.CUSTOMER_ADMIN}), template="admin/signin.html"
)
router = APIRouter(prefix=PREFIX, include_in_schema=False, dependencies=[Depends(read_form_csrf)])
router.include_router(sign_in_router(SIGN_IN))  # with the TOTP step for those who have one

CustomerAdmin = Annotated[AccessContext, Depends(Allow(Role.CUSTOMER_ADMIN))]
Db = Annotated[Engine, Depends(current_engine)]
Now = Annotated[datetime, Depends(current_now)]
# A form's text field: empty when not sent, checked by `openamr.collect.admin`.
Field = Annotated[str, Form(max_length=300)]

MEDIA = tuple(medium.value for medium in Medium)


class Refused(Exception):
    """A change the register refused: the status for the page and the reason, as said."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@contextmanager
def changing(engine: Engine) -> Iterator[sa.Connection]:
    """One transaction for a change and its audit event; refusals as 404 or `Refused`."""
    try:
        with engine.begin() as conn:
            yield conn
    except UnableToFind as exc:
        raise HTTPException(404, str(exc)) from None
    except admin.UnusableInput as exc:
        raise Refused(422, str(exc)) from None
    except UnableToRegister as exc:
        raise Refused(409, str(exc)) from None
    except PermissionError as exc:
        raise HTTPException(403, str(exc)) from None


@contextmanager
def reading(engine: Engine) -> Iterator[sa.Connection]:
    """A connection for a page's reads; an object the caller does not have is 404."""
    try:
        with engine.connect() as conn:
            yield conn
    except UnableToFind as exc:
        raise HTTPException(404, str(exc)) from None


def see(path: str) -> RedirectResponse:
    """The answer to a change made: on to the page that shows it."""
    return RedirectResponse(path, status_code=303)


def local_day(moment: datetime | None, zone: str) -> str:
    """An instant as the day it is at the property (tenancies and installations begin at a
    local midnight); empty for None."""
    return "" if moment is None else moment.astimezone(ZoneInfo(zone)).date().isoformat()


def page(
    request: Request, template: str, *, refused: Refused | None = None, **context: Any
) -> Response:
    """An administration page; with `refused`, its status and reason above the forms."""
    return refusable_page(request, f"admin/{template}", refused=refused, **context)


def refusable_page(
    request: Request, template: str, *, refused: Refused | None = None, **context: Any
) -> Response:
    """The page `template` again after a change, or first; with `refused`, the refusal's status
    and its reason (the templates show `error` above their forms)."""
    return render(
        request,
        template,
        status_code=refused.status if refused is not None else 200,
        error=refused.reason if refused is not None else None,
        **context,
    )


# --- the properties, and the customer's settings ------------------------------------------------


@router.get("", response_class=HTMLResponse)
def overview(request: Request, access: CustomerAdmin, engine: Db) -> Response:
    """The customer's properties, a form to add one, and the customer's settings."""
    return _overview(request, access, engine)


def _overview(
    request: Request, access: AccessContext, engine: Engine, refused: Refused | None = None
) -> Response:
    with reading(engine) as conn:
        properties = list_properties(conn, access=access)
        customer = find_customer(conn, access=access, customer_id=admin.customer_of(access, None))
    return page(request, "overview.html", refused=refused, properties=properties, customer=customer)


@router.post("/properties")
def create_property(
    request: Request,
    access: CustomerAdmin,
    engine: Db,
    now: Now,
    designation: Field = "",
    name: Field = "",
) -> Response:
    """Add a property; on to its page."""
    try:
        with changing(engine) as conn:
            row = admin.create_property(
                conn,
                access,
                customer_id=None,
                designation=designation,
                name=name if name.strip() else None,
                zone=request.app.state.settings.default_time_zone,
                now=now,
            )
    except Refused as refused:
        return _overview(request, access, engine, refused)
    return see(f"{PREFIX}/properties/{row.id}")


@router.post("/settings")
def change_settings(
    access: CustomerAdmin,
    engine: Db,
    now: Now,
    operations_hourly: Field = "",
) -> Response:
    """Let the customer's operations staff see apartments' hourly values (audited), or not."""
    with changing(engine) as conn:
        admin.set_operations_hourly(
            conn,
            access,
            customer_id=admin.customer_of(access, None),
            enabled=operations_hourly == "on",
            now=now,
        )
    return see(PREFIX)


# --- a property: entrances, apartments, the building's points -----------------------------------


@router.get("/properties/{property_id}", response_class=HTMLResponse)
def property_page(
    request: Request, property_id: RowId, access: CustomerAdmin, engine: Db, now: Now
) -> Response:
    """A property's entrances and apartments, with each apartment's tenancy, and its forms."""
    return property_view(request, access, engine, now, property_id)


def property_view(
    request: Request,
    access: AccessContext,
    engine: Engine,
    now: datetime,
    property_id: int,
    refused: Refused | None = None,
) -> Response:
    """The property's page, with a refusal above its forms."""
    with reading(engine) as conn:
        prop = find_property(conn, access=access, property_id=property_id)
        entrances = list_entrances(conn, access=access, property_id=property_id)
        apartments = views.list_property_apartments(
            conn, access=access, property_id=property_id, now=now
        )
        points = [
            point
            for point in list_metering_points(conn, access=access, property_id=property_id)
            if point.apartment_id is None
        ]
        meters = _meters_of(conn, access, points, now)
    return page(
        request,
        "property.html",
        refused=refused,
        prop=prop,
        entrances=entrances,
        apartments=apartments,
        building_points=points,
        media=MEDIA,
        now=now,
        day=lambda moment: local_day(moment, prop.time_zone),
        today=local_day(now, prop.time_zone),
        **meters,
    )


def _meters_of(
    conn: sa.Connection, access: AccessContext, points: list[PointRow], now: datetime
) -> dict[str, Any]:
    """For `admin/_points.html`: each point's installation now, meters' identities, free meters."""
    current = {
        point.id: next(
            (
                row
                for row in list_installations(conn, access=access, point_id=point.id)
                if row.installed_at <= now and (row.removed_at is None or row.removed_at > now)
            ),
            None,
        )
        for point in points
    }
    installed = [row.meter_id for row in current.values() if row is not None]
    return {
        "current": current,
        "identities": {
            meter_id: find_meter(conn, access=access, meter_id=meter_id).identity
            for meter_id in installed
        },
        "free_meters": views.list_meter_places(
            conn,
            access=access,
            now=now,
            uninstalled_only=True,
            media={point.medium for point in points},
        )
        if len(installed) < len(points)
        else [],
    }


@router.post("/properties/{property_id}/entrances")
def create_entrance(
    request: Request,
    property_id: RowId,
    access: CustomerAdmin,
    engine: Db,
    now: Now,
    address: Field = "",
) -> Response:
    """Add an entrance (belägenhetsadress) to the property."""
    try:
        with changing(engine) as conn:
            admin.create_entrance(conn, access, property_id=property_id, address=address, now=now)
    except Refused as refused:
        return property_view(request, access, engine, now, property_id, refused)
    return see(f"{PREFIX}/properties/{property_id}")


@router.post("/entrances/{entrance_id}/apartments")
def create_apartment(
    request: Request,
    entrance_id: RowId,
    access: CustomerAdmin,
    engine: Db,
    now: Now,
    number: Field = "",
) -> Response:
    """Add an apartment, by its lägenhetsnummer, to an entrance; on to the apartment's page."""
    with reading(engine) as conn:
        property_id = find_entrance(conn, access=access, entrance_id=entrance_id).property_id
    try:
        with changing(engine) as conn:
            row = admin.create_apartment(
                conn, access, entrance_id=entrance_id, number=number, now=now
            )
    except Refused as refused:
        return property_view(request, access, engine, now, property_id, refused)
    return see(f"{PREFIX}/apartments/{row.id}")


@router.post("/properties/{property_id}/metering-points")
def create_building_point(
    request: Request,
    property_id: RowId,
    access: CustomerAdmin,
    engine: Db,
    now: Now,
    medium: Field = "",
) -> Response:
    """Add a metering point of the building itself (its main heat meter, say)."""
    try:
        with changing(engine) as conn:
            admin.create_metering_point(
                conn, access, medium_name=medium, property_id=property_id, now=now
            )
    except Refused as refused:
        return property_view(request, access, engine, now, property_id, refused)
    return see(f"{PREFIX}/properties/{property_id}")


# --- an apartment: its points and meters, its tenancies -----------------------------------------


# What a change just made says on the apartment's page (`?done=`): the catalogue key.
DONE = {
    "moved_in": "admin_done_moved_in",
    "moved_out": "admin_done_moved_out",
    "revoked": "admin_done_revoked",
}


@router.get("/apartments/{apartment_id}", response_class=HTMLResponse)
def apartment_page(
    request: Request,
    apartment_id: RowId,
    access: CustomerAdmin,
    engine: Db,
    now: Now,
    done: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    """An apartment's metering points and meters, its tenancies, and their forms."""
    return apartment_view(request, access, engine, now, apartment_id, notice=DONE.get(done))


def apartment_view(
    request: Request,
    access: AccessContext,
    engine: Engine,
    now: datetime,
    apartment_id: int,
    refused: Refused | None = None,
    notice: str | None = None,
) -> Response:
    """The apartment's page, with a refusal or a notice (such as a move-in just recorded)."""
    with reading(engine) as conn:
        flat = find_apartment(conn, access=access, apartment_id=apartment_id)
        prop = find_property(conn, access=access, property_id=flat.property_id)
        points = list_metering_points(conn, access=access, apartment_id=apartment_id)
        meters = _meters_of(conn, access, points, now)
        tenancies = list_tenancies(conn, access=access, apartment_id=apartment_id)
    return page(
        request,
        "apartment.html",
        refused=refused,
        notice=notice,
        flat=flat,
        prop=prop,
        points=points,
        tenancies=tenancies,
        **meters,
        lasting=[t for t in tenancies if t.end_at is None or t.end_at > now],
        media=MEDIA,
        now=now,
        day=lambda moment: local_day(moment, flat.time_zone),
        today=local_day(now, flat.time_zone),
    )


@router.post("/apartments/{apartment_id}/metering-points")
def create_apartment_point(
    request: Request,
    apartment_id: RowId,
    access: CustomerAdmin,
    engine: Db,
    now: Now,
    medium: Field = "",
) -> Response:
    """Add a metering point for one medium to the apartment."""
    try:
        with changing(engine) as conn:
            admin.create_metering_point(
                conn, access, medium_name=medium, apartment_id=apartment_id, now=now
            )
    except Refused as refused:
        return apartment_view(request, access, engine, now, apartment_id, refused)
    return see(f"{PREFIX}/apartments/{apartment_id}")


@router.post("/metering-points/{point_id}/installations")
def install_meter(
    request: Request,
    point_id: RowId,
    access: CustomerAdmin,
    engine: Db,
    now: Now,
    meter_id: Field = "",
    installed_at: Field = "",
) -> Response:
    """Install one of the customer's meters on the point, from a day at the property."""
    with reading(engine) as conn:
        point = find_metering_point(conn, access=access, point_id=point_id)
    try:
        with changing(engine) as conn:
            if not meter_id.strip().isdigit():
                raise admin.UnusableInput("choose a meter to install")
            admin.install_meter(
                conn,
                access,
                meter_id=int(meter_id),
                point_id=point.id,
                installed_at=installed_at,
                now=now,
            )
    except Refused as refused:
        return _back_to_point(request, access, engine, now, point, refused)
    return see(_point_page(point))


@router.post("/installations/{installation_id}/removal")
def remove_meter(
    request: Request,
    installation_id: RowId,
    access: CustomerAdmin,
    engine: Db,
    now: Now,
    removed_at: Field = "",
) -> Response:
    """Take a meter off its point from a day at the property (the meter stays in the register)."""
    with reading(engine) as conn:
        found = find_installation(conn, access=access, installation_id=installation_id)
        point = find_metering_point(conn, access=access, point_id=found.metering_point_id)
    try:
        with changing(engine) as conn:
            admin.remove_meter(
                conn, access, installation_id=found.id, removed_at=removed_at, now=now
            )
    except Refused as refused:
        return _back_to_point(request, access, engine, now, point, refused)
    return see(_point_page(point))


@router.post("/metering-points/{point_id}/delete")
def delete_metering_point(
    request: Request, point_id: RowId, access: CustomerAdmin, engine: Db, now: Now
) -> Response:
    """Delete a point that never had a meter or a value (one made by mistake); back to its page."""
    with reading(engine) as conn:
        point = find_metering_point(conn, access=access, point_id=point_id)
    try:
        with changing(engine) as conn:
            admin.delete_metering_point(conn, access, point_id=point.id, now=now)
    except Refused as refused:
        return _back_to_point(request, access, engine, now, point, refused)
    return see(_point_page(point))


def _point_page(point: PointRow) -> str:
    if point.apartment_id is None:
        return f"{PREFIX}/properties/{point.property_id}"
    return f"{PREFIX}/apartments/{point.apartment_id}"


def _back_to_point(
    request: Request,
    access: AccessContext,
    engine: Engine,
    now: datetime,
    point: PointRow,
    refused: Refused,
) -> Response:
    if point.apartment_id is None:
        return property_view(request, access, engine, now, point.property_id, refused)
    return apartment_view(request, access, engine, now, point.apartment_id, refused)


# --- meters -------------------------------------------------------------------------------------


@router.get("/meters", response_class=HTMLResponse)
def meters_page(request: Request, access: CustomerAdmin, engine: Db, now: Now) -> Response:
    """The customer's meters, where each is installed now, and a form to add one."""
    return _meters(request, access, engine, now)


def _meters(
    request: Request,
    access: AccessContext,
    engine: Engine,
    now: datetime,
    refused: Refused | None = None,
) -> Response:
    with reading(engine) as conn:
        meters = views.list_meter_places(conn, access=access, now=now)
    return page(request, "meters.html", refused=refused, meters=meters, media=MEDIA)


@router.post("/meters")
def create_meter(
    request: Request,
    access: CustomerAdmin,
    engine: Db,
    now: Now,
    identity: Field = "",
    medium: Field = "",
    register_unit: Field = "",
    register_digits: Field = "",
    manufacturer: Field = "",
) -> Response:
    """Add a meter to the register; it is installed on a point from the point's page."""
    try:
        with changing(engine) as conn:
            digits = register_digits.strip()
            if digits and not digits.isdigit():
                raise admin.UnusableInput(f"register digits {digits[:20]!r} is not a number")
            admin.create_meter(
                conn,
                access,
                customer_id=None,
                identity=identity,
                medium_name=medium,
                unit=register_unit,
                digits=int(digits) if digits else None,
                manufacturer_code=manufacturer or None,
                now=now,
            )
    except Refused as refused:
        return _meters(request, access, engine, now, refused)
    return see(f"{PREFIX}/meters")


# --- renaming and deleting (a deletion the register refuses is shown with its reason) -----------


@router.post("/properties/{property_id}/change")
def change_property(
    request: Request,
    property_id: RowId,
    access: CustomerAdmin,
    engine: Db,
    now: Now,
    designation: Field = "",
    name: Field = "",
) -> Response:
    """Correct the property's designation or name."""
    with reading(engine) as conn:
        find_property(conn, access=access, property_id=property_id)
    try:
        with changing(engine) as conn:
            admin.update_property(
                conn,
                access,
                property_id=property_id,
                designation=designation,
                name=name if name.strip() else None,
                now=now,
            )
    except Refused as refused:
        return property_view(request, access, engine, now, property_id, refused)
    return see(f"{PREFIX}/properties/{property_id}")


@router.post("/properties/{property_id}/delete")
def delete_property(
    request: Request, property_id: RowId, access: CustomerAdmin, engine: Db, now: Now
) -> Response:
    """Delete a property without entrances, points or gateways; back to the properties."""
    try:
        with changing(engine) as conn:
            admin.delete_property(conn, access, property_id=property_id, now=now)
    except Refused as refused:
        return property_view(request, access, engine, now, property_id, refused)
    return see(PREFIX)


@router.post("/entrances/{entrance_id}/change")
def change_entrance(
    request: Request,
    entrance_id: RowId,
    access: CustomerAdmin,
    engine: Db,
    now: Now,
    address: Field = "",
) -> Response:
    """Correct the entrance's address."""
    return _entrance_change(request, entrance_id, access, engine, now, address)


@router.post("/entrances/{entrance_id}/delete")
def delete_entrance(
    request: Request, entrance_id: RowId, access: CustomerAdmin, engine: Db, now: Now
) -> Response:
    """Delete an entrance without apartments."""
    return _entrance_change(request, entrance_id, access, engine, now, None)


def _entrance_change(
    request: Request,
    entrance_id: int,
    access: AccessContext,
    engine: Engine,
    now: datetime,
    address: str | None,
) -> Response:
    """A new address for the entrance, or (None) its deletion; back to its property."""
    with reading(engine) as conn:
        property_id = find_entrance(conn, access=access, entrance_id=entrance_id).property_id
    try:
        with changing(engine) as conn:
            if address is None:
                admin.delete_entrance(conn, access, entrance_id=entrance_id, now=now)
            else:
                admin.rename_entrance(
                    conn, access, entrance_id=entrance_id, address=address, now=now
                )
    except Refused as refused:
        return property_view(request, access, engine, now, property_id, refused)
    return see(f"{PREFIX}/properties/{property_id}")


@router.post("/apartments/{apartment_id}/change")
def change_apartment(
    request: Request,
    apartment_id: RowId,
    access: CustomerAdmin,
    engine: Db,
    now: Now,
    number: Field = "",
) -> Response:
    """Correct the apartment's lägenhetsnummer."""
    with reading(engine) as conn:
        find_apartment(conn, access=access, apartment_id=apartment_id)
    try:
        with changing(engine) as conn:
            admin.renumber_apartment(
                conn, access, apartment_id=apartment_id, number=number, now=now
            )
    except Refused as refused:
        return apartment_view(request, access, engine, now, apartment_id, refused)
    return see(f"{PREFIX}/apartments/{apartment_id}")


@router.post("/apartments/{apartment_id}/delete")
def delete_apartment(
    request: Request, apartment_id: RowId, access: CustomerAdmin, engine: Db, now: Now
) -> Response:
    """Delete an apartment without metering points or tenancies; back to its property."""
    with reading(engine) as conn:
        flat = find_apartment(conn, access=access, apartment_id=apartment_id)
    try:
        with changing(engine) as conn:
            admin.delete_apartment(conn, access, apartment_id=apartment_id, now=now)
    except Refused as refused:
        return apartment_view(request, access, engine, now, apartment_id, refused)
    return see(f"{PREFIX}/properties/{flat.property_id}")


@router.post("/meters/{meter_id}/change")
def change_meter(
    request: Request,
    meter_id: RowId,
    access: CustomerAdmin,
    engine: Db,
    now: Now,
    identity: Field = "",
    manufacturer: Field = "",
) -> Response:
    """Correct the meter's identity or manufacturer code."""
    with reading(engine) as conn:
        find_meter(conn, access=access, meter_id=meter_id)
    try:
        with changing(engine) as conn:
            admin.update_meter(
                conn,
                access,
                meter_id=meter_id,
                identity=identity,
                manufacturer_code=manufacturer or None,
                now=now,
            )
    except Refused as refused:
        return _meters(request, access, engine, now, refused)
    return see(f"{PREFIX}/meters")


@router.post("/meters/{meter_id}/delete")
def delete_meter(
    request: Request, meter_id: RowId, access: CustomerAdmin, engine: Db, now: Now
) -> Response:
    """Delete a meter never installed, read or heard (its key with it)."""
    try:
        with changing(engine) as conn:
            admin.delete_meter(conn, access, meter_id=meter_id, now=now)
    except Refused as refused:
        return _meters(request, access, engine, now, refused)
    return see(f"{PREFIX}/meters")
