"""Access codes, tenancies and household sign-in as a state machine with a clock the test moves.

Hypothesis issues letters and device codes, redeems codes (right, used,
replaced, expired, of an ended tenancy, made up), moves households out and
new ones in, signs in with right and wrong passphrases from two addresses,
and moves the clock, comparing every answer with a small model. What must
always hold:

- a code works at most once, never after it expires or is replaced, never
  for a tenancy that has ended;
- a code leads to its own tenancy's household, so a new tenancy's code never
  reaches the previous household, and a tenancy has at most one household;
- a household whose tenancy has ended cannot sign in;
- failed attempts are limited per account and per address within the hour,
  an account's count restarting at its success.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy.engine import Engine

from openamr.access import AccessContext, Role, TenancyScope
from openamr.guard import households, signin
from openamr.guard.attempts import WINDOW, TooManyAttempts
from openamr.guard.households import (
    DEVICE,
    LETTER,
    CodeNoLongerValid,
    CodeNotRecognised,
    WrongCredentialForCode,
)
from openamr.guard.passwords import hash_passphrase
from openamr.settings import Settings
from openamr.store import identities
from openamr.store.portfolio import (
    add_tenancy,
    ensure_apartment,
    ensure_customer,
    ensure_entrance,
    ensure_property,
)
from openamr.store.schema import access_code, household, tenancy
from tests.helpers import OPERATOR
from tests.integration.soft_authenticator import SoftAuthenticator

START = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
ACCOUNT_LIMIT = 2
ADDRESS_LIMIT = 5
WRONG = "definitely not the passphrase"
KNOWN = "the first household's passphrase"
_examples = itertools.count()


@functools.cache
def _known_hash() -> str:
    return hash_passphrase(KNOWN)


@dataclass
class Code:
    text: str
    kind: str
    tenancy_id: int
    expires_at: datetime
    used: bool = False
    revoked: bool = False


@dataclass
class Tenancy:
    id: int
    apartment: int
    ended: bool = False


@dataclass
class Home:
    id: int
    handle: str
    tenancy_id: int
    passphrase: str | None = None


@dataclass
class Failures:
    """The model of sign_in_attempt: failures per account since its success, and per address."""

    by_account: dict[str, list[datetime]] = field(default_factory=dict)
    by_address: dict[str, list[datetime]] = field(default_factory=dict)

    def limited(self, account: str | None, address: str, now: datetime) -> bool:
        recent = [at for at in self.by_address.get(address, []) if at >= now - WINDOW]
        if len(recent) >= ADDRESS_LIMIT:
            return True
        if account is None:
            return False
        mine = [at for at in self.by_account.get(account, []) if at >= now - WINDOW]
        return len(mine) >= ACCOUNT_LIMIT

    def fail(self, account: str | None, address: str, now: datetime) -> None:
        self.by_address.setdefault(address, []).append(now)
        if account is not None:
            self.by_account.setdefault(account, []).append(now)

    def succeed(self, account: str) -> None:
        self.by_account[account] = []


class AccessCodes(RuleBasedStateMachine):
    def __init__(self, engine: Engine, base: Settings) -> None:
        super().__init__()
        self.engine = engine
        self.settings = dataclasses.replace(
            base,
            sign_in_failures_per_account=ACCOUNT_LIMIT,
            sign_in_failures_per_address=ADDRESS_LIMIT,
        )
        self.now = START
        example = next(_examples)
        # Each example has a customer and addresses of its own, so examples never meet.
        self.unknown_handle = f"hzz{example:010d}"
        self.addresses = [
            f"10.{example % 250}.{example // 250}.1",
            f"10.{example % 250}.{example // 250}.2",
        ]
        with engine.begin() as conn:
            customer_id = ensure_customer(conn, name=f"Machine {example}", now=START).id
            property_id = ensure_property(
                conn,
                customer_id=customer_id,
                designation=f"Kåbo {example}:1",
                time_zone="Europe/Stockholm",
            ).id
            entrance_id = ensure_entrance(
                conn, customer_id=customer_id, property_id=property_id, address="Kåbovägen 1"
            ).id
            self.apartment_ids = [
                ensure_apartment(
                    conn, customer_id=customer_id, entrance_id=entrance_id, number=n
                ).id
                for n in ("1101", "1102")
            ]
        self.customer_id = customer_id
        self.current: dict[int, Tenancy] = {}  # apartment index: its latest tenancy
        self.tenancies: dict[int, Tenancy] = {}
        self.codes: list[Code] = []
        self.homes: dict[int, Home] = {}  # tenancy id: its household
        self.failures = Failures()
        self.passphrases = (f"passphrase number {n} of ours" for n in itertools.count())
        for index in range(2):
            self._move_in(index)
            self.issue_letter(index)
        # One household has signed up already (with a passkey, and a passphrase set
        # from a hash made once: argon2id is most of this test's time), so that
        # sign-ins have someone to be.
        self._redeem(self.codes[0], "passkey", 0)
        home = self.homes[self.codes[0].tenancy_id]
        with engine.begin() as conn:
            identities.set_household_passphrase_hash(
                conn, household_id=home.id, passphrase_hash=_known_hash()
            )
        home.passphrase = KNOWN

    # -- time and tenancies ------------------------------------------------------------------

    @rule(
        step=st.sampled_from(
            [
                timedelta(minutes=1),
                timedelta(minutes=16),
                timedelta(minutes=61),
                timedelta(days=45),
                timedelta(days=91),
            ]
        )
    )
    def time_passes(self, step: timedelta) -> None:
        self.now += step

    @precondition(lambda self: any(not t.ended for t in self.current.values()))
    @rule(data=st.data())
    def move_out(self, data: st.DataObject) -> None:
        """The household moves out now (the tenancy's end is set as the landlord records it)."""
        current = data.draw(st.sampled_from([t for t in self.current.values() if not t.ended]))
        with self.engine.begin() as conn:
            conn.execute(tenancy.update().where(tenancy.c.id == current.id).values(end_at=self.now))
        current.ended = True

    @precondition(lambda self: any(t.ended for t in self.current.values()))
    @rule(data=st.data())
    def move_in(self, data: st.DataObject) -> None:
        """A new household moves into an empty apartment."""
        self._move_in(data.draw(st.sampled_from([i for i, t in self.current.items() if t.ended])))

    def _move_in(self, index: int) -> None:
        with self.engine.begin() as conn:
            tenancy_id = add_tenancy(
                conn,
                customer_id=self.customer_id,
                apartment_id=self.apartment_ids[index],
                start_at=self.now,
                end_at=None,
            )
        self.current[index] = self.tenancies[tenancy_id] = Tenancy(tenancy_id, index)

    # -- issuing -----------------------------------------------------------------------------

    @rule(index=st.sampled_from([0, 1]))
    def issue_letter(self, index: int) -> None:
        current = self.current[index]
        with self.engine.begin() as conn:
            if current.ended:
                with pytest.raises(households.UnableToIssueAccessCode, match="ended"):
                    households.issue_access_code(
                        conn, tenancy_id=current.id, issued_by=OPERATOR, now=self.now, kind=LETTER
                    )
                return
            issued = households.issue_access_code(
                conn, tenancy_id=current.id, issued_by=OPERATOR, now=self.now, kind=LETTER
            )
        self._revoke(current.id, LETTER)
        self.codes.append(Code(issued.code, LETTER, current.id, self.now + timedelta(days=90)))

    @precondition(
        lambda self: any(not t.ended and t.id in self.homes for t in self.current.values())
    )
    @rule(data=st.data())
    def issue_device_code(self, data: st.DataObject) -> None:
        open_homes = [
            self.homes[t.id] for t in self.current.values() if not t.ended and t.id in self.homes
        ]
        home = data.draw(st.sampled_from(open_homes))
        row = self.tenancies[home.tenancy_id]
        with self.engine.connect() as conn:
            stored = identities.tenancy_of(conn, tenancy_id=row.id)
        assert stored is not None
        access = AccessContext(
            actor=f"household:{home.id}",
            role=Role.HOUSEHOLD,
            customer_ids=frozenset({self.customer_id}),
            tenancy=TenancyScope(
                stored.id, stored.apartment_id, stored.customer_id, stored.start_at, stored.end_at
            ),
        )
        issued = households.issue_device_code(self.engine, access=access, now=self.now)
        self._revoke(row.id, DEVICE)
        self.codes.append(Code(issued.code, DEVICE, row.id, self.now + timedelta(minutes=15)))

    def _revoke(self, tenancy_id: int, kind: str) -> None:
        for code in self.codes:
            if code.tenancy_id == tenancy_id and code.kind == kind and not code.used:
                code.revoked = True

    # -- redeeming ---------------------------------------------------------------------------

    @rule(
        data=st.data(),
        credential=st.sampled_from(["passkey", "passphrase", "passphrase", "session"]),
        address=st.sampled_from([0, 1]),
    )
    def redeem(self, data: st.DataObject, credential: str, address: int) -> None:
        """A code of ours (used, replaced, expired, of an ended tenancy, or good), or a made-up one."""
        self._redeem(data.draw(st.sampled_from([*self.codes, None])), credential, address)

    def _redeem(self, code: Code | None, credential: str, address: int) -> None:
        text = households.grouped(households.new_code()) if code is None else code.text
        where = self.addresses[address]
        expected = self._expected(code, credential, where)
        passphrase = next(self.passphrases)
        try:
            if credential == "passkey":
                begun = households.begin_passkey_redemption(
                    self.engine, settings=self.settings, code=text, address=where, now=self.now
                )
                answer = SoftAuthenticator(origin=self.settings.origin).create(begun.options)
                redeemed = households.finish_passkey_redemption(
                    self.engine,
                    settings=self.settings,
                    credential=answer,
                    address=where,
                    now=self.now,
                )
            elif credential == "passphrase":
                redeemed = households.redeem_with_passphrase(
                    self.engine,
                    settings=self.settings,
                    code=text,
                    passphrase=passphrase,
                    address=where,
                    now=self.now,
                )
            else:
                redeemed = households.redeem_for_session(
                    self.engine, settings=self.settings, code=text, address=where, now=self.now
                )
        except (
            TooManyAttempts,
            CodeNotRecognised,
            CodeNoLongerValid,
            WrongCredentialForCode,
        ) as refused:
            outcome: type[Exception] | None = type(refused)
        else:
            outcome = None
        assert outcome is expected, (expected, outcome)
        if outcome is not None:
            if expected in (CodeNotRecognised, CodeNoLongerValid):
                self.failures.fail(None, where, self.now)  # counted against the address
            return
        # It worked, as the model said it would; and it led to the code's own tenancy.
        assert code is not None
        assert redeemed.tenancy.id == code.tenancy_id
        assert not self.tenancies[code.tenancy_id].ended
        home = self.homes.get(code.tenancy_id)
        if home is not None:
            assert (redeemed.household_id, redeemed.handle) == (home.id, home.handle)
        else:
            assert redeemed.handle not in {h.handle for h in self.homes.values()}
            home = self.homes[code.tenancy_id] = Home(
                redeemed.household_id, redeemed.handle, code.tenancy_id
            )
        if credential == "passphrase":
            home.passphrase = passphrase
        code.used = True

    def _expected(self, code: Code | None, credential: str, address: str) -> type[Exception] | None:
        if self.failures.limited(None, address, self.now):
            return TooManyAttempts
        if code is None:
            return CodeNotRecognised
        if (
            code.used
            or code.revoked
            or code.expires_at <= self.now
            or self.tenancies[code.tenancy_id].ended
        ):
            return CodeNoLongerValid
        if (code.kind == LETTER and credential == "session") or (
            code.kind == DEVICE and credential == "passphrase"
        ):
            return WrongCredentialForCode
        return None

    # -- signing in --------------------------------------------------------------------------

    @rule(
        data=st.data(),
        attempts=st.lists(st.booleans(), min_size=1, max_size=3),
        address=st.sampled_from([0, 1]),
    )
    def sign_in(self, data: st.DataObject, attempts: list[bool], address: int) -> None:
        """A burst of sign-ins on one account, each with the right passphrase or a wrong one."""
        homes = [h for h in self.homes.values() if h.passphrase is not None]
        home = data.draw(st.sampled_from([*homes, None])) if homes else None
        for right in attempts:
            self._sign_in(home, right, self.addresses[address])

    def _sign_in(self, home: Home | None, right: bool, where: str) -> None:
        handle = self.unknown_handle if home is None else home.handle
        passphrase = home.passphrase if home is not None and right else None
        if self.failures.limited(handle, where, self.now):
            expected: type[Exception] | None = TooManyAttempts
        elif home is None or passphrase is None:
            expected = signin.UnableToSignIn
        elif self.tenancies[home.tenancy_id].ended:
            expected = signin.SignInClosed
        else:
            expected = None
        try:
            done = signin.sign_in_household(
                self.engine,
                settings=self.settings,
                handle=handle,
                passphrase=passphrase or WRONG,
                address=where,
                now=self.now,
            )
        except (TooManyAttempts, signin.UnableToSignIn, signin.SignInClosed) as refused:
            outcome: type[Exception] | None = type(refused)
        else:
            outcome = None
            assert home is not None
            assert (done.household_id, done.tenancy.id) == (home.id, home.tenancy_id)
        assert outcome is expected, (expected, outcome)
        if outcome is signin.UnableToSignIn:
            self.failures.fail(handle, where, self.now)
        elif outcome is not TooManyAttempts:
            self.failures.succeed(handle)  # the passphrase was right, even for an ended tenancy

    # -- what always holds -------------------------------------------------------------------

    @invariant()
    def codes_are_used_only_while_valid_and_households_are_one_per_tenancy(self) -> None:
        with self.engine.connect() as conn:
            used = conn.execute(
                sa.select(
                    access_code.c.used_at,
                    access_code.c.expires_at,
                    access_code.c.revoked_at,
                    tenancy.c.end_at,
                )
                .join(tenancy, tenancy.c.id == access_code.c.tenancy_id)
                .where(
                    access_code.c.customer_id == self.customer_id,
                    access_code.c.used_at.is_not(None),
                )
            ).all()
            homes = conn.execute(
                sa.select(household.c.tenancy_id, sa.func.count())
                .where(household.c.customer_id == self.customer_id)
                .group_by(household.c.tenancy_id)
            ).all()
        for used_at, expires_at, revoked_at, end_at in used:
            assert used_at < expires_at
            assert revoked_at is None
            assert end_at is None or used_at <= end_at  # used while the tenancy lasted
        assert all(count == 1 for _tenancy, count in homes)
        assert len(used) == sum(code.used for code in self.codes)


def test_access_codes_tenancies_and_sign_in_limits(engine: Engine, settings: Settings) -> None:
    run_state_machine_as_test(
        lambda: AccessCodes(engine, settings),
        settings=settings_for_machine,
    )


settings_for_machine = hypothesis_settings(
    max_examples=25,
    stateful_step_count=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
