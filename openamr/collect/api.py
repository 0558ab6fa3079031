"""HTTP: register readings in, as JSON or CSV, streamed to disk and stored batch by batch."""

from __future__ import annotations

import io
import tempfile
from collections.abc import Iterator
from datetime import datetime
from typing import IO, Annotated, Any

import ijson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool

from openamr.access import AccessContext, Role
from openamr.collect.readings import (
    ReadingIngest,
    ReadingInput,
    UnableToReadReadings,
    read_readings_csv,
    readings_from_items,
)
from openamr.guard.audit import NO_TARGET, Target, record_access
from openamr.guard.http import current_engine
from openamr.guard.policy import Allow
from openamr.settings import Settings

router = APIRouter(prefix="/api/v1", tags=["readings"])

# Register readings come from a customer administrator's import, or from operations
# staff who read meters by hand (a replaced meter's last reading). Gateways send
# telegrams, which their meters' keys authenticate, not readings they could make up.
Importer = Annotated[AccessContext, Depends(Allow(Role.CUSTOMER_ADMIN, Role.OPERATIONS))]

# Bodies up to this size stay in memory; larger ones are spooled to a temporary file.
SPOOL_BYTES = 4 * 1024 * 1024

READINGS_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["readings"],
                    "properties": {
                        "readings": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["meter", "timestamp", "value", "unit"],
                                "properties": {
                                    "meter": {"type": "string", "example": "KAM-12345678"},
                                    "timestamp": {
                                        "type": "string",
                                        "format": "date-time",
                                        "example": "2026-03-29T01:07:00+01:00",
                                    },
                                    "value": {"type": "string", "example": "12345.678"},
                                    "unit": {"type": "string", "example": "kWh"},
                                },
                            },
                        }
                    },
                }
            },
            "text/csv": {
                "schema": {"type": "string"},
                "example": (
                    "meter,timestamp,value,unit\n"
                    "KAM-12345678,2026-03-29T01:07:00+01:00,12345.678,kWh\n"
                ),
            },
        },
    }
}


class UnsupportedMediaType(ValueError):
    """A body in a format the endpoint does not take."""


@router.post(
    "/readings",
    summary="Store register readings",
    description=(
        'Register readings as JSON (`{"readings": [...]}` or a bare array) or CSV '
        "(`Content-Type: text/csv`, header `meter,timestamp,value,unit`). Readings are "
        "stored once per meter and instant, in batches; the answer counts what was stored "
        "and lists each row that could not be used with its line (CSV) or item number "
        "(JSON) and reason. Rejected rows are kept for `openamr reprocess`."
    ),
    openapi_extra=READINGS_BODY,
)
async def post_readings(
    request: Request,
    engine: Annotated[Engine, Depends(current_engine)],
    access: Importer,
) -> JSONResponse:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in ("application/json", "text/csv"):
        raise UnsupportedMediaType(
            f"Content-Type {content_type or '(none)'} is not taken; "
            "send application/json or text/csv"
        )
    settings: Settings = request.app.state.settings
    now = request.app.state.clock()
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as body:
        async for chunk in request.stream():
            body.write(chunk)
        body.seek(0)
        ingest = ReadingIngest(
            engine,
            access=access,
            source="api",
            now=now,
            max_errors=settings.max_errors_reported,
        )
        rows = _csv_rows(body) if content_type == "text/csv" else _json_rows(body)
        try:
            await run_in_threadpool(ingest.add_all, rows, batch_size=settings.ingest_batch_size)
        except UnableToReadReadings as exc:
            await run_in_threadpool(_record_import, engine, access, now, "failed")
            return JSONResponse(
                status_code=400, content={"detail": str(exc), "so_far": ingest.report.as_dict()}
            )
    await run_in_threadpool(_record_import, engine, access, now, "ok")
    return JSONResponse(ingest.report.as_dict())


def _record_import(engine: Engine, access: AccessContext, now: datetime, outcome: str) -> None:
    """One audit event per import: who sent readings for which customer (never the values)."""
    target = Target(customer_id=min(access.customer_ids)) if access.customer_ids else NO_TARGET
    with engine.begin() as conn:
        record_access(
            conn, access, action="readings.import", now=now, target=target, outcome=outcome
        )


def _csv_rows(body: IO[bytes]) -> Iterator[ReadingInput]:
    text = io.TextIOWrapper(body, encoding="utf-8-sig", newline="")
    try:
        yield from read_readings_csv(text)
    except UnicodeDecodeError as exc:
        raise UnableToReadReadings(
            f"the CSV is not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None
    finally:
        text.detach()


def _json_rows(body: IO[bytes]) -> Iterator[ReadingInput]:
    first = _first_significant_byte(body)
    prefix = "item" if first == b"[" else "readings.item"
    if first not in (b"[", b"{"):
        raise UnableToReadReadings(
            'the JSON body must be {"readings": [...]} or an array of readings'
        )
    try:
        yield from readings_from_items(ijson.items(body, prefix, use_float=False))
    except ijson.JSONError as exc:
        raise UnableToReadReadings(f"the JSON body is not valid JSON: {exc}") from None


def _first_significant_byte(body: IO[bytes]) -> bytes:
    while True:
        byte = body.read(1)
        if not byte or not byte.isspace():
            body.seek(body.tell() - len(byte))
            return byte
