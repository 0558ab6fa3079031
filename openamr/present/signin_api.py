"""HTTP: signing in and out, for staff and households, under /api/v1.

Staff: `POST /session` with e-mail and passphrase answers whether a TOTP
code is due; if so `POST /session/totp` completes the sign-in. Households:
`POST /household/redeem` exchanges an access code for a passphrase, a
passkey (registration options, then `POST /household/redeem/passkey`) or,
with a device code, just a session; afterwards `POST /household/session`
(handle and passphrase) or the passkey routes sign in. A signed-in
household adds passkeys and makes device codes from its page.

Every sign-in sets a new `__Host-openamr` cookie (Secure, HttpOnly,
SameSite=Strict, Path=/, no Domain) and ends the session the browser held
before. Answers that start a session carry its CSRF token, which the browser
sends back in `X-CSRF-Token` with every state-changing request; `GET
/session` gives it again after a reload. (No answer under /api is cached:
`openamr.guard.web`.)

The routes in `PUBLIC` are open to anyone: they are how one signs in. The
others name their roles with `Allow`.

Statuses: 401 credentials that sign nobody in (one message whatever was
wrong); 403 a tenancy that has ended, or a missing CSRF token; 400 a code or
passkey answer that is not one of ours; 410 a code that no longer works;
422 a passphrase that is refused, or a code used for what it does not give;
429 too many failed attempts (with Retry-After); 503 a second factor whose
master key is not configured.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Body, Depends, HTTPException, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from openamr.access import STAFF_ROLES, AccessContext, Role
from openamr.guard import households, passkeys, signin
from openamr.guard.attempts import TooManyAttempts
from openamr.guard.http import client_address, current_engine, current_now, current_settings
from openamr.guard.keyring import Keyring
from openamr.guard.passwords import UnableToSetPassphrase
from openamr.guard.policy import Allow
from openamr.guard.sessions import (
    CSRF_HEADER,
    HOUSEHOLD_LIFETIME,
    SESSION_COOKIE,
    NewSession,
    token_digest,
)
from openamr.store import identities as store

router = APIRouter(prefix="/api/v1", tags=["sign-in"])

# Open to anyone, deliberately: these are how a caller signs in (or out).
PUBLIC = frozenset(
    {
        ("POST", "/api/v1/session"),
        ("POST", "/api/v1/session/totp"),
        ("DELETE", "/api/v1/session"),
        ("POST", "/api/v1/household/redeem"),
        ("POST", "/api/v1/household/redeem/passkey"),
        ("POST", "/api/v1/household/session"),
        ("POST", "/api/v1/household/session/passkey/options"),
        ("POST", "/api/v1/household/session/passkey"),
    }
)

SignedIn = Annotated[AccessContext, Depends(Allow(Role.HOUSEHOLD, *sorted(STAFF_ROLES)))]
Household = Annotated[AccessContext, Depends(Allow(Role.HOUSEHOLD))]
PasskeyAnswer = Annotated[
    dict[str, Any],
    Body(description="The browser's PublicKeyCredential, as its toJSON() gives it"),
]

ANSWERS: dict[int | str, dict[str, Any]] = {
    401: {"description": "The credentials sign nobody in"},
    429: {"description": "Too many failed attempts from this account or address"},
}


# -- bodies ------------------------------------------------------------------------------------


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StaffCredentials(_Body):
    email: str = Field(max_length=320)
    passphrase: str = Field(max_length=1024)


class TotpCode(_Body):
    code: str = Field(max_length=16, description="The six digits the authenticator app shows")


class HouseholdCredentials(_Body):
    handle: str = Field(max_length=64)
    passphrase: str = Field(max_length=1024)


class RedeemIn(_Body):
    code: str = Field(max_length=80, description="The access code, as printed or shown")
    credential: Literal["passphrase", "passkey", "session"] = Field(
        description="What the code is exchanged for: a passphrase or a passkey (a letter's "
        "code), a passkey or just a session on this device (a device code)"
    )
    passphrase: str | None = Field(default=None, max_length=1024)


class SessionOut(BaseModel):
    role: str
    csrf_token: str
    expires_at: datetime
    totp_due: bool = False
    handle: str | None = None  # a household's, to note down for signing in with a passphrase


class RedeemOut(BaseModel):
    handle: str
    signed_in: bool
    csrf_token: str | None = None
    expires_at: datetime | None = None
    # With credential=passkey: the options for navigator.credentials.create(); send its
    # answer to POST /api/v1/household/redeem/passkey.
    publicKey: dict[str, Any] | None = None  # the WebAuthn name


class PasskeyOptions(BaseModel):
    publicKey: dict[str, Any]  # the WebAuthn name


class DeviceCodeOut(BaseModel):
    code: str
    expires_at: datetime


class CustomerOut(BaseModel):
    id: int
    name: str


class TenancyOut(BaseModel):
    id: int
    start_at: datetime
    end_at: datetime | None


class HomeOut(BaseModel):
    handle: str
    customer: str
    property: str
    entrance: str
    apartment: str
    tenancy: TenancyOut


class WhoAmI(BaseModel):
    actor: str
    role: str
    customer: CustomerOut | None
    household: HomeOut | None
    csrf_token: str | None


# -- staff -------------------------------------------------------------------------------------


@router.post("/session", summary="Staff sign-in", responses=ANSWERS)
def staff_sign_in(body: StaffCredentials, request: Request, response: Response) -> SessionOut:
    """Sign in with e-mail and passphrase; `totp_due` says whether the TOTP code must follow."""
    with _answering():
        done = signin.sign_in_staff(
            current_engine(request),
            settings=current_settings(request),
            email=body.email,
            passphrase=body.passphrase,
            address=client_address(request),
            now=current_now(request),
            replacing=_cookie(request),
        )
    _set_cookie(response, done.session, persistent=False)
    return SessionOut(
        role=done.role.value,
        csrf_token=done.session.csrf_token,
        expires_at=done.session.expires_at,
        totp_due=done.totp_due,
    )


@router.post("/session/totp", summary="Staff second factor", responses=ANSWERS)
def staff_second_factor(body: TotpCode, request: Request, response: Response) -> SessionOut:
    """Give the TOTP code after the passphrase; the session is replaced by a full one."""
    token = _cookie(request)
    _check_csrf(request, token)
    settings = current_settings(request)
    with _answering():
        done = signin.give_second_factor(
            current_engine(request),
            settings=settings,
            keyring=Keyring.from_settings(settings),
            token=token,
            code=body.code,
            address=client_address(request),
            now=current_now(request),
        )
    _set_cookie(response, done.session, persistent=False)
    return SessionOut(
        role=done.role.value, csrf_token=done.session.csrf_token, expires_at=done.session.expires_at
    )


@router.delete("/session", summary="Sign out", status_code=204)
def sign_out(request: Request) -> Response:
    """End this browser's session (staff or household) and clear its cookie."""
    token = _cookie(request)
    if token:
        _check_csrf(request, token)
        signin.sign_out(current_engine(request), token=token, now=current_now(request))
    answer = Response(status_code=204)
    answer.delete_cookie(SESSION_COOKIE, path="/", secure=True, httponly=True, samesite="strict")
    return answer


@router.get("/session", summary="Who am I", responses={401: {"description": "Not signed in"}})
def who_am_i(access: SignedIn, request: Request) -> WhoAmI:
    """The caller's role and customer, and for a household its apartment and tenancy."""
    engine = current_engine(request)
    with engine.connect() as conn:
        session = _session_of(request, conn)
        customer = None
        if access.customer_ids is not None and len(access.customer_ids) == 1:
            (customer_id,) = access.customer_ids
            name = store.customer_name(conn, customer_id=customer_id, access=access)
            customer = None if name is None else CustomerOut(id=customer_id, name=name)
        home = None
        household_id = households.principal_id(access, "household")
        if household_id is not None:
            found = store.get_household(conn, household_id=household_id)
            place = store.household_place(conn, household_id=household_id)
            if found is not None and place is not None:
                home = HomeOut(
                    handle=found.handle,
                    customer=place.customer,
                    property=place.property_designation,
                    entrance=place.entrance_address,
                    apartment=place.apartment_number,
                    tenancy=TenancyOut(
                        id=place.tenancy_id, start_at=place.start_at, end_at=place.end_at
                    ),
                )
    return WhoAmI(
        actor=access.actor,
        role=access.role.value,
        customer=customer,
        household=home,
        csrf_token=None if session is None else session.csrf_token,
    )


# -- households: access codes ------------------------------------------------------------------


@router.post(
    "/household/redeem",
    summary="Redeem an access code",
    responses={
        201: {"description": "Signed in: the passphrase is set, or the device is signed in"},
        400: {"description": "Not an access code of ours"},
        410: {"description": "The code was used, replaced, has expired, or its tenancy ended"},
        422: {"description": "A refused passphrase, or a credential the code does not give"},
        429: {"description": "Too many failed attempts from this address"},
    },
)
def redeem(body: RedeemIn, request: Request, response: Response) -> RedeemOut:
    """Exchange an access code for the household's own credential (nothing personal is asked).

    `passphrase` sets the passphrase and signs in (201); `passkey` answers the
    registration options (200) for POST /api/v1/household/redeem/passkey;
    `session` (a device code) signs this device in (201).
    """
    engine, settings, now, address = (
        current_engine(request),
        current_settings(request),
        current_now(request),
        client_address(request),
    )
    with _answering():
        if body.credential == "passkey":
            begun = households.begin_passkey_redemption(
                engine, settings=settings, code=body.code, address=address, now=now
            )
            return RedeemOut(handle=begun.handle, signed_in=False, publicKey=begun.options)
        if body.credential == "passphrase":
            if body.passphrase is None:
                raise UnableToSetPassphrase("give the passphrase to set (at least 12 characters)")
            done = households.redeem_with_passphrase(
                engine,
                settings=settings,
                code=body.code,
                passphrase=body.passphrase,
                address=address,
                now=now,
                replacing=_cookie(request),
            )
        else:
            done = households.redeem_for_session(
                engine,
                settings=settings,
                code=body.code,
                address=address,
                now=now,
                replacing=_cookie(request),
            )
    _set_cookie(response, done.session, persistent=True)
    response.status_code = 201
    return RedeemOut(
        handle=done.handle,
        signed_in=True,
        csrf_token=done.session.csrf_token,
        expires_at=done.session.expires_at,
    )


@router.post(
    "/household/redeem/passkey",
    summary="Finish redeeming an access code with a passkey",
    status_code=201,
    responses={400: {"description": "The passkey answer does not verify"}, **ANSWERS},
)
def redeem_with_passkey(
    credential: PasskeyAnswer, request: Request, response: Response
) -> SessionOut:
    """Verify the passkey made with the options of POST /household/redeem; the code is used up."""
    with _answering():
        done = households.finish_passkey_redemption(
            current_engine(request),
            settings=current_settings(request),
            credential=credential,
            address=client_address(request),
            now=current_now(request),
            replacing=_cookie(request),
        )
    _set_cookie(response, done.session, persistent=True)
    return _household_session(done.handle, done.session)


@router.post(
    "/household/device-codes",
    summary="A code to sign in on another device",
    status_code=201,
    responses={401: {"description": "Not signed in"}},
)
def make_device_code(access: Household, request: Request) -> DeviceCodeOut:
    """A one-time code, valid 15 minutes, to type on another device (nothing personal in it)."""
    with _answering():
        issued = households.issue_device_code(
            current_engine(request), access=access, now=current_now(request)
        )
    return DeviceCodeOut(code=issued.code, expires_at=issued.expires_at)


# -- households: signing in --------------------------------------------------------------------


@router.post("/household/session", summary="Household sign-in with a passphrase", responses=ANSWERS)
def household_sign_in(
    body: HouseholdCredentials, request: Request, response: Response
) -> SessionOut:
    """Sign in with the household's handle and passphrase."""
    with _answering():
        done = signin.sign_in_household(
            current_engine(request),
            settings=current_settings(request),
            handle=body.handle,
            passphrase=body.passphrase,
            address=client_address(request),
            now=current_now(request),
            replacing=_cookie(request),
        )
    _set_cookie(response, done.session, persistent=True)
    return _household_session(done.handle, done.session)


@router.post("/household/session/passkey/options", summary="Options to sign in with a passkey")
def passkey_sign_in_options(request: Request) -> PasskeyOptions:
    """The options for navigator.credentials.get(); valid five minutes, for one answer."""
    options = signin.begin_passkey_sign_in(
        current_engine(request), settings=current_settings(request), now=current_now(request)
    )
    return PasskeyOptions(publicKey=options)


@router.post(
    "/household/session/passkey",
    summary="Household sign-in with a passkey",
    responses={400: {"description": "The passkey answer does not verify"}, **ANSWERS},
)
def passkey_sign_in(credential: PasskeyAnswer, request: Request, response: Response) -> SessionOut:
    """Verify the answer to the options above and sign in."""
    with _answering():
        done = signin.sign_in_with_passkey(
            current_engine(request),
            settings=current_settings(request),
            credential=credential,
            address=client_address(request),
            now=current_now(request),
            replacing=_cookie(request),
        )
    _set_cookie(response, done.session, persistent=True)
    return _household_session(done.handle, done.session)


# -- households: more passkeys -----------------------------------------------------------------


@router.post("/household/passkeys/options", summary="Options to add a passkey")
def add_passkey_options(access: Household, request: Request) -> PasskeyOptions:
    """Registration options for another passkey of the signed-in household."""
    with _answering():
        options = households.begin_passkey_addition(
            current_engine(request),
            settings=current_settings(request),
            access=access,
            now=current_now(request),
        )
    return PasskeyOptions(publicKey=options)


@router.post(
    "/household/passkeys",
    summary="Add a passkey",
    status_code=204,
    responses={400: {"description": "The passkey answer does not verify"}},
)
def add_passkey(access: Household, credential: PasskeyAnswer, request: Request) -> Response:
    """Verify and keep the passkey made with the options above."""
    with _answering():
        households.finish_passkey_addition(
            current_engine(request),
            settings=current_settings(request),
            access=access,
            credential=credential,
            now=current_now(request),
        )
    return Response(status_code=204)


# -- the parts ---------------------------------------------------------------------------------


@contextmanager
def _answering() -> Iterator[None]:
    """The one place sign-in's refusals become HTTP answers."""
    try:
        yield
    except TooManyAttempts as exc:
        raise HTTPException(
            429, str(exc), headers={"Retry-After": str(max(1, exc.retry_after_s))}
        ) from None
    except signin.UnableToSignIn as exc:
        raise HTTPException(401, str(exc)) from None
    except signin.SignInClosed as exc:
        raise HTTPException(403, str(exc)) from None
    except signin.SecondFactorUnavailable as exc:
        raise HTTPException(503, str(exc)) from None
    except UnableToSetPassphrase as exc:
        raise HTTPException(422, str(exc)) from None
    except households.CodeNotRecognised as exc:
        raise HTTPException(400, str(exc)) from None
    except households.CodeNoLongerValid as exc:
        raise HTTPException(410, str(exc)) from None
    except households.UnableToRedeem as exc:
        raise HTTPException(422, str(exc)) from None
    except households.UnableToIssueAccessCode as exc:
        raise HTTPException(409, str(exc)) from None
    except passkeys.UnableToVerifyPasskey as exc:
        raise HTTPException(400, str(exc)) from None


def _set_cookie(response: Response, session: NewSession, *, persistent: bool) -> None:
    """The session cookie. A household's outlives the browser; a staff member's does not."""
    response.set_cookie(
        SESSION_COOKIE,
        session.token,
        max_age=int(HOUSEHOLD_LIFETIME.total_seconds()) if persistent else None,
        path="/",
        secure=True,
        httponly=True,
        samesite="strict",
    )


def _household_session(handle: str, session: NewSession) -> SessionOut:
    return SessionOut(
        role=Role.HOUSEHOLD.value,
        csrf_token=session.csrf_token,
        expires_at=session.expires_at,
        handle=handle,
    )


def _check_csrf(request: Request, token: str | None) -> None:
    """403 unless the request carries the CSRF token of the session its cookie names."""
    if not token:
        return
    with current_engine(request).connect() as conn:
        session = store.find_session(conn, token_hash=token_digest(token))
    if session is None or session.ended_at is not None:
        return  # nothing a forged request could do with it
    sent = request.headers.get(CSRF_HEADER, "")
    if not hmac.compare_digest(sent.encode(), session.csrf_token.encode()):
        raise HTTPException(
            403, f"a state-changing request must carry the session's {CSRF_HEADER} header"
        )


def _session_of(request: Request, conn: sa.Connection) -> store.SessionRow | None:
    token = _cookie(request)
    return None if not token else store.find_session(conn, token_hash=token_digest(token))


def _cookie(request: Request) -> str | None:
    return request.cookies.get(SESSION_COOKIE) or None
