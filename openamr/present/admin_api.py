"""HTTP: administration of the register under /api/v1/admin, for customer and platform admins.

Customer administrators manage their own customer's properties, entrances,
apartments, metering points, meters, installations, tenancies, access codes
and staff; operations staff may read the register but not change it;
platform administrators manage customers and see none of a customer's
buildings. Another customer's
object is answered 404, like one that does not exist (the store decides
that in SQL). Every change is an audit event (`openamr.collect.admin`).

Statuses: 400 a body that is not JSON; 422 a body or value that cannot be
used as given (the message says which and why); 404 no such object for the
caller; 409 a change the register refuses as it stands (a duplicate, an
overlap, an object still in use); 503 no master key to seal a new secret.
A new access code or staff passphrase is answered once, with
`Cache-Control: no-store`, and never kept in clear.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Annotated, Any, TypeVar

import sqlalchemy as sa
from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy.engine import Engine

from openamr.access import AccessContext, Role
from openamr.collect import admin
from openamr.collect.keys_api import current_keyring
from openamr.guard.http import RowId
from openamr.guard.keyring import Keyring, NoMasterKey
from openamr.guard.policy import Allow
from openamr.settings import Settings
from openamr.store import buildings, customers, meters, staff, tenancies
from openamr.store.ownership import UnableToFind
from openamr.store.portfolio import UnableToRegister

router = APIRouter(prefix="/api/v1/admin", tags=["administration"])

# Who may call what: changes are the customer administrator's; reading the
# register is also the operations staff's (meters, properties, apartment
# numbers: what their work is about); customers are the platform's.
CustomerAdmin = Annotated[AccessContext, Depends(Allow(Role.CUSTOMER_ADMIN))]
CustomerStaff = Annotated[AccessContext, Depends(Allow(Role.CUSTOMER_ADMIN, Role.OPERATIONS))]
PlatformAdmin = Annotated[AccessContext, Depends(Allow(Role.PLATFORM_ADMIN))]
SettingsAdmin = Annotated[AccessContext, Depends(Allow(Role.CUSTOMER_ADMIN, Role.PLATFORM_ADMIN))]

ANSWERS: dict[int | str, dict[str, Any]] = {
    400: {"description": "The body is not JSON"},
    404: {"description": "No such object for the caller"},
    409: {"description": "The register refuses the change as it stands"},
    422: {"description": "A value that cannot be used as given"},
}


# --- bodies -------------------------------------------------------------------------------------


class _Body(BaseModel):
    # Strict: "5" is not a number and 1 is not true; an unknown field is a typo to report.
    model_config = ConfigDict(extra="forbid", strict=True)


class CustomerIn(_Body):
    name: str


class CustomerSettingsIn(_Body):
    operations_hourly: bool


class PropertyIn(_Body):
    designation: str
    name: str | None = None
    time_zone: str | None = None  # the installation's default when not given
    customer_id: int | None = None  # needed only by a caller with several customers


class PropertyChange(_Body):
    designation: str | None = None
    name: str | None = None


class EntranceIn(_Body):
    address: str


class ApartmentIn(_Body):
    number: str


class MeteringPointIn(_Body):
    medium: str


class MeterIn(_Body):
    identity: str
    medium: str
    register_unit: str
    register_digits: int | None = None
    manufacturer: str | None = None
    customer_id: int | None = None


class MeterChange(_Body):
    identity: str | None = None
    manufacturer: str | None = None


class InstallationIn(_Body):
    metering_point_id: int
    installed_at: str


class RemovalIn(_Body):
    removed_at: str


class MoveInIn(_Body):
    start: str


class MoveOutIn(_Body):
    end: str


class StaffIn(_Body):
    email: str
    role: str  # customer_admin or operations
    second_factor: bool = False  # a TOTP secret (always for platform roles; here on request)


B = TypeVar("B", bound=_Body)

_EXPECTED = {
    "string_type": "a string",
    "int_type": "a whole number",
    "bool_type": "true or false",
}


def _body(model: type[B]) -> Callable[[Request], Awaitable[B]]:
    """A dependency reading a JSON body into `model`, with one precise message when it cannot.

    The body is read here rather than by FastAPI, whose validation errors are a
    list that repeats the input; an answer here is one sentence (400 or 422).
    Taken after the `Allow` dependency, so an unauthenticated request learns
    nothing about its body.
    """
    fields = ", ".join(model.model_fields)

    async def read(request: Request) -> B:
        raw = await request.body()
        try:
            document = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise HTTPException(400, f"the body must be a JSON object with {fields}") from None
        if not isinstance(document, dict):
            raise HTTPException(422, f"the body must be a JSON object with {fields}")
        try:
            return model.model_validate(document)
        except ValidationError as exc:
            raise HTTPException(422, _problem(exc, fields)) from None

    return read


def _problem(exc: ValidationError, fields: str) -> str:
    error = exc.errors()[0]
    field = ".".join(str(part) for part in error["loc"])
    kind = error["type"]
    if kind == "missing":
        return f"{field} is missing"
    if kind == "extra_forbidden":
        return f"{field} is not a field here; the fields are {fields}"
    if kind in _EXPECTED:
        return f"{field} must be {_EXPECTED[kind]}"
    return f"{field}: {error['msg']}"


def _schema(model: type[_Body]) -> dict[str, Any]:
    """The body's schema for the OpenAPI document (FastAPI does not see a body read by hand)."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": model.model_json_schema()}},
        }
    }


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def _now(request: Request) -> datetime:
    now: datetime = request.app.state.clock()
    return now


Db = Annotated[Engine, Depends(_engine)]
Now = Annotated[datetime, Depends(_now)]


@contextmanager
def _answering() -> Iterator[None]:
    """The one place the administration's refusals become HTTP answers."""
    try:
        yield
    except UnableToFind as exc:
        raise HTTPException(404, str(exc)) from None
    except admin.UnusableInput as exc:
        raise HTTPException(422, str(exc)) from None
    except UnableToRegister as exc:
        raise HTTPException(409, str(exc)) from None
    except PermissionError as exc:
        raise HTTPException(403, str(exc)) from None
    except NoMasterKey as exc:
        raise HTTPException(503, str(exc)) from None


@contextmanager
def _change(engine: Engine) -> Iterator[sa.Connection]:
    """One transaction for a change and its audit event, with the refusals answered."""
    with _answering(), engine.begin() as conn:
        yield conn


@contextmanager
def _read(engine: Engine) -> Iterator[sa.Connection]:
    with _answering(), engine.connect() as conn:
        yield conn


def _json(row: Any) -> dict[str, Any]:
    return asdict(row)


# --- customers (the platform's) -----------------------------------------------------------------


@router.get("/customers", summary="Customers", responses=ANSWERS)
def list_customers(access: PlatformAdmin, engine: Db) -> list[dict[str, Any]]:
    with _read(engine) as conn:
        return [_json(row) for row in customers.list_customers(conn, access=access)]


@router.post(
    "/customers",
    status_code=201,
    summary="Add a customer",
    responses=ANSWERS,
    openapi_extra=_schema(CustomerIn),
)
def create_customer(
    access: PlatformAdmin,
    body: Annotated[CustomerIn, Depends(_body(CustomerIn))],
    engine: Db,
    now: Now,
) -> dict[str, Any]:
    with _change(engine) as conn:
        return _json(admin.create_customer(conn, access, name=body.name, now=now))


@router.patch(
    "/customers/{customer_id}",
    summary="Rename a customer",
    responses=ANSWERS,
    openapi_extra=_schema(CustomerIn),
)
def rename_customer(
    customer_id: RowId,
    access: PlatformAdmin,
    body: Annotated[CustomerIn, Depends(_body(CustomerIn))],
    engine: Db,
    now: Now,
) -> dict[str, Any]:
    with _change(engine) as conn:
        row = admin.rename_customer(conn, access, customer_id=customer_id, name=body.name, now=now)
        return _json(row)


@router.get(
    "/customers/{customer_id}/settings",
    summary="A customer's settings",
    description="`operations_hourly`: whether the customer's operations staff see hourly values.",
    responses=ANSWERS,
)
def get_customer_settings(customer_id: RowId, access: SettingsAdmin, engine: Db) -> dict[str, Any]:
    with _read(engine) as conn:
        row = customers.find_customer(conn, access=access, customer_id=customer_id)
    return {"customer_id": row.id, "operations_hourly": row.operations_hourly}


@router.put(
    "/customers/{customer_id}/settings",
    summary="Change a customer's settings",
    description="Turning `operations_hourly` on lets the customer's operations staff see "
    "hourly values (each read audited); off, they see daily values and coarser.",
    responses=ANSWERS,
    openapi_extra=_schema(CustomerSettingsIn),
)
def put_customer_settings(
    customer_id: RowId,
    access: SettingsAdmin,
    body: Annotated[CustomerSettingsIn, Depends(_body(CustomerSettingsIn))],
    engine: Db,
    now: Now,
) -> dict[str, Any]:
    with _change(engine) as conn:
        row = admin.set_operations_hourly(
            conn, access, customer_id=customer_id, enabled=body.operations_hourly, now=now
        )
    return {"customer_id": row.id, "operations_hourly": row.operations_hourly}


# --- properties ---------------------------------------------------------------------------------


@router.get("/properties", summary="The caller's properties", responses=ANSWERS)
def list_properties(access: CustomerStaff, engine: Db) -> list[dict[str, Any]]:
    with _read(engine) as conn:
        return [_json(row) for row in buildings.list_properties(conn, access=access)]


@router.post(
    "/properties",
    status_code=201,
    summary="Add a property",
    description="`designation` is the fastighetsbeteckning, unique per customer; `time_zone` "
    "an IANA zone (the installation's default if not given).",
    responses=ANSWERS,
    openapi_extra=_schema(PropertyIn),
)
def create_property(
    request: Request,
    access: CustomerAdmin,
    body: Annotated[PropertyIn, Depends(_body(PropertyIn))],
    engine: Db,
    now: Now,
) -> dict[str, Any]:
    settings: Settings = request.app.state.settings
    with _change(engine) as conn:
        row = admin.create_property(
            conn,
            access,
            customer_id=body.customer_id,
            designation=body.designation,
            name=body.name,
            zone=body.time_zone if body.time_zone is not None else settings.default_time_zone,
            now=now,
        )
        return _json(row)


@router.get("/properties/{property_id}", summary="A property", responses=ANSWERS)
def get_property(property_id: RowId, access: CustomerStaff, engine: Db) -> dict[str, Any]:
    with _read(engine) as conn:
        return _json(buildings.find_property(conn, access=access, property_id=property_id))


@router.patch(
    "/properties/{property_id}",
    summary="Change a property's designation or name",
    responses=ANSWERS,
    openapi_extra=_schema(PropertyChange),
)
def update_property(
    property_id: RowId,
    access: CustomerAdmin,
    body: Annotated[PropertyChange, Depends(_body(PropertyChange))],
    engine: Db,
    now: Now,
) -> dict[str, Any]:
    with _change(engine) as conn:
        row = admin.update_property(
            conn,
            access,
            property_id=property_id,
            designation=body.designation,
            name=body.name,
            now=now,
        )
        return _json(row)


@router.delete(
    "/properties/{property_id}",
    status_code=204,
    summary="Delete a property without entrances, points or gateways",
    responses=ANSWERS,
)
def delete_property(property_id: RowId, access: CustomerAdmin, engine: Db, now: Now) -> Response:
    with _change(engine) as conn:
        admin.delete_property(conn, access, property_id=property_id, now=now)
    return Response(status_code=204)


# --- entrances ----------------------------------------------------------------------------------


@router.get(
    "/properties/{property_id}/entrances", summary="A property's entrances", responses=ANSWERS
)
def list_entrances(property_id: RowId, access: CustomerStaff, engine: Db) -> list[dict[str, Any]]:
    with _read(engine) as conn:
        rows = buildings.list_entrances(conn, access=access, property_id=property_id)
    return [_json(row) for row in rows]


@router.post(
    "/properties/{property_id}/entrances",
    status_code=201,
    summary="Add an entrance (belägenhetsadress) to a property",
    responses=ANSWERS,
    openapi_extra=_schema(EntranceIn),
)
def create_entrance(
    property_id: RowId,
    access: CustomerAdmin,
    body: Annotated[EntranceIn, Depends(_body(EntranceIn))],
    engine: Db,
    now: Now,
) -> dict[str, Any]:
    with _change(engine) as conn:
        row = admin.create_entrance(
            conn, access, property_id=property_id, address=body.address, now=now
        )
        return _json(row)


@router.patch(
    "/entrances/{entrance_id}",
    summary="Change an entrance's address",
    responses=ANSWERS,
    openapi_extra=_schema(EntranceIn),
)
def rename_entrance(
    entrance_id: RowId,
    access: CustomerAdmin,
    body: Annotated[EntranceIn, Depends(_body(EntranceIn))],
    engine: Db,
    now: Now,
) -> dict[str, Any]:
    with _change(engine) as conn:
        row = admin.rename_entrance(
            conn, access, entrance_id=entrance_id, address=body.address, now=now
        )
        return _json(row)


@router.delete(
    "/entrances/{entrance_id}",
    status_code=204,
    summary="Delete an entrance without apartments",
    responses=ANSWERS,
)
def delete_entrance(entrance_id: RowId, access: CustomerAdmin, engine: Db, now: Now) -> Response:
    with _change(engine) as conn:
        admin.delete_entrance(conn, access, entrance_id=entrance_id, now=now)
    return Response(status_code=204)


# --- apartments ---------------------------------------------------------------------------------


@router.get(
    "/entrances/{entrance_id}/apartments", summary="An entrance's apartments", responses=ANSWERS
)
def list_apartments(entrance_id: RowId, access: CustomerStaff, engine: Db) -> list[dict[str, Any]]:
    with _read(engine) as conn:
        rows = buildings.list_apartments(conn, access=access, entrance_id=entrance_id)
    return [_json(row) for row in rows]


@router.post(
    "/entrances/{entrance_id}/apartments",
    status_code=201,
    summary="Add an apartment to an entrance",
    description="`number` is the four-digit lägenhetsnummer (such as 1102), unique per entrance.",
    responses=ANSWERS,
    openapi_extra=_schema(ApartmentIn),
)
def create_apartment(
    entrance_id: RowId,
    access: CustomerAdmin,
    body: Annotated[ApartmentIn, Depends(_body(ApartmentIn))],
    engine: Db,
    now: Now,
) -> dict[str, Any]:
    with _change(engine) as conn:
        row = admin.create_apartment(
            conn, access, entrance_id=entrance_id, number=body.number, now=now
        )
        return _json(row)


@router.get("/apartments/{apartment_id}", summary="An apartment", responses=ANSWERS)
def get_apartment(apartment_id: RowId, access: CustomerStaff, engine: Db) -> dict[str, Any]:
    with _read(engine) as conn:
        return _json(buildings.find_apartment(conn, access=access, apartment_id=apartment_id))


@router.patch(
    "/apartments/{apartment_id}",
    summary="Renumber an apartment",
    responses=ANSWERS,
    openapi_extra=_schema(ApartmentIn),
)
def renumber_apartment(
    apartment_id: RowId,
    access: CustomerAdmin,
    body: Annotated[ApartmentIn, Depends(_body(ApartmentIn))],
    engine: Db,
    now: Now,
) -> dict[str, Any]:
    with _change(engine) as conn:
        row = admin.renumber_apartment(
            conn, access, apartment_id=apartment_id, number=body.number, now=now
        )
        return _json(row)


@router.delete(
    "/apartments/{apartment_id}",
    status_code=204,
    summary="Delete an apartment without metering points or tenancies",
    responses=ANSWERS,
)
def delete_apartment(apartment_id: RowId, access: CustomerAdmin, engine: Db, now: Now) -> Response:
    with _change(engine) as conn:
        admin.delete_apartment(conn, access, apartment_id=apartment_id, now=now)
    return Response(status_code=204)


# --- metering points ----------------------------------------------------------------------------


@router.get(
    "/properties/{property_id}/metering-points",
    summary="A property's metering points, its apartments' included",
    responses=ANSWERS,
)
def list_property_points(
    property_id: RowId, access: CustomerStaff, engine: Db
) -> list[dict[str, Any]]:
    with _read(engine) as conn:
        rows = meters.list_metering_points(conn, access=access, property_id=property_id)
    return [_json(row) for row in rows]


@router.post(
    "/properties/{property_id}/metering-points",
    status_code=201,
    summary="Add a property-level metering point (the building's own meter)",
    responses=ANSWERS,
    openapi_extra=_schema(MeteringPointIn),
)
def create_property_point(
    property_id: RowId,
    access: CustomerAdmin,
    body: Annotated[MeteringPointIn, Depends(_body(MeteringPointIn))],
    engine: Db,
    now: Now,
) -> dict[str, Any]:
    with _change(engine) as conn:
        row = admin.create_metering_point(
            conn, access, medium_name=body.medium, property_id=property_id, now=now
        )
        return _json(row)


@router.get(
    "/apartments/{apartment_id}/metering-points",
    summary="An apartment's metering points",
    responses=ANSWERS,
)
def list_apartment_points(
    apartment_id: RowId, access: CustomerStaff, engine: Db
) -> list[dict[str, Any]]:
    with _read(engine) as conn:
        rows = meters.list_metering_points(conn, access=access, apartment_id=apartment_id)
    return [_json(row) for row in rows]


@router.post(
    "/apartments/{apartment_id}/metering-points",
    status_code=201,
    summary="Add a metering point to an apartment (one per medium)",
    responses=ANSWERS,
    openapi_extra=_schema(MeteringPointIn),
)
def create_apartment_point(
    apartment_id: RowId,
    access: CustomerAdmin,
    body: Annotated[MeteringPointIn, Depends(_body(MeteringPointIn))],
    engine: Db,
    now: Now,
) -> dict[str, Any]:
    with _change(engine) as conn:
        row = admin.create_metering_point(
            conn, access, medium_name=body.medium, apartment_id=apartment_id, now=now
        )
        return _json(row)


@router.delete(
    "/metering-points/{point_id}",
    status_code=204,
    summary="Delete a metering point that never had a meter or a value",
    responses=ANSWERS,
)
def delete_metering_point(point_id: RowId, access: CustomerAdmin, engine: Db, now: Now) -> Response:
    with _change(engine) as conn:
        admin.delete_metering_point(conn, access, point_id=point_id, now=now)
    return Response(status_code=204)


@router.get(
    "/metering-points/{point_id}/installations",
    summary="The meters a point has had",
    responses=ANSWERS,
)
def list_point_installations(
    point_id: RowId, access: CustomerStaff, engine: Db
) -> list[dict[str, Any]]:
    with _read(engine) as conn:
        rows = meters.list_installations(conn, access=access, point_id=point_id)
    return [_json(row) for row in rows]


# --- meters and installations -------------------------------------------------------------------


@router.get("/meters", summary="The caller's meters", responses=ANSWERS)
def list_meters(access: CustomerStaff, engine: Db) -> list[dict[str, Any]]:
    with _read(engine) as conn:
        return [_json(row) for row in meters.list_meters(conn, access=access)]


@router.post(
    "/meters",
    status_code=201,
    summary="Add a meter",
    description="`identity` is the serial number (or the 8-digit M-Bus id with `manufacturer`, "
    "such as KAM), unique per customer; the register wraps at 10^`register_digits` "
    "`register_unit`.",
    responses=ANSWERS,
    openapi_extra=_schema(MeterIn),
)
def create_meter(
    access: CustomerAdmin,
    body: Annotated[MeterIn, Depends(_body(MeterIn))],
    engine: Db,
    now: Now,
) -> dict[str, Any]:
    with _change(engine) as conn:
        row = admin.create_meter(
            conn,
            access,
            customer_id=body.customer_id,
            identity=body.identity,
            medium_name=body.medium,
            unit=body.register_unit,
            digits=body.register_digits,
            manufacturer_code=body.manufacturer,
            now=now,
        )
        return _json(row)


@router.get("/meters/{meter_id}", summary="A meter", responses=ANSWERS)
def get_meter(meter_id: RowId, access: CustomerStaff, engine: Db) -> dict[str, Any]:
    with _read(engine) as conn:
        return _json(meters.find_meter(conn, access=access, meter_id=meter_id))


@router.patch(
    "/meters/{meter_id}",
    summary="Correct a meter's identity or manufacturer code",
    responses=ANSWERS,
    openapi_extra=_schema(MeterChange),
)
def update_meter(
    meter_id: RowId,
    access: CustomerAdmin,
    body: Annotated[MeterChange, Depends(_body(MeterChange))],
    engine: Db,
    now: Now,
) -> dict[str, Any]:
    with _change(engine) as conn:
        row = admin.update_meter(
            conn,
            access,
            meter_id=meter_id,
            identity=body.identity,
            manufacturer_code=body.manufacturer,
            now=now,
        )
        return _json(row)


@router.delete(
    "/meters/{meter_id}",
    status_code=204,
    summary="Delete a meter never installed, read or heard (its key with it)",
    responses=ANSWERS,
)
def delete_meter(meter_id: RowId, access: CustomerAdmin, engine: Db, now: Now) -> Response:
    with _change(engine) as conn:
        admin.delete_meter(conn, access, meter_id=meter_id, now=now)
    return Response(status_code=204)


@router.get("/meters/{meter_id}/installations", summary="Where a meter has been", responses=ANSWERS)
def list_meter_installations(
    meter_id: RowId, access: CustomerStaff, engine: Db
) -> list[dict[str, Any]]:
    with _read(engine) as conn:
        rows = meters.list_installations(conn, access=access, meter_id=meter_id)
    return [_json(row) for row in rows]


@router.post(
    "/meters/{meter_id}/installations",
    status_code=201,
    summary="Install a meter on a metering point",
    description="`installed_at`: a local day at the property (its midnight) or a time with an "
    "offset. A meter is on one point at a time and a point has one meter at a time.",
    responses=ANSWERS,
    openapi_extra=_schema(InstallationIn),
)
def install_meter(
    meter_id: RowId,
    access: CustomerAdmin,
    body: Annotated[InstallationIn, Depends(_body(InstallationIn))],
    engine: Db,
    now: Now,
) -> dict[str, Any]:
    with _change(engine) as conn:
        row = admin.install_meter(
            conn,
            access,
            meter_id=meter_id,
            point_id=body.metering_point_id,
            installed_at=body.installed_at,
            now=now,
        )
        return _json(row)


@router.post(
    "/installations/{installation_id}/removal",
    summary="Take a meter off its point",
    responses=ANSWERS,
    openapi_extra=_schema(RemovalIn),
)
def remove_meter(
    installation_id: RowId,
    access: CustomerAdmin,
    body: Annotated[RemovalIn, Depends(_body(RemovalIn))],
    engine: Db,
    now: Now,
) -> dict[str, Any]:
    with _change(engine) as conn:
        row = admin.remove_meter(
            conn, access, installation_id=installation_id, removed_at=body.removed_at, now=now
        )
        return _json(row)


# --- tenancies ----------------------------------------------------------------------------------


@router.get(
    "/apartments/{apartment_id}/tenancies",
    summary="An apartment's tenancies (periods only)",
    responses=ANSWERS,
)
def list_tenancies(apartment_id: RowId, access: CustomerAdmin, engine: Db) -> list[dict[str, Any]]:
    with _read(engine) as conn:
        rows = tenancies.list_tenancies(conn, access=access, apartment_id=apartment_id)
    return [_json(row) for row in rows]


@router.post(
    "/apartments/{apartment_id}/tenancies",
    status_code=201,
    summary="Move-in: a new tenancy from `start`",
    description="`start`: a local day at the property (from its midnight) or a time with an "
    "offset. Refused while another tenancy lasts past it: record that move-out first.",
    responses=ANSWERS,
    openapi_extra=_schema(MoveInIn),
)
def move_in(
    apartment_id: RowId,
    access: CustomerAdmin,
    body: Annotated[MoveInIn, Depends(_body(MoveInIn))],
    engine: Db,
    now: Now,
) -> dict[str, Any]:
    with _change(engine) as conn:
        row = admin.move_in(conn, access, apartment_id=apartment_id, start=body.start, now=now)
        return _json(row)


@router.post(
    "/tenancies/{tenancy_id}/move-out",
    summary="Move-out: the tenancy ends at `end` (exclusive)",
    description="`end`: the first local day (or instant) that is no longer the household's. "
    "From then on the household's credentials open nothing; a move-out that has already "
    "happened ends its sessions and unused access codes at once.",
    responses=ANSWERS,
    openapi_extra=_schema(MoveOutIn),
)
def move_out(
    tenancy_id: RowId,
    access: CustomerAdmin,
    body: Annotated[MoveOutIn, Depends(_body(MoveOutIn))],
    engine: Db,
    now: Now,
) -> dict[str, Any]:
    with _change(engine) as conn:
        done = admin.move_out(conn, access, tenancy_id=tenancy_id, end=body.end, now=now)
    return {
        **_json(done.tenancy),
        "sessions_ended": done.sessions_ended,
        "access_codes_revoked": done.access_codes_revoked,
    }


# --- access codes -------------------------------------------------------------------------------

# What is answered once and must not be kept by a browser or a proxy.
SECRET_HEADERS = {"Cache-Control": "no-store"}


@router.post(
    "/apartments/{apartment_id}/access-codes",
    status_code=201,
    summary="Issue an access code for the apartment's household, to print as a letter",
    description="For the apartment's tenancy now (or the next one, before its move-in). The "
    "code is answered once and only its digest is kept; the tenancy's earlier unused letters "
    "stop working. 409: the apartment has no tenancy now or to come.",
    responses=ANSWERS,
)
def issue_access_code(
    request: Request, apartment_id: RowId, access: CustomerAdmin, engine: Db, now: Now
) -> Response:
    settings: Settings = request.app.state.settings
    with _change(engine) as conn:
        issued = admin.issue_letter(
            conn,
            access,
            apartment_id=apartment_id,
            valid_for=timedelta(days=settings.access_code_days),
            now=now,
        )
    body = {
        "code": issued.code,
        "kind": issued.kind,
        "tenancy_id": issued.tenancy_id,
        "expires_at": issued.expires_at.isoformat(),
    }
    return JSONResponse(status_code=201, content=body, headers=SECRET_HEADERS)


@router.post(
    "/tenancies/{tenancy_id}/access-codes/revoke",
    summary="Revoke the tenancy's access codes not yet used (a lost letter)",
    responses=ANSWERS,
)
def revoke_access_codes(
    tenancy_id: RowId, access: CustomerAdmin, engine: Db, now: Now
) -> dict[str, Any]:
    with _change(engine) as conn:
        revoked = admin.revoke_access_codes(conn, access, tenancy_id=tenancy_id, now=now)
    return {"tenancy_id": tenancy_id, "revoked": revoked}


# --- the customer's staff -----------------------------------------------------------------------


@router.get("/staff", summary="The customer's staff accounts", responses=ANSWERS)
def list_staff(access: CustomerAdmin, engine: Db) -> list[dict[str, Any]]:
    with _read(engine) as conn:
        return [_json(row) for row in staff.list_staff(conn, access=access)]


@router.post(
    "/staff",
    status_code=201,
    summary="Add a staff account to the customer",
    description="`role`: customer_admin or operations. The answer holds the account's "
    "passphrase (and with `second_factor` its TOTP provisioning URI), shown only now; the "
    "holder changes the passphrase. 503: a second factor needs a master key to seal it.",
    responses={**ANSWERS, 503: {"description": "No master key to seal a TOTP secret"}},
    openapi_extra=_schema(StaffIn),
)
def add_staff(
    access: CustomerAdmin,
    body: Annotated[StaffIn, Depends(_body(StaffIn))],
    engine: Db,
    now: Now,
    keyring: Annotated[Keyring, Depends(current_keyring)],
) -> Response:
    with _answering():
        made = admin.add_staff(
            engine,
            access,
            email=body.email,
            role=body.role,
            second_factor=body.second_factor,
            keyring=keyring,
            now=now,
        )
    answer = {
        "id": made.id,
        "email": made.email,
        "role": made.role.value,
        "customer_id": made.customer_id,
        "passphrase": made.passphrase,
        "totp_uri": made.totp_uri,
    }
    return JSONResponse(status_code=201, content=answer, headers=SECRET_HEADERS)


@router.post(
    "/staff/{staff_id}/disable",
    summary="Disable a staff account: it signs in no more, and its sessions end",
    responses=ANSWERS,
)
def disable_staff(staff_id: RowId, access: CustomerAdmin, engine: Db, now: Now) -> dict[str, Any]:
    with _answering():
        return _json(admin.disable_staff(engine, access, staff_id=staff_id, now=now))
