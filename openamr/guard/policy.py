"""The one authorisation policy: which role may call which route, deny by default.

Every route of the web API states who may call it by taking its access
context from an `Allow` dependency:

    Access = Annotated[AccessContext, Depends(Allow(Role.CUSTOMER_ADMIN, Role.OPERATIONS))]

`Allow` authenticates the request (401 without a valid credential) and
refuses any role not named (403). What object the caller may reach (its own
customer, its own tenancy, a granted tenancy) is then decided in SQL by the
queries, which take the context. The authorisation matrix test walks the
application's routes and fails for any route without an `Allow`.
"""

from __future__ import annotations

from fastapi import HTTPException, Request

from openamr.access import AccessContext, Role
from openamr.guard.authn import authenticate


class Allow:
    """A FastAPI dependency: the caller's access context, if its role is one of `roles`."""

    def __init__(self, *roles: Role) -> None:
        self.roles = frozenset(roles)

    def __repr__(self) -> str:
        return f"Allow({', '.join(sorted(self.roles))})"

    def __call__(self, request: Request) -> AccessContext:
        access = authenticate(request)
        if access is None:
            raise HTTPException(status_code=401, detail="sign in first")
        if access.role not in self.roles:
            raise HTTPException(status_code=403, detail="your role may not do this")
        return access
