"""create_app(settings): the web application's routers and error answers, and no logic."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from html import escape
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy.engine import Engine

from openamr import __version__
from openamr.collect import api as collect_api
from openamr.collect import keys_api, telegram_api
from openamr.collect.readings import UnableToReadReadings
from openamr.collect.telegrams import build_telegram_ingest
from openamr.db import create_engine
from openamr.guard import grants
from openamr.guard.web import install_web_surface
from openamr.present import admin_api, grants_api, prices_api, radio_api, signin_api
from openamr.present import api as present_api
from openamr.present.pages import install_pages
from openamr.present.series import UnableToReadValues
from openamr.settings import Settings
from openamr.timeutil import utc_now

if TYPE_CHECKING:
    from openamr.demo.generate import DemoCase


def create_app(
    settings: Settings,
    *,
    engine: Engine | None = None,
    demo_cases: Sequence[DemoCase] = (),
    clock: Callable[[], datetime] = utc_now,
) -> FastAPI:
    """The web application on `settings`' database (or on `engine`, for tests).

    `clock` is where every route reads the current instant (`request.app.state.clock()`),
    so that tests can move time for sessions, access codes and grants.
    """
    app = FastAPI(
        title="openamr",
        version=__version__,
        description="Privacy-by-design automatic meter reading for apartment buildings.",
        # The documentation page is added by install_web_surface, with its own policy.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine if engine is not None else create_engine(settings)
    app.state.demo_cases = list(demo_cases)
    app.state.clock = clock
    app.state.telegram_ingest = build_telegram_ingest(app.state.engine, settings)
    # A meter's telegrams that waited for its key are decoded as soon as it is set.
    app.state.on_key_set = app.state.telegram_ingest.reprocess_meter
    app.include_router(collect_api.router)
    app.include_router(keys_api.router)
    app.include_router(telegram_api.router)
    app.include_router(present_api.router)
    app.include_router(radio_api.router)
    app.include_router(signin_api.router)
    app.include_router(admin_api.router)
    app.include_router(grants_api.router)
    app.include_router(prices_api.router)
    install_pages(app)
    install_web_surface(app, title="openamr")
    app.add_api_route("/", landing_page, methods=["GET"], include_in_schema=False)

    # Domain exceptions become HTTP answers here, and only here.
    app.add_exception_handler(UnableToReadValues, _answer(422))
    app.add_exception_handler(UnableToReadReadings, _answer(400))
    app.add_exception_handler(telegram_api.UnableToReadTelegrams, _answer(400))
    app.add_exception_handler(collect_api.UnsupportedMediaType, _answer(415))
    app.add_exception_handler(grants.UnableToFindGrant, _answer(404))
    app.add_exception_handler(grants.UnableToChangeGrant, _answer(409))
    app.add_exception_handler(grants.UnableToRequestGrant, _answer(422))
    app.add_exception_handler(grants.UnableToUseGrant, _answer(403))
    app.add_exception_handler(grants.UnableToRecordDisclosure, _answer(422))
    app.add_exception_handler(grants.UnableToFindDisclosure, _answer(404))
    app.add_exception_handler(RequestValidationError, _invalid_request)
    return app


async def _invalid_request(_request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's list of validation errors as one sentence per error: where, and what is wrong.

    The value that failed is left out of the answer: it could be a secret or a passphrase.
    """
    assert isinstance(exc, RequestValidationError)
    problems = []
    for error in exc.errors():
        place = ".".join(str(part) for part in error.get("loc", ()))
        problems.append(f"{place}: {error.get('msg', 'is not valid')}")
    return JSONResponse(status_code=422, content={"detail": "; ".join(problems)})


def _answer(status: int):  # type: ignore[no-untyped-def]
    async def handler(_request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(status_code=status, content={"detail": str(exc)})

    return handler


def landing_page(request: Request) -> HTMLResponse:
    """What openamr is, and where to go next; nothing of any customer's (anyone may ask)."""
    cases = "".join(
        f"<li><strong>{escape(case.kind)}</strong>: {escape(case.description)}</li>"
        for case in request.app.state.demo_cases
    )
    demo = (
        "<h2>Worth a look in the demo</h2><ul>" + cases + "</ul>"
        "<p>Sign in as one of the demo's staff or households to see where they are.</p>"
        if cases
        else ""
    )
    # No inline style or script: the page is served under the strict Content-Security-Policy.
    body = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>openamr</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body>
<h1>openamr {escape(__version__)}</h1>
<p>Meter readings in, exact hourly values out, for the households of apartment buildings,
their property owners' operations staff, and the partners a household approves.
No household names are stored: an apartment is its property, entrance and number.
Everything else needs signing in.</p>
<p><a href="/docs">API documentation</a> · <a href="/openapi.json">OpenAPI schema</a></p>
{demo}
</body></html>"""
    return HTMLResponse(body)
