"""/platform: a platform administrator's pages: the customers, adding one, each one's settings.

    GET  /platform                              the customers, with counts; a form to add one
    POST /platform/customers                    add a customer
    GET  /platform/customers/{id}               its name and settings
    POST /platform/customers/{id}               rename it
    POST /platform/customers/{id}/settings      operations staff see hourly values, or not

Platform administrators manage customers and see none of a customer's
buildings or households (P5): these pages show a customer's name, its
counts of properties and apartments, and its settings, nothing more.
Changes go through `openamr.collect.admin` (checked, audited), as the API's
do. Platform staff always have a TOTP secret, so signing in here
(`staff_signin`) always takes its second step.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.engine import Engine

from openamr.access import AccessContext, Role
from openamr.collect import admin
from openamr.guard.http import RowId
from openamr.guard.policy import Allow
from openamr.present.pages.admin import (
    Db,
    Field,
    Now,
    Refused,
    changing,
    reading,
    refusable_page,
    see,
)
from openamr.present.pages.forms import read_form_csrf
from openamr.present.pages.staff_signin import StaffArea, sign_in_router
from openamr.store.customers import find_customer, list_customers

PREFIX = "/platform"
SIGN_IN = StaffArea(
    prefix=PREFIX, roles=frozenset({Role.PLATFORM_ADMIN}), template="platform/signin.html"
)
router = APIRouter(prefix=PREFIX, include_in_schema=False, dependencies=[Depends(read_form_csrf)])
router.include_router(sign_in_router(SIGN_IN))

PlatformAdmin = Annotated[AccessContext, Depends(Allow(Role.PLATFORM_ADMIN))]


def _page(
    request: Request, template: str, *, refused: Refused | None = None, **context: object
) -> Response:
    return refusable_page(request, f"platform/{template}", refused=refused, **context)


@router.get("", response_class=HTMLResponse)
def customers_page(request: Request, access: PlatformAdmin, engine: Db) -> Response:
    """Every customer, with its counts, and a form to add one."""
    return _customers(request, access, engine)


def _customers(
    request: Request, access: AccessContext, engine: Engine, refused: Refused | None = None
) -> Response:
    with reading(engine) as conn:
        customers = list_customers(conn, access=access)
    return _page(request, "customers.html", refused=refused, customers=customers)


@router.post("/customers")
def create_customer(
    request: Request, access: PlatformAdmin, engine: Db, now: Now, name: Field = ""
) -> Response:
    """Add a customer (a company's name); on to its page."""
    try:
        with changing(engine) as conn:
            row = admin.create_customer(conn, access, name=name, now=now)
    except Refused as refused:
        return _customers(request, access, engine, refused)
    return see(f"{PREFIX}/customers/{row.id}")


@router.get("/customers/{customer_id}", response_class=HTMLResponse)
def customer_page(
    request: Request, customer_id: RowId, access: PlatformAdmin, engine: Db
) -> Response:
    """A customer's name and settings, with their forms."""
    return _customer(request, access, engine, customer_id)


def _customer(
    request: Request,
    access: AccessContext,
    engine: Engine,
    customer_id: int,
    refused: Refused | None = None,
) -> Response:
    with reading(engine) as conn:
        customer = find_customer(conn, access=access, customer_id=customer_id)
    return _page(request, "customer.html", refused=refused, customer=customer)


@router.post("/customers/{customer_id}")
def rename_customer(
    request: Request,
    customer_id: RowId,
    access: PlatformAdmin,
    engine: Db,
    now: Now,
    name: Field = "",
) -> Response:
    """Rename a customer."""
    try:
        with changing(engine) as conn:
            admin.rename_customer(conn, access, customer_id=customer_id, name=name, now=now)
    except Refused as refused:
        return _customer(request, access, engine, customer_id, refused)
    return see(f"{PREFIX}/customers/{customer_id}")


@router.post("/customers/{customer_id}/settings")
def change_settings(
    customer_id: RowId,
    access: PlatformAdmin,
    engine: Db,
    now: Now,
    operations_hourly: Field = "",
) -> Response:
    """Let the customer's operations staff see apartments' hourly values (audited), or not."""
    with changing(engine) as conn:
        admin.set_operations_hourly(
            conn,
            access,
            customer_id=customer_id,
            enabled=operations_hourly == "on",
            now=now,
        )
    return see(f"{PREFIX}/customers/{customer_id}")
