"""The web API's one door: every route asks here for the caller's access context.

Until identities and roles exist (the access-control issue), the API serves
the installation's trusted operator, as the command line does: run it on a
private address. Replacing `current_access` is all that change needs here.
"""

from __future__ import annotations

import hashlib
import hmac

from fastapi import HTTPException, Request
from sqlalchemy.engine import Engine

from openamr.access import AccessContext
from openamr.store.telegrams import Gateway, find_gateway_by_token_hash


def current_access(request: Request) -> AccessContext:
    """The access context of the request's caller."""
    return AccessContext.operator(actor="api")


def current_engine(request: Request) -> Engine:
    """The application's database engine, made once in `create_app`."""
    engine: Engine = request.app.state.engine
    return engine


def token_hash(token: str) -> str:
    """What is stored of a gateway's bearer token: its SHA-256, never the token."""
    return hashlib.sha256(token.encode()).hexdigest()


def current_gateway(request: Request) -> Gateway:
    """The gateway whose bearer token the request carries; 401 without a valid one."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if not hmac.compare_digest(scheme.lower(), "bearer") or not token.strip():
        raise HTTPException(
            status_code=401,
            detail="send the gateway's token as `Authorization: Bearer <token>`",
            headers={"WWW-Authenticate": "Bearer"},
        )
    with current_engine(request).connect() as conn:
        gateway = find_gateway_by_token_hash(conn, token_hash(token.strip()))
    if gateway is None:
        raise HTTPException(
            status_code=401,
            detail="the token is not that of any gateway",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return gateway
