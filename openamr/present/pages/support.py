"""/support: platform support's entry to the pages (P5): a two-step sign-in, its grants.

    GET  /support/sign-in          e-mail and passphrase (open to anyone)
    POST /support/sign-in          checks them; the TOTP step follows on the same page
    POST /support/sign-in/totp     the TOTP code completes the sign-in
    POST /support/sign-out         ends the session
    GET  /support                  the staff member's requests and grants, with a button into
                                   the household's page under each active one
    POST /support/open             opens the household's page under the grant chosen
    POST /support/grants           asks the household of an apartment for access (ticket,
                                   reason, media, hours), as POST /api/v1/grants does

Support and other platform staff see nothing of their own: the household's
page (`/home`) serves them only under a grant the household approved, with a
banner, and every view audited (`openamr.present.pages.household`). A request
for a grant goes through `guard.grants.request_grant`, as the API's does. With several
active grants the staff member chooses one here: the choice is a cookie sent
with the household's pages only, which the policy reads as the API reads the
`X-OpenAMR-Grant` header, so every link of those pages stays under that grant
and every view is audited under it; a chosen grant that ends is refused, never
replaced by another. Platform staff
always have a TOTP secret, so the passphrase only half signs in: the session
it starts authenticates nothing until the code is given (the shared
`openamr.present.pages.staff_signin`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.engine import Engine

from openamr.access import AccessContext, Role
from openamr.db import MAX_ROW_ID
from openamr.guard import grants
from openamr.guard.http import current_engine, current_now, current_settings
from openamr.guard.policy import GRANT_COOKIE, GRANT_COOKIE_PATH, Allow
from openamr.present.pages.forms import read_form_csrf
from openamr.present.pages.rendering import render
from openamr.present.pages.staff_signin import StaffArea, sign_in_router
from openamr.units import Medium

PREFIX = "/support"
ROLES = frozenset({Role.SUPPORT, Role.PLATFORM_STAFF})
SIGN_IN = StaffArea(prefix=PREFIX, roles=ROLES, template="support/signin.html")

router = APIRouter(prefix=PREFIX, include_in_schema=False, dependencies=[Depends(read_form_csrf)])
router.include_router(sign_in_router(SIGN_IN))

PlatformStaff = Annotated[AccessContext, Depends(Allow(*ROLES))]
Db = Annotated[Engine, Depends(current_engine)]
Now = Annotated[datetime, Depends(current_now)]


# -- the staff member's grants ---------------------------------------------------------------


@router.get("", response_class=HTMLResponse)
def home(request: Request, access: PlatformStaff, engine: Db, now: Now) -> Response:
    """The staff member's own requests, newest first; the active one opens the household's page."""
    return _home(request, access, engine, now)


@router.post("/grants")
def ask_for_grant(
    request: Request,
    access: PlatformStaff,
    engine: Db,
    now: Now,
    apartment: Annotated[int, Form(ge=1, le=MAX_ROW_ID)],
    ticket: Annotated[str, Form(max_length=200)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
    hours: Annotated[int, Form(ge=1, le=8)] = 8,
    media: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """Ask the household of `apartment` for access; the page again, with the request or why not."""
    try:
        with engine.begin() as conn:
            grants.request_grant(
                conn,
                access,
                apartment_id=apartment,
                ticket=ticket,
                reason=reason,
                media=media or None,
                hours=hours,
                now=now,
            )
    except grants.UnableToFindGrant as exc:
        return _home(request, access, engine, now, refused=str(exc), status_code=404)
    except grants.UnableToRequestGrant as exc:
        return _home(request, access, engine, now, refused=str(exc), status_code=422)
    return RedirectResponse(PREFIX, status_code=303)


def _home(
    request: Request,
    access: AccessContext,
    engine: Engine,
    now: datetime,
    *,
    refused: str | None = None,
    status_code: int = 200,
) -> Response:
    with engine.begin() as conn:
        grants.settle_grants(conn, now=now)
        found = grants.list_staff_grants(conn, access, now=now)
    zone = ZoneInfo(current_settings(request).default_time_zone)
    rows: list[dict[str, Any]] = [
        {
            "id": grant.id,
            "status": status.value,
            "ticket": grant.ticket,
            "apartment_id": grant.apartment_id,
            "requested_at": f"{grant.requested_at.astimezone(zone):%Y-%m-%d %H:%M}",
            "until": _local(grants.expires_at(grant), zone),
        }
        for grant, status in sorted(found, key=lambda item: item[0].id, reverse=True)
    ]
    active = [row for row in rows if row["status"] == grants.GrantStatus.ACTIVE.value]
    return render(
        request,
        "support/home.html",
        status_code=status_code,
        rows=rows,
        active=active,
        media=[medium.value for medium in Medium],
        refused=refused,
    )


@router.post("/open")
def open_household(
    access: PlatformStaff, engine: Db, now: Now, grant: Annotated[int, Form(ge=1)]
) -> Response:
    """Open the household's page under `grant`, one of the caller's active grants; else 403."""
    with engine.begin() as conn:
        grants.settle_grants(conn, now=now)
        try:
            chosen = grants.active_grant(conn, access, now=now, chosen=grant)
        except grants.UnableToUseGrant as exc:
            raise HTTPException(403, str(exc)) from None
    answer = RedirectResponse("/home", status_code=303)
    answer.set_cookie(
        GRANT_COOKIE,
        str(chosen.id),
        path=GRANT_COOKIE_PATH,
        secure=True,
        httponly=True,
        samesite="strict",
    )
    return answer


# -- the parts -------------------------------------------------------------------------------


def _local(moment: datetime | None, zone: ZoneInfo) -> str | None:
    return None if moment is None else f"{moment.astimezone(zone):%Y-%m-%d %H:%M}"
