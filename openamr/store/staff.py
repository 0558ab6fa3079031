"""A customer's staff accounts as its administrators see them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from openamr.access import AccessContext
from openamr.store.ownership import UnableToFind, own, valid_id
from openamr.store.schema import staff_account


@dataclass(frozen=True, slots=True)
class StaffRow:
    """A customer's staff account as its administrators see it: never a secret."""

    id: int
    customer_id: int
    email: str  # a business address
    role: str
    second_factor: bool
    created_at: datetime
    disabled_at: datetime | None


_STAFF_COLUMNS = (
    staff_account.c.id,
    staff_account.c.customer_id,
    staff_account.c.email,
    staff_account.c.role,
    staff_account.c.totp_secret.is_not(None),
    staff_account.c.created_at,
    staff_account.c.disabled_at,
)


def list_staff(conn: sa.Connection, *, access: AccessContext) -> list[StaffRow]:
    """The staff accounts of the caller's customers, by e-mail (platform staff are not among
    them: they belong to no customer)."""
    query = sa.select(*_STAFF_COLUMNS).where(
        staff_account.c.customer_id.is_not(None), own(staff_account.c.customer_id, access)
    )
    return [StaffRow(*row) for row in conn.execute(query.order_by(staff_account.c.email))]


def find_staff(conn: sa.Connection, *, access: AccessContext, staff_id: int) -> StaffRow:
    """One staff account of the caller's customers. Raises UnableToFind."""
    if not valid_id(staff_id):
        raise UnableToFind(f"no staff account {staff_id}")
    row = conn.execute(
        sa.select(*_STAFF_COLUMNS).where(
            staff_account.c.id == staff_id,
            staff_account.c.customer_id.is_not(None),
            own(staff_account.c.customer_id, access),
        )
    ).first()
    if row is None:
        raise UnableToFind(f"no staff account {staff_id}")
    return StaffRow(*row)
