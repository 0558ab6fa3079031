"""Who is asking: the roles of PRINCIPLES.md and the access context every read and write takes.

An `AccessContext` is made once per request (or command) by authentication
(`openamr.guard`) and passed to every query. Queries filter by
`customer_ids` in SQL, and queries of household-level data also by
`tenancy`: a household, or support staff acting under a grant, reads one
tenancy's data and nothing outside its period (P1b). Whether a role may do
something at all is the policy's decision (`openamr.guard.policy`); this
module only says who the caller is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Role(StrEnum):
    """The roles of the PRINCIPLES table, and the two machine callers."""

    HOUSEHOLD = "household"  # whoever lives in the apartment now, through its own credential
    CUSTOMER_ADMIN = "customer_admin"  # a customer's administrator
    OPERATIONS = "operations"  # a customer's operations staff (drifttekniker)
    SUPPORT = "support"  # platform support: a household's presentation only under a grant
    PLATFORM_STAFF = "platform_staff"  # other platform staff: grant + second approver
    PLATFORM_ADMIN = "platform_admin"  # manages customers; sees no household data
    GATEWAY = "gateway"  # a gateway forwarding telegrams, by its token
    OPERATOR = "operator"  # the command line, run by an operating-system user of the installation
    SYSTEM = "system"  # openamr's own processes (ingest, import) working for one customer


CUSTOMER_ROLES = frozenset({Role.CUSTOMER_ADMIN, Role.OPERATIONS})
PLATFORM_ROLES = frozenset({Role.SUPPORT, Role.PLATFORM_STAFF, Role.PLATFORM_ADMIN})
STAFF_ROLES = CUSTOMER_ROLES | PLATFORM_ROLES


@dataclass(frozen=True, slots=True)
class TenancyScope:
    """The one tenancy whose household-level data the caller may read, and its period."""

    tenancy_id: int
    apartment_id: int
    customer_id: int
    start_at: datetime  # UTC; nothing before it is visible
    end_at: datetime | None  # UTC, exclusive; None while the tenancy lasts


@dataclass(frozen=True, slots=True)
class AccessContext:
    """The caller, as queries and the audit log need it.

    `actor` names the caller without naming a person: ``staff:12``,
    ``household:7``, ``gateway:3``, ``cli:alice`` (the operating-system user
    who ran a command). `customer_ids` is None only for the installation's
    operator, which sees every customer.
    """

    actor: str
    role: Role
    customer_ids: frozenset[int] | None
    tenancy: TenancyScope | None = None  # the household's own, or the one a grant opens
    grant_id: int | None = None  # the access grant support or platform staff act under
    operations_hourly: bool = False  # the customer lets its operations staff see hourly values

    @classmethod
    def operator(cls, actor: str) -> AccessContext:
        """The installation's own operator (the command line): every customer, audited."""
        return cls(actor=actor, role=Role.OPERATOR, customer_ids=None)

    @classmethod
    def system(cls, actor: str, customer_id: int) -> AccessContext:
        """One of openamr's own processes, working on one customer's data."""
        return cls(actor=actor, role=Role.SYSTEM, customer_ids=frozenset({customer_id}))

    def may_see(self, customer_id: int) -> bool:
        return self.customer_ids is None or customer_id in self.customer_ids

    @property
    def is_household(self) -> bool:
        return self.role is Role.HOUSEHOLD

    @property
    def audited_reads(self) -> bool:
        """Reads of household-level data by this caller are audit events (all but the household)."""
        return self.role is not Role.HOUSEHOLD
