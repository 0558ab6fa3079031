"""HTTP: access grants (P5), disclosures to authorities (P7), and the household's access log.

- Support and other platform staff ask for one apartment's presentation:
  `POST /api/v1/grants`; they list their requests at `GET /api/v1/grants`.
- A platform administrator gives the second approval other platform staff
  need: `POST /api/v1/grants/{id}/second-approval` (and lists what awaits
  it at `GET /api/v1/grants`).
- The household answers from its page: `GET /api/v1/household/grants`, then
  `…/{id}/approve`, `…/{id}/deny`, `…/{id}/end`; and sees every access to its
  data by anyone but itself at `GET /api/v1/household/accesses`.
- A platform administrator records a disclosure before any export to an
  authority: `POST /api/v1/disclosures`, `GET /api/v1/disclosures`.

The rules and the audit events are in `openamr.guard.grants`; the refusals
become HTTP answers in `create_app` (404 not found, 409 not in a state that
allows it, 422 a request that cannot be made as given).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import Engine

from openamr.access import AccessContext, Role
from openamr.guard import grants
from openamr.guard.http import RowId, current_engine, current_now
from openamr.guard.policy import Allow
from openamr.store.access_log import list_tenancy_accesses
from openamr.store.grants import DisclosureRow, GrantRow

router = APIRouter(prefix="/api/v1", tags=["access grants and disclosures"])

Requester = Annotated[AccessContext, Depends(Allow(Role.SUPPORT, Role.PLATFORM_STAFF))]
PlatformStaff = Annotated[
    AccessContext, Depends(Allow(Role.SUPPORT, Role.PLATFORM_STAFF, Role.PLATFORM_ADMIN))
]
PlatformAdmin = Annotated[AccessContext, Depends(Allow(Role.PLATFORM_ADMIN))]
Household = Annotated[AccessContext, Depends(Allow(Role.HOUSEHOLD))]
Db = Annotated[Engine, Depends(current_engine)]
Now = Annotated[datetime, Depends(current_now)]

ANSWERS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such grant, apartment or disclosure for the caller"},
    409: {"description": "The grant is not in a state that allows this"},
    422: {"description": "A request that cannot be made as given"},
}


class GrantRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    apartment_id: int = Field(description="The apartment whose household is asked")
    ticket: str = Field(description="The support ticket's reference", max_length=200)
    reason: str = Field(
        description="Why, in words the household understands; never a person's name",
        max_length=2000,
    )
    media: list[str] | None = Field(
        default=None, description="The scope: media to open; all when left out"
    )
    hours: int = Field(default=8, description="How long, once approved: 1 to 8 hours")


class DisclosureRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: int
    apartment_id: int | None = Field(default=None, description="None: every apartment")
    tenancy_id: int | None = Field(default=None, description="One household's tenancy")
    period_start: datetime = Field(description="First instant, with an offset")
    period_end: datetime = Field(description="End instant (exclusive), with an offset")
    media: list[str] | None = Field(default=None, description="All media when left out")
    legal_basis: str = Field(
        description="The law or court order the disclosure is made under, by reference",
        max_length=1000,
    )
    authority: str = Field(description="The authority disclosed to", max_length=1000)


# --- staff ---------------------------------------------------------------------------------------


@router.post(
    "/grants",
    status_code=201,
    summary="Ask a household for access to its presentation",
    description="The request goes to the household living in the apartment now; unanswered, "
    "it lapses after 12 hours. Other platform staff also need a platform administrator's "
    "approval.",
    responses=ANSWERS,
)
def post_grant(body: GrantRequest, engine: Db, access: Requester, now: Now) -> dict[str, Any]:
    with engine.begin() as conn:
        grants.settle_grants(conn, now=now)
        grant = grants.request_grant(
            conn,
            access,
            apartment_id=body.apartment_id,
            ticket=body.ticket,
            reason=body.reason,
            media=body.media,
            hours=body.hours,
            now=now,
        )
    return _staff_json(grant, now)


@router.get(
    "/grants",
    summary="Grants: one's own requests, or those awaiting a platform administrator",
    responses=ANSWERS,
)
def get_grants(engine: Db, access: PlatformStaff, now: Now) -> list[dict[str, Any]]:
    with engine.begin() as conn:
        grants.settle_grants(conn, now=now)
        found = grants.list_staff_grants(conn, access, now=now)
    return [_staff_json(grant, now) for grant, _status in found]


@router.post(
    "/grants/{grant_id}/second-approval",
    summary="Approve another platform staff member's request as well",
    responses=ANSWERS,
)
def post_second_approval(
    grant_id: RowId, engine: Db, access: PlatformAdmin, now: Now
) -> dict[str, Any]:
    with engine.begin() as conn:
        grants.settle_grants(conn, now=now)
        grant = grants.approve_second(conn, access, grant_id=grant_id, now=now)
    return _staff_json(grant, now)


# --- the household -------------------------------------------------------------------------------


@router.get(
    "/household/grants",
    summary="Requests waiting for the household's answer, and grants running now",
    responses=ANSWERS,
)
def get_household_grants(engine: Db, access: Household, now: Now) -> list[dict[str, Any]]:
    with engine.begin() as conn:
        grants.settle_grants(conn, now=now)
        found = grants.list_household_grants(conn, access, now=now)
    return [_household_json(grant, now) for grant, _status in found]


@router.post(
    "/household/grants/{grant_id}/approve",
    summary="Approve a request: access for its hours, from now",
    responses=ANSWERS,
)
def post_approve(grant_id: RowId, engine: Db, access: Household, now: Now) -> dict[str, Any]:
    with engine.begin() as conn:
        grants.settle_grants(conn, now=now)
        grant = grants.answer_grant(conn, access, grant_id=grant_id, approve=True, now=now)
    return _household_json(grant, now)


@router.post("/household/grants/{grant_id}/deny", summary="Deny a request", responses=ANSWERS)
def post_deny(grant_id: RowId, engine: Db, access: Household, now: Now) -> dict[str, Any]:
    with engine.begin() as conn:
        grants.settle_grants(conn, now=now)
        grant = grants.answer_grant(conn, access, grant_id=grant_id, approve=False, now=now)
    return _household_json(grant, now)


@router.post(
    "/household/grants/{grant_id}/end", summary="End an approved grant now", responses=ANSWERS
)
def post_end(grant_id: RowId, engine: Db, access: Household, now: Now) -> dict[str, Any]:
    with engine.begin() as conn:
        grants.settle_grants(conn, now=now)
        grant = grants.end_grant(conn, access, grant_id=grant_id, now=now)
    return _household_json(grant, now)


@router.get(
    "/household/accesses",
    summary="Every access to the household's data by anyone but itself",
    description="Who (a role, never a staff member's name or id), when, what, and under which "
    "grant or other purpose, newest first.",
)
def get_household_accesses(
    engine: Db,
    access: Household,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many")] = 200,
) -> list[dict[str, Any]]:
    if access.tenancy is None:  # a household's context always has its tenancy
        raise HTTPException(403, "only a household has an access log")
    with engine.connect() as conn:
        entries = list_tenancy_accesses(
            conn,
            customer_id=access.tenancy.customer_id,
            tenancy_id=access.tenancy.tenancy_id,
            except_actor=access.actor,
            limit=limit,
        )
    return [
        {
            "at": entry.at.isoformat(),
            "role": entry.role,
            "action": entry.action,
            "grant_id": _grant_of(entry.purpose),
            "purpose": entry.purpose,
            "outcome": entry.outcome,
        }
        for entry in entries
    ]


# --- disclosures ---------------------------------------------------------------------------------


@router.post(
    "/disclosures",
    status_code=201,
    summary="Record a disclosure to an authority, before its export",
    description="With the legal basis (the law or court order, by reference), the authority "
    "and the scope. No export to an authority can be produced without a recorded disclosure.",
    responses=ANSWERS,
)
def post_disclosure(
    body: DisclosureRequest, engine: Db, access: PlatformAdmin, now: Now
) -> dict[str, Any]:
    with engine.begin() as conn:
        row = grants.record_disclosure(
            conn,
            access,
            customer_id=body.customer_id,
            apartment_id=body.apartment_id,
            tenancy_id=body.tenancy_id,
            period_start_at=body.period_start,
            period_end_at=body.period_end,
            media=body.media,
            legal_basis=body.legal_basis,
            authority=body.authority,
            now=now,
        )
    return _disclosure_json(row)


@router.get("/disclosures", summary="Recorded disclosures, newest first")
def get_disclosures(engine: Db, access: PlatformAdmin) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = grants.list_disclosures(conn)
    return [_disclosure_json(row) for row in rows]


# --- answers -------------------------------------------------------------------------------------


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _household_json(grant: GrantRow, now: datetime) -> dict[str, Any]:
    """What the household sees of a grant: the asker's role, never who."""
    return {
        "id": grant.id,
        "status": grants.grant_status(grant, now).value,
        "requester_role": grant.requester_role,
        "ticket": grant.ticket,
        "reason": grant.reason,
        "media": list(grant.media),
        "hours": grant.duration_s // 3600,
        "requested_at": grant.requested_at.isoformat(),
        "lapses_at": grants.lapses_at(grant).isoformat(),
        "approved_at": _iso(grant.decided_at if grant.decision == "approved" else None),
        "expires_at": _iso(grants.expires_at(grant)),
        "second_approval_needed": grants.needs_second_approval(grant),
        "second_approved": grant.second_approved_at is not None,
    }


def _staff_json(grant: GrantRow, now: datetime) -> dict[str, Any]:
    return _household_json(grant, now) | {
        "customer_id": grant.customer_id,
        "apartment_id": grant.apartment_id,
        "tenancy_id": grant.tenancy_id,
    }


def _disclosure_json(row: DisclosureRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "customer_id": row.customer_id,
        "apartment_id": row.apartment_id,
        "tenancy_id": row.tenancy_id,
        "period_start": row.period_start_at.isoformat(),
        "period_end": row.period_end_at.isoformat(),
        "media": list(row.media),
        "legal_basis": row.legal_basis,
        "authority": row.authority,
        "recorded_by": f"staff:{row.recorded_by}",
        "recorded_at": row.recorded_at.isoformat(),
    }


def _grant_of(purpose: str | None) -> int | None:
    kind, _, number = (purpose or "").partition(":")
    return int(number) if kind == "grant" and number.isdigit() else None
