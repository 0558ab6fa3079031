"""/admin/staff: a customer administrator's pages for the staff accounts of its own customer.

    GET  /admin/staff                        the customer's accounts, and a form to add one
    POST /admin/staff                        add one; its passphrase (and TOTP) shown once
    POST /admin/staff/{id}/disable           it signs in no more, and its sessions end
    POST /admin/staff/{id}/passphrase        a new passphrase, shown once; its sessions end
    POST /admin/staff/{id}/totp              a new TOTP secret, shown once; its sessions end
    GET  the two addresses above             back to /admin/staff: nothing is shown twice

Only the caller's own customer's accounts are listed or reached (the store
decides in SQL; another customer's account, or a platform one, is 404 as if
it did not exist), and only its roles (customer_admin, operations) can be
added. An administrator cannot disable their own account. The changes go
through `openamr.collect.admin` and `openamr.guard.staff`, as the API's and
the command line's do, so the checks and the audit events (`staff.create`,
`staff.disable`, `staff.passphrase_set`, `staff.totp_set`) are the same.

A passphrase or a TOTP secret is shown once, on the page that answers the
POST that made it: in no address, in no log (the audit events name the
customer, never a secret), never in a Referer, and the page is `no-store`.
The TOTP secret is shown as its otpauth:// link and as a QR code drawn
server-side (`letters.qr_svg`), for the holder's authenticator app.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.engine import Engine

from openamr.access import AccessContext, Role
from openamr.collect import admin
from openamr.collect.keys_api import current_keyring
from openamr.guard import staff
from openamr.guard.http import RowId
from openamr.guard.keyring import Keyring, NoMasterKey
from openamr.present.pages.admin import (
    PREFIX,
    CustomerAdmin,
    Db,
    Field,
    Now,
    Refused,
    local_day,
    page,
    reading,
    see,
)
from openamr.present.pages.forms import read_form_csrf
from openamr.present.pages.i18n import language_of, translator
from openamr.present.pages.letters import qr_svg
from openamr.present.pages.rendering import render
from openamr.store.ownership import UnableToFind
from openamr.store.portfolio import UnableToRegister
from openamr.store.staff import find_staff, list_staff

router = APIRouter(prefix=PREFIX, include_in_schema=False, dependencies=[Depends(read_form_csrf)])

Keys = Annotated[Keyring, Depends(current_keyring)]
# The roles a customer administrator gives, in the order the form offers them.
ROLES = (Role.OPERATIONS.value, Role.CUSTOMER_ADMIN.value)
# What the page with a secret answers with: nothing may keep it.
NO_STORE = {"Cache-Control": "no-store"}
# What a change just made says on the staff page (`?done=`): the catalogue key.
DONE = {"disabled": "admin_staff_done_disabled"}


@contextmanager
def _refusals() -> Iterator[None]:
    """The staff changes' refusals: 404 for an account the caller does not have, else `Refused`."""
    try:
        yield
    except UnableToFind as exc:
        raise HTTPException(404, str(exc)) from None
    except admin.UnusableInput as exc:
        raise Refused(422, str(exc)) from None
    except (UnableToRegister, staff.UnableToManageStaff) as exc:
        raise Refused(409, str(exc)) from None
    except NoMasterKey as exc:
        raise Refused(503, str(exc)) from None


def _account(request: Request, access: AccessContext, engine: Engine, staff_id: int) -> str:
    """The e-mail address of one of the customer's accounts that is not disabled; else 404,
    or `Refused` for a disabled one (it gets nothing new: it signs in no more)."""
    with reading(engine) as conn:
        found = find_staff(conn, access=access, staff_id=staff_id)
    if found.disabled_at is not None:
        raise Refused(409, translator(language_of(request))("admin_staff_is_disabled"))
    return found.email


# --- the list, and adding an account --------------------------------------------------------


@router.get("/staff", response_class=HTMLResponse)
def staff_page(
    request: Request,
    access: CustomerAdmin,
    engine: Db,
    done: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    """The customer's staff accounts, their forms, and a form to add one."""
    return _staff(request, access, engine, notice=DONE.get(done))


def _staff(
    request: Request,
    access: AccessContext,
    engine: Engine,
    refused: Refused | None = None,
    notice: str | None = None,
) -> Response:
    zone = request.app.state.settings.default_time_zone
    with reading(engine) as conn:
        accounts = list_staff(conn, access=access)
    return page(
        request,
        "staff.html",
        refused=refused,
        notice=notice,
        accounts=accounts,
        roles=ROLES,
        me=access.actor,
        day=lambda moment: local_day(moment, zone),
    )


@router.post("/staff")
def add_staff(
    request: Request,
    access: CustomerAdmin,
    engine: Db,
    now: Now,
    keyring: Keys,
    email: Field = "",
    role: Field = "",
    second_factor: Field = "",
) -> Response:
    """Add an account of the customer's; its passphrase (and TOTP secret) shown once."""
    try:
        with _refusals():
            made = admin.add_staff(
                engine,
                access,
                email=email,
                role=role,
                second_factor=second_factor == "on",
                keyring=keyring,
                now=now,
            )
    except Refused as refused:
        return _staff(request, access, engine, refused)
    return _once(
        request, "created", email=made.email, passphrase=made.passphrase, totp_uri=made.totp_uri
    )


# --- one account: disable, a new passphrase, a new TOTP secret ------------------------------


@router.post("/staff/{staff_id}/disable")
def disable_staff(
    request: Request, staff_id: RowId, access: CustomerAdmin, engine: Db, now: Now
) -> Response:
    """Disable the account: it signs in no more, and its sessions end now."""
    try:
        with _refusals():
            admin.disable_staff(engine, access, staff_id=staff_id, now=now)
    except Refused as refused:
        return _staff(request, access, engine, refused)
    return see(f"{PREFIX}/staff?done=disabled")


@router.post("/staff/{staff_id}/passphrase")
def new_passphrase(
    request: Request, staff_id: RowId, access: CustomerAdmin, engine: Db, now: Now
) -> Response:
    """A new generated passphrase for the account, shown once; its sessions end."""
    try:
        with _refusals():
            email = _account(request, access, engine, staff_id)
            passphrase = staff.set_staff_passphrase(
                engine, access=access, email=email, passphrase=None, now=now
            )
    except Refused as refused:
        return _staff(request, access, engine, refused)
    return _once(request, "passphrase", email=email, passphrase=passphrase)


@router.post("/staff/{staff_id}/totp")
def new_totp(
    request: Request, staff_id: RowId, access: CustomerAdmin, engine: Db, now: Now, keyring: Keys
) -> Response:
    """A new TOTP secret for the account (a second factor from now on), shown once."""
    try:
        with _refusals():
            email = _account(request, access, engine, staff_id)
            uri = staff.renew_staff_totp(
                engine, access=access, email=email, keyring=keyring, now=now
            )
    except Refused as refused:
        return _staff(request, access, engine, refused)
    return _once(request, "totp", email=email, totp_uri=uri)


@router.get("/staff/{staff_id}/passphrase")
def new_passphrase_again(staff_id: RowId, access: CustomerAdmin, engine: Db) -> Response:
    """A secret's address opened again (a reload after switching language): it is not shown
    twice, so on to the staff page, where a new one can be made."""
    with reading(engine) as conn:
        find_staff(conn, access=access, staff_id=staff_id)
    return see(f"{PREFIX}/staff")


@router.get("/staff/{staff_id}/totp")
def new_totp_again(staff_id: RowId, access: CustomerAdmin, engine: Db) -> Response:
    """As for a passphrase: on to the staff page."""
    with reading(engine) as conn:
        find_staff(conn, access=access, staff_id=staff_id)
    return see(f"{PREFIX}/staff")


def _once(
    request: Request,
    made: str,
    *,
    email: str,
    passphrase: str | None = None,
    totp_uri: str | None = None,
) -> Response:
    """The page that shows an account's new secrets, once; kept by no cache."""
    t = translator(language_of(request))
    answer = render(
        request,
        "admin/staff_once.html",
        made=made,
        email=email,
        passphrase=passphrase,
        totp_uri=totp_uri,
        qr=None if totp_uri is None else qr_svg(totp_uri, title=t("admin_staff_qr_title")),
        error=None,
    )
    answer.headers.update(NO_STORE)
    return answer
