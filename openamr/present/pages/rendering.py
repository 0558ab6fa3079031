"""Templates: one Jinja2 environment, autoescaped, and `render` for every page."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse
from sqlalchemy.engine import Engine

from openamr.guard.sessions import CSRF_FIELD, SESSION_COOKIE, token_digest
from openamr.present.pages.i18n import LANGUAGES, language_of, translator
from openamr.present.pages.static import static_url
from openamr.store import identities

TEMPLATES = Path(__file__).parent / "templates"


@cache
def environment() -> jinja2.Environment:
    """The templates' environment: autoescaped everywhere, undefined names are errors."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def csrf_token_of(request: Request) -> str | None:
    """The CSRF token of the browser's open session, for the forms of a page; None without one."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    engine: Engine = request.app.state.engine
    with engine.connect() as conn:
        session = identities.find_session(conn, token_hash=token_digest(token))
    if session is None or session.ended_at is not None:
        return None
    return session.csrf_token


def render(
    request: Request, template: str, *, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """The page `template` in the caller's language, with what every page needs.

    Every template gets: `lang`, `t` (messages), `static` (links to /static
    files), `csrf_field` and `csrf_token` (for forms that post), `path` (this
    page, for coming back after signing in or switching language) and
    `languages`.
    """
    lang = language_of(request)
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    page = (
        environment()
        .get_template(template)
        .render(
            lang=lang,
            t=translator(lang),
            static=static_url,
            csrf_field=CSRF_FIELD,
            csrf_token=context.pop("csrf_token", None) or csrf_token_of(request),
            path=path,
            languages=LANGUAGES,
            **context,
        )
    )
    return HTMLResponse(page, status_code=status_code)
