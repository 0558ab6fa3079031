"""Staff sign-in for an area of the pages (console, support, admin...): passphrase, then TOTP.

One area's sign-in is one call, included in the area's own router:

    SIGN_IN = StaffArea(
        prefix="/console",
        roles=frozenset({Role.OPERATIONS, Role.CUSTOMER_ADMIN}),
        template="console/signin.html",
    )
    router = APIRouter(prefix="/console", dependencies=[Depends(read_form_csrf)])
    router.include_router(sign_in_router(SIGN_IN))

which adds, under the area's prefix (all open to anyone: they show nothing of anyone's):

    GET  {prefix}/sign-in        e-mail and passphrase
    POST {prefix}/sign-in        checks them; staff with TOTP get the code's form next,
                                 staff without go on to `next` (else the landing page)
    POST {prefix}/sign-in/totp   the code completes the sign-in, and on to `next`
    POST {prefix}/sign-out       ends the browser's session; back to the sign-in form

Each route needs its line in tests/integration/test_authorisation_matrix.py
(PUBLIC), and the area's prefix a line in `errors.SIGN_IN_TEMPLATES` naming the
same template, so that a browser without a session is shown this form.

The area's template extends "staff/signin.html" and sets `prefix` (for the
form's action) and `title_key` (the catalogue key of its heading); the TOTP
step's page ("staff/totp.html") is shared. A staff member whose role is not
one of the area's `roles` is refused at the passphrase step (403, and the
session just started is ended), with a message saying so, rather than signed
in to pages that would all refuse them.

The passphrase step starts a half-open session when TOTP is due: it
authenticates nothing until the code is given (`openamr.guard.signin`), so
the TOTP form's CSRF token is checked here, against that session's, rather
than by authentication. Sessions end with the browser (the cookie has no
expiry); their limits are the server's (`openamr.guard.sessions`).
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from openamr.access import Role
from openamr.guard import signin
from openamr.guard.attempts import TooManyAttempts
from openamr.guard.authn import FORM_CSRF_STATE, authenticate
from openamr.guard.http import client_address, current_engine, current_now, current_settings
from openamr.guard.keyring import Keyring
from openamr.guard.policy import GRANT_COOKIE, GRANT_COOKIE_PATH
from openamr.guard.sessions import SESSION_COOKIE, NewSession, token_digest
from openamr.present.pages.errors import safe_next
from openamr.present.pages.forms import read_form_csrf
from openamr.present.pages.rendering import render
from openamr.store import identities

TOTP_TEMPLATE = "staff/totp.html"

# Sign-in's refusals: the status code and the catalogue key of the message above the form.
REFUSALS: tuple[tuple[type[Exception], int, str], ...] = (
    (TooManyAttempts, 429, "staff_signin_too_many"),
    (signin.UnableToSignIn, 401, "staff_signin_refused"),  # the TOTP step says its own
    (signin.SecondFactorUnavailable, 503, "staff_signin_unavailable"),
)


@dataclass(frozen=True, slots=True)
class StaffArea:
    """An area of the pages that staff sign in to.

    `prefix` is the area's path ("/console"); `roles` the staff roles that
    sign in here; `template` the area's sign-in page (extending
    "staff/signin.html"); `landing` where a sign-in goes without a `next`
    (default: the prefix itself).
    """

    prefix: str
    roles: frozenset[Role]
    template: str
    landing: str = ""

    @property
    def home(self) -> str:
        return self.landing or self.prefix


class _Refused(Exception):
    def __init__(self, status: int, key: str) -> None:
        super().__init__(key)
        self.status = status
        self.key = key


def sign_in_router(area: StaffArea) -> APIRouter:
    """The routes of `area`'s two-step sign-in, for the area's router to include.

    Their paths are relative ("/sign-in"): include the router in one whose
    prefix is `area.prefix`.
    """
    router = APIRouter(include_in_schema=False, dependencies=[Depends(read_form_csrf)])

    @router.get("/sign-in", response_class=HTMLResponse)
    def sign_in_form(request: Request, next: str = area.home) -> Response:
        """The first step: e-mail and passphrase (open to anyone)."""
        return render(request, area.template, next=safe_next(next, area.home), error=None)

    @router.post("/sign-in")
    def sign_in(
        request: Request,
        email: Annotated[str, Form(max_length=300)],
        passphrase: Annotated[str, Form(max_length=1000)],
        next: Annotated[str, Form(max_length=2000)] = area.home,
    ) -> Response:
        """Check e-mail and passphrase; on to `next`, or to the TOTP step when it is due."""
        target = safe_next(next, area.home)
        try:
            with _refusals():
                done = signin.sign_in_staff(
                    current_engine(request),
                    settings=current_settings(request),
                    email=email,
                    passphrase=passphrase,
                    address=client_address(request),
                    now=current_now(request),
                    replacing=request.cookies.get(SESSION_COOKIE) or None,
                )
        except _Refused as refused:
            return _form(request, area, refused, target)
        if done.role not in area.roles:
            signin.sign_out(
                current_engine(request), token=done.session.token, now=current_now(request)
            )
            elsewhere = _form(request, area, _Refused(403, "staff_signin_wrong_area"), target)
            _forget_cookie(elsewhere)
            return elsewhere
        answer: Response
        if done.totp_due:
            # The second step posts with the half-open session's CSRF token.
            answer = render(
                request,
                TOTP_TEMPLATE,
                prefix=area.prefix,
                next=target,
                error=None,
                csrf_token=done.session.csrf_token,
            )
        else:
            answer = RedirectResponse(target, status_code=303)
        _set_cookie(answer, done.session)
        return answer

    @router.post("/sign-in/totp")
    def second_factor(
        request: Request,
        code: Annotated[str, Form(max_length=12)],
        next: Annotated[str, Form(max_length=2000)] = area.home,
    ) -> Response:
        """Check the TOTP code for the half-open session; the full session, and on to `next`."""
        target = safe_next(next, area.home)
        token = request.cookies.get(SESSION_COOKIE) or None
        expected = _csrf_of(request, token)
        sent = getattr(request.state, FORM_CSRF_STATE, "")
        if expected is not None and not hmac.compare_digest(str(sent).encode(), expected.encode()):
            return _form(request, area, _Refused(403, "staff_csrf"), target)
        settings = current_settings(request)
        try:
            with _refusals("staff_totp_refused"):
                done = signin.give_second_factor(
                    current_engine(request),
                    settings=settings,
                    keyring=Keyring.from_settings(settings),
                    token=token,
                    code=code.strip(),
                    address=client_address(request),
                    now=current_now(request),
                )
        except _Refused as refused:
            return render(
                request,
                TOTP_TEMPLATE,
                status_code=refused.status,
                prefix=area.prefix,
                next=target,
                error=refused.key,
            )
        answer = RedirectResponse(target, status_code=303)
        _set_cookie(answer, done.session)
        return answer

    @router.post("/sign-out")
    def sign_out(request: Request) -> RedirectResponse:
        """End this browser's session (the form's CSRF token checked); back to the form."""
        token = request.cookies.get(SESSION_COOKIE)
        if token and authenticate(request) is not None:
            signin.sign_out(current_engine(request), token=token, now=current_now(request))
        answer = RedirectResponse(area.prefix + "/sign-in", status_code=303)
        _forget_cookie(answer)
        return answer

    return router


# -- the parts -------------------------------------------------------------------------------


@contextmanager
def _refusals(refused_key: str = "staff_signin_refused") -> Iterator[None]:
    """Sign-in's refusals as `_Refused`; `refused_key` says what a wrong credential was."""
    try:
        yield
    except Exception as exc:
        for kind, status, key in REFUSALS:
            if isinstance(exc, kind):
                shown = refused_key if kind is signin.UnableToSignIn else key
                raise _Refused(status, shown) from None
        raise


def _form(request: Request, area: StaffArea, refused: _Refused, target: str) -> HTMLResponse:
    """The area's first step again, with the refusal's message and status."""
    answer = render(
        request, area.template, status_code=refused.status, next=target, error=refused.key
    )
    if refused.status == 429:
        answer.headers["Retry-After"] = "60"
    return answer


def _csrf_of(request: Request, token: str | None) -> str | None:
    """The CSRF token of the session the cookie names, open or half-open; None without one."""
    if not token:
        return None
    with current_engine(request).connect() as conn:
        session = identities.find_session(conn, token_hash=token_digest(token))
    if session is None or session.ended_at is not None:
        return None
    return session.csrf_token


def _set_cookie(response: Response, session: NewSession) -> None:
    """A staff member's session cookie: it ends with the browser, as the API's does.

    A grant chosen in the browser's previous session is forgotten (`openamr.guard.policy`).
    """
    response.set_cookie(
        SESSION_COOKIE, session.token, path="/", secure=True, httponly=True, samesite="strict"
    )
    _forget_grant(response)


def _forget_cookie(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", secure=True, httponly=True, samesite="strict")
    _forget_grant(response)


def _forget_grant(response: Response) -> None:
    response.delete_cookie(
        GRANT_COOKIE, path=GRANT_COOKIE_PATH, secure=True, httponly=True, samesite="strict"
    )
