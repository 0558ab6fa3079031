"""HTTP: a customer's prices per medium, under /api/v1/admin/prices, for its administrators.

    GET    /api/v1/admin/prices             the prices of the caller's customer (?medium=)
    PUT    /api/v1/admin/prices             set the price of a medium from a day on
    DELETE /api/v1/admin/prices/{price_id}  delete a price (the one before it holds on)

A price holds from the local midnight of `valid_from` at the property until
the next price of the same medium. `price` is kronor per kWh (electricity,
heat, cooling), per m3 (water) or per unit (heat cost allocators), as a
decimal string ("1.25") or a JSON number, at most six decimals; it is kept
exactly and answered as a string. Another customer's price is answered 404,
like one that does not exist. Every change is an audit event.

Statuses: 400 a body that is not JSON; 422 a value that cannot be used (the
message says which and why); 404 no such price or customer for the caller;
409 the same day's price set at the same moment by someone else.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from sqlalchemy.engine import Engine

from openamr.access import AccessContext, Role
from openamr.collect.admin import UnusableInput
from openamr.guard.http import RowId, current_engine, current_now
from openamr.guard.policy import Allow
from openamr.present import prices
from openamr.present.costs import price_text
from openamr.store import prices as store

router = APIRouter(prefix="/api/v1/admin/prices", tags=["prices"])

CustomerAdmin = Annotated[AccessContext, Depends(Allow(Role.CUSTOMER_ADMIN))]
Db = Annotated[Engine, Depends(current_engine)]
Now = Annotated[datetime, Depends(current_now)]

FIELDS = ("medium", "valid_from", "price", "customer_id")
REQUIRED = ("medium", "valid_from", "price")
ANSWERS: dict[int | str, dict[str, Any]] = {
    400: {"description": "The body is not JSON"},
    404: {"description": "No such price or customer for the caller"},
    409: {"description": "The same day's price was set at the same moment by someone else"},
    422: {"description": "A value that cannot be used as given"},
}
PRICE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": list(REQUIRED),
    "additionalProperties": False,
    "properties": {
        "medium": {"type": "string", "examples": ["electricity"]},
        "valid_from": {"type": "string", "format": "date", "examples": ["2026-05-01"]},
        "price": {
            "anyOf": [{"type": "string"}, {"type": "number"}],
            "description": "kronor per kWh, m3 or unit, at most six decimals",
            "examples": ["1.25"],
        },
        "customer_id": {"type": "integer", "description": "only for a caller with several"},
    },
}


@contextmanager
def _answering() -> Iterator[None]:
    """The one place the prices' refusals become HTTP answers."""
    try:
        yield
    except store.UnableToFind as exc:
        raise HTTPException(404, str(exc)) from None
    except UnusableInput as exc:
        raise HTTPException(422, str(exc)) from None
    except store.UnableToChange as exc:
        raise HTTPException(409, str(exc)) from None


async def _price_body(request: Request) -> dict[str, Any]:
    """The PUT body as a dict of known fields, with one clear message when it is not usable.

    Numbers are read as decimals, never floats, so that 0.1 stays 0.1. Taken
    after `Allow`, so an unauthenticated caller learns nothing about its body.
    """
    wanted = ", ".join(REQUIRED)
    try:
        document = json.loads(await request.body(), parse_float=Decimal)
    except (ValueError, UnicodeDecodeError):
        raise HTTPException(400, f"the body must be a JSON object with {wanted}") from None
    if not isinstance(document, dict):
        raise HTTPException(422, f"the body must be a JSON object with {wanted}")
    for field in document:
        if field not in FIELDS:
            raise HTTPException(
                422, f"{str(field)[:40]} is not a field here; the fields are {', '.join(FIELDS)}"
            )
    for field in REQUIRED:
        if field not in document:
            raise HTTPException(422, f"{field} is missing")
    for field in ("medium", "valid_from"):
        if not isinstance(document[field], str):
            raise HTTPException(422, f"{field} must be a string")
    if not isinstance(document["price"], str | int | Decimal) or isinstance(
        document["price"], bool
    ):
        raise HTTPException(422, 'price must be a number or a decimal string such as "1.25"')
    customer_id = document.get("customer_id")
    if customer_id is not None and (
        not isinstance(customer_id, int) or isinstance(customer_id, bool)
    ):
        raise HTTPException(422, "customer_id must be a whole number")
    return document


def _json(row: store.PriceRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "customer_id": row.customer_id,
        "medium": row.medium,
        "valid_from": row.valid_from.isoformat(),
        "price": price_text(row.micro_per_unit),
        "unit": row.unit,
        "currency": row.currency,
        "set_by": row.set_by,
        "set_at": row.set_at.isoformat(),
    }


@router.get("", summary="The customer's prices", responses=ANSWERS)
def list_prices(
    access: CustomerAdmin,
    engine: Db,
    medium: Annotated[str | None, Query(max_length=32)] = None,
) -> list[dict[str, Any]]:
    """Every price of the caller's customer, by medium and first day."""
    with engine.connect() as conn:
        return [_json(row) for row in store.list_prices(conn, access=access, medium=medium)]


@router.put(
    "",
    summary="Set a price from a day on",
    responses=ANSWERS | {201: {"description": "A new price"}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": PRICE_SCHEMA}},
        }
    },
)
def put_price(
    access: CustomerAdmin,
    body: Annotated[dict[str, Any], Depends(_price_body)],
    engine: Db,
    now: Now,
    response: Response,
) -> dict[str, Any]:
    """Set the price of a medium from `valid_from` on: 201 when new, 200 when it replaces
    the price set for that same day."""
    with _answering(), engine.begin() as conn:
        row, created = prices.set_price(
            conn,
            access,
            customer_id=body.get("customer_id"),
            medium_name=body["medium"],
            valid_from=body["valid_from"],
            price=body["price"],
            now=now,
        )
    response.status_code = 201 if created else 200
    return _json(row)


@router.delete("/{price_id}", status_code=204, summary="Delete a price", responses=ANSWERS)
def delete_price(price_id: RowId, access: CustomerAdmin, engine: Db, now: Now) -> Response:
    """Delete a price; the price before it then holds until the next one."""
    with _answering(), engine.begin() as conn:
        prices.delete_price(conn, access, price_id=price_id, now=now)
    return Response(status_code=204)
