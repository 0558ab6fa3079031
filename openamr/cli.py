"""The `openamr` command: migrate, import, export, re-process, serve, and the demo."""

from __future__ import annotations

import csv
import gc
import getpass
import io
import sys
from collections.abc import Iterator
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
    ReadingInput,
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
    """Load meter installations: customer,property,entrance,apartment,medium,meter,...

    Optional columns: manufacturer (M-Bus code such as KAM) and key (the meter's
    AES-128 key in 32 hex digits, sealed under the master key).
    """
    from openamr.guard.keyring import Keyring

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
                keyring=Keyring.from_settings(ctx.settings),
            )
        except UnableToReadFile as exc:
            raise click.ClickException(f"{file}: {exc}") from None
    created = ", ".join(f"{count} {what}" for what, count in sorted(report.created.items()))
    keys = f"; {report.keys_set} meter keys set" if report.keys_set else ""
    click.echo(f"{report.rows} rows read; created: {created or 'nothing new'}{keys}")
    _print_errors(file, report.errors)
    _reprocess_telegrams(ctx)
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

        def rows() -> Iterator[ReadingInput]:
            for number, item in enumerate(read_readings_csv(text)):
                if number % 10_000 == 0:
                    bar.update(counting.consumed - bar.pos)
                yield item

        try:
            ingest.add_all(rows(), batch_size=ctx.settings.ingest_batch_size)
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
    """Try rejected readings and waiting telegrams again, after a cause was fixed."""
    _require_schema(ctx)
    _reprocess_rejected_telegrams(ctx)
    report = reprocess_rejected(
        ctx.engine, access=ctx.access, now=utc_now(), batch_size=ctx.settings.ingest_batch_size
    )
    click.echo(
        f"{report.received} rejected readings tried: {report.stored} stored, "
        f"{report.duplicates} already there, {report.rejected} still rejected"
    )
    _reprocess_telegrams(ctx, always=True)


def _reprocess_rejected_telegrams(ctx: Context) -> int:
    from openamr.collect.reprocess import reprocess_rejected_telegrams
    from openamr.collect.telegrams import build_telegram_ingest

    used = reprocess_rejected_telegrams(
        ctx.engine,
        build_telegram_ingest(ctx.engine, ctx.settings),
        access=ctx.access,
        now=utc_now(),
    )
    if used:
        click.echo(f"{used} rejected telegram items stored now")
    return used


def _reprocess_telegrams(ctx: Context, *, always: bool = False) -> None:
    """Telegrams whose cause is gone (a meter now in the register, a key set) are decoded."""
    from openamr.collect.telegrams import build_telegram_ingest

    report = build_telegram_ingest(ctx.engine, ctx.settings).reprocess_fixed()
    tried = report.decoded + report.unassigned + report.failed
    if tried or always:
        click.echo(
            f"{tried} waiting telegrams tried: {report.decoded} decoded "
            f"({report.readings} readings), {report.unassigned} still unassigned, "
            f"{report.failed} still failing"
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


@main.group()
def gateway() -> None:
    """Register gateways and see how they do."""


@gateway.command(name="add")
@click.argument("identity")
@click.option("--customer", required=True, help="The customer the gateway belongs to.")
@click.option("--property", "designation", default=None, help="The property it stands in.")
@pass_context
def gateway_add(ctx: Context, identity: str, customer: str, designation: str | None) -> None:
    """Register a gateway (or renew its token); prints the token, once."""
    from openamr.collect.gateways import UnableToRegisterGateway, register_gateway

    _require_schema(ctx)
    try:
        _gateway, token = register_gateway(
            ctx.engine,
            customer=customer,
            identity=identity,
            property_designation=designation,
            access=ctx.access,
            now=utc_now(),
        )
    except UnableToRegisterGateway as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"gateway {identity} registered for {customer}")
    _reprocess_rejected_telegrams(ctx)
    click.echo("its token, shown only now (send it as `Authorization: Bearer <token>`):")
    click.echo(token)


@gateway.command(name="list")
@pass_context
def gateway_list(ctx: Context) -> None:
    """Gateways: last seen, telegrams in the last hour and day, devices heard."""
    from openamr.store.telegrams import list_gateways

    _require_schema(ctx)
    with ctx.engine.connect() as conn:
        rows = list_gateways(conn, access=ctx.access, now=utc_now())
    for row in rows:
        seen = row.last_seen_at.isoformat() if row.last_seen_at else "never"
        click.echo(
            f"{row.identity:<24} last seen {seen:<25} {row.telegrams_last_hour:>6} this hour "
            f"{row.telegrams_last_day:>8} today ({row.duplicates_last_day} repeated) "
            f"{row.devices_heard_last_day:>5} devices"
        )
    if not rows:
        click.echo("no gateways; add one with `openamr gateway add`")


@main.command()
@click.option("--unassigned", is_flag=True, help="Only devices the register does not know.")
@pass_context
def devices(ctx: Context, unassigned: bool) -> None:
    """Devices heard by the gateways: latest signal, status, flags and clock drift."""
    from openamr.store.telegrams import list_heard_devices

    _require_schema(ctx)
    with ctx.engine.connect() as conn:
        rows = list_heard_devices(conn, access=ctx.access, unassigned_only=unassigned)
    for row in rows:
        meter = f"meter {row.meter_id}" if row.meter_id is not None else "UNASSIGNED"
        drift = "" if row.clock_drift_s is None else f" clock {row.clock_drift_s:+d} s"
        flags = f" flags {','.join(row.flags)}" if row.flags else ""
        rssi = "?" if row.rssi is None else str(row.rssi)
        click.echo(
            f"{row.manufacturer} {row.device_id}  {meter:<12} {row.medium or '':<14} "
            f"last {row.last_seen_at.isoformat()}  {rssi} dBm  "
            f"{row.telegrams} telegrams via {row.gateways} gateway(s){drift}{flags}"
        )
    if not rows:
        click.echo("no devices heard" + (" that are unassigned" if unassigned else ""))


@main.group()
def collect() -> None:
    """Collect telegrams from gateways."""


@collect.command(name="mqtt")
@click.option(
    "--broker",
    envvar="OPENAMR_MQTT_URL",
    default="mqtt://127.0.0.1:1883",
    show_default=True,
    help="The broker, mqtt://[user:password@]host[:port] (or $OPENAMR_MQTT_URL).",
)
@click.option(
    "--topic",
    envvar="OPENAMR_MQTT_TOPIC",
    default="openamr/gateways/+/telegrams",
    show_default=True,
    help="Topic filter; its one '+' level is the gateway's identity.",
)
@click.option(
    "--client-id",
    envvar="OPENAMR_MQTT_CLIENT_ID",
    default="openamr-collector",
    show_default=True,
    help="Fixed, so the broker keeps the session (and unacknowledged messages) across restarts.",
)
@pass_context
def collect_mqtt(ctx: Context, broker: str, topic: str, client_id: str) -> None:
    """Subscribe to gateways' telegrams; acknowledge each message once it is stored."""
    import signal
    import threading
    from urllib.parse import urlsplit

    from openamr.collect.mqtt import MqttCollector, MqttOptions, UnableToCollect
    from openamr.collect.telegrams import build_telegram_ingest

    _require_schema(ctx)
    url = urlsplit(broker)
    if url.scheme not in ("mqtt", "tcp") or not url.hostname:
        raise click.UsageError(f"--broker must be mqtt://host[:port], not {broker!r}")
    options = MqttOptions(
        host=url.hostname,
        port=url.port or 1883,
        topic=topic,
        client_id=client_id,
        username=url.username,
        password=url.password,
    )
    try:
        collector = MqttCollector(
            build_telegram_ingest(ctx.engine, ctx.settings), options, clock=utc_now
        )
    except UnableToCollect as exc:
        raise click.UsageError(str(exc)) from None
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    click.echo(f"collecting {topic} from {url.hostname}:{options.port}", err=True)
    collector.run(stop)


@main.command(name="decode")
@click.argument("telegram", nargs=-1, required=True)
@click.option("--key", "key_hex", default=None, help="The meter's AES-128 key, 32 hex digits.")
@click.option(
    "--pre-decrypted",
    is_flag=True,
    help="Accept a payload the gateway already decrypted (the header still says encrypted).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def decode_command(
    telegram: tuple[str, ...], key_hex: str | None, pre_decrypted: bool, as_json: bool
) -> None:
    """Decode one M-Bus or wireless M-Bus telegram given in hex (spaces allowed)."""
    import json

    from openamr.collect.mbus.model import UnableToDecodeTelegram
    from openamr.collect.mbus.render import telegram_as_json, telegram_as_table
    from openamr.collect.mbus.telegram import decode_hex, parse_hex

    key = None
    if key_hex is not None:
        try:
            key = parse_hex(key_hex)
        except UnableToDecodeTelegram as exc:
            raise click.BadParameter(exc.reason, param_hint="--key") from None
        if len(key) != 16:
            raise click.BadParameter(f"{len(key)} bytes; AES-128 needs 16", param_hint="--key")
    try:
        decoded = decode_hex(" ".join(telegram), key=key, allow_pre_decrypted=pre_decrypted)
    except UnableToDecodeTelegram as exc:
        raise click.ClickException(f"{exc.cause}: {exc.reason}") from None
    if as_json:
        click.echo(json.dumps(telegram_as_json(decoded), ensure_ascii=False, indent=2))
    else:
        click.echo(telegram_as_table(decoded))


@main.group()
def keys() -> None:
    """Meter keys, sealed under the master keys from OPENAMR_MASTER_KEYS or its file."""


@keys.command(name="rewrap")
@pass_context
def keys_rewrap(ctx: Context) -> None:
    """Re-seal every meter's data key under the current (first) master key.

    Run after adding a new master key first; when it reports nothing left under
    an older key, that key can be removed from the configuration.
    """
    from openamr.guard.keyring import Keyring, NoMasterKey, rewrap_stored_keys

    _require_schema(ctx)
    keyring = Keyring.from_settings(ctx.settings)
    try:
        report = rewrap_stored_keys(ctx.engine, keyring)
    except NoMasterKey as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"{report.rewrapped} keys re-wrapped under master key {keyring.current_id!r}, "
        f"{report.already_current} already under it, {report.changed_meanwhile} set anew "
        f"meanwhile, {len(report.unopened)} could not be opened"
    )
    for meter_id, reason in sorted(report.unopened.items()):
        click.echo(f"meter {meter_id}: {reason}", err=True)
    if report.unopened:
        click.echo("keep the older master keys configured until these are resolved", err=True)
        sys.exit(1)


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
