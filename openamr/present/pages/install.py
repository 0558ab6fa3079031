"""install_pages(app): the pages' routers and their error answers, called by create_app."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from starlette.exceptions import HTTPException

from openamr.present.pages import (
    admin,
    admin_staff,
    admin_tenancies,
    console,
    household,
    language,
    platform,
    static,
    support,
)
from openamr.present.pages import prices as price_pages
from openamr.present.pages.errors import page_error

# Every router of pages: one line per area.
ROUTERS: tuple[APIRouter, ...] = (
    static.router,
    language.router,
    household.router,
    console.router,
    support.router,
    price_pages.router,
    admin.router,
    admin_tenancies.router,
    admin_staff.router,
    platform.router,
)


def install_pages(app: FastAPI) -> None:
    """Add the pages and /static to `app`, and answer refusals on pages with pages."""
    for router in ROUTERS:
        app.include_router(router)
    app.add_exception_handler(HTTPException, page_error)
