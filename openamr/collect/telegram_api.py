"""HTTP: gateways post batches of telegrams; each is stored, then decoded into readings.

Only gateways may call it, each with its own bearer token (`Allow(Role.GATEWAY)`
inside `current_gateway`); its telegrams are filed under its own customer.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from openamr.collect.rejections import Rejection, keep_rejections
from openamr.collect.telegram_input import parse_item
from openamr.collect.telegrams import TelegramIngest
from openamr.guard.http import current_gateway
from openamr.store.telegrams import Gateway, IncomingTelegram

router = APIRouter(prefix="/api/v1", tags=["telegrams"])

MAX_TELEGRAMS_PER_REQUEST = 10_000

TELEGRAM_ITEM: dict[str, Any] = {
    "type": "object",
    "required": ["hex"],
    "properties": {
        "hex": {
            "type": "string",
            "description": "The telegram from its first byte, as hexadecimal text.",
            "example": (
                "2A442D2C998734761B168D2091D37CAC21576C78"
                "02FF207100041308190000441308190000615B7F616713"
            ),
        },
        "received_at": {
            "type": "string",
            "format": "date-time",
            "description": "When the gateway heard it (ISO 8601 with an offset).",
            "example": "2026-11-29T08:15:02Z",
        },
        "rssi": {"type": "integer", "description": "Signal strength in dBm.", "example": -71},
        "gateway": {
            "type": "string",
            "description": "The sending gateway's identity; must match its token.",
        },
    },
}

TELEGRAMS_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["telegrams"],
                    "properties": {
                        "gateway": {"type": "string"},
                        "telegrams": {"type": "array", "items": TELEGRAM_ITEM},
                    },
                }
            }
        },
    }
}


class UnableToReadTelegrams(ValueError):
    """A request whose framing makes every telegram in it unusable."""


@router.post(
    "/telegrams",
    summary="Store telegrams heard by a gateway",
    description=(
        "A gateway sends the wired or wireless M-Bus telegrams it heard, authenticated "
        "with its own token (`Authorization: Bearer <token>`). Every usable telegram is "
        "stored before anything else (the same telegram twice, from one gateway or several, "
        "is stored once), then decoded with its meter's key and turned into register "
        "readings. The answer counts what became of them and lists each unusable item "
        "with its position and reason; such items are kept as rejected inputs."
    ),
    openapi_extra=TELEGRAMS_BODY,
)
async def post_telegrams(
    request: Request, gateway: Annotated[Gateway, Depends(current_gateway)]
) -> JSONResponse:
    body = await request.body()
    try:
        document = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UnableToReadTelegrams(f"the body is not valid JSON: {exc}") from None
    if isinstance(document, dict):
        named = document.get("gateway")
        if named is not None and str(named) != gateway.identity:
            return JSONResponse(
                status_code=403,
                content={
                    "detail": f"the token is that of gateway {gateway.identity!r}, "
                    f"not of {str(named)[:64]!r}"
                },
            )
        items = document.get("telegrams")
    else:
        items = document
    if not isinstance(items, list):
        raise UnableToReadTelegrams(
            'the body must be {"telegrams": [...]} or an array of telegrams'
        )
    if len(items) > MAX_TELEGRAMS_PER_REQUEST:
        return JSONResponse(
            status_code=413,
            content={
                "detail": f"at most {MAX_TELEGRAMS_PER_REQUEST} telegrams per request; "
                f"this one has {len(items)}"
            },
        )
    ingest: TelegramIngest = request.app.state.telegram_ingest
    now = request.app.state.clock()
    accepted: list[IncomingTelegram] = []
    rejected: list[Rejection] = []
    for number, item in enumerate(items, start=1):
        parsed = parse_item(item, now=now, gateway=gateway.identity)
        if isinstance(parsed, str):
            payload = item if isinstance(item, dict) else {"item": item}
            rejected.append(
                Rejection(
                    number,
                    parsed,
                    {str(k): str(v)[:1000] for k, v in payload.items()},
                    gateway.customer_id,
                )
            )
        else:
            accepted.append(parsed)
    if rejected:
        with ingest.engine.begin() as conn:
            keep_rejections(
                conn,
                rejected,
                kind="telegram",
                source=f"gateway:{gateway.identity}",
                received_at=now,
            )
    report = await run_in_threadpool(ingest.receive, gateway, accepted)
    answer = report.as_dict()
    answer["received"] = len(items)
    answer["rejected"] = len(rejected)
    answer["errors"] = [{"item": r.line, "reason": r.reason} for r in rejected[:1000]]
    return JSONResponse(answer)
