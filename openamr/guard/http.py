"""The web API's one door: every route asks here for the caller's access context.

Until identities and roles exist (the access-control issue), the API serves
the installation's trusted operator, as the command line does: run it on a
private address. Replacing `current_access` is all that change needs here.
"""

from __future__ import annotations

from fastapi import Request
from sqlalchemy.engine import Engine

from openamr.access import AccessContext


def current_access(request: Request) -> AccessContext:
    """The access context of the request's caller."""
    return AccessContext.operator(actor="api")


def current_engine(request: Request) -> Engine:
    """The application's database engine, made once in `create_app`."""
    engine: Engine = request.app.state.engine
    return engine
