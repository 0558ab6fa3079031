"""Small builders shared by the tests: a portfolio CSV, readings, an import in one call."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from io import StringIO

from sqlalchemy.engine import Engine

from openamr.access import AccessContext
from openamr.collect.portfolio import PortfolioReport, import_portfolio, read_portfolio_csv
from openamr.collect.readings import IngestReport, ReadingInput, record_readings

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
