"""HTTP: set or forget a wireless M-Bus meter's AES-128 key. A key goes in, never out.

There is no way to read a key back: the API seals it at once under the
configured master key, and answers only with a status. Messages say what was
wrong with a key (its length, its characters), never what it was.

After a key is stored, the route calls `app.state.on_key_set` if the
application has one (see `KeySetHook`): the place where telegrams that waited
for this meter's key are processed again.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool

from openamr.access import AccessContext, Role
from openamr.guard.audit import Target, record_access
from openamr.guard.http import RowId, current_engine, current_now
from openamr.guard.keyring import Keyring, NoMasterKey, UnableToSealKey, parse_meter_key
from openamr.guard.policy import Allow
from openamr.settings import Settings
from openamr.store import keys as key_store

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1", tags=["meter keys"])

# A meter's key opens every telegram it sends: its customer's administrators only.
Access = Annotated[AccessContext, Depends(Allow(Role.CUSTOMER_ADMIN))]
Db = Annotated[Engine, Depends(current_engine)]
Now = Annotated[datetime, Depends(current_now)]

BODY_SHAPE = '{"key": "<32 hexadecimal digits>"}'

KEY_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["key"],
                    "properties": {
                        "key": {
                            "type": "string",
                            "pattern": "^[0-9A-Fa-f]{32}$",
                            "description": "The meter's AES-128 key in 32 hexadecimal digits.",
                            "example": "000102030405060708090A0B0C0D0E0F",
                        }
                    },
                }
            }
        },
    }
}


class KeySetHook(Protocol):
    """Called after a meter's key was stored and committed: `app.state.on_key_set`.

    It runs in a worker thread before the answer is sent, so it should be
    quick (hand long work to a queue). An exception it raises is logged; the
    key stays stored and the answer is still 204.
    """

    def __call__(self, *, meter_id: int, customer_id: int) -> None: ...


def current_keyring(request: Request) -> Keyring:
    """The application's keyring, made from its settings on first use."""
    state = request.app.state
    keyring: Keyring | None = getattr(state, "keyring", None)
    if keyring is None:
        settings: Settings = state.settings
        keyring = Keyring.from_settings(settings)
        state.keyring = keyring
    return keyring


@router.put(
    "/meters/{meter_id}/key",
    status_code=204,
    summary="Set a meter's AES-128 key",
    description=(
        f"Body: `{BODY_SHAPE}`. The key is sealed under the installation's master key and "
        "replaces the meter's key, if it had one. There is no way to read a key back. "
        "400: the body is not JSON; 422: the body or the key is malformed; 404: no such meter "
        "for the caller; 503: no master key is configured."
    ),
    openapi_extra=KEY_BODY,
    responses={400: {}, 404: {}, 422: {}, 503: {}},
)
async def put_meter_key(
    meter_id: RowId,
    request: Request,
    engine: Db,
    access: Access,
    now: Now,
    keyring: Annotated[Keyring, Depends(current_keyring)],
) -> Response:
    key = _key_from_body(await request.body())
    if not keyring.can_seal:
        raise HTTPException(503, str(NoMasterKey()))
    customer_id = await run_in_threadpool(
        _store_key, engine, keyring, key, meter_id=meter_id, access=access, now=now
    )
    logger.info("meter %s: key set by %s", meter_id, access.actor)
    hook: KeySetHook | None = getattr(request.app.state, "on_key_set", None)
    if hook is not None:
        try:
            await run_in_threadpool(hook, meter_id=meter_id, customer_id=customer_id)
        except Exception:
            # The key is stored and committed: the caller's request succeeded, and
            # telegrams still waiting are found by the next re-processing sweep.
            logger.exception("meter %s: the key is stored, but on_key_set failed", meter_id)
    return Response(status_code=204)


@router.delete(
    "/meters/{meter_id}/key",
    status_code=204,
    summary="Forget a meter's key",
    description="Deletes the meter's sealed key, if it has one. 404: no such meter for the caller.",
    responses={404: {}},
)
def delete_meter_key(meter_id: RowId, engine: Db, access: Access, now: Now) -> Response:
    with engine.begin() as conn:
        customer_id = key_store.find_meter_customer(conn, meter_id=meter_id, access=access)
        if customer_id is None:
            raise HTTPException(404, f"no meter {meter_id}")
        if key_store.delete_meter_key(conn, meter_id=meter_id, access=access):
            record_access(
                conn,
                access,
                action="meter_key.delete",
                now=now,
                target=Target(customer_id=customer_id),
            )
            logger.info("meter %s: key deleted by %s", meter_id, access.actor)
    return Response(status_code=204)


def _key_from_body(body: bytes) -> bytes:
    """The key in a `{"key": "…"}` body. Raises HTTPException 400 or 422, never quoting the body.

    The body is parsed here rather than by a pydantic model, because FastAPI's
    validation errors repeat the input, and the input is a secret.
    """
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise HTTPException(400, f"the body must be JSON: {BODY_SHAPE}") from None
    if not isinstance(document, dict) or "key" not in document:
        raise HTTPException(422, f"the body must be a JSON object {BODY_SHAPE}")
    text = document["key"]
    if not isinstance(text, str):
        raise HTTPException(422, "key must be a string of 32 hexadecimal digits")
    try:
        return parse_meter_key(text)
    except UnableToSealKey as exc:
        raise HTTPException(422, str(exc)) from None


def _store_key(
    engine: Engine,
    keyring: Keyring,
    key: bytes,
    *,
    meter_id: int,
    access: AccessContext,
    now: datetime,
) -> int:
    """Seal and store the key of a meter the caller may see; its customer. Raises HTTPException."""
    with engine.begin() as conn:
        customer_id = key_store.find_meter_customer(conn, meter_id=meter_id, access=access)
        if customer_id is None:
            raise HTTPException(404, f"no meter {meter_id}")
        sealed = keyring.seal(key, meter_id=meter_id, customer_id=customer_id)
        key_store.put_meter_key(
            conn, meter_id=meter_id, customer_id=customer_id, sealed=sealed, now=now
        )
        record_access(
            conn, access, action="meter_key.set", now=now, target=Target(customer_id=customer_id)
        )
    return customer_id
