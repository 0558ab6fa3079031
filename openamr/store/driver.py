"""Talking to the database driver directly, for the statements on the hot path.

SQLAlchemy compiles and processes every row; for the few statements that move
millions of rows or change shape with every batch, that cost more than the
database's own work, so they are written here at the driver's level, with the
dialect differences kept in this module.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.compiler import SQLCompiler

from openamr.db import from_epoch, is_sqlite

# Rows per statement where a list of keys is sent as a VALUES table; well under
# SQLite's and PostgreSQL's limits on bound parameters.
CHUNK = 1000


def placeholder(conn: sa.Connection) -> str:
    """The driver's parameter marker: `?` for sqlite3, `%s` for psycopg."""
    return "?" if is_sqlite(conn) else "%s"


def instants(conn: sa.Connection, *moments: datetime) -> tuple[object, ...]:
    """Instants as the driver binds them: epoch seconds on SQLite (see db.UTCDateTime)."""
    if is_sqlite(conn):
        return tuple(int(moment.timestamp()) for moment in moments)
    return moments


def instant(conn: sa.Connection, value: object) -> datetime:
    """An instant as the driver returns it, as an aware UTC datetime."""
    if is_sqlite(conn):
        assert isinstance(value, int)
        return from_epoch(value)
    assert isinstance(value, datetime)
    return value if value.tzinfo is UTC else value.astimezone(UTC)


def ranges_table(
    conn: sa.Connection, ranges: Sequence[tuple[int, datetime, datetime]], key: str
) -> Iterator[tuple[str, tuple[object, ...]]]:
    """(id, lo, hi) ranges as a `WITH wanted (<key>, lo, hi) AS (…)` clause, in chunks.

    Yields the WITH clause and its parameters; the caller appends its SELECT.
    On PostgreSQL the whole list goes as three arrays through `unnest`: one
    short statement whatever the batch, which psycopg converts once and caches,
    where a VALUES list of thousands of placeholders was split by a regular
    expression in Python on every call (the largest cost of time-ordered ingest).
    """
    if not is_sqlite(conn):
        if ranges:
            ids, los, his = zip(*ranges, strict=True)
            yield (
                f"WITH wanted ({key}, lo, hi) AS (SELECT * FROM "  # noqa: S608 (a column name)
                "unnest(%s::bigint[], %s::timestamptz[], %s::timestamptz[])) ",
                (list(ids), list(los), list(his)),
            )
        return
    for start in range(0, len(ranges), CHUNK):
        chunk = ranges[start : start + CHUNK]
        rows = ", ".join(["(?, ?, ?)"] * len(chunk))
        params = tuple(
            value for ident, lo, hi in chunk for value in (ident, *instants(conn, lo, hi))
        )
        yield f"WITH wanted ({key}, lo, hi) AS (VALUES {rows}) ", params


def execute_many(
    conn: sa.Connection, statement: sa.ClauseElement, rows: Sequence[Mapping[str, Any]]
) -> None:
    """Run a Core statement once per row through the driver's own executemany.

    SQLAlchemy's executemany processes every row's parameters through its
    generic machinery, which cost several times the database's own work for
    the thousands of small upserts and updates a batch of telegrams makes.
    Here the statement is compiled once, each column type's bind processor is
    looked up once, and the driver gets plain tuples (or dicts, for psycopg).
    """
    if not rows:
        return
    dialect = conn.dialect
    compiled = statement.compile(dialect=dialect)
    assert isinstance(compiled, SQLCompiler)
    fixed = {name: bind.effective_value for name, bind in compiled.binds.items()}
    processors = {
        name: processor
        for name, bind in compiled.binds.items()
        if (processor := bind.type.bind_processor(dialect)) is not None
    }
    positional = compiled.positiontup
    names = list(positional) if positional is not None else list(fixed)
    prepared = []
    for row in rows:
        values = []
        for name in names:
            value = row[name] if name in row else fixed[name]
            processor = processors.get(name)
            values.append(
                processor(value) if processor is not None and value is not None else value
            )
        prepared.append(values)
    if positional is not None:
        conn.exec_driver_sql(compiled.string, [tuple(values) for values in prepared])
    else:
        conn.exec_driver_sql(
            compiled.string, [dict(zip(names, values, strict=True)) for values in prepared]
        )
