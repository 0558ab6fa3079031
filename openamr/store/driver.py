"""Talking to the database driver directly, for the statements on the hot path.

SQLAlchemy compiles and processes every row; for the few statements that move
millions of rows or change shape with every batch, that cost more than the
database's own work, so they are written here at the driver's level, with the
dialect differences kept in this module.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from itertools import chain
from typing import Any

import sqlalchemy as sa

from openamr.db import is_sqlite

# Rows per statement where a list of keys is sent as a VALUES table; well under
# SQLite's and PostgreSQL's limits on bound parameters.
CHUNK = 1000


def pg_array(values: Iterable[int | None]) -> str:
    """Integers as the text of a PostgreSQL array, to be cast by the statement (`%s::bigint[]`).

    psycopg dumps a Python list element by element in Python (several µs each,
    and some 8 µs for a datetime); a batch's columns are sent as one string
    each instead, which the server parses in C. Times go as epoch seconds the
    same way and become `timestamptz` through `to_timestamp`.
    """
    items = values if isinstance(values, list | tuple) else list(values)
    if None not in items:
        return "{" + ",".join(map(str, items)) + "}"
    return "{" + ",".join(["NULL" if value is None else str(value) for value in items]) + "}"


def pg_text_array(values: Iterable[str | None]) -> str:
    """Texts as the text of a PostgreSQL array (`%s::text[]`), each quoted and escaped."""
    return (
        "{"
        + ",".join(
            [
                "NULL"
                if value is None
                else '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
                for value in values
            ]
        )
        + "}"
    )


def pg_bytea_array(values: Iterable[bytes]) -> str:
    """Byte strings as the text of a PostgreSQL array (`%s::bytea[]`), in hex format."""
    return "{" + ",".join(['"\\\\x' + value.hex() + '"' for value in values]) + "}"


def placeholder(conn: sa.Connection) -> str:
    """The driver's parameter marker: `?` for sqlite3, `%s` for psycopg."""
    return "?" if is_sqlite(conn) else "%s"


def instants(conn: sa.Connection, *moments: datetime) -> tuple[object, ...]:
    """Instants as the driver binds them: epoch seconds on SQLite (see db.UTCDateTime)."""
    if is_sqlite(conn):
        return tuple(int(moment.timestamp()) for moment in moments)
    return moments


def ranges_table(
    conn: sa.Connection, ranges: Sequence[tuple[int, int, int]], key: str
) -> Iterator[tuple[str, tuple[object, ...]]]:
    """(id, lo, hi) ranges, lo and hi in epoch seconds, as a `WITH wanted (<key>, lo, hi) AS (…)`
    clause whose lo and hi are of the time columns' type, in chunks.

    Yields the WITH clause and its parameters; the caller appends its SELECT.
    On PostgreSQL the whole list goes as three array texts through `unnest`
    (see pg_array): one short statement whatever the batch, which psycopg
    converts once and caches, where a VALUES list of thousands of placeholders
    was split by a regular expression in Python on every call.
    """
    if not is_sqlite(conn):
        if ranges:
            ids, los, his = zip(*ranges, strict=True)
            yield (
                f"WITH wanted ({key}, lo, hi) AS (SELECT k, to_timestamp(l), to_timestamp(h) "  # noqa: S608  # nosec B608: a column name
                "FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[]) AS u(k, l, h)) ",
                (pg_array(ids), pg_array(los), pg_array(his)),
            )
        return
    for start in range(0, len(ranges), CHUNK):
        chunk = ranges[start : start + CHUNK]
        rows = ", ".join(["(?, ?, ?)"] * len(chunk))
        yield f"WITH wanted ({key}, lo, hi) AS (VALUES {rows}) ", tuple(chain.from_iterable(chunk))


def fetch_all(
    conn: sa.Connection, statement: str, params: Sequence[object]
) -> list[tuple[Any, ...]]:
    """Run one statement of the driver's own SQL on the connection's driver; all its rows.

    SQLAlchemy's result wraps every row it hands out; for the thousands of rows a
    batch reads, that cost more than reading them.
    """
    dbapi: Any = conn.connection.driver_connection
    cursor = dbapi.cursor()
    try:
        cursor.execute(statement, params)
        rows: list[tuple[Any, ...]] = cursor.fetchall()
        return rows
    finally:
        cursor.close()
