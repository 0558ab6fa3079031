"""Refusals on pages as pages: the sign-in page for 401, an explanation for 403 and 404.

The API keeps its JSON answers (`{"detail": ...}`); a page path (anything
outside `/api/`, `/docs` and `/openapi.json`) gets HTML with the same
status code. A browser without a session is shown the sign-in form of the
area it asked for (status 401, so that no client mistakes it for the page),
with the address it asked for in the form, to come back to after signing in.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from openamr.present.pages.rendering import render

API_PATHS = ("/api/", "/docs", "/openapi.json")

# The sign-in page of each area of the pages, by path prefix: one line per area.
SIGN_IN_TEMPLATES: dict[str, str] = {
    "/home": "household/signin.html",
    "/console": "console/signin.html",
    "/support": "support/signin.html",
    "/admin": "admin/signin.html",
    "/platform": "platform/signin.html",
}


def is_page(path: str) -> bool:
    """Whether `path` is one of the HTML pages rather than the API."""
    return not path.startswith(API_PATHS)


def safe_next(target: str | None, default: str) -> str:
    """A local path to go to after signing in; anything else (another site) is `default`."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


async def page_error(request: Request, exc: Exception) -> Response:
    """The HTML answer to an HTTPException on a page; the API's JSON answer elsewhere."""
    assert isinstance(exc, HTTPException)
    if not is_page(request.url.path):
        return await http_exception_handler(request, exc)
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if exc.status_code == 401:
        for prefix, template in SIGN_IN_TEMPLATES.items():
            if request.url.path == prefix or request.url.path.startswith(prefix + "/"):
                return render(request, template, status_code=401, next=path, error=None)
    return render(
        request,
        "error.html",
        status_code=exc.status_code,
        status=exc.status_code,
        detail=str(exc.detail),
    )
