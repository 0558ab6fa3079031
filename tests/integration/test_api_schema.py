"""schemathesis against the application's own OpenAPI schema: no 5xx, no data without credentials.

For every operation of the schema, schemathesis generates requests (valid
and invalid paths, queries and bodies) and sends them to the application,
once with no credentials and once as each kind of signed-in caller in a
world with two customers and data. Whatever it sends, the answer is never a
server error; without credentials, every route that is not one of the
public ones (signing in, the landing page, the schema) refuses with 401.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck
from sqlalchemy.engine import Engine

from openamr.access import Role
from openamr.app import create_app
from openamr.settings import MasterKey, Settings
from tests.access_world import World, build_world
from tests.conftest import empty_database
from tests.helpers import NOW, Clock, add_staff, open_session, sign_in

# Sign-in routes answer anyone: their own checks say whether a credential is good.
PUBLIC = {
    ("POST", "/api/v1/session"),
    ("POST", "/api/v1/session/totp"),
    ("DELETE", "/api/v1/session"),
    ("POST", "/api/v1/household/redeem"),
    ("POST", "/api/v1/household/redeem/passkey"),
    ("POST", "/api/v1/household/session"),
    ("POST", "/api/v1/household/session/passkey/options"),
    ("POST", "/api/v1/household/session/passkey"),
}
EXAMPLES = 6  # per operation and caller: enough to reach every route's error paths


class _Api:
    """The application on one database with the access world in it, and its callers' headers."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.world: World = build_world(engine)
        settings = Settings(
            database_url=str(engine.url),
            master_keys=(MasterKey(id="test", key=bytes(range(32))),),
        )
        self.app: FastAPI = create_app(settings, engine=engine, clock=Clock(NOW))
        self.headers: dict[str, dict[str, str]] = {"nobody": {}}
        for role in (Role.CUSTOMER_ADMIN, Role.OPERATIONS, Role.SUPPORT, Role.PLATFORM_ADMIN):
            customer = (
                self.world.customer_a if role in (Role.CUSTOMER_ADMIN, Role.OPERATIONS) else None
            )
            session = open_session(
                engine, staff_account_id=add_staff(engine, role, customer=customer)
            )
            self.headers[role.value] = {
                "Cookie": f"__Host-openamr={session.token}",
                "X-CSRF-Token": session.csrf_token,
            }
        household = sign_in(
            TestClient(self.app, base_url="https://testserver"),
            engine,
            Role.HOUSEHOLD,
            tenancy_id=self.world.tenancy_a1,
        )
        self.headers[Role.HOUSEHOLD.value] = dict(household.headers)
        self.headers["gateway"] = {"Authorization": f"Bearer {self.world.gateway_token_a}"}


@pytest.fixture(scope="module")
def api(migrated_engine: Engine) -> Iterator[_Api]:
    empty_database(migrated_engine)
    yield _Api(migrated_engine)
    empty_database(migrated_engine)


def _operations(api: _Api) -> list[Any]:
    """Every operation of the application's OpenAPI schema."""
    loaded = schemathesis.openapi.from_asgi("/openapi.json", api.app)
    return [result.ok() for result in loaded.get_all_operations()]


def _send(case: Any, headers: dict[str, str]) -> Any:
    return case.call(headers=headers, base_url="https://testserver")


def _for_every_case(api: _Api, check: Any) -> int:
    """Run `check` on generated cases of every operation; how many operations there were."""
    operations = _operations(api)
    for operation in operations:

        @hypothesis.given(case=operation.as_strategy())
        @hypothesis.settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def run(case: Any) -> None:
            check(case)

        run()
    return len(operations)


def _documented(api: _Api) -> int:
    """How many operations the application documents: each must have been exercised."""
    methods = {"get", "post", "put", "patch", "delete"}
    return sum(len(methods & set(item)) for item in api.app.openapi()["paths"].values())


def test_without_credentials_nothing_but_signing_in_answers_and_nothing_fails(api: _Api) -> None:
    def check(case: Any) -> None:
        response = _send(case, api.headers["nobody"])
        assert response.status_code < 500, (case.method, case.path, response.text)
        if (case.method.upper(), case.path) not in PUBLIC:
            assert response.status_code == 401, (case.method, case.path, response.text)

    assert _for_every_case(api, check) == _documented(api)


def test_signed_in_callers_never_make_the_server_fail(api: _Api) -> None:
    def check(case: Any) -> None:
        for caller, headers in api.headers.items():
            response = _send(case, headers)
            assert response.status_code < 500, (caller, case.method, case.path, response.text)

    assert _for_every_case(api, check) == _documented(api)
