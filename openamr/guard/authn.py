"""Authentication: who a request comes from, as an access context, or None for nobody.

Two credentials are accepted:

- the session cookie (`__Host-openamr`) of a staff member or a household,
  found by the SHA-256 of its token (`openamr.guard.sessions`). A session
  counts only while it is open, within its absolute lifetime, used within
  its idle limit, past its second factor, and while its holder may still
  sign in: a staff account not disabled, a household whose tenancy has
  begun and not ended (P1b: a move ends access).
- a bearer token in `Authorization`, which only gateways hold. When the
  header is present the cookie is not looked at: a browser cannot be made to
  add that header to a cross-site request, so bearer requests need no CSRF
  token, and a request never mixes two identities.

A state-changing request (POST, PUT, PATCH, DELETE) on a session must carry
the session's CSRF token in `X-CSRF-Token`, or, for an HTML form (which
cannot set a header), in its `csrf_token` field, which the pages' form
reader puts in `request.state` before authentication runs; without it the
request is refused with 403 rather than treated as anonymous, so the
caller learns what is wrong. (`Sec-Fetch-Site` is checked for every state-changing
request by the web surface middleware, `openamr.guard.web`.)
"""

from __future__ import annotations

import hmac
from datetime import datetime, timedelta

from fastapi import HTTPException, Request
from sqlalchemy.engine import Engine

from openamr.access import CUSTOMER_ROLES, STAFF_ROLES, AccessContext, Role, TenancyScope
from openamr.guard.sessions import (
    CSRF_HEADER,
    HOUSEHOLD_IDLE,
    SESSION_COOKIE,
    STAFF_IDLE,
    token_digest,
)
from openamr.store.principals import (
    SessionPrincipal,
    find_gateway_principal,
    find_session,
    touch_session,
)

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# `last_seen_at` is written at most this often, so that reads do not become
# writes; a session may therefore time out up to this much early, never late.
TOUCH_EVERY = timedelta(minutes=1)

_STATE_KEY = "openamr_access"  # where the answer is kept for the rest of the request
# Where an HTML form's `csrf_token` field is put (openamr.present.pages.forms.read_form_csrf).
FORM_CSRF_STATE = "openamr_form_csrf"


def authenticate(request: Request) -> AccessContext | None:
    """The caller of `request`, or None when it carries no valid credential.

    Raises HTTPException 403 when a valid session's state-changing request
    lacks the session's CSRF token.
    """
    state = request.state
    if hasattr(state, _STATE_KEY):
        cached: AccessContext | None = getattr(state, _STATE_KEY)
        return cached
    access = _authenticate(request)
    setattr(state, _STATE_KEY, access)
    return access


def bearer_token(request: Request) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, if the request has one."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _authenticate(request: Request) -> AccessContext | None:
    engine: Engine = request.app.state.engine
    now: datetime = request.app.state.clock()
    if "authorization" in request.headers:
        token = bearer_token(request)
        if token is None:
            return None
        with engine.connect() as conn:
            found = find_gateway_principal(conn, token_digest(token))
        if found is None:
            return None
        return AccessContext(
            actor=f"gateway:{found.id}",
            role=Role.GATEWAY,
            customer_ids=frozenset({found.customer_id}),
        )
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    digest = token_digest(token)
    with engine.connect() as conn:
        session = find_session(conn, digest)
    if session is None:
        return None
    access = _session_access(session, now=now)
    if access is None:
        return None
    if request.method.upper() in STATE_CHANGING:
        sent = request.headers.get(CSRF_HEADER) or _form_csrf(request)
        if not hmac.compare_digest(sent.encode(), session.csrf_token.encode()):
            raise HTTPException(
                status_code=403,
                detail=f"a state-changing request must carry the session's {CSRF_HEADER} header",
            )
    if now - session.last_seen_at >= TOUCH_EVERY:
        with engine.begin() as conn:
            touch_session(conn, digest, now=now)
    return access


def _form_csrf(request: Request) -> str:
    sent = getattr(request.state, FORM_CSRF_STATE, "")
    return sent if isinstance(sent, str) else ""


def _session_access(session: SessionPrincipal, *, now: datetime) -> AccessContext | None:
    """The access context a session gives at `now`, or None if it gives none."""
    if session.ended_at is not None and session.ended_at <= now:
        return None
    if now >= session.expires_at:
        return None
    if session.second_factor_at is None:
        return None  # signed in halfway: the TOTP code is still due
    if session.staff_account_id is not None:
        return _staff_access(session, now=now)
    return _household_access(session, now=now)


def _staff_access(session: SessionPrincipal, *, now: datetime) -> AccessContext | None:
    if now - session.last_seen_at > STAFF_IDLE:
        return None
    if session.staff_disabled_at is not None and session.staff_disabled_at <= now:
        return None
    try:
        role = Role(session.staff_role or "")
    except ValueError:
        return None
    if role not in STAFF_ROLES:
        return None  # a stored role that is not a staff role opens nothing
    actor = f"staff:{session.staff_account_id}"
    if role in CUSTOMER_ROLES:
        if session.staff_customer_id is None:
            return None
        return AccessContext(
            actor=actor,
            role=role,
            customer_ids=frozenset({session.staff_customer_id}),
            operations_hourly=session.operations_hourly,
        )
    # Platform staff see no customer's data of their own; a grant may open one tenancy.
    return AccessContext(actor=actor, role=role, customer_ids=frozenset())


def _household_access(session: SessionPrincipal, *, now: datetime) -> AccessContext | None:
    if now - session.last_seen_at > HOUSEHOLD_IDLE:
        return None
    if (
        session.household_id is None
        or session.tenancy_id is None
        or session.apartment_id is None
        or session.tenancy_customer_id is None
        or session.tenancy_start_at is None
    ):
        return None
    if now < session.tenancy_start_at:
        return None
    if session.tenancy_end_at is not None and session.tenancy_end_at <= now:
        return None
    return AccessContext(
        actor=f"household:{session.household_id}",
        role=Role.HOUSEHOLD,
        customer_ids=frozenset({session.tenancy_customer_id}),
        tenancy=TenancyScope(
            tenancy_id=session.tenancy_id,
            apartment_id=session.apartment_id,
            customer_id=session.tenancy_customer_id,
            start_at=session.tenancy_start_at,
            end_at=session.tenancy_end_at,
        ),
    )
