"""The web surface: security headers on every answer, and the Sec-Fetch-Site check.

One ASGI middleware (`WebSurface`, registered by `create_app`) so that no
route can forget a header:

- `Strict-Transport-Security` for a year, with subdomains: browsers never
  talk plain http to openamr again once they have seen it over https;
- a strict `Content-Security-Policy`: scripts, styles and everything else
  only from openamr itself, no framing, no plugins, no `<base>`;
- `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`;
- `Cache-Control: no-store` on the API's answers, which are data (and on
  the OpenAPI schema), so that no shared or browser cache keeps them.

A state-changing request (POST, PUT, PATCH, DELETE) that a browser marks as
coming from another site (`Sec-Fetch-Site` other than `same-origin` or
`none`) is refused before any route runs, whatever credential it carries:
this stops cross-site request forgery also on routes that take no session
yet, such as sign-in. Clients that are not browsers send no such header and
are not affected; a session's requests must carry its CSRF token as well
(`openamr.guard.authn`).

The API documentation (`/docs`) is the one page with a policy of its own:
FastAPI's Swagger UI loads its script and style from a CDN and starts with
an inline script. Rather than relax the policy everywhere, or hide the docs
the README and the landing page point newcomers to, `/docs` alone allows
that CDN's Swagger UI files and that one inline script by its SHA-256. A
compromised CDN could then run script on `/docs` only, and that page takes
no data of its own; every other path keeps the strict policy.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

STRICT_POLICY = "default-src 'self'; frame-ancestors 'none'; object-src 'none'; base-uri 'none'"
HSTS = "max-age=31536000; includeSubDomains"
STATE_CHANGING = frozenset({b"POST", b"PUT", b"PATCH", b"DELETE"})
TRUSTED_FETCH_SITES = frozenset({"same-origin", "none"})
DOCS_PATH = "/docs"
SWAGGER_CDN = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/"

_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def _no_store(path: str) -> bool:
    return path.startswith("/api/") or path == "/openapi.json"


class WebSurface:
    """ASGI middleware: the headers above on every answer; cross-site writes refused."""

    def __init__(self, app: ASGIApp, *, docs_policy: str | None = None) -> None:
        self.app = app
        self.docs_policy = docs_policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        policy = self.docs_policy if path == DOCS_PATH and self.docs_policy else STRICT_POLICY
        headers = [
            (b"strict-transport-security", HSTS.encode()),
            (b"content-security-policy", policy.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
        ]
        no_store = _no_store(path)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                ours = {name for name, _ in headers} | ({b"cache-control"} if no_store else set())
                kept = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if name.lower() not in ours
                ]
                extra = [(b"cache-control", b"no-store")] if no_store else []
                message = {**message, "headers": kept + headers + extra}
            await send(message)

        if scope["method"].encode() in STATE_CHANGING:
            site = _header(scope, b"sec-fetch-site")
            if site is not None and site not in TRUSTED_FETCH_SITES:
                await _refuse(send_with_headers, site)
                return
        await self.app(scope, receive, send_with_headers)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            text: str = value.decode("latin-1").strip().lower()
            return text
    return None


async def _refuse(send: Send, site: str) -> None:
    body = json.dumps(
        {
            "detail": f"a state-changing request from another site ({site[:32]}) is refused; "
            "send it from openamr's own pages"
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 403,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def install_web_surface(app: FastAPI, *, title: str) -> None:
    """Register the middleware, and the API documentation page with its own policy.

    The app must be made with `docs_url=None, redoc_url=None`: the page is
    added here, so that its policy is computed from exactly the HTML it serves.
    """
    page = get_swagger_ui_html(
        openapi_url=app.openapi_url or "/openapi.json",
        title=f"{title}: API documentation",
        swagger_js_url=SWAGGER_CDN + "swagger-ui-bundle.js",
        swagger_css_url=SWAGGER_CDN + "swagger-ui.css",
        swagger_favicon_url="data:,",
    )
    html = bytes(page.body).decode()
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"
        for script in _INLINE_SCRIPT.findall(html)
    )
    docs_policy = (
        f"default-src 'self'; script-src {SWAGGER_CDN} {hashes}; style-src {SWAGGER_CDN}; "
        "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; object-src 'none'; "
        "base-uri 'none'"
    )

    async def docs(_request: Request) -> HTMLResponse:
        return HTMLResponse(html)

    app.add_api_route(DOCS_PATH, docs, methods=["GET"], include_in_schema=False)
    app.add_middleware(WebSurface, docs_policy=docs_policy)
