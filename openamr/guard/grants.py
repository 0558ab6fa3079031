"""Access grants (P5) and disclosures to authorities (P7): the rules, and the audited acts.

The customer-lockbox pattern. Support staff, or other platform staff, ask
for one apartment's presentation (the tenancy living there now) with a
ticket, a reason and a scope (media). Then:

    pending ──household approves──▶ active ──8 h (or less, as asked)──▶ expired
       │    (other platform staff: also a platform administrator's approval,
       │     before or after the household's; until both, "awaiting_second_approval")
       ├──household denies──▶ denied          active ──household ends it──▶ ended
       └──12 h unanswered──▶ lapsed           any ──the tenancy ends──▶ ended

A grant's status is never stored: it follows from the recorded times and
the instant asked about (`grant_status`), so a lapse or an expiry needs no
job to happen, and a test can move the clock. `settle_grants` writes the
audit event of a lapse, an expiry or an end by move-out once, the first time
any request notices it.

Why a platform administrator is the second approver for other platform
staff: an administrator is accountable for who on the platform does what,
sees no household data itself (so approving cannot serve its own curiosity),
and can never be the requester, since only support and other platform staff
may ask; a second approver of the requester's own tier would let two
colleagues open a household between themselves.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

import sqlalchemy as sa

from openamr.access import AccessContext, Role, TenancyScope
from openamr.guard.audit import Target, record
from openamr.store import grants as store
from openamr.store.grants import DisclosureRow, GrantRow
from openamr.store.identities import TenancyRow, tenancy_of
from openamr.units import Medium

REQUEST_LAPSES_AFTER = timedelta(hours=12)
LONGEST_GRANT = timedelta(hours=8)
REQUESTER_ROLES = frozenset({Role.SUPPORT, Role.PLATFORM_STAFF})
SECOND_APPROVER_ROLE = Role.PLATFORM_ADMIN
ALL_MEDIA = tuple(sorted(medium.value for medium in Medium))

# The actor of events nobody in particular caused: a lapse, an expiry, a move-out.
GRANT_CLOCK_ACTOR = "system:grants"


class GrantStatus(StrEnum):
    PENDING = "pending"  # waiting for the household's answer
    AWAITING_SECOND_APPROVAL = "awaiting_second_approval"  # household approved; admin not yet
    ACTIVE = "active"
    DENIED = "denied"
    LAPSED = "lapsed"  # unanswered for 12 hours
    EXPIRED = "expired"  # its hours are over
    ENDED = "ended"  # by the household, or by the end of the tenancy


OPEN_STATUSES = frozenset(
    {GrantStatus.PENDING, GrantStatus.AWAITING_SECOND_APPROVAL, GrantStatus.ACTIVE}
)


class UnableToFindGrant(LookupError):
    """No such grant for this caller (another household's grant is answered the same way)."""


class UnableToChangeGrant(ValueError):
    """The grant is not in a state that allows this: answered already, lapsed, ended, ..."""


class UnableToRequestGrant(ValueError):
    """A request that cannot be made as given: a bad ticket or scope, nobody living there."""


class UnableToUseGrant(PermissionError):
    """The caller acts under no active grant (or does not say which of several)."""


class UnableToRecordDisclosure(ValueError):
    """A disclosure that cannot be recorded as given: no legal basis, a scope that does not fit."""


class UnableToFindDisclosure(LookupError):
    """No disclosure of that id has been recorded: no export may be produced under it."""


# --- the rules -----------------------------------------------------------------------------------


def needs_second_approval(grant: GrantRow) -> bool:
    return grant.requester_role == Role.PLATFORM_STAFF.value


def lapses_at(grant: GrantRow) -> datetime:
    return grant.requested_at + REQUEST_LAPSES_AFTER


def expires_at(grant: GrantRow) -> datetime | None:
    """When an approved grant runs out; None until the household approves."""
    if grant.decision != "approved" or grant.decided_at is None:
        return None
    return grant.decided_at + timedelta(seconds=grant.duration_s)


def grant_status(grant: GrantRow, now: datetime) -> GrantStatus:
    """What the grant is at `now`: the earliest of its endings that has come, else its stage."""
    endings: list[tuple[datetime, GrantStatus]] = []
    if grant.decision == "denied" and grant.decided_at is not None:
        endings.append((grant.decided_at, GrantStatus.DENIED))
    if grant.decision is None:
        endings.append((lapses_at(grant), GrantStatus.LAPSED))
    expiry = expires_at(grant)
    if expiry is not None:
        endings.append((expiry, GrantStatus.EXPIRED))
    if grant.ended_at is not None:
        endings.append((grant.ended_at, GrantStatus.ENDED))
    if grant.tenancy_end_at is not None:
        endings.append((grant.tenancy_end_at, GrantStatus.ENDED))
    come = [ending for ending in endings if ending[0] <= now]
    if come:
        return min(come, key=lambda ending: ending[0])[1]
    if grant.decision is None:
        return GrantStatus.PENDING
    if needs_second_approval(grant) and grant.second_approved_at is None:
        return GrantStatus.AWAITING_SECOND_APPROVAL
    return GrantStatus.ACTIVE


def staff_account_id(access: AccessContext) -> int:
    """The staff account behind a staff member's access context (`staff:12` → 12)."""
    kind, _, number = access.actor.partition(":")
    if kind != "staff" or not number.isdigit():
        raise UnableToUseGrant("only a staff member's session can act on grants")
    return int(number)


def granted_access(access: AccessContext, grant: GrantRow) -> AccessContext:
    """The staff member's context under `grant`: one tenancy of one customer, nothing else."""
    return AccessContext(
        actor=access.actor,
        role=access.role,
        customer_ids=frozenset({grant.customer_id}),
        tenancy=TenancyScope(
            tenancy_id=grant.tenancy_id,
            apartment_id=grant.apartment_id,
            customer_id=grant.customer_id,
            start_at=grant.tenancy_start_at,
            end_at=grant.tenancy_end_at,
        ),
        grant_id=grant.id,
    )


def _target(grant: GrantRow) -> Target:
    return Target(
        customer_id=grant.customer_id,
        property_id=grant.property_id,
        apartment_id=grant.apartment_id,
        tenancy_id=grant.tenancy_id,
    )


def _media(media: list[str] | None) -> tuple[str, ...]:
    if not media:
        return ALL_MEDIA
    unknown = sorted(set(media) - set(ALL_MEDIA))
    if unknown:
        raise UnableToRequestGrant(
            f"unknown media {unknown}; a scope names media among {list(ALL_MEDIA)}"
        )
    return tuple(sorted(set(media)))


def _text(value: str, *, name: str, longest: int, error: type[ValueError]) -> str:
    text = " ".join(value.split())
    if not text:
        raise error(f"{name} must not be empty")
    if len(text) > longest:
        raise error(f"{name} may be at most {longest} characters, not {len(text)}")
    return text


# --- the acts: each writes its audit event in the caller's transaction ---------------------------


def request_grant(
    conn: sa.Connection,
    access: AccessContext,
    *,
    apartment_id: int,
    ticket: str,
    reason: str,
    media: list[str] | None,
    hours: int,
    now: datetime,
) -> GrantRow:
    """Ask for the presentation of the household living in `apartment_id` now.

    Raises UnableToRequestGrant (a bad ticket, reason, scope or duration; the
    apartment empty), UnableToFindGrant (no such apartment).
    """
    if access.role not in REQUESTER_ROLES:
        raise UnableToRequestGrant("only support and other platform staff ask for grants")
    requester = staff_account_id(access)
    ticket = _text(ticket, name="ticket", longest=64, error=UnableToRequestGrant)
    reason = _text(reason, name="reason", longest=500, error=UnableToRequestGrant)
    scope = _media(media)
    if not 1 <= hours <= LONGEST_GRANT // timedelta(hours=1):
        raise UnableToRequestGrant(f"a grant lasts 1 to 8 hours, not {hours}")
    if store.find_apartment_customer(conn, apartment_id=apartment_id) is None:
        raise UnableToFindGrant(f"no apartment {apartment_id}")
    at: TenancyRow | None = store.find_tenancy_at(conn, apartment_id=apartment_id, at=now)
    if at is None:
        raise UnableToRequestGrant(
            f"apartment {apartment_id} has no household now: there is nobody to ask"
        )
    grant_id = store.insert_grant(
        conn,
        at=at,
        requested_by=requester,
        requester_role=access.role.value,
        ticket=ticket,
        reason=reason,
        duration_s=hours * 3600,
        media=scope,
        now=now,
    )
    grant = _one(conn, grant_id)
    _record(conn, access, grant, "grant.request", now)
    return grant


def answer_grant(
    conn: sa.Connection, access: AccessContext, *, grant_id: int, approve: bool, now: datetime
) -> GrantRow:
    """The household approves or denies a pending request on its tenancy.

    Raises UnableToFindGrant, UnableToChangeGrant (not pending any more).
    """
    grant = _households(conn, access, grant_id)
    status = grant_status(grant, now)
    if status is not GrantStatus.PENDING:
        raise UnableToChangeGrant(
            f"grant {grant_id} is {status.value}; only a pending request can be answered"
        )
    decision = "approved" if approve else "denied"
    if not store.set_decision(conn, grant_id=grant_id, decision=decision, now=now):
        raise UnableToChangeGrant(f"grant {grant_id} has been answered already")
    _record(conn, access, grant, "grant.approve" if approve else "grant.deny", now)
    return _one(conn, grant_id)


def end_grant(
    conn: sa.Connection, access: AccessContext, *, grant_id: int, now: datetime
) -> GrantRow:
    """The household ends an approved grant on its tenancy, at once.

    Raises UnableToFindGrant, UnableToChangeGrant (not approved, or over already).
    """
    grant = _households(conn, access, grant_id)
    status = grant_status(grant, now)
    if status not in (GrantStatus.ACTIVE, GrantStatus.AWAITING_SECOND_APPROVAL):
        hint = "; deny a pending request instead" if status is GrantStatus.PENDING else ""
        raise UnableToChangeGrant(
            f"grant {grant_id} is {status.value}; only an approved grant can be ended{hint}"
        )
    if not store.set_ended(conn, grant_id=grant_id, now=now):
        raise UnableToChangeGrant(f"grant {grant_id} has been ended already")
    _record(conn, access, grant, "grant.end", now)
    return _one(conn, grant_id)


def approve_second(
    conn: sa.Connection, access: AccessContext, *, grant_id: int, now: datetime
) -> GrantRow:
    """A platform administrator approves another platform staff member's request as well.

    Raises UnableToFindGrant, UnableToChangeGrant (needs none, has one, is over).
    """
    if access.role is not SECOND_APPROVER_ROLE:
        raise UnableToChangeGrant("only a platform administrator gives the second approval")
    approver = staff_account_id(access)
    found = store.list_grants(conn, grant_id=grant_id)
    if not found:
        raise UnableToFindGrant(f"no grant {grant_id}")
    grant = found[0]
    if not needs_second_approval(grant):
        raise UnableToChangeGrant(
            f"grant {grant_id} was asked for by support staff and needs no second approval"
        )
    if grant.requested_by == approver:
        raise UnableToChangeGrant("a request cannot be approved by the one who made it")
    status = grant_status(grant, now)
    if status not in (GrantStatus.PENDING, GrantStatus.AWAITING_SECOND_APPROVAL):
        raise UnableToChangeGrant(f"grant {grant_id} is {status.value}")
    if not store.set_second_approval(conn, grant_id=grant_id, approver=approver, now=now):
        raise UnableToChangeGrant(f"grant {grant_id} has its second approval already")
    _record(conn, access, grant, "grant.second_approval", now)
    return _one(conn, grant_id)


def settle_grants(conn: sa.Connection, *, now: datetime) -> None:
    """Write the audit event of every lapse, expiry and end by move-out not yet written."""
    actions = {
        GrantStatus.LAPSED: "grant.lapse",
        GrantStatus.EXPIRED: "grant.expire",
        GrantStatus.ENDED: "grant.end_by_move",
        GrantStatus.DENIED: "grant.deny",  # written at the answer; closed there too
    }
    for grant in store.list_grants(conn, unclosed=True):
        status = grant_status(grant, now)
        if status in OPEN_STATUSES:
            continue
        if store.set_closed(conn, grant_id=grant.id, closed_as=status.value, now=now):
            record(
                conn,
                actor=GRANT_CLOCK_ACTOR,
                role=Role.SYSTEM.value,
                action=actions[status],
                now=now,
                target=_target(grant),
                purpose=f"grant:{grant.id}",
            )


def active_grant(
    conn: sa.Connection, access: AccessContext, *, now: datetime, chosen: int | None = None
) -> GrantRow:
    """The active grant a support or platform staff member acts under now.

    With several active grants the caller must choose one (`chosen`). Raises
    UnableToUseGrant.
    """
    me = staff_account_id(access)
    usable = [
        grant
        for grant in store.list_grants(conn, requested_by=me, unclosed=True)
        if grant.requester_role == access.role.value
        and grant_status(grant, now) is GrantStatus.ACTIVE
    ]
    if chosen is not None:
        for grant in usable:
            if grant.id == chosen:
                return grant
        raise UnableToUseGrant(f"grant {chosen} is not an active grant of yours")
    if not usable:
        raise UnableToUseGrant(
            "a household's data is shown to platform staff only under a grant the household "
            "approved, and none of yours is active"
        )
    if len(usable) > 1:
        ids = ", ".join(str(grant.id) for grant in usable)
        raise UnableToUseGrant(
            f"you have several active grants ({ids}); choose one on the support page, "
            "or name it in the X-OpenAMR-Grant header"
        )
    return usable[0]


def list_staff_grants(
    conn: sa.Connection, access: AccessContext, *, now: datetime
) -> list[tuple[GrantRow, GrantStatus]]:
    """A requester's own requests; for a platform administrator, those awaiting its approval."""
    if access.role is SECOND_APPROVER_ROLE:
        rows = [
            grant
            for grant in store.list_grants(
                conn, requester_role=Role.PLATFORM_STAFF.value, unclosed=True
            )
            if grant.second_approver is None
            and grant_status(grant, now)
            in (GrantStatus.PENDING, GrantStatus.AWAITING_SECOND_APPROVAL)
        ]
    else:
        rows = store.list_grants(conn, requested_by=staff_account_id(access))
    return [(grant, grant_status(grant, now)) for grant in rows]


def list_household_grants(
    conn: sa.Connection, access: AccessContext, *, now: datetime
) -> list[tuple[GrantRow, GrantStatus]]:
    """The household's pending requests and its approved grants still running."""
    if access.tenancy is None:
        return []
    found = []
    for grant in store.list_grants(conn, tenancy_id=access.tenancy.tenancy_id):
        status = grant_status(grant, now)
        if status in OPEN_STATUSES:
            found.append((grant, status))
    return found


def _households(conn: sa.Connection, access: AccessContext, grant_id: int) -> GrantRow:
    """The grant, if it is on the caller's tenancy; another household's is not found."""
    if access.role is not Role.HOUSEHOLD or access.tenancy is None:
        raise UnableToFindGrant(f"no grant {grant_id}")
    found = store.list_grants(conn, grant_id=grant_id, tenancy_id=access.tenancy.tenancy_id)
    if not found:
        raise UnableToFindGrant(f"no grant {grant_id}")
    return found[0]


def _one(conn: sa.Connection, grant_id: int) -> GrantRow:
    return store.list_grants(conn, grant_id=grant_id)[0]


def _record(
    conn: sa.Connection, access: AccessContext, grant: GrantRow, action: str, now: datetime
) -> None:
    record(
        conn,
        actor=access.actor,
        role=access.role.value,
        action=action,
        now=now,
        target=_target(grant),
        purpose=f"grant:{grant.id}",
    )


# --- disclosures -------------------------------------------------------------------------------


def record_disclosure(
    conn: sa.Connection,
    access: AccessContext,
    *,
    customer_id: int,
    apartment_id: int | None,
    tenancy_id: int | None,
    period_start_at: datetime,
    period_end_at: datetime,
    media: list[str] | None,
    legal_basis: str,
    authority: str,
    now: datetime,
) -> DisclosureRow:
    """Record a disclosure to an authority, before anything is exported under it (P7).

    Raises UnableToRecordDisclosure.
    """
    if access.role is not Role.PLATFORM_ADMIN:
        raise UnableToRecordDisclosure("only a platform administrator records disclosures")
    recorder = staff_account_id(access)
    basis = _text(legal_basis, name="legal_basis", longest=300, error=UnableToRecordDisclosure)
    to = _text(authority, name="authority", longest=200, error=UnableToRecordDisclosure)
    try:
        scope = _media(media)
    except UnableToRequestGrant as exc:
        raise UnableToRecordDisclosure(str(exc)) from None
    if period_start_at.tzinfo is None or period_end_at.tzinfo is None:
        raise UnableToRecordDisclosure("the period's instants need a UTC offset")
    if period_end_at <= period_start_at:
        raise UnableToRecordDisclosure("the period must end after it starts")
    if not store.customer_exists(conn, customer_id=customer_id):
        raise UnableToRecordDisclosure(f"no customer {customer_id}")
    property_id = None
    if tenancy_id is not None:
        held = tenancy_of(conn, tenancy_id=tenancy_id)
        if held is None or held.customer_id != customer_id:
            raise UnableToRecordDisclosure(f"customer {customer_id} has no tenancy {tenancy_id}")
        if apartment_id is not None and apartment_id != held.apartment_id:
            raise UnableToRecordDisclosure(
                f"tenancy {tenancy_id} is not in apartment {apartment_id}"
            )
        if period_start_at < held.start_at or (
            held.end_at is not None and period_end_at > held.end_at
        ):
            raise UnableToRecordDisclosure(
                f"the period must lie within tenancy {tenancy_id}, "
                f"from {held.start_at.isoformat()}"
                + (f" to {held.end_at.isoformat()}" if held.end_at else "")
            )
        apartment_id, property_id = held.apartment_id, held.property_id
    elif (
        apartment_id is not None
        and store.find_apartment_customer(conn, apartment_id=apartment_id) != customer_id
    ):
        raise UnableToRecordDisclosure(f"customer {customer_id} has no apartment {apartment_id}")
    disclosure_id = store.insert_disclosure(
        conn,
        customer_id=customer_id,
        apartment_id=apartment_id,
        tenancy_id=tenancy_id,
        period_start_at=period_start_at,
        period_end_at=period_end_at,
        media=scope,
        legal_basis=basis,
        authority=to,
        recorded_by=recorder,
        now=now,
    )
    # The legal basis itself stays in the disclosure row: free text written by
    # people may name someone, and the audit log must not.
    record(
        conn,
        actor=access.actor,
        role=access.role.value,
        action="disclosure.record",
        now=now,
        target=Target(
            customer_id=customer_id,
            property_id=property_id,
            apartment_id=apartment_id,
            tenancy_id=tenancy_id,
        ),
        purpose=f"disclosure:{disclosure_id}",
    )
    return store.list_disclosures(conn, disclosure_id=disclosure_id)[0]


def list_disclosures(conn: sa.Connection) -> list[DisclosureRow]:
    """Every recorded disclosure, newest first."""
    return store.list_disclosures(conn)


def disclosure_for(conn: sa.Connection, disclosure_id: int, now: datetime) -> DisclosureRow:
    """The recorded disclosure an export to an authority is produced under.

    Every export to an authority starts here: without a disclosure recorded
    (by `now`) there is nothing to export under. Raises UnableToFindDisclosure.
    """
    found = store.list_disclosures(conn, disclosure_id=disclosure_id)
    if not found or found[0].recorded_at > now:
        raise UnableToFindDisclosure(f"no disclosure {disclosure_id} has been recorded")
    return found[0]
