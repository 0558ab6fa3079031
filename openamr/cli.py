"""The `openamr` command: migrate, import, export, re-process, serve, and the demo."""

from __future__ import annotations

import csv
import gc
import getpass
import io
import sys
from datetime import date
from pathlib import Path
from typing import IO, Any

import click
from sqlalchemy.engine import Engine

from openamr.access import AccessContext
from openamr.collect.portfolio import UnableToReadFile, import_portfolio, read_portfolio_csv
from openamr.collect.readings import (
    IngestReport,
    ReadingIngest,
    UnableToReadReadings,
    read_readings_csv,
)
from openamr.collect.reprocess import list_unresolved, reprocess_rejected
from openamr.db import create_engine
from openamr.present.series import UnableToReadValues, point_series
from openamr.settings import InvalidSettings, Settings
from openamr.store import migrations, queries
from openamr.timeutil import utc_now
from openamr.units import Medium
from openamr.validate import Resolution


class Context:
    """Settings and engine, built once per command from the environment."""

    def __init__(self) -> None:
        try:
            self.settings = Settings.from_env()
        except InvalidSettings as exc:
            raise click.UsageError(str(exc)) from None
        self._engine: Engine | None = None
        # The command line is an operator of the installation; audit entries name its user.
        self.access = AccessContext.operator(actor=f"cli:{getpass.getuser()}")

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = create_engine(self.settings)
        return self._engine

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()


pass_context = click.make_pass_decorator(Context)


@click.group()
@click.version_option(package_name="openamr")
@click.pass_context
def main(click_context: click.Context) -> None:
    """openamr: meter readings in, exact hourly values out."""
    context = click_context.ensure_object(Context)
    click_context.call_on_close(context.close)


@main.command()
@pass_context
def migrate(ctx: Context) -> None:
    """Create or upgrade the database schema."""
    migrations.upgrade(ctx.engine)
    click.echo(f"database at revision {migrations.current_revision(ctx.engine)}")


@main.group(name="import")
def import_() -> None:
    """Load the installation register or register readings from CSV files."""


@import_.command(name="portfolio")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_context
def import_portfolio_command(ctx: Context, file: Path) -> None:
    """Load meter installations: customer,property,entrance,apartment,medium,meter,..."""
    _require_schema(ctx)
    with file.open(encoding="utf-8-sig", newline="") as stream:
        try:
            report = import_portfolio(
                ctx.engine,
                read_portfolio_csv(stream),
                access=ctx.access,
                source=f"file:{file.name}",
                time_zone=ctx.settings.default_time_zone,
                now=utc_now(),
            )
        except UnableToReadFile as exc:
            raise click.ClickException(f"{file}: {exc}") from None
    created = ", ".join(f"{count} {what}" for what, count in sorted(report.created.items()))
    click.echo(f"{report.rows} rows read; created: {created or 'nothing new'}")
    _print_errors(file, report.errors)
    if report.errors:
        sys.exit(1)


@import_.command(name="readings")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_context
def import_readings_command(ctx: Context, file: Path) -> None:
    """Load register readings: meter,timestamp,value,unit."""
    _require_schema(ctx)
    ingest = ReadingIngest(
        ctx.engine,
        access=ctx.access,
        source=f"file:{file.name}",
        now=utc_now(),
        max_errors=ctx.settings.max_errors_reported,
    )
    size = file.stat().st_size
    with (
        file.open("rb") as raw,
        click.progressbar(length=size, label="readings", file=sys.stderr, show_pos=False) as bar,
    ):
        counting = _CountingReader(raw)
        text = io.TextIOWrapper(io.BufferedReader(counting), encoding="utf-8-sig", newline="")
        batch = []
        try:
            for item in read_readings_csv(text):
                batch.append(item)
                if len(batch) >= ctx.settings.ingest_batch_size:
                    ingest.add_batch(batch)
                    batch = []
                    bar.update(counting.consumed - bar.pos)
            ingest.add_batch(batch)
        except (UnableToReadReadings, UnicodeDecodeError) as exc:
            raise click.ClickException(f"{file}: {exc}") from None
        bar.update(size - bar.pos)
    _print_ingest(file, ingest.report)


@main.group()
def export() -> None:
    """Print values as CSV."""


@export.command(name="values")
@click.option("--property", "designation", required=True, help="Property designation.")
@click.option("--entrance", default=None, help="Entrance address; optional if unambiguous.")
@click.option(
    "--apartment", default=None, help="Lägenhetsnummer; omit for the property-level point."
)
@click.option("--medium", type=click.Choice([m.value for m in Medium]), required=True)
@click.option(
    "--resolution",
    type=click.Choice([r.value for r in Resolution]),
    default="hour",
    show_default=True,
)
@click.option("--from", "first_day", type=click.DateTime(["%Y-%m-%d"]), required=True)
@click.option(
    "--to", "end_day", type=click.DateTime(["%Y-%m-%d"]), required=True, help="Exclusive."
)
@pass_context
def export_values(
    ctx: Context,
    designation: str,
    entrance: str | None,
    apartment: str | None,
    medium: str,
    resolution: str,
    first_day: Any,
    end_day: Any,
) -> None:
    """One row per hour, day or month: start,end,value,unit,status."""
    _require_schema(ctx)
    with ctx.engine.connect() as conn:
        properties = queries.list_properties(conn, access=ctx.access, designation=designation)
        if not properties:
            raise click.ClickException(f"no property {designation!r}")
        if len(properties) > 1:
            raise click.ClickException(f"more than one property is called {designation!r}")
        prop = properties[0]
        if apartment is None:
            points = queries.list_metering_points(
                conn, access=ctx.access, property_id=prop.id, property_level=True, medium=medium
            )
            where = f"property {designation}"
        else:
            apartments = queries.list_apartments(
                conn,
                access=ctx.access,
                property_id=prop.id,
                entrance_address=entrance,
                number=apartment,
            )
            if not apartments:
                raise click.ClickException(f"no apartment {apartment} in {designation}")
            if len(apartments) > 1:
                entrances = ", ".join(a.entrance for a in apartments)
                raise click.ClickException(
                    f"apartment {apartment} exists at several entrances ({entrances}); "
                    "name one with --entrance"
                )
            points = queries.list_metering_points(
                conn, access=ctx.access, apartment_id=apartments[0].id, medium=medium
            )
            where = f"apartment {apartment} in {designation}"
        if not points:
            raise click.ClickException(f"no {medium} metering point at {where}")
        try:
            series = point_series(
                conn,
                points[:1],
                first_day=_day(first_day),
                end_day=_day(end_day),
                resolution=Resolution(resolution),
            )
        except UnableToReadValues as exc:
            raise click.ClickException(str(exc)) from None
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(("start", "end", "value", "unit", "status"))
    for value in series[0].values:
        writer.writerow(
            (
                value.start_at.isoformat(),
                value.end_at.isoformat(),
                "" if value.value is None else value.value,
                series[0].unit,
                value.status.value,
            )
        )


@main.command()
@pass_context
def reprocess(ctx: Context) -> None:
    """Try rejected readings again, after a meter was added or a cause fixed."""
    _require_schema(ctx)
    report = reprocess_rejected(
        ctx.engine, access=ctx.access, now=utc_now(), batch_size=ctx.settings.ingest_batch_size
    )
    click.echo(
        f"{report.received} rejected readings tried: {report.stored} stored, "
        f"{report.duplicates} already there, {report.rejected} still rejected"
    )


@main.command()
@click.option("--limit", default=100, show_default=True, help="How many to list.")
@pass_context
def rejected(ctx: Context, limit: int) -> None:
    """List input that could not be used and is waiting for `openamr reprocess`."""
    _require_schema(ctx)
    with ctx.engine.connect() as conn:
        rows = list_unresolved(conn, access=ctx.access, limit=limit)
    for row in rows:
        where = f"{row.source.removeprefix('file:')}:{row.line}" if row.line else row.source
        click.echo(f"{row.received_at.isoformat()}  {row.kind:<12} {where}: {row.reason}")
    if not rows:
        click.echo("nothing is waiting")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@pass_context
def serve(ctx: Context, host: str, port: int) -> None:
    """Serve the web API."""
    _require_schema(ctx)
    _serve(ctx, host=host, port=port)


@main.command()
@click.option("--serve/--no-serve", "then_serve", default=False, help="Serve it afterwards.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--scale", default=1.0, show_default=True, help="Portfolio size factor.")
@click.option("--seed", default=2026, show_default=True)
@pass_context
def demo(ctx: Context, then_serve: bool, host: str, port: int, scale: float, seed: int) -> None:
    """Build the demo portfolio (once) and optionally serve it."""
    from openamr.demo.load import load_demo

    migrations.upgrade(ctx.engine)
    cases = load_demo(
        ctx.engine,
        access=ctx.access,
        settings=ctx.settings,
        now=utc_now(),
        seed=seed,
        scale=scale,
        progress=lambda message: click.echo(message, err=True),
    )
    if then_serve:
        _serve(ctx, host=host, port=port, demo_cases=cases)


def _serve(ctx: Context, *, host: str, port: int, demo_cases: Any = ()) -> None:
    import uvicorn

    from openamr.app import create_app

    app = create_app(ctx.settings, engine=ctx.engine, demo_cases=demo_cases)
    # What start-up built lives as long as the server: keep it out of the cyclic
    # collector's scans, which otherwise make the slowest reads several times slower.
    gc.collect()
    gc.freeze()
    click.echo(f"openamr serving at http://{host}:{port}/ (API documentation at /docs)", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")


def _require_schema(ctx: Context) -> None:
    if migrations.current_revision(ctx.engine) != migrations.head_revision():
        raise click.ClickException("the database schema is not up to date; run `openamr migrate`")


def _day(value: Any) -> date:
    result: date = value.date()
    return result


def _print_errors(file: Path, errors: Any) -> None:
    for error in errors:
        click.echo(f"{file}:{error.line}: {error.reason}", err=True)


def _print_ingest(file: Path, report: IngestReport) -> None:
    click.echo(
        f"{report.received} readings read: {report.stored} stored, {report.duplicates} "
        f"already stored, {report.revised} revised, {report.rejected} rejected; "
        f"{report.hours_written} hourly values written"
    )
    _print_errors(file, report.errors)
    if report.rejected > len(report.errors):
        click.echo(f"... and {report.rejected - len(report.errors)} more rejected", err=True)
    if report.rejected:
        click.echo("rejected readings are kept; `openamr reprocess` tries them again", err=True)


class _CountingReader(io.RawIOBase):
    """A binary reader that counts the bytes consumed, for the progress bar."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self.consumed = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        buffer[: len(data)] = data
        self.consumed += len(data)
        return len(data)
