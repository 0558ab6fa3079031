"""Scratch databases: fresh SQLite files or PostgreSQL databases, dropped when the run ends."""

from __future__ import annotations

import secrets
import shutil
import sqlite3
from abc import ABC, abstractmethod
from contextlib import closing
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import psycopg
import sqlalchemy as sa

from openamr.db import create_engine
from openamr.settings import Settings

DATABASES = ("sqlite", "postgresql")


class Scratch(ABC):
    """Creates databases of one kind for one run and drops every one of them at the end."""

    kind: str

    def __init__(self) -> None:
        self._live: list[str] = []

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self.drop_all()

    @abstractmethod
    def create(self, label: str, *, template: str | None = None) -> str:
        """A new empty database (or a copy of `template`, a URL from `create`); its URL."""

    @abstractmethod
    def drop(self, url: str) -> None:
        """Remove a database made by `create`."""

    @abstractmethod
    def connect_raw(self, url: str) -> Any:
        """A bare driver connection, set up the way openamr sets up its own."""

    @abstractmethod
    def size_bytes(self, url: str) -> int:
        """How much disk the database takes."""

    def engine(self, url: str, **settings: Any) -> sa.Engine:
        """openamr's engine for the database, as the API and the command line build it."""
        return create_engine(Settings(database_url=url, **settings))

    def drop_all(self) -> None:
        for url in list(reversed(self._live)):
            self.drop(url)

    def _name(self, label: str) -> str:
        return f"openamr_bench_{label}_{secrets.token_hex(4)}"


class SQLiteScratch(Scratch):
    """Database files in a temporary directory."""

    kind = "sqlite"

    def __init__(self, directory: Path) -> None:
        super().__init__()
        self.directory = directory

    def create(self, label: str, *, template: str | None = None) -> str:
        path = self.directory / f"{self._name(label)}.sqlite3"
        url = f"sqlite:///{path}"
        if template is not None:
            source = _sqlite_path(template)
            # The template's engine was disposed after a checkpoint, so the main file
            # holds everything; a leftover write-ahead log is copied all the same.
            shutil.copyfile(source, path)
            for suffix in ("-wal", "-shm"):
                extra = Path(f"{source}{suffix}")
                if extra.exists():
                    shutil.copyfile(extra, Path(f"{path}{suffix}"))
        self._live.append(url)
        return url

    def drop(self, url: str) -> None:
        path = _sqlite_path(url)
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        if url in self._live:
            self._live.remove(url)

    def connect_raw(self, url: str) -> sqlite3.Connection:
        conn = sqlite3.connect(_sqlite_path(url))
        # The same journal and durability as openamr.db configures on its connections.
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    def size_bytes(self, url: str) -> int:
        path = _sqlite_path(url)
        return sum(
            Path(f"{path}{suffix}").stat().st_size
            for suffix in ("", "-wal")
            if Path(f"{path}{suffix}").exists()
        )

    def checkpoint(self, url: str) -> None:
        """Fold the write-ahead log into the main file, so the file alone is the database."""
        with closing(sqlite3.connect(_sqlite_path(url))) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


class PostgreSQLScratch(Scratch):
    """Databases `openamr_bench_*` on a server, made and dropped through its admin database."""

    kind = "postgresql"

    def __init__(self, admin_url: str) -> None:
        super().__init__()
        self.admin_url = sa.engine.make_url(admin_url).set(drivername="postgresql")

    def _admin(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self._conninfo(self.admin_url), autocommit=True)

    def create(self, label: str, *, template: str | None = None) -> str:
        name = self._name(label)
        statement = f'CREATE DATABASE "{name}"'
        if template is not None:
            statement += f' TEMPLATE "{sa.engine.make_url(template).database}"'
        with self._admin() as conn:
            conn.execute(statement)
        url = self.admin_url.set(drivername="postgresql+psycopg", database=name)
        rendered = url.render_as_string(hide_password=False)
        self._live.append(rendered)
        return rendered

    def drop(self, url: str) -> None:
        name = sa.engine.make_url(url).database
        with self._admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if url in self._live:
            self._live.remove(url)

    def connect_raw(self, url: str) -> psycopg.Connection[Any]:
        conn = psycopg.connect(self._conninfo(sa.engine.make_url(url)))
        conn.execute("SET TIME ZONE 'UTC'")
        conn.commit()
        return conn

    def size_bytes(self, url: str) -> int:
        with self._admin() as conn:
            row = conn.execute(
                "SELECT pg_database_size(%s)", (sa.engine.make_url(url).database,)
            ).fetchone()
        return int(row[0]) if row else 0

    def server_version(self) -> str:
        with self._admin() as conn:
            row = conn.execute("SHOW server_version").fetchone()
        return str(row[0]) if row else "?"

    @staticmethod
    def _conninfo(url: sa.URL) -> str:
        return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _sqlite_path(url: str) -> str:
    database = sa.engine.make_url(url).database
    assert database, url
    return database
