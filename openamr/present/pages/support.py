"""/support: platform support's entry to the pages (P5): a two-step sign-in, its grants.

    GET  /support/sign-in          e-mail and passphrase (open to anyone)
    POST /support/sign-in          checks them; the TOTP step follows on the same page
    POST /support/sign-in/totp     the TOTP code completes the sign-in
    GET  /support                  the staff member's requests and grants, with links into
                                   the household's page for the one that is active

Support and other platform staff see nothing of their own: the household's
page (`/home`) serves them only under a grant the household approved, with a
banner, and every view audited (`openamr.present.pages.household`). Asking
for a grant stays in the API (`POST /api/v1/grants`) for now. Platform staff
always have a TOTP secret, so the passphrase only half signs in: the session
it starts authenticates nothing until the code is given (`openamr.guard.signin`).
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.engine import Engine

from openamr.access import AccessContext, Role
from openamr.guard import grants, signin
from openamr.guard.attempts import TooManyAttempts
from openamr.guard.authn import FORM_CSRF_STATE
from openamr.guard.http import current_engine, current_now
from openamr.guard.keyring import Keyring
from openamr.guard.policy import Allow
from openamr.guard.sessions import SESSION_COOKIE, NewSession, token_digest
from openamr.present.pages.errors import safe_next
from openamr.present.pages.forms import read_form_csrf
from openamr.present.pages.rendering import render
from openamr.settings import Settings
from openamr.store import identities

PREFIX = "/support"
router = APIRouter(prefix=PREFIX, include_in_schema=False, dependencies=[Depends(read_form_csrf)])

PlatformStaff = Annotated[AccessContext, Depends(Allow(Role.SUPPORT, Role.PLATFORM_STAFF))]
Db = Annotated[Engine, Depends(current_engine)]
Now = Annotated[datetime, Depends(current_now)]

# Sign-in's refusals: the status code and the catalogue key of the message above the form.
REFUSALS: tuple[tuple[type[Exception], int, str], ...] = (
    (TooManyAttempts, 429, "support_signin_too_many"),
    (signin.UnableToSignIn, 401, "support_signin_refused"),  # the TOTP step says its own
    (signin.SecondFactorUnavailable, 503, "support_signin_unavailable"),
)


class _Refused(Exception):
    def __init__(self, status: int, key: str) -> None:
        super().__init__(key)
        self.status = status
        self.key = key


@contextmanager
def _refusals(refused_key: str = "support_signin_refused") -> Iterator[None]:
    """Sign-in's refusals as `_Refused`; `refused_key` says what a wrong credential was."""
    try:
        yield
    except Exception as exc:
        for kind, status, key in REFUSALS:
            if isinstance(exc, kind):
                shown = refused_key if kind is signin.UnableToSignIn else key
                raise _Refused(status, shown) from None
        raise


# -- signing in ------------------------------------------------------------------------------


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_form(request: Request, next: str = PREFIX) -> Response:
    """The first step: e-mail and passphrase (open to anyone: it shows nothing of anyone's)."""
    return render(request, "support/signin.html", next=safe_next(next, PREFIX), error=None)


@router.post("/sign-in")
def sign_in(
    request: Request,
    email: Annotated[str, Form(max_length=300)],
    passphrase: Annotated[str, Form(max_length=1000)],
    next: Annotated[str, Form(max_length=2000)] = PREFIX,
) -> Response:
    """Check e-mail and passphrase; the half-open session's cookie, and the TOTP form."""
    target = safe_next(next, PREFIX)
    try:
        with _refusals():
            done = signin.sign_in_staff(
                _engine(request),
                settings=_settings(request),
                email=email,
                passphrase=passphrase,
                address=_address(request),
                now=_now(request),
                replacing=request.cookies.get(SESSION_COOKIE) or None,
            )
    except _Refused as refused:
        return render(
            request,
            "support/signin.html",
            status_code=refused.status,
            next=target,
            error=refused.key,
        )
    if not done.totp_due:  # a customer's staff member without TOTP: the console is theirs
        answer: Response = RedirectResponse(target, status_code=303)
    else:
        # The second step posts with the half-open session's CSRF token.
        answer = render(
            request,
            "support/totp.html",
            next=target,
            error=None,
            csrf_token=done.session.csrf_token,
        )
    _set_cookie(answer, done.session)
    return answer


@router.post("/sign-in/totp")
def second_factor(
    request: Request,
    code: Annotated[str, Form(max_length=12)],
    next: Annotated[str, Form(max_length=2000)] = PREFIX,
) -> Response:
    """Check the TOTP code for the half-open session; the full session, and on to `next`."""
    target = safe_next(next, PREFIX)
    token = request.cookies.get(SESSION_COOKIE) or None
    # The half-open session authenticates nothing, so authentication does not check this
    # form's CSRF token: it is checked here, against that session's.
    expected = _csrf_of(request, token)
    sent = getattr(request.state, FORM_CSRF_STATE, "")
    if expected is not None and not hmac.compare_digest(str(sent).encode(), expected.encode()):
        return render(
            request, "support/signin.html", status_code=403, next=target, error="support_csrf"
        )
    settings = _settings(request)
    try:
        with _refusals("support_totp_refused"):
            done = signin.give_second_factor(
                _engine(request),
                settings=settings,
                keyring=Keyring.from_settings(settings),
                token=token,
                code=code.strip(),
                address=_address(request),
                now=_now(request),
            )
    except _Refused as refused:
        return render(
            request,
            "support/totp.html",
            status_code=refused.status,
            next=target,
            error=refused.key,
        )
    answer = RedirectResponse(target, status_code=303)
    _set_cookie(answer, done.session)
    return answer


# -- the staff member's grants ---------------------------------------------------------------


@router.get("", response_class=HTMLResponse)
def home(request: Request, access: PlatformStaff, engine: Db, now: Now) -> Response:
    """The staff member's own requests, newest first; the active one opens the household's page."""
    with engine.begin() as conn:
        grants.settle_grants(conn, now=now)
        found = grants.list_staff_grants(conn, access, now=now)
    zone = ZoneInfo(_settings(request).default_time_zone)
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
    return render(request, "support/home.html", rows=rows, active=active)


# -- the parts -------------------------------------------------------------------------------


def _local(moment: datetime | None, zone: ZoneInfo) -> str | None:
    return None if moment is None else f"{moment.astimezone(zone):%Y-%m-%d %H:%M}"


def _csrf_of(request: Request, token: str | None) -> str | None:
    """The CSRF token of the session the cookie names, open or half-open; None without one."""
    if not token:
        return None
    with _engine(request).connect() as conn:
        session = identities.find_session(conn, token_hash=token_digest(token))
    if session is None or session.ended_at is not None:
        return None
    return session.csrf_token


def _set_cookie(response: Response, session: NewSession) -> None:
    """A staff member's session cookie: it ends with the browser, as the API's does."""
    response.set_cookie(
        SESSION_COOKIE, session.token, path="/", secure=True, httponly=True, samesite="strict"
    )


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _now(request: Request) -> datetime:
    now: datetime = request.app.state.clock()
    return now


def _address(request: Request) -> str:
    return request.client.host if request.client is not None else "unknown"
