"""Small FastAPI dependencies every route may take: the engine, the clock, the calling gateway.

Who the caller is and what it may do is not decided here: every route takes
its access context from an `openamr.guard.policy.Allow` dependency.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request
from sqlalchemy.engine import Engine

from openamr.access import AccessContext, Role
from openamr.db import MAX_ROW_ID
from openamr.guard.policy import Allow
from openamr.guard.sessions import token_digest
from openamr.settings import Settings
from openamr.store.telegrams import Gateway, find_gateway_by_token_hash

# A row id in a URL: a positive 32-bit integer, or the request is refused before it reaches SQL.
RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]


def current_engine(request: Request) -> Engine:
    """The application's database engine, made once in `create_app`."""
    engine: Engine = request.app.state.engine
    return engine


def current_now(request: Request) -> datetime:
    """The current instant, from the application's clock (tests move it)."""
    now: datetime = request.app.state.clock()
    return now


def current_settings(request: Request) -> Settings:
    """The application's settings, built once at the edge and given to `create_app`."""
    settings: Settings = request.app.state.settings
    return settings


def client_address(request: Request) -> str:
    """The client's address (the proxy's X-Forwarded-For only where uvicorn trusts the proxy)."""
    return request.client.host if request.client is not None else "unknown"


def token_hash(token: str) -> str:
    """What is stored of a gateway's bearer token: its SHA-256, never the token."""
    return token_digest(token)


def current_gateway(
    request: Request, access: Annotated[AccessContext, Depends(Allow(Role.GATEWAY))]
) -> Gateway:
    """The gateway whose bearer token the request carries; 401 without a valid one."""
    with current_engine(request).connect() as conn:
        gateway = find_gateway_by_token_hash(conn, token_hash(_bearer(request)))
    if gateway is None or f"gateway:{gateway.id}" != access.actor:
        # Revoked between authentication and here: answered as an unknown token.
        raise HTTPException(
            status_code=401,
            detail="the bearer token is not that of any gateway",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return gateway


def _bearer(request: Request) -> str:
    _scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip()
