"""Small builders shared by the tests: a portfolio CSV, readings, an import, a signed-in client."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from io import StringIO

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from openamr.access import PLATFORM_ROLES, AccessContext, Role
from openamr.collect.portfolio import PortfolioReport, import_portfolio, read_portfolio_csv
from openamr.collect.readings import IngestReport, ReadingInput, record_readings
from openamr.guard.sessions import CSRF_HEADER, SESSION_COOKIE, NewSession, start_session
from openamr.store import schema
from openamr.store.portfolio import ensure_customer

OPERATOR = AccessContext.operator("test")
NOW = datetime.fromisoformat("2026-11-01T12:00:00+00:00")

PORTFOLIO_HEADER = (
    "customer,property,entrance,apartment,medium,meter,register_unit,register_digits,"
    "installed_at,removed_at"
)


def portfolio_csv(rows: Iterable[str]) -> str:
    return PORTFOLIO_HEADER + "\n" + "\n".join(rows) + "\n"


def load_portfolio(engine: Engine, rows: Iterable[str]) -> PortfolioReport:
    return import_portfolio(
        engine,
        read_portfolio_csv(StringIO(portfolio_csv(rows))),
        access=OPERATOR,
        source="test",
        time_zone="Europe/Stockholm",
        now=NOW,
    )


def readings(rows: Sequence[tuple[str, str, str, str]]) -> list[ReadingInput]:
    return [ReadingInput(number, *row) for number, row in enumerate(rows, start=2)]


def ingest(
    engine: Engine, rows: Sequence[tuple[str, str, str, str]], *, batch_size: int = 500
) -> IngestReport:
    return record_readings(
        engine, readings(rows), access=OPERATOR, source="test", now=NOW, batch_size=batch_size
    )


# --- signing in, without the sign-in routes ------------------------------------------------------


def add_customer(engine: Engine, name: str, *, now: datetime = NOW) -> int:
    """A customer with nothing yet; its id."""
    with engine.begin() as conn:
        return ensure_customer(conn, name=name, now=now).id


def customer_id(engine: Engine, name: str) -> int:
    """The id of the customer called `name`."""
    with engine.connect() as conn:
        found: int = conn.execute(
            sa.select(schema.customer.c.id).where(schema.customer.c.name == name)
        ).scalar_one()
    return found


def add_staff(
    engine: Engine, role: Role | str, *, customer: int | None = None, now: datetime = NOW
) -> int:
    """A staff account of `role` (for `customer`, for customer roles); its id.

    Its passphrase hash is not a hash and its TOTP secret (which platform
    staff must have) is not sealed: nobody signs in with them, tests open
    sessions directly (`open_session`).
    """
    platform = str(role) in {r.value for r in PLATFORM_ROLES}
    with engine.begin() as conn:
        staff_id: int = conn.execute(
            schema.staff_account.insert()
            .values(
                customer_id=customer,
                role=str(role),
                email=f"{role}-{secrets.token_hex(6)}@example.test",
                passphrase_hash="not a hash",
                totp_secret=b"not sealed" if platform else None,
                created_at=now,
            )
            .returning(schema.staff_account.c.id)
        ).scalar_one()
    return staff_id


def add_household(engine: Engine, tenancy_id: int, *, now: datetime = NOW) -> int:
    """The household of a tenancy, as redeeming its access code would make it; its id."""
    with engine.begin() as conn:
        customer = conn.execute(
            sa.select(schema.tenancy.c.customer_id).where(schema.tenancy.c.id == tenancy_id)
        ).scalar_one()
        household_id: int = conn.execute(
            schema.household.insert()
            .values(
                customer_id=customer,
                tenancy_id=tenancy_id,
                handle=secrets.token_hex(8),
                created_at=now,
            )
            .returning(schema.household.c.id)
        ).scalar_one()
    return household_id


def open_session(
    engine: Engine,
    *,
    staff_account_id: int | None = None,
    household_id: int | None = None,
    now: datetime = NOW,
    second_factor_done: bool = True,
) -> NewSession:
    """A session for a staff account or a household, as signing in would start it."""
    with engine.begin() as conn:
        table = schema.staff_account if staff_account_id is not None else schema.household
        key = staff_account_id if staff_account_id is not None else household_id
        customer = conn.execute(
            sa.select(table.c.customer_id).where(table.c.id == key)
        ).scalar_one()
        return start_session(
            conn,
            now=now,
            customer_id=customer,
            staff_account_id=staff_account_id,
            household_id=household_id,
            second_factor_done=second_factor_done,
        )


def use_session(client: TestClient, session: NewSession) -> TestClient:
    """Make every request of `client` carry the session's cookie and CSRF token."""
    client.headers[CSRF_HEADER] = session.csrf_token
    client.headers["Cookie"] = f"{SESSION_COOKIE}={session.token}"
    return client


def sign_in(
    client: TestClient,
    engine: Engine,
    role: Role,
    *,
    customer: int | None = None,
    tenancy_id: int | None = None,
    now: datetime | None = None,
) -> TestClient:
    """Sign `client` in as a new staff member of `role`, or as the household of `tenancy_id`.

    The session starts at `now`, by default the instant of the application's own clock.
    """
    if now is None:
        now = client.app.state.clock()  # type: ignore[attr-defined]
        assert now is not None
    if role is Role.HOUSEHOLD:
        assert tenancy_id is not None, "a household is the household of a tenancy"
        session = open_session(
            engine, household_id=add_household(engine, tenancy_id, now=now), now=now
        )
    else:
        staff = add_staff(engine, role, customer=customer, now=now)
        session = open_session(engine, staff_account_id=staff, now=now)
    return use_session(client, session)


def enable_operations_hourly(engine: Engine, customer: int) -> None:
    """Let the customer's staff see hourly values of apartments (the customer's choice, P5)."""
    with engine.begin() as conn:
        conn.execute(
            schema.customer.update()
            .where(schema.customer.c.id == customer)
            .values(operations_hourly=True)
        )


class Clock:
    """A clock tests move by hand: `create_app(..., clock=clock)`, then `clock.advance(...)`."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now
