"""Forms: the CSRF token of a posted HTML form, handed to authentication.

A form cannot set the `X-CSRF-Token` header that API calls send, so pages
put the session's token in a hidden `csrf_token` field. `read_form_csrf`
runs as a dependency of the pages' routers, and router dependencies run
before a route's own (its `Allow`): it parses the form and puts the field
where `openamr.guard.authn` looks when the header is absent. The check is
then the same for API calls and forms, in one place.
"""

from __future__ import annotations

from fastapi import Request

from openamr.guard.authn import FORM_CSRF_STATE
from openamr.guard.sessions import CSRF_FIELD

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


async def read_form_csrf(request: Request) -> None:
    """Put a posted form's `csrf_token` field where authentication finds it."""
    if request.method != "POST":
        return
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in FORM_TYPES:
        return
    form = await request.form()  # Starlette keeps it for the route's own Form fields
    sent = form.get(CSRF_FIELD)
    if isinstance(sent, str):
        setattr(request.state, FORM_CSRF_STATE, sent)
