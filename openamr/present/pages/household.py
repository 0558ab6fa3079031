"""The household's pages: signing in with the letter's code, its consumption, who has seen it.

    GET  /household                 sign in: the access code, or handle and passphrase
    POST /household/redeem          the access code exchanged for a passphrase
    POST /household/sign-in         handle and passphrase
    GET  /home                      the first medium's view (yesterday, by hour)
    GET  /home/welcome              the generated handle, to note down
    GET  /home/points/{id}          one medium: ?view=day|month|year&day=YYYY-MM-DD
    GET  /home/download.csv         every value of the tenancy (data portability)
    GET  /home/accesses             who has seen our data; requests to decide, grants to end
    POST /home/grants/{id}/approve|deny|end
    POST /household/sign-out

Passkeys need JavaScript (WebAuthn is a browser API): where it runs, the
sign-in page also redeems the code for a passkey and signs in with one, and
the welcome page adds one, through the API's routes (`static/passkeys.js`);
without it the passphrase forms do everything.

What a page reaches is one tenancy, filtered in SQL by the same queries as
the API, and nothing before its move-in. The consumption pages (`/home`,
`/home/points/{id}`) also serve support and other platform staff under an
active grant the household approved (P5): their context is narrowed to the
granted tenancy and media by `Allow`, every view is an audit event
(`record_value_reads`), and the page carries a banner naming the grant and
its end. Everything else stays the household's own: its handle, the CSV
(data portability is the household's right, not a support tool), who has
seen its data, and the answers to grants.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.engine import Engine

from openamr.access import AccessContext, Role
from openamr.guard import grants, households, signin
from openamr.guard.attempts import TooManyAttempts
from openamr.guard.authn import authenticate
from openamr.guard.http import RowId, client_address, current_engine, current_now, current_settings
from openamr.guard.passwords import UnableToSetPassphrase
from openamr.guard.policy import Allow
from openamr.guard.reads import record_value_reads
from openamr.guard.sessions import HOUSEHOLD_LIFETIME, SESSION_COOKIE, NewSession
from openamr.present.api import CSV_HEADER
from openamr.present.pages.comparisons import build_comparison
from openamr.present.pages.cost import period_cost
from openamr.present.pages.errors import safe_next
from openamr.present.pages.forms import read_form_csrf
from openamr.present.pages.i18n import catalogue, language_of
from openamr.present.pages.periods import (
    RESOLUTION,
    Span,
    View,
    display_unit,
    format_number,
    in_unit,
    is_known,
    parse_day,
    parse_view,
    span_of,
    within_tenancy,
)
from openamr.present.pages.rendering import render
from openamr.present.series import Series, point_series
from openamr.store import grants as grant_store
from openamr.store import identities, queries
from openamr.store.access_log import AccessEntry, list_tenancy_accesses
from openamr.validate import Resolution

router = APIRouter(include_in_schema=False, dependencies=[Depends(read_form_csrf)])

Household = Annotated[AccessContext, Depends(Allow(Role.HOUSEHOLD))]
# The presentation itself: the household, or platform staff under its approved grant.
Presentation = Annotated[
    AccessContext,
    Depends(Allow(Role.HOUSEHOLD, under_grant=(Role.SUPPORT, Role.PLATFORM_STAFF))),
]
Db = Annotated[Engine, Depends(current_engine)]
Now = Annotated[datetime, Depends(current_now)]
HOME = "/home"
SIGN_IN = "/household"

# Sign-in's refusals: the status code and the message shown above the form.
REFUSALS: tuple[tuple[type[Exception], int, str], ...] = (
    (TooManyAttempts, 429, "signin_too_many"),
    (signin.UnableToSignIn, 401, "signin_refused"),
    (signin.SignInClosed, 403, "signin_closed"),
    (UnableToSetPassphrase, 422, "passphrase_refused"),
    (households.CodeNotRecognised, 400, "code_not_recognised"),
    (households.CodeNoLongerValid, 410, "code_no_longer_valid"),
    (households.UnableToRedeem, 422, "code_wrong_use"),
)


class Refused(Exception):
    """A sign-in refused: the status and message key for the page, and the domain's reason."""

    def __init__(self, status: int, key: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.key = key


# -- signing in ------------------------------------------------------------------------------


@router.get(SIGN_IN)
def sign_in_page(request: Request, next: str | None = None) -> HTMLResponse:
    """The forms to redeem an access code and to sign in; open to anyone."""
    return render(request, "household/signin.html", next=safe_next(next, HOME), error=None)


@router.post(SIGN_IN + "/redeem")
def redeem(
    request: Request,
    code: Annotated[str, Form(max_length=80)],
    passphrase: Annotated[str, Form(max_length=1024)],
    passphrase_again: Annotated[str, Form(max_length=1024)],
) -> Response:
    """Exchange the letter's code for a passphrase; on to the page that shows the handle."""
    if passphrase != passphrase_again:
        return _refused(request, Refused(422, "passphrases_differ", "passphrases differ"), HOME)
    try:
        with _refusals():
            done = households.redeem_with_passphrase(
                current_engine(request),
                settings=current_settings(request),
                code=code,
                passphrase=passphrase,
                address=client_address(request),
                now=current_now(request),
                replacing=request.cookies.get(SESSION_COOKIE),
            )
    except Refused as refused:
        return _refused(request, refused, HOME)
    answer = RedirectResponse(HOME + "/welcome", status_code=303)
    _set_cookie(answer, done.session)
    return answer


@router.post(SIGN_IN + "/sign-in")
def sign_in(
    request: Request,
    handle: Annotated[str, Form(max_length=64)],
    passphrase: Annotated[str, Form(max_length=1024)],
    next: Annotated[str, Form(max_length=2000)] = HOME,
) -> Response:
    """Sign in with handle and passphrase; back to the page asked for."""
    target = safe_next(next, HOME)
    try:
        with _refusals():
            done = signin.sign_in_household(
                current_engine(request),
                settings=current_settings(request),
                handle=handle,
                passphrase=passphrase,
                address=client_address(request),
                now=current_now(request),
                replacing=request.cookies.get(SESSION_COOKIE),
            )
    except Refused as refused:
        return _refused(request, refused, target)
    answer = RedirectResponse(target, status_code=303)
    _set_cookie(answer, done.session)
    return answer


@router.post(SIGN_IN + "/sign-out")
def sign_out(request: Request) -> RedirectResponse:
    """End this browser's session; back to the sign-in page.

    Open to anyone, as the API's sign-out is: without a session there is
    nothing to end. With one, authentication checks the form's CSRF token.
    """
    token = request.cookies.get(SESSION_COOKIE)
    if token and authenticate(request) is not None:
        signin.sign_out(current_engine(request), token=token, now=current_now(request))
    answer = RedirectResponse(SIGN_IN, status_code=303)
    answer.delete_cookie(SESSION_COOKIE, path="/", secure=True, httponly=True, samesite="strict")
    return answer


@router.get(HOME + "/welcome")
def welcome(request: Request, access: Household, engine: Db) -> HTMLResponse:
    """After redeeming the letter: the handle to note down with a passphrase, and the offer
    of a passkey on this device (`static/passkeys.js`); or, redeemed with a passkey, that."""
    household_id = households.principal_id(access, "household")
    with engine.connect() as conn:
        home = (
            None
            if household_id is None
            else identities.get_household(conn, household_id=household_id)
        )
    if home is None:
        raise HTTPException(404, "no such household")
    return render(
        request,
        "household/welcome.html",
        handle=home.handle,
        with_passphrase=home.passphrase_hash is not None,
        place=_place(engine, access),
    )


# -- consumption -----------------------------------------------------------------------------


@router.get(HOME)
def home(request: Request, access: Presentation, engine: Db, now: Now) -> Response:
    """The first medium's view: yesterday, by hour."""
    points = _points(engine, access)
    if not points:
        return render(
            request,
            "household/empty.html",
            place=_place(engine, access),
            points=[],
            banner=_banner(request, engine, access),
        )
    return _view(request, access, engine, now, points, points[0], View.DAY, None)


@router.get(HOME + "/points/{point_id}")
def point_page(
    request: Request,
    point_id: RowId,
    access: Presentation,
    engine: Db,
    now: Now,
    view: Annotated[str | None, Query(max_length=8)] = None,
    day: Annotated[str | None, Query(max_length=10)] = None,
) -> Response:
    """One medium's consumption by hour, day or month, as a chart and a table."""
    points = _points(engine, access)
    chosen = next((point for point in points if point.id == point_id), None)
    if chosen is None:
        raise HTTPException(404, f"no metering point {point_id}")
    return _view(request, access, engine, now, points, chosen, parse_view(view), day)


def _view(
    request: Request,
    access: AccessContext,
    engine: Db,
    now: datetime,
    points: list[queries.PointRow],
    point: queries.PointRow,
    view: View,
    day_text: str | None,
) -> HTMLResponse:
    tenancy = _tenancy(access)
    zone = ZoneInfo(point.time_zone)
    today = now.astimezone(zone).date()
    move_in = tenancy.start_at.astimezone(zone).date()
    span = span_of(
        view, parse_day(day_text, today - timedelta(days=1)), move_in=move_in, today=today
    )
    with engine.begin() as conn:
        [series] = point_series(
            conn,
            [point],
            access=access,
            first_day=span.first_day,
            end_day=span.end_day,
            resolution=RESOLUTION[view],
        )
        record_value_reads(
            conn,
            access,
            [point],
            first_day=span.first_day,
            end_day=span.end_day,
            resolution=RESOLUTION[view],
            now=now,
        )
        cost = period_cost(
            conn,
            access=access,
            point=point,
            span=span,
            values=series.values,
            tenancy=tenancy,
            now=now,
            lang=language_of(request),
        )
        comparison = build_comparison(
            conn, access, point, span, series.values, now=now, lang=language_of(request)
        )
    lang = language_of(request)
    rows, chart, total = _rows(series, span, tenancy, now, lang)
    return render(
        request,
        "household/point.html",
        place=_place(engine, access),
        points=points,
        point=point,
        span=span,
        rows=rows,
        chart=chart,  # |tojson: escaped for a <script> block
        total=total,
        unit=display_unit(series.unit, view).symbol,
        views=list(View),
        cost=cost,
        comparison=comparison,
        banner=_banner(request, engine, access),
    )


def _rows(
    series: Series, span: Span, tenancy: Any, now: datetime, lang: str
) -> tuple[list[dict[str, Any]], dict[str, Any], str | None]:
    """The table's rows, the chart's data and the total of the known values, as shown."""
    unit = display_unit(series.unit, span.view)
    values = within_tenancy(
        series.values, start_at=tenancy.start_at, end_at=tenancy.end_at, now=now
    )
    rows = []
    xs, ys, statuses = [], [], []
    total = 0
    for value in values:
        known = value.value is not None and is_known(value.status)
        number = in_unit(value.value, unit) if known and value.value is not None else None
        if known and value.value is not None:
            total += value.value
        rows.append(
            {
                "start": value.start_at,
                "end": value.end_at,
                "label": _label(value.start_at, value.end_at, span.view),
                "value": value.value if known else None,
                "shown": None if number is None else format_number(number, lang),
                "status": value.status.value,
            }
        )
        xs.append(int(value.start_at.timestamp()))
        ys.append(None if number is None else float(number))
        statuses.append(value.status.value)
    chart = {
        "x": xs,
        "y": ys,
        "status": statuses,
        "unit": unit.symbol,
        "view": span.view.value,
        "decimals": unit.decimals,
        "lang": lang,
        # Periods start in the property's zone (a ZoneInfo, whose str is its IANA key).
        "zone": str(values[0].start_at.tzinfo) if values else "UTC",
    }
    shown_total = format_number(in_unit(total, unit), lang) if rows else None
    return rows, chart, shown_total


def _label(start: datetime, end: datetime, view: View) -> dict[str, Any]:
    """What the table's first column says of a period: its hour, day or month."""
    if view is View.DAY:
        return {"kind": "hour", "text": f"{start:%H:%M}–{end:%H:%M}"}
    if view is View.MONTH:
        return {"kind": "day", "day": start.day, "month": start.month, "weekday": start.weekday()}
    return {"kind": "month", "month": start.month, "year": start.year}


# -- data portability ------------------------------------------------------------------------


@router.get(HOME + "/download.csv")
def download(access: Household, engine: Db, now: Now) -> Response:
    """Every hourly value of every point of the tenancy, from the move-in until now, as CSV.

    Values in the storage units (Wh, litres), exact integers, with their
    status: what the household takes elsewhere is what openamr holds.
    """
    tenancy = _tenancy(access)
    points = _points(engine, access)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    if points:
        zone = ZoneInfo(points[0].time_zone)
        first_day = tenancy.start_at.astimezone(zone).date()
        end = now if tenancy.end_at is None else min(now, tenancy.end_at)
        end_day = end.astimezone(zone).date() + timedelta(days=1)
        with engine.connect() as conn:
            series = point_series(
                conn,
                points,
                access=access,
                first_day=first_day,
                end_day=end_day,
                resolution=Resolution.HOUR,
            )
        for item in series:
            kept = within_tenancy(
                item.values, start_at=tenancy.start_at, end_at=tenancy.end_at, now=now
            )
            for value in kept:
                writer.writerow(
                    (
                        item.metering_point_ids[0],
                        item.medium,
                        value.start_at.isoformat(),
                        value.end_at.isoformat(),
                        "" if value.value is None else value.value,
                        item.unit,
                        value.status.value,
                    )
                )
    today = now.date().isoformat()
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="openamr-{today}.csv"'},
    )


# -- who has seen our data -------------------------------------------------------------------


@router.get(HOME + "/accesses")
def accesses(request: Request, access: Household, engine: Db, now: Now) -> HTMLResponse:
    """Every access by anyone else, and the support requests to decide or grants to end."""
    tenancy = _tenancy(access)
    with engine.begin() as conn:
        grants.settle_grants(conn, now=now)
        found = grants.list_household_grants(conn, access, now=now)
        entries = list_tenancy_accesses(
            conn,
            customer_id=tenancy.customer_id,
            tenancy_id=tenancy.tenancy_id,
            except_actor=access.actor,
            limit=200,
        )
    requests = [
        {
            "id": grant.id,
            "status": status.value,
            "role": grant.requester_role,
            "ticket": grant.ticket,
            "reason": grant.reason,
            "hours": grant.duration_s // 3600,
            "media": list(grant.media),
            "requested_at": grant.requested_at,
            "lapses_at": grants.lapses_at(grant),
            "expires_at": grants.expires_at(grant),
        }
        for grant, status in found
    ]
    points = _points(engine, access)
    # Times as the property keeps them (all points of an apartment share its property's zone).
    zone = points[0].time_zone if points else current_settings(request).default_time_zone
    return render(
        request,
        "household/accesses.html",
        place=_place(engine, access),
        points=points,
        requests=requests,
        entries=[_described(entry, catalogue(language_of(request))) for entry in entries],
        zone=ZoneInfo(zone),
    )


def _described(entry: AccessEntry, messages: Mapping[str, str]) -> dict[str, Any]:
    """An access in words the household reads: its action, and the grant it was made under.

    An action without a message of its own (one added later) shows as its code,
    marked as such in the template, rather than not at all.
    """
    grant = entry.purpose.removeprefix("grant:") if entry.purpose else None
    return {
        "at": entry.at,
        "role": entry.role,
        "what": messages.get(f"action:{entry.action}"),
        "action": entry.action,
        "grant": grant if grant and grant.isdigit() else None,
        "purpose": None if grant and grant.isdigit() else entry.purpose,
    }


@router.post(HOME + "/grants/{grant_id}/approve")
def approve(grant_id: RowId, access: Household, engine: Db, now: Now) -> RedirectResponse:
    """Approve a request: the support user sees the presentation for its hours, from now."""
    with _grant_change(), engine.begin() as conn:
        grants.settle_grants(conn, now=now)
        grants.answer_grant(conn, access, grant_id=grant_id, approve=True, now=now)
    return RedirectResponse(HOME + "/accesses", status_code=303)


@router.post(HOME + "/grants/{grant_id}/deny")
def deny(grant_id: RowId, access: Household, engine: Db, now: Now) -> RedirectResponse:
    """Deny a request."""
    with _grant_change(), engine.begin() as conn:
        grants.settle_grants(conn, now=now)
        grants.answer_grant(conn, access, grant_id=grant_id, approve=False, now=now)
    return RedirectResponse(HOME + "/accesses", status_code=303)


@router.post(HOME + "/grants/{grant_id}/end")
def end(grant_id: RowId, access: Household, engine: Db, now: Now) -> RedirectResponse:
    """End an approved grant now."""
    with _grant_change(), engine.begin() as conn:
        grants.settle_grants(conn, now=now)
        grants.end_grant(conn, access, grant_id=grant_id, now=now)
    return RedirectResponse(HOME + "/accesses", status_code=303)


# -- the parts -------------------------------------------------------------------------------


@contextmanager
def _grant_change() -> Iterator[None]:
    try:
        yield
    except grants.UnableToFindGrant as exc:
        raise HTTPException(404, str(exc)) from None
    except grants.UnableToChangeGrant as exc:
        raise HTTPException(409, str(exc)) from None


@contextmanager
def _refusals() -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        for kind, status, key in REFUSALS:
            if isinstance(exc, kind):
                raise Refused(status, key, str(exc)) from None
        raise


def _refused(request: Request, refused: Refused, target: str) -> HTMLResponse:
    headers = {"Retry-After": "60"} if refused.status == 429 else None
    answer = render(
        request,
        "household/signin.html",
        status_code=refused.status,
        next=target,
        error=refused.key,
    )
    if headers:
        answer.headers.update(headers)
    return answer


def _set_cookie(response: Response, session: NewSession) -> None:
    """A household's session cookie, as the sign-in API sets it (it outlives the browser)."""
    response.set_cookie(
        SESSION_COOKIE,
        session.token,
        max_age=int(HOUSEHOLD_LIFETIME.total_seconds()),
        path="/",
        secure=True,
        httponly=True,
        samesite="strict",
    )


def _tenancy(access: AccessContext) -> Any:
    if access.tenancy is None:  # a household's context always has its tenancy
        raise HTTPException(403, "only a household has this page")
    return access.tenancy


@dataclass(frozen=True, slots=True)
class Banner:
    """What a page viewed under a grant says at its top: whose role, which grant, until when."""

    role: str
    grant_id: int
    until: str  # the grant's end, as a local time of day (a grant lasts at most 8 hours)


def _banner(request: Request, engine: Engine, access: AccessContext) -> Banner | None:
    """The banner of a page viewed under a grant; None for the household itself."""
    if access.grant_id is None:
        return None
    with engine.connect() as conn:
        found = grant_store.list_grants(conn, grant_id=access.grant_id)
    ends = grants.expires_at(found[0]) if found else None
    zone = ZoneInfo(current_settings(request).default_time_zone)
    until = "–" if ends is None else f"{ends.astimezone(zone):%H:%M}"
    return Banner(role=access.role.value, grant_id=access.grant_id, until=until)


def _points(engine: Engine, access: AccessContext) -> list[queries.PointRow]:
    tenancy = _tenancy(access)
    with engine.connect() as conn:
        points = queries.list_metering_points(
            conn, access=access, apartment_id=tenancy.apartment_id
        )
    return sorted(points, key=lambda point: (_MEDIA_ORDER.get(point.medium, 99), point.id))


_MEDIA_ORDER = {"electricity": 0, "heat": 1, "hot_water": 2, "cold_water": 3}


def _place(engine: Engine, access: AccessContext) -> identities.HouseholdPlace | None:
    household_id = households.principal_id(access, "household")
    if household_id is None:
        return None
    with engine.connect() as conn:
        return identities.household_place(conn, household_id=household_id)
