"""/admin: tenancies (move-in, move-out) and access code letters, for a customer administrator.

    POST /admin/apartments/{id}/tenancies                move-in from a day; the letter offered
    POST /admin/tenancies/{id}/move-out                  move-out from a day (exclusive)
    POST /admin/apartments/{id}/letter                   issue a code; its printable letter
    POST /admin/properties/{id}/letters                  letters for several apartments at once
    GET  the two letter addresses                        back to the apartment or property
    POST /admin/tenancies/{id}/access-codes/revoke       a lost letter: its code stops working

A tenancy is a period and nothing more (P1). A move-out that has happened
ends the household's sessions and unused codes at once (`openamr.store.tenancies.move_out`).

A code is shown once, on the letter page, which is the answer to the POST
that issued it: it is in no address (the page's own is the form's target,
the QR code's carries it in the fragment, which browsers never send), in
no log (the audit event names the tenancy, not the code), never in a Referer
(`Referrer-Policy: no-referrer` everywhere), and the page is `no-store`.
Issuing again makes the tenancy's earlier unused letters stop working.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from pydantic import StringConstraints
from sqlalchemy.engine import Engine

from openamr.access import AccessContext
from openamr.collect import admin
from openamr.guard.http import RowId
from openamr.present.pages.admin import (
    PREFIX,
    CustomerAdmin,
    Db,
    Field,
    Now,
    Refused,
    apartment_view,
    changing,
    property_view,
    reading,
    see,
)
from openamr.present.pages.forms import read_form_csrf
from openamr.present.pages.i18n import language_of, translator
from openamr.present.pages.letters import Letter, letter
from openamr.present.pages.rendering import render
from openamr.settings import Settings
from openamr.store import admin_views as views
from openamr.store.buildings import PropertyRow, find_apartment, find_property
from openamr.store.customers import find_customer
from openamr.store.tenancies import find_tenancy

router = APIRouter(prefix=PREFIX, include_in_schema=False, dependencies=[Depends(read_form_csrf)])

# A chosen apartment's id, as a form's checkbox sends it (checked for digits below).
ApartmentId = Annotated[str, StringConstraints(max_length=12)]
# What the letter page answers with: nothing may keep it, since it holds the codes.
NO_STORE = {"Cache-Control": "no-store"}
MAX_LETTERS = 500  # letters in one print job; a larger property prints by entrance


# --- move-in and move-out -----------------------------------------------------------------------


@router.post("/apartments/{apartment_id}/tenancies")
def move_in(
    request: Request,
    apartment_id: RowId,
    access: CustomerAdmin,
    engine: Db,
    now: Now,
    start: Field = "",
) -> Response:
    """Record a new household's move-in; back to the apartment, which offers its letter."""
    try:
        with changing(engine) as conn:
            admin.move_in(conn, access, apartment_id=apartment_id, start=start, now=now)
    except Refused as refused:
        return apartment_view(request, access, engine, now, apartment_id, refused)
    return see(f"{PREFIX}/apartments/{apartment_id}?done=moved_in")


@router.post("/tenancies/{tenancy_id}/move-out")
def move_out(
    request: Request,
    tenancy_id: RowId,
    access: CustomerAdmin,
    engine: Db,
    now: Now,
    end: Field = "",
) -> Response:
    """Record a move-out from `end`, the first day that is no longer the household's."""
    with reading(engine) as conn:
        found = find_tenancy(conn, access=access, tenancy_id=tenancy_id)
    try:
        with changing(engine) as conn:
            admin.move_out(conn, access, tenancy_id=found.id, end=end, now=now)
    except Refused as refused:
        return apartment_view(request, access, engine, now, found.apartment_id, refused)
    return see(f"{PREFIX}/apartments/{found.apartment_id}?done=moved_out")


@router.post("/tenancies/{tenancy_id}/access-codes/revoke")
def revoke_codes(tenancy_id: RowId, access: CustomerAdmin, engine: Db, now: Now) -> Response:
    """A lost letter: the tenancy's codes not yet used stop working."""
    with changing(engine) as conn:
        apartment_id = find_tenancy(conn, access=access, tenancy_id=tenancy_id).apartment_id
        admin.revoke_access_codes(conn, access, tenancy_id=tenancy_id, now=now)
    return see(f"{PREFIX}/apartments/{apartment_id}?done=revoked")


# --- letters ------------------------------------------------------------------------------------


@router.post("/apartments/{apartment_id}/letter")
def apartment_letter(
    request: Request, apartment_id: RowId, access: CustomerAdmin, engine: Db, now: Now
) -> Response:
    """Issue an access code for the apartment's household and show its letter, to print."""
    try:
        letters = _issue(request, access, engine, now, [apartment_id])
    except Refused as refused:
        return apartment_view(request, access, engine, now, apartment_id, refused)
    return _letters_page(request, letters, back=f"{PREFIX}/apartments/{apartment_id}")


@router.post("/properties/{property_id}/letters")
def property_letters(
    request: Request,
    property_id: RowId,
    access: CustomerAdmin,
    engine: Db,
    now: Now,
    apartment: Annotated[list[ApartmentId], Form()] = [],  # noqa: B006  # FastAPI copies it
) -> Response:
    """Letters for the apartments chosen (or, with none chosen, every apartment of the property
    with a household now or to come), one printed page each."""
    with reading(engine) as conn:
        rows = views.list_property_apartments(conn, access=access, property_id=property_id, now=now)
    chosen = {int(value) for value in apartment if value.strip().isdigit()}
    wanted = [
        row.id for row in rows if row.tenancy_id is not None and (not chosen or row.id in chosen)
    ]
    try:
        if not wanted:
            raise Refused(409, "no apartment chosen has a household now or to come")
        if len(wanted) > MAX_LETTERS:
            raise Refused(422, f"at most {MAX_LETTERS} letters at once: choose apartments")
        letters = _issue(request, access, engine, now, wanted)
    except Refused as refused:
        return property_view(request, access, engine, now, property_id, refused)
    return _letters_page(request, letters, back=f"{PREFIX}/properties/{property_id}")


@router.get("/apartments/{apartment_id}/letter")
def apartment_letter_again(apartment_id: RowId, access: CustomerAdmin, engine: Db) -> Response:
    """A letter's address opened again (a reload after switching language, a bookmark): its
    code is not shown twice, so on to the apartment, where a new letter can be made."""
    with reading(engine) as conn:
        find_apartment(conn, access=access, apartment_id=apartment_id)
    return see(f"{PREFIX}/apartments/{apartment_id}")


@router.get("/properties/{property_id}/letters")
def property_letters_again(property_id: RowId, access: CustomerAdmin, engine: Db) -> Response:
    """As for one apartment's letter: on to the property, where new letters can be made."""
    with reading(engine) as conn:
        find_property(conn, access=access, property_id=property_id)
    return see(f"{PREFIX}/properties/{property_id}")


def _issue(
    request: Request,
    access: AccessContext,
    engine: Engine,
    now: datetime,
    apartment_ids: list[int],
) -> list[Letter]:
    """Codes for the apartments, in one transaction (all or none), as letters."""
    settings: Settings = request.app.state.settings
    title = translator(language_of(request))("admin_letter_qr_title")
    letters = []
    with changing(engine) as conn:
        customer = find_customer(
            conn, access=access, customer_id=admin.customer_of(access, None)
        ).name
        properties: dict[int, PropertyRow] = {}
        for apartment_id in apartment_ids:
            flat = find_apartment(conn, access=access, apartment_id=apartment_id)
            if flat.property_id not in properties:
                properties[flat.property_id] = find_property(
                    conn, access=access, property_id=flat.property_id
                )
            issued = admin.issue_letter(
                conn,
                access,
                apartment_id=flat.id,
                valid_for=timedelta(days=settings.access_code_days),
                now=now,
            )
            letters.append(
                letter(
                    customer=customer,
                    prop=properties[flat.property_id],
                    flat=flat,
                    issued=issued,
                    public_url=settings.public_url,
                    qr_title=title,
                )
            )
    return letters


def _letters_page(request: Request, letters: list[Letter], *, back: str) -> Response:
    """The letters, one printed page each; kept by no cache, since they hold the codes."""
    answer = render(request, "admin/letters.html", letters=letters, back=back, error=None)
    answer.headers.update(NO_STORE)
    return answer
