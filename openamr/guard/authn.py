"""Authentication: who a request comes from, as an access context, or None for nobody.

The identity work fills this in (sessions from the `__Host-` cookie for staff
and households; bearer tokens for gateways). Until then no request is
authenticated.
"""

from __future__ import annotations

from fastapi import Request

from openamr.access import AccessContext


def authenticate(request: Request) -> AccessContext | None:
    """The caller of `request`, or None when it carries no valid credential."""
    return None
