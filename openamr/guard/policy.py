"""The one authorisation policy: which role may call which route, deny by default.

Every route of the web API states who may call it by taking its access
context from an `Allow` dependency:

    Access = Annotated[AccessContext, Depends(Allow(Role.CUSTOMER_ADMIN, Role.OPERATIONS))]

`Allow` authenticates the request (401 without a valid credential) and
refuses any role not named (403). What object the caller may reach (its own
customer, its own tenancy, a granted tenancy) is then decided in SQL by the
queries, which take the context. The authorisation matrix test walks the
application's routes and fails for any route without an `Allow`.

The tiers of PRINCIPLES.md, as this module applies them:

- households: their own tenancy, at full resolution, nothing outside its
  period (the queries filter by `AccessContext.tenancy`);
- customer staff (administrators and operations): meter-centric data of
  their own customer; values at day resolution and coarser, hourly values of
  apartments only where the customer has enabled it (`may_read_hourly`), and
  every read of an apartment's values is audited;
- support and other platform staff: nothing of their own. A route that
  serves a household's presentation names them in `under_grant`; they then
  get a context scoped to the one tenancy an active grant opens (approved by
  the household, and for other platform staff by a platform administrator
  as well), or 403. With several active grants the request names one: the
  API's `X-OpenAMR-Grant` header, or the pages' grant cookie that support's
  page sets when a grant is opened;
- platform administrators: customers, grants' second approvals and
  disclosures; never a household's data (no presentation route names them).
"""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import HTTPException, Request
from sqlalchemy.engine import Engine

from openamr.access import CUSTOMER_ROLES, AccessContext, Role
from openamr.guard import grants
from openamr.guard.authn import authenticate, bearer_token

GRANT_HEADER = "X-OpenAMR-Grant"  # which active grant a staff member acts under, if several
# The same choice for pages, where a browser cannot add the header: set by support's page
# (`POST /support/open`) for the household's pages only (path /home), ending with the browser.
GRANT_COOKIE = "openamr-grant"
GRANT_COOKIE_PATH = "/home"


class Allow:
    """A FastAPI dependency: the caller's access context, if its role is one of `roles`.

    Roles in `under_grant` (support and other platform staff, on routes that
    serve a household's presentation) are let through only under an active
    grant, with their context narrowed to the granted tenancy.
    """

    def __init__(self, *roles: Role, under_grant: Iterable[Role] = ()) -> None:
        self.roles = frozenset(roles)
        self.under_grant = frozenset(under_grant)
        if not self.under_grant <= grants.REQUESTER_ROLES:
            raise ValueError("only support and other platform staff act under grants")
        if self.roles & self.under_grant:
            raise ValueError("a role is allowed either always or under a grant, not both")

    def __repr__(self) -> str:
        granted = (
            f"; under a grant: {', '.join(sorted(self.under_grant))}" if self.under_grant else ""
        )
        return f"Allow({', '.join(sorted(self.roles))}{granted})"

    def __call__(self, request: Request) -> AccessContext:
        access = authenticate(request)
        if access is None:
            if bearer_token(request) is not None:
                raise HTTPException(
                    status_code=401,
                    detail="the bearer token is not that of any gateway",
                    headers={"WWW-Authenticate": "Bearer"},
                )
            if self.roles == {Role.GATEWAY}:
                raise HTTPException(
                    status_code=401,
                    detail="send the gateway's token as `Authorization: Bearer <token>`",
                    headers={"WWW-Authenticate": "Bearer"},
                )
            raise HTTPException(status_code=401, detail="sign in first")
        if access.role in self.roles:
            return access
        if access.role in self.under_grant:
            return _under_grant(request, access)
        raise HTTPException(status_code=403, detail="your role may not do this")


def _under_grant(request: Request, access: AccessContext) -> AccessContext:
    """The staff member's context narrowed to the tenancy its active grant opens; else 403.

    The grant is the one the request names (the header, else the pages' cookie), or the
    staff member's only active one. A named grant that is not active is refused, never
    replaced by another: what a page shows is always the grant that was chosen.
    """
    chosen = chosen_grant(request)
    engine: Engine = request.app.state.engine
    now = request.app.state.clock()
    with engine.begin() as conn:
        grants.settle_grants(conn, now=now)
        try:
            grant = grants.active_grant(conn, access, now=now, chosen=chosen)
        except grants.UnableToUseGrant as exc:
            raise HTTPException(status_code=403, detail=str(exc)) from None
    return grants.granted_access(access, grant)


def chosen_grant(request: Request) -> int | None:
    """The grant the request names: `X-OpenAMR-Grant`, else the pages' grant cookie; or None.

    Raises HTTPException 403 when the one given is not a number.
    """
    text = request.headers.get(GRANT_HEADER)
    if text is None:
        text = request.cookies.get(GRANT_COOKIE)
    if text is None:
        return None
    text = text.strip()
    if not (text.isascii() and text.isdigit() and len(text) <= 18):  # ASCII: int("²") fails
        raise HTTPException(403, f"{GRANT_HEADER} must be the number of one of your grants")
    return int(text)


def may_read_hourly(access: AccessContext) -> bool:
    """Whether the caller may read hourly values of apartments.

    Households (their own) and staff under a grant (the household's
    presentation) may; customer staff only where their customer enabled it
    for operations; the command line's operator may.
    """
    if access.role in CUSTOMER_ROLES:
        return access.operations_hourly
    return True


def refuse_hourly(access: AccessContext) -> None:
    """Raise HTTPException 403 when the caller may not read hourly values of apartments."""
    if not may_read_hourly(access):
        raise HTTPException(
            status_code=403,
            detail="hourly values of apartments are shown to your customer's staff only where "
            "the customer has enabled it; ask for resolution=day or month",
        )
