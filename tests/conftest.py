"""Fixtures that chain: settings, an engine migrated with Alembic, a clean database per test.

Every test that asks for `engine` runs twice: on SQLite and on PostgreSQL. The
PostgreSQL half uses a database of its own on the local server
(OPENAMR_TEST_PG_URL, default postgresql://postgres@127.0.0.1:5432/postgres
for creating it) and fails, never skips, when the server does not answer.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from openamr.db import create_engine
from openamr.settings import Settings, normalise_database_url
from openamr.store import migrations
from openamr.store.schema import metadata

ADMIN_URL = os.environ.get("OPENAMR_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _postgresql_database() -> Iterator[str]:
    admin = sa.create_engine(normalise_database_url(ADMIN_URL), isolation_level="AUTOCOMMIT")
    name = f"openamr_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as exc:
        pytest.fail(f"PostgreSQL at {ADMIN_URL} does not answer: {exc}", pytrace=False)
    url = sa.engine.make_url(normalise_database_url(ADMIN_URL)).set(database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A fresh, empty database of each kind for the session."""
    if request.param == "sqlite":
        path: Path = tmp_path_factory.mktemp("sqlite") / "openamr.sqlite3"
        yield f"sqlite:///{path}"
    else:
        yield from _postgresql_database()


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, ingest_batch_size=500)


@pytest.fixture(scope="session")
def migrated_engine(settings: Settings) -> Iterator[Engine]:
    engine = create_engine(settings)
    migrations.upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def engine(migrated_engine: Engine) -> Iterator[Engine]:
    """The migrated engine, emptied after each test (code under test commits its own batches)."""
    yield migrated_engine
    with migrated_engine.begin() as connection, _audit_log_unlocked(connection):
        for table in reversed(metadata.sorted_tables):
            connection.execute(table.delete())


@contextmanager
def _audit_log_unlocked(connection: sa.Connection) -> Iterator[None]:
    """Lift the triggers that keep `audit_event` append-only, for emptying the database.

    PostgreSQL: the tests connect as a superuser, which may set
    `session_replication_role = replica` for this transaction; ordinary
    triggers (these, and the foreign-key checks, needless when every table is
    emptied) then do not fire. SQLite cannot disable a trigger: it is dropped
    and created again from the definition the database keeps.
    """
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET LOCAL session_replication_role = replica")
        yield
        return
    triggers = connection.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_event'"
    ).all()
    for name, _sql in triggers:
        connection.exec_driver_sql(f'DROP TRIGGER "{name}"')
    yield
    for _name, sql in triggers:
        connection.exec_driver_sql(sql)


def empty_database(engine: Engine) -> None:
    """Delete every row of every table, as the `engine` fixture does after each test.

    For fixtures of a wider scope (a world built once per module) to clean up after themselves.
    """
    with engine.begin() as connection, _audit_log_unlocked(connection):
        for table in reversed(metadata.sorted_tables):
            connection.execute(table.delete())
