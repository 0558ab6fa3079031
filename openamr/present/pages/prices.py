"""/admin/prices: a customer administrator sets the prices households see their costs at.

    GET  /admin/prices                   the customer's prices, and a form to set one
    POST /admin/prices                   set a price of a medium from a day on
    POST /admin/prices/{id}/delete       delete a price (the one before it holds on)

Changes go through `openamr.present.prices`, as the API's do, so the checks,
the refusals and the audit events are the same. A refused change shows the
page again with the reason above the form (422 input that cannot be used,
409 a concurrent change); another customer's price is 404.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.engine import Engine

from openamr.access import AccessContext
from openamr.guard.http import RowId, current_now
from openamr.present import prices
from openamr.present.costs import PRICE_UNITS, price_text
from openamr.present.pages.admin import CustomerAdmin, Db, Refused, changing
from openamr.present.pages.forms import read_form_csrf
from openamr.present.pages.i18n import language_of
from openamr.present.pages.rendering import render
from openamr.store import prices as store

PAGE = "/admin/prices"
router = APIRouter(include_in_schema=False, dependencies=[Depends(read_form_csrf)])

# A form's text field: empty when not sent, checked by `openamr.present.prices`.
Field = Annotated[str, Form(max_length=100)]


@router.get(PAGE)
def prices_page(request: Request, access: CustomerAdmin, engine: Db) -> Response:
    """The customer's prices by medium and day, and the form to set one."""
    return _page(request, access, engine)


@router.post(PAGE)
def set_price(
    request: Request,
    access: CustomerAdmin,
    engine: Db,
    medium: Field = "",
    valid_from: Field = "",
    price: Field = "",
) -> Response:
    """Set a price from a day on (replacing that day's); back to the list."""
    now = current_now(request)
    try:
        with changing(engine) as conn:
            prices.set_price(
                conn,
                access,
                customer_id=None,
                medium_name=medium,
                valid_from=valid_from,
                price=price,
                now=now,
            )
    except Refused as refused:
        form = {"medium": medium, "valid_from": valid_from, "price": price}
        return _page(request, access, engine, refused=refused, form=form)
    return RedirectResponse(PAGE, status_code=303)


@router.post(PAGE + "/{price_id}/delete")
def delete_price(request: Request, price_id: RowId, access: CustomerAdmin, engine: Db) -> Response:
    """Delete a price; back to the list."""
    with changing(engine) as conn:
        prices.delete_price(conn, access, price_id=price_id, now=current_now(request))
    return RedirectResponse(PAGE, status_code=303)


def _page(
    request: Request,
    access: AccessContext,
    engine: Engine,
    *,
    refused: Refused | None = None,
    form: dict[str, str] | None = None,
) -> Response:
    lang = language_of(request)
    with engine.connect() as conn:
        rows = store.list_prices(conn, access=access)
    listed: list[dict[str, Any]] = [
        {
            "id": row.id,
            "medium": row.medium,
            "valid_from": row.valid_from,
            "price": _in_language(price_text(row.micro_per_unit), lang),
            "unit": row.unit,
            "set_at": row.set_at,
        }
        for row in rows
    ]
    return render(
        request,
        "admin/prices.html",
        status_code=200 if refused is None else refused.status,
        prices=listed,
        media=list(PRICE_UNITS),
        error=None if refused is None else str(refused),
        form=form or {"medium": "electricity", "valid_from": "", "price": ""},
    )


def _in_language(text: str, lang: str) -> str:
    return text.replace(".", ",") if lang == "sv" else text
