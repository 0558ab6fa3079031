"""Access grants as a state machine: request, approve, deny, lapse, end, move out, second approval.

Hypothesis drives the grants API with a clock it moves, against a model of
the lockbox written as events (each transition applied when it happens, not
derived from times as the code does). After every step the invariants are
checked over HTTP: support and other platform staff see the apartment's
presentation exactly while a grant of theirs is active, never another
apartment and never an hour outside the granted tenancy; other platform
staff never without the second approval; the household's and the staff's
lists say what the model says.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from fastapi.testclient import TestClient
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy.engine import Engine

from openamr.access import Role
from openamr.app import create_app
from openamr.guard.sessions import CSRF_HEADER, SESSION_COOKIE, NewSession
from openamr.settings import Settings
from openamr.store.portfolio import add_tenancy
from openamr.store.schema import apartment, entrance, metering_point, tenancy
from tests.helpers import (
    NOW,
    Clock,
    add_customer,
    add_household,
    add_staff,
    ingest,
    load_portfolio,
    open_session,
)

ZONE = ZoneInfo("Europe/Stockholm")
LAPSE = timedelta(hours=12)
OPEN = ("pending", "awaiting_second_approval", "active")
_entrances = itertools.count(1)


@dataclass
class ModelGrant:
    """A grant as the model sees it: a status changed by events, in the order they happen."""

    id: int
    kind: str  # support | platform_staff
    tenancy: int
    requested_at: datetime
    hours: int
    status: str = "pending"
    decided_at: datetime | None = None
    second: bool = False


@dataclass
class Principal:
    role: Role
    staff_id: int | None = None
    household_id: int | None = None
    session: NewSession | None = None
    opened_at: datetime | None = None


@dataclass
class Place:
    """One example's own entrance: apartment 1101 is the one asked about, 1102 its neighbour."""

    apartment: int
    neighbour: int
    point: int
    customer: int
    data_start: datetime
    data_end: datetime
    tenancies: list[tuple[int, datetime]] = field(default_factory=list)  # (id, start)


class GrantsMachine(RuleBasedStateMachine):
    """One apartment's grants; built fresh for each example on the test's database."""

    grants = Bundle("grants")

    def __init__(self, engine: Engine, client: TestClient, clock: Clock) -> None:
        super().__init__()
        self.engine = engine
        self.client = client
        self.clock = clock
        self.model: dict[int, ModelGrant] = {}

    @initialize()
    def build(self) -> None:
        self.clock.now = NOW
        number = next(_entrances)
        street = f"Provgatan {number}"
        installed = "2025-01-01T00:00:00+01:00"
        rows = [
            f"Hem AB,Uppsala Kåbo 1:23,{street},1101,electricity,P{number}-1,kWh,7,{installed},",
            f"Hem AB,Uppsala Kåbo 1:23,{street},1102,electricity,P{number}-2,kWh,7,{installed},",
        ]
        assert load_portfolio(self.engine, rows).errors == []
        data_start = NOW - timedelta(days=2)
        data_end = NOW + timedelta(days=4)
        hours = int((data_end - data_start) / timedelta(hours=1))
        readings = [
            (f"P{number}-1", (data_start + timedelta(hours=h)).isoformat(), str(100 + h), "kWh")
            for h in range(hours + 1)
        ]
        assert ingest(self.engine, readings).rejected == 0
        with self.engine.begin() as conn:
            flats = dict(
                conn.execute(
                    sa.select(apartment.c.number, apartment.c.id)
                    .join(metering_point, metering_point.c.apartment_id == apartment.c.id)
                    .where(metering_point.c.medium == "electricity")
                    .where(apartment.c.id.in_(self._apartments_of(conn, street)))
                ).all()
            )
            point = conn.execute(
                sa.select(metering_point.c.id).where(metering_point.c.apartment_id == flats["1101"])
            ).scalar_one()
            customer_id = conn.execute(
                sa.select(apartment.c.customer_id).where(apartment.c.id == flats["1101"])
            ).scalar_one()
            first_start = NOW - timedelta(days=1, hours=5)  # mid-day: that day is partly another's
            first = add_tenancy(
                conn,
                customer_id=customer_id,
                apartment_id=flats["1101"],
                start_at=first_start,
                end_at=None,
            )
        self.place = Place(
            apartment=flats["1101"],
            neighbour=flats["1102"],
            point=point,
            customer=customer_id,
            data_start=data_start,
            data_end=data_end,
            tenancies=[(first, first_start)],
        )
        self.support = Principal(Role.SUPPORT, staff_id=add_staff(self.engine, Role.SUPPORT))
        self.staff = Principal(
            Role.PLATFORM_STAFF, staff_id=add_staff(self.engine, Role.PLATFORM_STAFF)
        )
        self.admin = Principal(
            Role.PLATFORM_ADMIN, staff_id=add_staff(self.engine, Role.PLATFORM_ADMIN)
        )
        self.household = Principal(
            Role.HOUSEHOLD, household_id=add_household(self.engine, first, now=NOW)
        )

    @staticmethod
    def _apartments_of(conn: sa.Connection, street: str) -> Any:
        return (
            sa.select(apartment.c.id)
            .join(entrance, entrance.c.id == apartment.c.entrance_id)
            .where(entrance.c.address == street)
        )

    # --- talking to the API as someone ------------------------------------------------------

    def _headers(self, who: Principal) -> dict[str, str]:
        if who.session is None or who.opened_at != self.clock.now:
            who.session = open_session(
                self.engine,
                staff_account_id=who.staff_id,
                household_id=who.household_id,
                now=self.clock.now,
            )
            who.opened_at = self.clock.now
        return {
            "Cookie": f"{SESSION_COOKIE}={who.session.token}",
            CSRF_HEADER: who.session.csrf_token,
        }

    def _call(self, method: str, path: str, who: Principal, **kwargs: Any) -> Any:
        headers = self._headers(who) | kwargs.pop("headers", {})
        return self.client.request(method, path, headers=headers, **kwargs)

    @property
    def tenancy_now(self) -> int:
        return self.place.tenancies[-1][0]

    def _model_active(self, kind: str) -> list[int]:
        return sorted(g.id for g in self.model.values() if g.kind == kind and g.status == "active")

    def _requester(self, kind: str) -> Principal:
        return self.support if kind == "support" else self.staff

    # --- rules ------------------------------------------------------------------------------

    @rule(
        target=grants, kind=st.sampled_from(["support", "platform_staff"]), hours=st.integers(1, 8)
    )
    def request(self, kind: str, hours: int) -> int:
        answer = self._call(
            "POST",
            "/api/v1/grants",
            self._requester(kind),
            json={
                "apartment_id": self.place.apartment,
                "ticket": "T-1",
                "reason": "values look wrong",
                "hours": hours,
            },
        )
        assert answer.status_code == 201, answer.text
        grant = answer.json()
        assert grant["status"] == "pending"
        assert grant["tenancy_id"] == self.tenancy_now
        self.model[grant["id"]] = ModelGrant(
            grant["id"], kind, self.tenancy_now, self.clock.now, hours
        )
        return int(grant["id"])

    def _household_expects(self, grant: ModelGrant, allowed: tuple[str, ...]) -> int:
        if grant.tenancy != self.tenancy_now:
            return 404  # another household's grant, as far as this one can tell
        return 200 if grant.status in allowed else 409

    @rule(grant_id=grants)
    def approve(self, grant_id: int) -> None:
        grant = self.model[grant_id]
        expected = self._household_expects(grant, ("pending",))
        answer = self._call("POST", f"/api/v1/household/grants/{grant_id}/approve", self.household)
        assert answer.status_code == expected, answer.text
        if expected == 200:
            grant.decided_at = self.clock.now
            needs_second = grant.kind == "platform_staff" and not grant.second
            grant.status = "awaiting_second_approval" if needs_second else "active"

    @rule(grant_id=grants)
    def deny(self, grant_id: int) -> None:
        grant = self.model[grant_id]
        expected = self._household_expects(grant, ("pending",))
        answer = self._call("POST", f"/api/v1/household/grants/{grant_id}/deny", self.household)
        assert answer.status_code == expected, answer.text
        if expected == 200:
            grant.status = "denied"

    @rule(grant_id=grants)
    def end(self, grant_id: int) -> None:
        grant = self.model[grant_id]
        expected = self._household_expects(grant, ("active", "awaiting_second_approval"))
        answer = self._call("POST", f"/api/v1/household/grants/{grant_id}/end", self.household)
        assert answer.status_code == expected, answer.text
        if expected == 200:
            grant.status = "ended"

    @rule(grant_id=grants)
    def second_approval(self, grant_id: int) -> None:
        grant = self.model[grant_id]
        can = (
            grant.kind == "platform_staff"
            and not grant.second
            and grant.status in ("pending", "awaiting_second_approval")
        )
        answer = self._call("POST", f"/api/v1/grants/{grant_id}/second-approval", self.admin)
        assert answer.status_code == (200 if can else 409), answer.text
        if can:
            grant.second = True
            if grant.status == "awaiting_second_approval":
                grant.status = "active"

    @rule(grant_id=grants)
    def requester_cannot_approve_itself(self, grant_id: int) -> None:
        answer = self._call(
            "POST", f"/api/v1/grants/{grant_id}/second-approval", self._requester("platform_staff")
        )
        assert answer.status_code == 403

    @rule(minutes=st.integers(1, 13 * 60))
    def wait(self, minutes: int) -> None:
        self._advance_to(self.clock.now + timedelta(minutes=minutes))

    @rule()
    def wait_for_the_next_deadline(self) -> None:
        deadlines = [
            g.requested_at + LAPSE for g in self.model.values() if g.status == "pending"
        ] + [
            g.decided_at + timedelta(hours=g.hours)
            for g in self.model.values()
            if g.status in ("active", "awaiting_second_approval") and g.decided_at is not None
        ]
        upcoming = [d for d in deadlines if d > self.clock.now]
        if upcoming:
            self._advance_to(min(upcoming))

    def _advance_to(self, moment: datetime) -> None:
        self.clock.now = moment
        for grant in self.model.values():
            if grant.status == "pending" and grant.requested_at + LAPSE <= moment:
                grant.status = "lapsed"
            if (
                grant.status in ("active", "awaiting_second_approval")
                and grant.decided_at is not None
                and grant.decided_at + timedelta(hours=grant.hours) <= moment
            ):
                grant.status = "expired"

    @rule()
    def move(self) -> None:
        """The household moves out now and a new one moves in; the old one is refused."""
        moment = self.clock.now
        with self.engine.begin() as conn:
            conn.execute(
                tenancy.update().where(tenancy.c.id == self.tenancy_now).values(end_at=moment)
            )
            new = add_tenancy(
                conn,
                customer_id=self.place.customer,
                apartment_id=self.place.apartment,
                start_at=moment,
                end_at=None,
            )
        for grant in self.model.values():
            if grant.tenancy == self.tenancy_now and grant.status in OPEN:
                grant.status = "ended"
        gone = self.household
        self.place.tenancies.append((new, moment))
        self.household = Principal(
            Role.HOUSEHOLD, household_id=add_household(self.engine, new, now=moment)
        )
        assert self._call("GET", "/api/v1/household/grants", gone).status_code == 401

    # --- invariants -------------------------------------------------------------------------

    @invariant()
    def staff_see_the_tenancy_exactly_while_a_grant_is_active(self) -> None:
        if not hasattr(self, "place"):
            return
        points = f"/api/v1/apartments/{self.place.apartment}/metering-points"
        theirs = f"/api/v1/apartments/{self.place.neighbour}/metering-points"
        for kind in ("support", "platform_staff"):
            who = self._requester(kind)
            active = self._model_active(kind)
            if len(active) == 1:
                self._only_the_tenancys_hours(who)
                shown = self._call("GET", points, who)
                assert [p["id"] for p in shown.json()] == [self.place.point]
            else:
                # None active: refused. Several: refused until the caller names one.
                refused = self._call("GET", self._values_path, who, params=self._days())
                assert refused.status_code == 403, (kind, active, refused.text)
                for grant_id in active:
                    chosen = self._call(
                        "GET", points, who, headers={"X-OpenAMR-Grant": str(grant_id)}
                    )
                    assert chosen.status_code == 200
            # Never another apartment, with a grant (not found) or without (refused).
            assert self._call("GET", theirs, who).status_code in (403, 404)

    @property
    def _values_path(self) -> str:
        return f"/api/v1/metering-points/{self.place.point}/values"

    def _days(self) -> dict[str, str]:
        """Local days from the day before the tenancy began to the day after."""
        start = self.place.tenancies[-1][1]
        first_day = (start - timedelta(days=1)).astimezone(ZONE).date()
        end_day = (start + timedelta(days=1)).astimezone(ZONE).date() + timedelta(days=1)
        return {"from": first_day.isoformat(), "to": end_day.isoformat()}

    def _only_the_tenancys_hours(self, who: Principal) -> None:
        start = self.place.tenancies[-1][1]
        answer = self._call("GET", self._values_path, who, params=self._days())
        assert answer.status_code == 200, answer.text
        for hour in answer.json()["series"][0]["values"]:
            at = datetime.fromisoformat(hour["start"])
            shown = hour["value"] is not None
            if at < start:
                assert not shown, f"an hour before the tenancy began was shown: {hour}"
            elif self.place.data_start <= at < self.place.data_end - timedelta(hours=1):
                assert shown, f"an hour of the tenancy was not shown: {hour}"

    @invariant()
    def the_lists_say_what_the_model_says(self) -> None:
        if not hasattr(self, "place"):
            return
        for kind in ("support", "platform_staff"):
            listed = self._call("GET", "/api/v1/grants", self._requester(kind)).json()
            assert {g["id"]: g["status"] for g in listed} == {
                g.id: g.status for g in self.model.values() if g.kind == kind
            }
            for grant in listed:
                if grant["status"] == "active" and kind == "platform_staff":
                    assert grant["second_approved"]
        household = self._call("GET", "/api/v1/household/grants", self.household)
        assert household.status_code == 200
        assert {g["id"]: g["status"] for g in household.json()} == {
            g.id: g.status
            for g in self.model.values()
            if g.tenancy == self.tenancy_now and g.status in OPEN
        }
        assert all("requested_by" not in g for g in household.json())


MACHINE_SETTINGS = hypothesis_settings(
    max_examples=12,
    stateful_step_count=10,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def test_grants_follow_the_lockbox(settings: Settings, engine: Engine) -> None:
    add_customer(engine, "Hem AB")
    clock = Clock(NOW)
    app = create_app(settings, engine=engine, clock=clock)
    with TestClient(app) as client:
        run_state_machine_as_test(
            lambda: GrantsMachine(engine, client, clock),
            settings=MACHINE_SETTINGS,
        )
