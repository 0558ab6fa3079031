"""The database core: one metadata with a naming convention, the engine factory, portable types.

openamr runs on SQLite (the embedded default) and PostgreSQL. Every difference
between the two lives here or in a commented branch of the one statement that
needs it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect, Engine

from openamr.settings import Settings

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)

# Row ids are 32-bit integers on both databases: a larger number names no row
# (and PostgreSQL refuses to compare one with an integer column).
MAX_ROW_ID = 2**31 - 1


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """An aware UTC instant, whole seconds.

    PostgreSQL keeps it as `timestamptz`. SQLite has no time type, so it is kept
    as integer seconds since the epoch: compact, fast to index and compare, and
    free of the string formats SQLite would otherwise mix.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.BigInteger())
        return dialect.type_descriptor(sa.DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()} given where UTC is required")
        if dialect.name == "sqlite":
            return to_epoch(value)
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return from_epoch(int(value))
        assert isinstance(value, datetime)
        return value.astimezone(UTC)


def to_epoch(moment: datetime) -> int:
    """Whole seconds since 1970-01-01 UTC for an aware datetime."""
    return int(moment.timestamp())


def from_epoch(seconds: int) -> datetime:
    """The aware UTC datetime for whole seconds since the epoch."""
    return datetime.fromtimestamp(seconds, UTC)


def create_engine(settings: Settings) -> Engine:
    """The engine for the configured database, with each dialect set up the same way."""
    url = sa.engine.make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        path = url.database
        if path and path != ":memory:":
            from pathlib import Path

            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30})
        sa.event.listen(engine, "connect", _configure_sqlite)
    else:
        engine = sa.create_engine(url, pool_pre_ping=True)
        sa.event.listen(engine, "connect", _configure_postgresql)
    return engine


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the web server read while an import writes; NORMAL is durable in WAL mode
    # except for the last transactions before a power loss, which a re-sent batch restores.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    # Imports touch pages all over the hourly table; a 64 MiB page cache (instead
    # of 2 MiB) keeps them in memory between the statements of a batch.
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.close()


def _configure_postgresql(dbapi_connection: Any, _record: Any) -> None:
    # Times leave the database in UTC whatever the server's default, so that
    # nothing depends on where the server happens to run.
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SET TIME ZONE 'UTC'")
    dbapi_connection.commit()


def is_sqlite(engine_or_connection: Engine | sa.Connection) -> bool:
    """True on the embedded database."""
    return engine_or_connection.dialect.name == "sqlite"


@contextmanager
def durable_transaction(engine: Engine) -> Iterator[sa.Connection]:
    """A transaction whose commit is on disk when it returns, even on SQLite.

    SQLite runs with `synchronous=NORMAL` (see _configure_sqlite): in WAL mode a
    commit survives a crash of the process but not of the machine. What is
    acknowledged to a sender that will not send it again (an MQTT message, a
    gateway's batch) is committed with `synchronous=FULL` instead. PostgreSQL
    commits durably by default.
    """
    with engine.connect() as conn:
        sqlite = is_sqlite(conn)
        if sqlite:
            conn.exec_driver_sql("PRAGMA synchronous=FULL")
            conn.commit()
        try:
            with conn.begin():
                yield conn
        finally:
            if sqlite:
                conn.exec_driver_sql("PRAGMA synchronous=NORMAL")
                conn.commit()
