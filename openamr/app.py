"""create_app(settings): the web application's routers and error answers, and no logic."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from html import escape
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy.engine import Engine

from openamr import __version__
from openamr.access import AccessContext
from openamr.collect import api as collect_api
from openamr.collect import keys_api, telegram_api
from openamr.collect.readings import UnableToReadReadings
from openamr.collect.telegrams import build_telegram_ingest
from openamr.db import create_engine
from openamr.present import api as present_api
from openamr.present import radio_api
from openamr.present.series import UnableToReadValues
from openamr.settings import Settings
from openamr.store import queries
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
    app.add_api_route("/", landing_page, methods=["GET"], include_in_schema=False)

    # Domain exceptions become HTTP answers here, and only here.
    app.add_exception_handler(UnableToReadValues, _answer(422))
    app.add_exception_handler(UnableToReadReadings, _answer(400))
    app.add_exception_handler(telegram_api.UnableToReadTelegrams, _answer(400))
    app.add_exception_handler(collect_api.UnsupportedMediaType, _answer(415))
    return app


def _answer(status: int):  # type: ignore[no-untyped-def]
    async def handler(_request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(status_code=status, content={"detail": str(exc)})

    return handler


def landing_page(request: Request) -> HTMLResponse:
    """What this installation holds, and where to go next."""
    engine: Engine = request.app.state.engine
    with engine.connect() as conn:
        properties = queries.list_properties(conn, access=AccessContext.operator("api"))
    rows = "".join(
        f"<tr><td>{escape(p.customer)}</td><td>{escape(p.designation)}</td>"
        f"<td>{p.apartments}</td><td><a href='/api/v1/properties/{p.id}/apartments'>apartments</a>"
        f" · <a href='/api/v1/properties/{p.id}/metering-points'>metering points</a></td></tr>"
        for p in properties
    )
    cases = "".join(
        f"<li><strong>{escape(case.kind)}</strong>: {escape(case.description)} "
        f"({escape(case.property)}, {escape(case.entrance)} {escape(case.apartment)}, "
        f"{escape(case.medium)}, meter {escape(case.meter)})</li>"
        for case in request.app.state.demo_cases
    )
    body = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>openamr</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto">
<h1>openamr {escape(__version__)}</h1>
<p>Meter readings in, exact hourly values out: {len(properties)} properties,
{sum(p.apartments for p in properties)} apartments.
No household names are stored: an apartment is its property, entrance and number.</p>
<p><a href="/docs">API documentation</a> · <a href="/openapi.json">OpenAPI schema</a> ·
<a href="/api/v1/properties">properties as JSON</a></p>
<table><thead><tr><th>Customer</th><th>Property</th><th>Apartments</th><th></th></tr></thead>
<tbody>{rows}</tbody></table>
{"<h2>Worth a look in the demo</h2><ul>" + cases + "</ul>" if cases else ""}
</body></html>"""
    return HTMLResponse(body)
