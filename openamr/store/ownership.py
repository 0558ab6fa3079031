"""Whose register a caller may touch, and how the register refuses.

The register's reads and writes (`openamr.store.customers`, `buildings`,
`meters`, `tenancies`, `staff`) take the caller's `AccessContext` and keep it
to its own customers in SQL. An object of another customer is answered exactly
like one that does not exist (`UnableToFind`), so that a customer
administrator cannot learn what other customers have by trying ids. Objects
the portfolio import also makes are created through `openamr.store.portfolio`,
so that the two ways in build the same register.

Deleting is for mistakes: only what nothing refers to any more can be
deleted (`UnableToChange` says what still refers to it). A tenancy is never
deleted; it ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from openamr.access import AccessContext
from openamr.store.portfolio import UnableToRegister
from openamr.store.schema import customer


class UnableToFind(LookupError):
    """No such object for this caller; whether another customer has one is not said."""


class UnableToChange(UnableToRegister):
    """A change the register refuses: a duplicate, an overlap, or an object still in use."""


# --- who may touch what --------------------------------------------------------------------------


def own(column: sa.ColumnElement[int], access: AccessContext) -> sa.ColumnElement[bool]:
    """The SQL filter that keeps the caller to its own customers' rows."""
    if access.customer_ids is None:
        return sa.true()
    return column.in_(sorted(access.customer_ids))


# Ids are 32-bit integers in both databases: a larger one names nothing (and
# PostgreSQL would refuse to compare it with an integer column).
MAX_ID = 2**31 - 1


def valid_id(value: int) -> bool:
    return 0 < value <= MAX_ID


def own_customer(conn: sa.Connection, *, access: AccessContext, customer_id: int) -> int:
    """The id of one of the caller's own customers, for what it creates. Raises UnableToFind."""
    owner: int | None = None
    if valid_id(customer_id):
        owner = conn.execute(
            sa.select(customer.c.id).where(customer.c.id == customer_id, own(customer.c.id, access))
        ).scalar()
    if owner is None:
        raise UnableToFind(f"no customer {customer_id}")
    return owner


# --- refusals ------------------------------------------------------------------------------------


@contextmanager
def unique(message: str) -> Iterator[None]:
    """A unique constraint hit by a concurrent writer after our check: the same refusal."""
    try:
        yield
    except sa.exc.IntegrityError:
        raise UnableToChange(message) from None


@contextmanager
def still_referred_to(what: str) -> Iterator[None]:
    """A deletion refused by a foreign key the checks above do not name (a disclosure that
    names the apartment, say): the same kind of refusal, not a server error."""
    try:
        yield
    except sa.exc.IntegrityError:
        raise UnableToChange(f"{what} is still referred to by other records; it stays") from None


def count_rows(conn: sa.Connection, table: sa.Table, *where: sa.ColumnElement[bool]) -> int:
    counted: int = conn.execute(
        sa.select(sa.func.count()).select_from(table).where(*where)
    ).scalar_one()
    return counted


def any_row(conn: sa.Connection, column: sa.Column[int], value: int) -> int:
    """1 if a row has `value` in `column`, else 0: for the big tables without a foreign key
    (reading, hourly_value, telegram; a key would slow every insert), one probe, not a count."""
    found = conn.execute(sa.select(column).where(column == value).limit(1)).first()
    return 0 if found is None else 1


def refuse_if_used(what: str, uses: dict[str, int]) -> None:
    """Raise UnableToChange naming everything that still refers to `what`."""
    used = [f"{count} {name}" for name, count in uses.items() if count]
    if used:
        raise UnableToChange(f"{what} still has {', '.join(used)}; delete or move those first")
