"""Load the generated demo portfolio through the same paths real data takes."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from openamr.access import AccessContext
from openamr.collect.portfolio import import_portfolio
from openamr.collect.readings import ReadingIngest, ReadingInput
from openamr.demo.generate import DemoCase, DemoPortfolio, InstallationRow, generate_demo
from openamr.settings import Settings
from openamr.store import portfolio as register
from openamr.store import queries
from openamr.store.customers import list_customers
from openamr.store.prices import set_price
from openamr.store.schema import property_


def load_demo(
    engine: Engine,
    *,
    access: AccessContext,
    settings: Settings,
    now: datetime,
    seed: int = 2026,
    scale: float = 1.0,
    progress: Callable[[str], None] = lambda _message: None,
) -> list[DemoCase]:
    """Generate and load the demo unless the database holds a portfolio already; its cases."""
    end = now.replace(minute=0, second=0, microsecond=0)
    portfolio = generate_demo(seed=seed, end=end, scale=scale)
    with engine.connect() as conn:
        if conn.execute(sa.select(property_.c.id).limit(1)).first() is not None:
            progress("the database holds a portfolio already; the demo is not loaded again")
            return portfolio.cases
    started = time.monotonic()
    report = import_portfolio(
        engine,
        enumerate(map(_installation_row, portfolio.installations), start=2),
        access=access,
        source="demo",
        time_zone=settings.default_time_zone,
        now=now,
    )
    if report.errors:
        raise RuntimeError(f"the demo portfolio does not load: {report.errors[0].reason}")
    _add_tenancies(engine, portfolio, access=access)
    _add_prices(engine, access=access, now=now)
    progress(f"portfolio: {len(portfolio.installations)} meter installations")
    ingest = ReadingIngest(engine, access=access, source="demo", now=now, keep_rejected=True)
    ingest.add_all(_readings(portfolio), batch_size=settings.ingest_batch_size)
    result = ingest.report
    progress(
        f"readings: {result.stored} stored, {result.hours_written} hourly values, "
        f"{result.rejected} rejected, in {time.monotonic() - started:.0f} s"
    )
    return portfolio.cases


def _installation_row(item: InstallationRow) -> dict[str, str]:
    """The row as a property owner's spreadsheet would have it."""
    return {
        "customer": item.customer,
        "property": item.property,
        "entrance": item.entrance,
        "apartment": item.apartment,
        "medium": item.medium,
        "meter": item.meter,
        "register_unit": item.register_unit,
        "register_digits": str(item.register_digits),
        "installed_at": item.installed_at.isoformat(),
        "removed_at": item.removed_at.isoformat() if item.removed_at else "",
    }


def _readings(portfolio: DemoPortfolio) -> Iterator[ReadingInput]:
    # The generator's aware datetime goes in as it is, as a telegram decoder's does:
    # written out as ISO text only to be parsed again, it cost seconds of the load.
    for row in portfolio.readings():
        yield ReadingInput(None, row.meter, row.timestamp, row.value, row.unit)


def _add_tenancies(engine: Engine, portfolio: DemoPortfolio, *, access: AccessContext) -> None:
    with engine.begin() as conn:
        properties = {p.designation: p for p in queries.list_properties(conn, access=access)}
        for tenancy in portfolio.tenancies:
            prop = properties[tenancy.property]
            apartment = queries.list_apartments(
                conn,
                access=access,
                property_id=prop.id,
                entrance_address=tenancy.entrance,
                number=tenancy.apartment,
            )[0]
            register.add_tenancy(
                conn,
                customer_id=apartment.customer_id,
                apartment_id=apartment.id,
                start_at=tenancy.start_at,
                end_at=tenancy.end_at,
            )


# Demo prices (SEK per kWh or m3, in millionths): electricity changes two months ago,
# so that the year on the household's page is priced at two prices.
_DEMO_PRICES = (
    ("electricity", "kWh", 1_850_000, 2_150_000),
    ("heat", "kWh", 950_000, 950_000),
    ("hot_water", "m3", 65_000_000, 65_000_000),
    ("cold_water", "m3", 25_000_000, 25_000_000),
)


def _add_prices(engine: Engine, *, access: AccessContext, now: datetime) -> None:
    first = date(now.year - 2, 1, 1)
    changed = (now.date() - timedelta(days=60)).replace(day=1)
    with engine.begin() as conn:
        for customer in list_customers(conn, access=access):
            for medium, unit, before, after in _DEMO_PRICES:
                changes = (
                    ((first, before), (changed, after)) if after != before else ((first, before),)
                )
                for valid_from, micro in changes:
                    set_price(
                        conn,
                        access=access,
                        customer_id=customer.id,
                        medium=medium,
                        valid_from=valid_from,
                        micro_per_unit=micro,
                        unit=unit,
                        now=now,
                    )


__all__ = ["load_demo"]
