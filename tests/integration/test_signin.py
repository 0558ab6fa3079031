"""Signing in through the HTTP API: staff with passphrase and TOTP, households with codes and passkeys.

Every test drives the API as a browser would, over https (so the `__Host-`
cookie, which is Secure, is sent back), with a clock the test moves.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy.engine import Engine

from openamr.access import Role
from openamr.app import create_app
from openamr.cli import main
from openamr.guard import totp
from openamr.guard.households import LETTER, issue_access_code
from openamr.guard.keyring import Keyring
from openamr.guard.sessions import CSRF_HEADER, SESSION_COOKIE, token_digest
from openamr.guard.staff import NewStaffAccount, create_staff_account
from openamr.settings import MasterKey, Settings
from openamr.store import identities
from openamr.store.audit import AuditEvent, iter_events
from openamr.store.portfolio import add_tenancy
from openamr.store.schema import auth_session, household, sign_in_attempt, tenancy
from tests.helpers import OPERATOR, load_portfolio
from tests.integration.soft_authenticator import SoftAuthenticator

MASTER = MasterKey("test-2026", bytes(range(32)))
START = datetime(2026, 11, 2, 9, 0, 0, tzinfo=UTC)
PORTFOLIO = [
    "Hem AB,Uppsala Kåbo 1:23,Kåbovägen 12A,1101,electricity,EL-1,kWh,7,2026-01-01T00:00:00+01:00,",
    "Hem AB,Uppsala Kåbo 1:23,Kåbovägen 12A,1102,electricity,EL-2,kWh,7,2026-01-01T00:00:00+01:00,",
    "Annat AB,Lund Centrum 1:1,Storgatan 1,1001,electricity,EL-9,kWh,7,2026-01-01T00:00:00+01:00,",
]


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def auth_settings(settings: Settings) -> Settings:
    # Lower limits than production's (100 and 300) keep the tests quick; the
    # production values are asserted in tests/unit/test_passwords.py.
    return dataclasses.replace(
        settings,
        master_keys=(MASTER,),
        sign_in_failures_per_account=5,
        sign_in_failures_per_address=12,
    )


@pytest.fixture
def app(auth_settings: Settings, engine: Engine, clock: Clock) -> object:
    load_portfolio(engine, PORTFOLIO)
    return create_app(auth_settings, engine=engine, clock=clock)


def _browser(app: object) -> TestClient:
    return TestClient(app, base_url="https://testserver")  # type: ignore[arg-type]


@pytest.fixture
def browser(app: object) -> Iterator[TestClient]:
    with _browser(app) as client:
        yield client


def _apartment(engine: Engine, number: str) -> identities.ApartmentRef:
    designation = "Lund Centrum 1:1" if number == "1001" else "Uppsala Kåbo 1:23"
    with engine.connect() as conn:
        (found,) = identities.find_apartments(
            conn, access=OPERATOR, designation=designation, number=number
        )
    return found


def _move_in(engine: Engine, number: str, start_at: datetime) -> int:
    flat = _apartment(engine, number)
    with engine.begin() as conn:
        return add_tenancy(
            conn,
            customer_id=flat.customer_id,
            apartment_id=flat.id,
            start_at=start_at,
            end_at=None,
        )


def _move_out(engine: Engine, tenancy_id: int, end_at: datetime) -> None:
    with engine.begin() as conn:
        conn.execute(tenancy.update().where(tenancy.c.id == tenancy_id).values(end_at=end_at))


def _letter(engine: Engine, tenancy_id: int, now: datetime, days: int = 90) -> str:
    with engine.begin() as conn:
        issued = issue_access_code(
            conn,
            tenancy_id=tenancy_id,
            issued_by=OPERATOR,
            now=now,
            kind=LETTER,
            valid_for=timedelta(days=days),
        )
    return issued.code


def _staff(
    engine: Engine, email: str, role: Role, customer: str | None = None, *, with_totp: bool = False
) -> NewStaffAccount:
    return create_staff_account(
        engine,
        access=OPERATOR,
        email=email,
        role=role,
        customer=customer,
        keyring=Keyring((MASTER,)),
        now=START,
        with_totp=with_totp,
    )


def _code(account: NewStaffAccount, now: datetime, offset: int = 0) -> str:
    assert account.totp_uri is not None
    secret = parse_qs(urlsplit(account.totp_uri).query)["secret"][0]
    return totp.code_at_step(secret, totp.step_at(now) + offset)


def _signed_in(client: TestClient, answer: Response) -> dict[str, object]:
    """Take the CSRF token of a sign-in answer, as the page's script would."""
    assert answer.status_code in (200, 201), answer.text
    body: dict[str, object] = answer.json()
    client.headers[CSRF_HEADER] = str(body["csrf_token"])
    return body


def _session_rows(engine: Engine) -> list[sa.Row[tuple[object, ...]]]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(auth_session).order_by(auth_session.c.created_at)))


def _events(engine: Engine) -> list[AuditEvent]:
    with engine.connect() as conn:
        return list(iter_events(conn))


def _cookie_of(answer: Response) -> str:
    (header,) = [h for h in answer.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE)]
    return header


# -- staff ---------------------------------------------------------------------------------------


def test_a_customer_admin_signs_in_and_the_cookie_is_host_only_secure_and_strict(
    engine: Engine, browser: TestClient
) -> None:
    account = _staff(engine, "Admin@Hem.se", Role.CUSTOMER_ADMIN, "Hem AB")
    answer = browser.post(
        "/api/v1/session", json={"email": " admin@hem.se ", "passphrase": account.passphrase}
    )
    body = _signed_in(browser, answer)
    assert body["totp_due"] is False
    assert body["role"] == "customer_admin"
    cookie = _cookie_of(answer)
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert {"secure", "httponly", "path", "samesite"} <= attributes
    assert "domain" not in attributes
    assert "max-age" not in attributes
    assert "samesite=strict" in cookie.lower()
    assert "path=/" in cookie.lower()
    assert answer.headers["cache-control"] == "no-store"

    me = browser.get("/api/v1/session")
    assert me.status_code == 200, me.text
    assert me.json() == {
        "actor": f"staff:{account.id}",
        "role": "customer_admin",
        "customer": {"id": account.customer_id, "name": "Hem AB"},
        "household": None,
        "csrf_token": body["csrf_token"],
    }
    (row,) = _session_rows(engine)
    assert row.token_hash == token_digest(browser.cookies[SESSION_COOKIE])
    assert row.second_factor_at is not None
    assert row.expires_at == START + timedelta(hours=12)
    signed_in = [e for e in _events(engine) if e.action == "session.sign_in"]
    assert [(e.actor, e.role, e.customer_id) for e in signed_in] == [
        (f"staff:{account.id}", "customer_admin", account.customer_id)
    ]


def test_signing_in_again_rotates_the_session(engine: Engine, browser: TestClient) -> None:
    account = _staff(engine, "admin@hem.se", Role.CUSTOMER_ADMIN, "Hem AB")
    credentials = {"email": "admin@hem.se", "passphrase": account.passphrase}
    _signed_in(browser, browser.post("/api/v1/session", json=credentials))
    first = browser.cookies[SESSION_COOKIE]
    _signed_in(browser, browser.post("/api/v1/session", json=credentials))
    second = browser.cookies[SESSION_COOKIE]
    assert first != second
    rows = {row.token_hash: row for row in _session_rows(engine)}
    assert rows[token_digest(first)].ended_at is not None
    assert rows[token_digest(second)].ended_at is None


def test_a_wrong_passphrase_and_an_unknown_account_get_the_same_answer(
    engine: Engine, browser: TestClient
) -> None:
    account = _staff(engine, "admin@hem.se", Role.CUSTOMER_ADMIN, "Hem AB")
    wrong = browser.post(
        "/api/v1/session", json={"email": "admin@hem.se", "passphrase": "not it at all"}
    )
    unknown = browser.post(
        "/api/v1/session", json={"email": "nobody@hem.se", "passphrase": "not it at all"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert (
        wrong.json()
        == unknown.json()
        == {"detail": "the e-mail address or the passphrase is wrong"}
    )
    assert SESSION_COOKIE not in browser.cookies
    failed = [e for e in _events(engine) if e.action == "session.sign_in_failed"]
    assert [(e.actor, e.outcome) for e in failed] == [
        (f"staff:{account.id}", "failed"),
        ("anonymous", "failed"),  # never the e-mail address typed
    ]
    for event in _events(engine):  # nothing typed is written anywhere
        assert "nobody" not in repr(event)
        assert "hem.se" not in repr(event)
    with engine.connect() as conn:
        digests = conn.execute(sa.select(sign_in_attempt.c.account_digest)).scalars().all()
    assert len(digests) == 2
    assert all(len(d) == 64 for d in digests)


def test_control_characters_typed_are_wrong_credentials_not_errors(browser: TestClient) -> None:
    # PostgreSQL cannot hold NUL in text: such input must never reach a query.
    for path, body in (
        ("/api/v1/session", {"email": "admin\x00@hem.se", "passphrase": "x\x00y"}),
        ("/api/v1/household/session", {"handle": "h\x00123", "passphrase": "x"}),
        ("/api/v1/household/redeem", {"code": "\x00" * 24, "credential": "session"}),
    ):
        answer = browser.post(path, json=body)
        assert answer.status_code in (400, 401), answer.text


def test_a_disabled_account_signs_in_no_more(engine: Engine, browser: TestClient) -> None:
    from openamr.guard.staff import disable_staff_account

    account = _staff(engine, "ops@hem.se", Role.OPERATIONS, "Hem AB")
    credentials = {"email": "ops@hem.se", "passphrase": account.passphrase}
    _signed_in(browser, browser.post("/api/v1/session", json=credentials))
    assert browser.get("/api/v1/session").status_code == 200
    disable_staff_account(engine, access=OPERATOR, email="ops@hem.se", now=START)
    assert browser.get("/api/v1/session").status_code == 401
    again = browser.post("/api/v1/session", json=credentials)
    assert again.status_code == 401
    assert again.json()["detail"] == "the e-mail address or the passphrase is wrong"


def test_platform_staff_need_their_totp_code_and_each_code_works_once(
    engine: Engine, browser: TestClient, clock: Clock
) -> None:
    account = _staff(engine, "support@openamr.se", Role.SUPPORT)
    assert account.totp_uri is not None  # always, for a platform role
    credentials = {"email": "support@openamr.se", "passphrase": account.passphrase}
    body = _signed_in(browser, browser.post("/api/v1/session", json=credentials))
    assert body["totp_due"] is True
    halfway = browser.cookies[SESSION_COOKIE]
    assert browser.get("/api/v1/session").status_code == 401  # not signed in yet

    wrong = browser.post("/api/v1/session/totp", json={"code": "000000"})
    if _code(account, clock.now) != "000000":
        assert wrong.status_code == 401
        assert "wrong" in wrong.json()["detail"]
    code = _code(account, clock.now)
    done = browser.post("/api/v1/session/totp", json={"code": code})
    body = _signed_in(browser, done)
    assert body["role"] == "support"
    assert body["totp_due"] is False
    assert browser.cookies[SESSION_COOKIE] != halfway  # rotated once more
    me = browser.get("/api/v1/session").json()
    assert (me["role"], me["customer"], me["actor"]) == ("support", None, f"staff:{account.id}")

    # The same code again, in a second sign-in within its 30 seconds: refused.
    with _browser(browser.app) as other:
        _signed_in(other, other.post("/api/v1/session", json=credentials))
        replay = other.post("/api/v1/session/totp", json={"code": code})
        assert replay.status_code == 401, replay.text
        clock.advance(seconds=30)
        fresh = other.post("/api/v1/session/totp", json={"code": _code(account, clock.now)})
        assert fresh.status_code == 200, fresh.text
    actions = [e.action for e in _events(engine) if e.actor == f"staff:{account.id}"]
    assert actions.count("session.sign_in") == 2
    assert "session.sign_in_failed" in actions


def test_a_code_from_two_steps_away_is_refused_and_the_code_must_follow_within_5_minutes(
    engine: Engine, browser: TestClient, clock: Clock
) -> None:
    account = _staff(engine, "admin@openamr.se", Role.PLATFORM_ADMIN)
    credentials = {"email": "admin@openamr.se", "passphrase": account.passphrase}
    _signed_in(browser, browser.post("/api/v1/session", json=credentials))
    stale = _code(account, clock.now, offset=-2)
    if stale not in {_code(account, clock.now, near) for near in (-1, 0, 1)}:
        assert browser.post("/api/v1/session/totp", json={"code": stale}).status_code == 401
    clock.advance(minutes=5, seconds=1)
    late = browser.post("/api/v1/session/totp", json={"code": _code(account, clock.now)})
    assert late.status_code == 401
    assert "sign in with your e-mail address and passphrase first" in late.json()["detail"]


def test_the_totp_step_needs_the_csrf_token_of_its_session(
    engine: Engine, browser: TestClient, clock: Clock
) -> None:
    account = _staff(engine, "staff@openamr.se", Role.PLATFORM_STAFF)
    credentials = {"email": "staff@openamr.se", "passphrase": account.passphrase}
    browser.post("/api/v1/session", json=credentials)  # the script forgets the CSRF token
    refused = browser.post("/api/v1/session/totp", json={"code": _code(account, clock.now)})
    assert refused.status_code == 403


def test_customer_staff_may_have_a_second_factor(
    engine: Engine, browser: TestClient, clock: Clock
) -> None:
    account = _staff(engine, "ops@hem.se", Role.OPERATIONS, "Hem AB", with_totp=True)
    credentials = {"email": "ops@hem.se", "passphrase": account.passphrase}
    assert _signed_in(browser, browser.post("/api/v1/session", json=credentials))["totp_due"]
    _signed_in(
        browser, browser.post("/api/v1/session/totp", json={"code": _code(account, clock.now)})
    )
    assert browser.get("/api/v1/session").json()["role"] == "operations"


def test_failed_sign_ins_are_limited_per_account_whether_it_exists_or_not(
    engine: Engine, browser: TestClient, clock: Clock
) -> None:
    account = _staff(engine, "admin@hem.se", Role.CUSTOMER_ADMIN, "Hem AB")
    for email in ("admin@hem.se", "ghost@hem.se"):
        for _ in range(5):
            answer = browser.post("/api/v1/session", json={"email": email, "passphrase": "wrong!"})
            assert answer.status_code == 401
        limited = browser.post("/api/v1/session", json={"email": email, "passphrase": "wrong!"})
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) > 0
    # Even the right passphrase waits: the limit is on the account, not on the guess.
    right = {"email": "admin@hem.se", "passphrase": account.passphrase}
    assert browser.post("/api/v1/session", json=right).status_code == 429
    clock.advance(hours=1, seconds=1)
    assert browser.post("/api/v1/session", json=right).status_code == 200
    # A success starts the account's count afresh: 4 failures, a success, 4 more, still in.
    for _ in range(2):
        for _ in range(4):
            wrong = {"email": "admin@hem.se", "passphrase": "wrong!"}
            assert browser.post("/api/v1/session", json=wrong).status_code == 401
        assert browser.post("/api/v1/session", json=right).status_code == 200
        clock.advance(minutes=1)
    denied = [e for e in _events(engine) if e.outcome == "denied"]
    assert {e.actor for e in denied} == {f"staff:{account.id}", "anonymous"}


def test_failed_sign_ins_are_limited_per_address_across_accounts(
    engine: Engine, browser: TestClient
) -> None:
    account = _staff(engine, "admin@hem.se", Role.CUSTOMER_ADMIN, "Hem AB")
    right = {"email": "admin@hem.se", "passphrase": account.passphrase}
    for number in range(12):  # 12 accounts guessed once each: no account limit is reached
        if number % 4 == 0:  # signing in to one's own account does not reset the address
            assert browser.post("/api/v1/session", json=right).status_code == 200
        answer = browser.post(
            "/api/v1/session", json={"email": f"user{number}@hem.se", "passphrase": "guess"}
        )
        assert answer.status_code == 401
    assert browser.post("/api/v1/session", json=right).status_code == 429


def test_signing_out_ends_the_session_and_needs_the_csrf_token(
    engine: Engine, browser: TestClient
) -> None:
    account = _staff(engine, "admin@hem.se", Role.CUSTOMER_ADMIN, "Hem AB")
    body = _signed_in(
        browser,
        browser.post(
            "/api/v1/session", json={"email": "admin@hem.se", "passphrase": account.passphrase}
        ),
    )
    del browser.headers[CSRF_HEADER]
    assert browser.delete("/api/v1/session").status_code == 403
    assert browser.get("/api/v1/session").status_code == 200
    token = browser.cookies[SESSION_COOKIE]
    out = browser.delete("/api/v1/session", headers={CSRF_HEADER: str(body["csrf_token"])})
    assert out.status_code == 204
    assert "max-age=0" in _cookie_of(out).lower()
    assert SESSION_COOKIE not in browser.cookies
    (row,) = _session_rows(engine)
    assert row.token_hash == token_digest(token)
    assert row.ended_at is not None
    # The old token, replayed by whoever copied it, opens nothing.
    with _browser(browser.app) as thief:
        thief.cookies.set(SESSION_COOKIE, token, domain="testserver.local")
        assert thief.get("/api/v1/session").status_code == 401
    assert "session.sign_out" in [e.action for e in _events(engine)]


def test_who_am_i_needs_a_session(browser: TestClient) -> None:
    answer = browser.get("/api/v1/session")
    assert answer.status_code == 401
    assert answer.json() == {"detail": "sign in first"}


# -- households ----------------------------------------------------------------------------------


def _redeem(client: TestClient, code: str, passphrase: str) -> Response:
    return client.post(
        "/api/v1/household/redeem",
        json={"code": code, "credential": "passphrase", "passphrase": passphrase},
    )


def test_a_household_redeems_its_letter_and_signs_in_with_its_handle(
    engine: Engine, browser: TestClient, clock: Clock
) -> None:
    tenancy_id = _move_in(engine, "1102", START - timedelta(days=30))
    code = _letter(engine, tenancy_id, clock.now)
    assert len(code.replace("-", "")) == 24  # 120 bits
    assert code.count("-") == 5
    typed = code.replace("-", " ").lower().replace("0", "o")  # as read off paper
    answer = _redeem(browser, typed, "our new flat on the second floor")
    assert answer.status_code == 201, answer.text
    body = _signed_in(browser, answer)
    handle = str(body["handle"])
    assert handle.startswith("h")
    assert len(handle) == 13
    assert "max-age=2592000" in _cookie_of(answer).lower()  # stays signed in: 30 days

    flat = _apartment(engine, "1102")
    me = browser.get("/api/v1/session").json()
    assert me["role"] == "household"
    assert me["customer"]["name"] == "Hem AB"
    assert me["household"] == {
        "handle": handle,
        "customer": "Hem AB",
        "property": "Uppsala Kåbo 1:23",
        "entrance": "Kåbovägen 12A",
        "apartment": "1102",
        "tenancy": {
            "id": tenancy_id,
            "start_at": (START - timedelta(days=30)).isoformat().replace("+00:00", "Z"),
            "end_at": None,
        },
    }
    events = _events(engine)
    actions = {e.action for e in events if e.tenancy_id == tenancy_id}
    assert {"household.create", "access_code.redeem", "credential.passphrase_set"} <= actions
    assert {e.apartment_id for e in events if e.tenancy_id == tenancy_id} == {flat.id}
    assert all(handle not in repr(e) for e in events)

    assert browser.delete("/api/v1/session").status_code == 204
    wrong = browser.post(
        "/api/v1/household/session", json={"handle": handle, "passphrase": "not our passphrase"}
    )
    unknown = browser.post(
        "/api/v1/household/session",
        json={"handle": "h0000000000000", "passphrase": "not our passphrase"},
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    again = browser.post(
        "/api/v1/household/session",
        json={"handle": handle.upper(), "passphrase": "our new flat on the second floor"},
    )
    _signed_in(browser, again)
    assert browser.get("/api/v1/session").json()["household"]["handle"] == handle


def test_a_code_works_once_and_not_after_it_expires(
    engine: Engine, browser: TestClient, clock: Clock
) -> None:
    first = _move_in(engine, "1101", START)
    code = _letter(engine, first, clock.now)
    assert _redeem(browser, code, "a passphrase of ours").status_code == 201
    used = _redeem(browser, code, "another passphrase here")
    assert used.status_code == 410
    assert "used already" in used.json()["detail"]

    other = _move_in(engine, "1001", START)
    late = _letter(engine, other, clock.now, days=90)
    clock.advance(days=90)
    expired = _redeem(browser, late, "a passphrase of ours")
    assert expired.status_code == 410
    assert "expired" in expired.json()["detail"]

    assert _redeem(browser, "ABCDE", "a passphrase of ours").status_code == 400
    unknown = _redeem(browser, "7K3Q-DM9X-2A7K-3QDM-9X2A-7K3Q", "a passphrase of ours")
    assert unknown.status_code == 400
    assert "check it against the letter" in unknown.json()["detail"]


def test_a_refused_passphrase_does_not_use_the_code_up(
    engine: Engine, browser: TestClient, clock: Clock
) -> None:
    code = _letter(engine, _move_in(engine, "1101", START), clock.now)
    short = _redeem(browser, code, "too short")
    assert short.status_code == 422
    assert "12 characters" in short.json()["detail"]
    assert _redeem(browser, code, "long enough words now").status_code == 201


def test_a_replacement_letter_reaches_the_same_household_and_replaces_its_passphrase(
    engine: Engine, app: object, clock: Clock
) -> None:
    tenancy_id = _move_in(engine, "1101", START)
    with _browser(app) as phone, _browser(app) as laptop:
        handle = _signed_in(
            phone, _redeem(phone, _letter(engine, tenancy_id, clock.now), "first passphrase here")
        )["handle"]
        lost = _letter(engine, tenancy_id, clock.now)  # printed, then lost in the post
        replacement = _letter(engine, tenancy_id, clock.now)
        revoked = _redeem(laptop, lost, "second passphrase here")
        assert revoked.status_code == 410
        assert "replaced" in revoked.json()["detail"]
        body = _signed_in(laptop, _redeem(laptop, replacement, "second passphrase here"))
        assert body["handle"] == handle
        # The old passphrase and the phone's session (of the old passphrase) no longer work.
        assert phone.get("/api/v1/session").status_code == 401
        old = phone.post(
            "/api/v1/household/session",
            json={"handle": handle, "passphrase": "first passphrase here"},
        )
        assert old.status_code == 401
        assert laptop.get("/api/v1/session").status_code == 200
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(household)).scalar_one() == 1


def test_a_move_ends_access_and_the_next_household_is_another(
    engine: Engine, app: object, clock: Clock
) -> None:
    before = _move_in(engine, "1101", START - timedelta(days=400))
    with _browser(app) as old_home:
        handle = str(
            _signed_in(
                old_home,
                _redeem(old_home, _letter(engine, before, clock.now), "we lived here first"),
            )["handle"]
        )
        spare = _letter(engine, before, clock.now)  # never used
        clock.advance(days=10)
        _move_out(engine, before, clock.now - timedelta(days=1))
        assert old_home.get("/api/v1/session").status_code == 401
        closed = old_home.post(
            "/api/v1/household/session",
            json={"handle": handle, "passphrase": "we lived here first"},
        )
        assert closed.status_code == 403
        assert "ended" in closed.json()["detail"]
        ended = _redeem(old_home, spare, "we lived here first")
        assert ended.status_code == 410
        assert "tenancy" in ended.json()["detail"]

    after = _move_in(engine, "1101", clock.now)
    with _browser(app) as new_home:
        body = _signed_in(
            new_home, _redeem(new_home, _letter(engine, after, clock.now), "we moved in now")
        )
        assert body["handle"] != handle
        me = new_home.get("/api/v1/session").json()
        assert me["household"]["tenancy"]["id"] == after
    with engine.connect() as conn:
        rows = conn.execute(sa.select(household.c.tenancy_id, household.c.handle)).all()
    assert sorted(rows) == sorted([(before, handle), (after, body["handle"])])


def test_a_device_code_signs_in_another_device_once_within_15_minutes(
    engine: Engine, app: object, clock: Clock
) -> None:
    tenancy_id = _move_in(engine, "1102", START)
    with _browser(app) as phone, _browser(app) as tablet, _browser(app) as tv:
        handle = _signed_in(
            phone, _redeem(phone, _letter(engine, tenancy_id, clock.now), "phone passphrase ok")
        )["handle"]
        made = phone.post("/api/v1/household/device-codes")
        assert made.status_code == 201, made.text
        code = made.json()["code"]
        assert made.json()["expires_at"] == (clock.now + timedelta(minutes=15)).isoformat().replace(
            "+00:00", "Z"
        )
        wrong = tablet.post(
            "/api/v1/household/redeem",
            json={"code": code, "credential": "passphrase", "passphrase": "tablet passphrase"},
        )
        assert wrong.status_code == 422
        signed = tablet.post(
            "/api/v1/household/redeem", json={"code": code, "credential": "session"}
        )
        _signed_in(tablet, signed)
        assert tablet.get("/api/v1/session").json()["household"]["handle"] == handle
        again = tv.post("/api/v1/household/redeem", json={"code": code, "credential": "session"})
        assert again.status_code == 410

        late = phone.post("/api/v1/household/device-codes").json()["code"]
        clock.advance(minutes=15)
        expired = tv.post("/api/v1/household/redeem", json={"code": late, "credential": "session"})
        assert expired.status_code == 410
        # A letter's code is for a credential, not just a session.
        letter = _letter(engine, tenancy_id, clock.now)
        assert (
            tv.post(
                "/api/v1/household/redeem", json={"code": letter, "credential": "session"}
            ).status_code
            == 422
        )


def test_making_device_codes_needs_a_household_session(engine: Engine, browser: TestClient) -> None:
    assert browser.post("/api/v1/household/device-codes").status_code == 401
    account = _staff(engine, "admin@hem.se", Role.CUSTOMER_ADMIN, "Hem AB")
    _signed_in(
        browser,
        browser.post(
            "/api/v1/session", json={"email": "admin@hem.se", "passphrase": account.passphrase}
        ),
    )
    assert browser.post("/api/v1/household/device-codes").status_code == 403


# -- passkeys ------------------------------------------------------------------------------------


def test_a_household_redeems_its_letter_with_a_passkey_and_signs_in_with_it(
    engine: Engine, app: object, auth_settings: Settings, clock: Clock
) -> None:
    tenancy_id = _move_in(engine, "1101", START)
    code = _letter(engine, tenancy_id, clock.now)
    phone = SoftAuthenticator(origin=auth_settings.origin)
    with _browser(app) as browser:
        begun = browser.post(
            "/api/v1/household/redeem", json={"code": code, "credential": "passkey"}
        )
        assert begun.status_code == 200, begun.text
        options = begun.json()["publicKey"]
        assert options["rp"]["id"] == auth_settings.relying_party_id
        assert options["user"]["name"] == begun.json()["handle"]  # no name: the handle
        assert options["authenticatorSelection"]["residentKey"] == "required"
        assert options["authenticatorSelection"]["userVerification"] == "required"
        assert SESSION_COOKIE not in browser.cookies

        registered = browser.post("/api/v1/household/redeem/passkey", json=phone.create(options))
        body = _signed_in(browser, registered)
        assert registered.status_code == 201
        assert body["handle"] == begun.json()["handle"]
        assert browser.get("/api/v1/session").json()["household"]["tenancy"]["id"] == tenancy_id
        # The code is used up now.
        assert (
            browser.post(
                "/api/v1/household/redeem", json={"code": code, "credential": "passkey"}
            ).status_code
            == 410
        )

    with _browser(app) as later:
        options = later.post("/api/v1/household/session/passkey/options").json()["publicKey"]
        assert options["allowCredentials"] == []
        assert options["userVerification"] == "required"
        answer = phone.get(options)
        signed = later.post("/api/v1/household/session/passkey", json=answer)
        assert _signed_in(later, signed)["handle"] == body["handle"]
        assert later.get("/api/v1/session").json()["actor"].startswith("household:")
        replayed = later.post("/api/v1/household/session/passkey", json=answer)
        assert replayed.status_code == 400
        assert "answered already" in replayed.json()["detail"]


def test_an_interrupted_passkey_registration_can_start_again_with_the_same_code(
    engine: Engine, browser: TestClient, auth_settings: Settings, clock: Clock
) -> None:
    code = _letter(engine, _move_in(engine, "1101", START), clock.now)
    first = browser.post(
        "/api/v1/household/redeem", json={"code": code, "credential": "passkey"}
    ).json()
    clock.advance(minutes=6)  # the phone went to sleep
    stale = SoftAuthenticator(origin=auth_settings.origin).create(first["publicKey"])
    answer = browser.post("/api/v1/household/redeem/passkey", json=stale)
    assert answer.status_code == 400
    assert "expired" in answer.json()["detail"]
    second = browser.post(
        "/api/v1/household/redeem", json={"code": code, "credential": "passkey"}
    ).json()
    assert second["handle"] == first["handle"]  # the same household
    done = browser.post(
        "/api/v1/household/redeem/passkey",
        json=SoftAuthenticator(origin=auth_settings.origin).create(second["publicKey"]),
    )
    assert done.status_code == 201, done.text


def test_a_passkey_for_another_origin_or_without_user_verification_is_refused(
    engine: Engine, browser: TestClient, auth_settings: Settings, clock: Clock
) -> None:
    code = _letter(engine, _move_in(engine, "1101", START), clock.now)
    options = browser.post(
        "/api/v1/household/redeem", json={"code": code, "credential": "passkey"}
    ).json()["publicKey"]
    phishing = SoftAuthenticator(origin="https://openamr.example.com").create(options)
    refused = browser.post("/api/v1/household/redeem/passkey", json=phishing)
    assert refused.status_code == 400
    assert "could not be registered" in refused.json()["detail"]
    options = browser.post(
        "/api/v1/household/redeem", json={"code": code, "credential": "passkey"}
    ).json()["publicKey"]
    unverified = SoftAuthenticator(origin=auth_settings.origin).create(options, flags=0x01)
    assert browser.post("/api/v1/household/redeem/passkey", json=unverified).status_code == 400
    # Neither used the code up.
    options = browser.post(
        "/api/v1/household/redeem", json={"code": code, "credential": "passkey"}
    ).json()["publicKey"]
    ok = browser.post(
        "/api/v1/household/redeem/passkey",
        json=SoftAuthenticator(origin=auth_settings.origin).create(options),
    )
    assert ok.status_code == 201


def test_a_signed_in_household_adds_a_passkey_from_its_page(
    engine: Engine, browser: TestClient, auth_settings: Settings, clock: Clock
) -> None:
    tenancy_id = _move_in(engine, "1102", START)
    _signed_in(
        browser, _redeem(browser, _letter(engine, tenancy_id, clock.now), "passphrase first then")
    )
    options = browser.post("/api/v1/household/passkeys/options").json()["publicKey"]
    laptop = SoftAuthenticator(origin=auth_settings.origin)
    added = browser.post("/api/v1/household/passkeys", json=laptop.create(options))
    assert added.status_code == 204, added.text
    options = browser.post("/api/v1/household/passkeys/options").json()["publicKey"]
    assert [c["id"] for c in options["excludeCredentials"]] == [
        laptop.create(options)["id"]
    ]  # a second registration of the same passkey is excluded
    with _browser(browser.app) as fresh:
        options = fresh.post("/api/v1/household/session/passkey/options").json()["publicKey"]
        _signed_in(fresh, fresh.post("/api/v1/household/session/passkey", json=laptop.get(options)))
        assert fresh.get("/api/v1/session").json()["household"]["tenancy"]["id"] == tenancy_id
    assert "credential.passkey_add" in [e.action for e in _events(engine)]


def test_a_passkey_stops_working_when_the_tenancy_ends(
    engine: Engine, browser: TestClient, auth_settings: Settings, clock: Clock
) -> None:
    tenancy_id = _move_in(engine, "1101", START)
    code = _letter(engine, tenancy_id, clock.now)
    options = browser.post(
        "/api/v1/household/redeem", json={"code": code, "credential": "passkey"}
    ).json()["publicKey"]
    phone = SoftAuthenticator(origin=auth_settings.origin)
    _signed_in(
        browser, browser.post("/api/v1/household/redeem/passkey", json=phone.create(options))
    )
    clock.advance(days=2)
    _move_out(engine, tenancy_id, clock.now)
    options = browser.post("/api/v1/household/session/passkey/options").json()["publicKey"]
    closed = browser.post("/api/v1/household/session/passkey", json=phone.get(options))
    assert closed.status_code == 403


# -- the command line ----------------------------------------------------------------------------


def _run(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    result = CliRunner().invoke(main, list(args), env=env, input=stdin, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_the_command_line_makes_customers_staff_and_letters_that_sign_in(
    engine: Engine, browser: TestClient, auth_settings: Settings, clock: Clock
) -> None:
    env = {
        "OPENAMR_DATABASE_URL": auth_settings.database_url,
        "OPENAMR_MASTER_KEYS": f"{MASTER.id}:{MASTER.key.hex()}",
        "OPENAMR_PUBLIC_URL": "https://amr.hem.se",
    }
    assert "added" in _run(env, "customer", "add", "Ny AB")
    output = _run(
        env, "staff", "add", "Chef@Ny.se", "--role", "customer_admin", "--customer", "Ny AB"
    )
    passphrase = output.strip().splitlines()[-1]
    answer = browser.post("/api/v1/session", json={"email": "chef@ny.se", "passphrase": passphrase})
    assert answer.status_code == 200
    assert answer.json()["totp_due"] is False

    output = _run(env, "staff", "add", "root@openamr.se", "--role", "platform_admin")
    lines = output.strip().splitlines()
    uri = lines[-1]
    assert uri.startswith("otpauth://totp/")
    assert "issuer=openamr" in uri
    platform_passphrase = lines[
        lines.index(next(x for x in lines if "passphrase, shown only now" in x)) + 1
    ]
    body = _signed_in(
        browser,
        browser.post(
            "/api/v1/session", json={"email": "root@openamr.se", "passphrase": platform_passphrase}
        ),
    )
    assert body["totp_due"] is True
    secret = parse_qs(urlsplit(uri).query)["secret"][0]
    code = totp.code_at_step(secret, totp.step_at(clock.now))
    _signed_in(browser, browser.post("/api/v1/session/totp", json={"code": code}))
    assert browser.get("/api/v1/session").json()["role"] == "platform_admin"

    changed = _run(
        env,
        "staff",
        "passphrase",
        "chef@ny.se",
        stdin="a new passphrase now\na new passphrase now\n",
    )
    assert "sessions have ended" in changed
    assert (
        browser.post(
            "/api/v1/session", json={"email": "chef@ny.se", "passphrase": passphrase}
        ).status_code
        == 401
    )

    _move_in(engine, "1102", START - timedelta(days=3))
    issued = _run(
        env,
        "access-code",
        "issue",
        "--property",
        "Uppsala Kåbo 1:23",
        "--entrance",
        "Kåbovägen 12A",
        "--apartment",
        "1102",
    )
    lines = issued.strip().splitlines()
    assert lines[-1] == "sign in at https://amr.hem.se/household and type the code"
    code = lines[-2]
    assert _redeem(browser, code, "from the letter box").status_code == 201
    no_tenancy = CliRunner().invoke(
        main,
        [
            "access-code",
            "issue",
            "--property",
            "Uppsala Kåbo 1:23",
            "--entrance",
            "Kåbovägen 12A",
            "--apartment",
            "1101",
        ],
        env=env,
    )
    assert no_tenancy.exit_code == 1
    assert "no current or coming tenancy" in no_tenancy.output


def test_gateway_tokens_are_rotated_and_revoked_from_the_command_line(
    engine: Engine, browser: TestClient, auth_settings: Settings
) -> None:
    env = {"OPENAMR_DATABASE_URL": auth_settings.database_url}
    first = _run(env, "gateway", "add", "gw-7", "--customer", "Hem AB").strip().splitlines()[-1]

    def post(token: str) -> int:
        return browser.post(
            "/api/v1/telegrams",
            json={"telegrams": []},
            headers={"Authorization": f"Bearer {token}"},
        ).status_code

    assert post(first) not in (401, 403)
    second = _run(env, "gateway", "token", "gw-7").strip().splitlines()[-1]
    assert second != first
    assert post(first) == 401
    assert post(second) not in (401, 403)
    assert "revoked" in _run(env, "gateway", "revoke", "gw-7")
    assert post(second) == 401
    missing = CliRunner().invoke(main, ["gateway", "token", "gw-8"], env=env)
    assert missing.exit_code == 1
    assert "no gateway 'gw-8'" in missing.output
    actions = [e.action for e in _events(engine)]
    assert {"gateway.register", "gateway.token_issue", "gateway.token_revoke"} <= set(actions)
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT token_hash FROM gateway")).scalars().all()
    assert stored == [None]
