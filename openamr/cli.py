"""The `openamr` command: migrate, import, export, re-process, serve, and the demo."""

from __future__ import annotations

import csv
import gc
import getpass
import io
import sys
from collections.abc import Iterator
from contextlib import contextmanager
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
from openamr.guard.reads import record_value_reads
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
    # One transaction: an apartment's values are read and the read is audited together.
    with ctx.engine.begin() as conn:
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
                access=ctx.access,
                first_day=_day(first_day),
                end_day=_day(end_day),
                resolution=Resolution(resolution),
            )
        except UnableToReadValues as exc:
            raise click.ClickException(str(exc)) from None
        record_value_reads(
            conn,
            ctx.access,
            points[:1],
            first_day=_day(first_day),
            end_day=_day(end_day),
            resolution=Resolution(resolution),
            now=utc_now(),
        )
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
    if not ctx.settings.master_keys:
        ctx.settings = _demo_master_key(ctx.settings)
    from openamr.demo.accounts import make_demo_sign_ins

    sign_ins = make_demo_sign_ins(
        ctx.engine, access=ctx.access, settings=ctx.settings, now=utc_now()
    )
    click.echo("Sign in as any of these (made anew by every `openamr demo`):", err=True)
    for line in sign_ins.lines:
        click.echo(f"  {line}", err=True)
    if then_serve:
        _serve(ctx, host=host, port=port, demo_cases=cases)


def _demo_master_key(settings: Settings) -> Settings:
    """The demo's own master key, in var/demo-master-keys, made on first use: demo only."""
    import dataclasses
    import os
    import secrets

    from openamr.settings import parse_master_keys

    path = Path("var") / "demo-master-keys"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
            out.write(f"demo:{secrets.token_hex(32)}\n")
        click.echo(f"made a master key for the demo only, in {path}", err=True)
    keys = parse_master_keys(path.read_text(encoding="utf-8"), source=str(path))
    return dataclasses.replace(settings, master_keys=keys)


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


@gateway.command(name="token")
@click.argument("identity")
@pass_context
def gateway_token(ctx: Context, identity: str) -> None:
    """Issue a new token for gateway IDENTITY (its old one stops working); prints it once."""
    from openamr.collect.gateways import UnableToRegisterGateway, issue_gateway_token

    _require_schema(ctx)
    try:
        token = issue_gateway_token(ctx.engine, identity=identity, access=ctx.access, now=utc_now())
    except UnableToRegisterGateway as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"gateway {identity}'s new token, shown only now (its old one no longer works):")
    click.echo(token)


@gateway.command(name="revoke")
@click.argument("identity")
@pass_context
def gateway_revoke(ctx: Context, identity: str) -> None:
    """Revoke gateway IDENTITY's token: its requests are refused until `gateway token`."""
    from openamr.collect.gateways import UnableToRegisterGateway, revoke_gateway_token

    _require_schema(ctx)
    try:
        revoke_gateway_token(ctx.engine, identity=identity, access=ctx.access, now=utc_now())
    except UnableToRegisterGateway as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"gateway {identity}'s token revoked")


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
    default=None,
    help="The broker, mqtt://[user:password@]host[:port]; default $OPENAMR_MQTT_URL, "
    "else mqtt://127.0.0.1:1883.",
)
@click.option(
    "--topic",
    default=None,
    help="Topic filter whose one '+' level is the gateway's identity; default "
    "$OPENAMR_MQTT_TOPIC, else openamr/gateways/+/telegrams.",
)
@click.option(
    "--client-id",
    default=None,
    help="Fixed, so the broker keeps the session (and unacknowledged messages) across "
    "restarts; default $OPENAMR_MQTT_CLIENT_ID, else openamr-collector.",
)
@pass_context
def collect_mqtt(
    ctx: Context, broker: str | None, topic: str | None, client_id: str | None
) -> None:
    """Subscribe to gateways' telegrams; acknowledge each message once it is stored."""
    import signal
    import threading
    from urllib.parse import urlsplit

    from openamr.collect.mqtt import MqttCollector, MqttOptions, UnableToCollect
    from openamr.collect.telegrams import build_telegram_ingest
    from openamr.settings import parse_mqtt_url

    _require_schema(ctx)
    try:
        url = urlsplit(parse_mqtt_url(broker) if broker else ctx.settings.mqtt_url)
    except InvalidSettings:
        raise click.UsageError("--broker must be mqtt://[user:password@]host[:port]") from None
    topic = topic or ctx.settings.mqtt_topic
    options = MqttOptions(
        host=url.hostname or "",
        port=url.port or 1883,
        topic=topic,
        client_id=client_id or ctx.settings.mqtt_client_id,
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


@main.group()
def audit() -> None:
    """The tamper-evident audit log: verify it, sign a checkpoint, make a signing key."""


@audit.command(name="verify")
@click.option(
    "--checkpoints",
    "checkpoint_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="A directory of exported checkpoints (default: OPENAMR_AUDIT_CHECKPOINT_DIR).",
)
@click.option(
    "--public-key",
    "public_key_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Public key file (PEM) to trust (default: OPENAMR_AUDIT_PUBLIC_KEY_FILE).",
)
@pass_context
def audit_verify(ctx: Context, checkpoint_dir: Path | None, public_key_file: Path | None) -> None:
    """Replay the audit log: the hash chain, the tree heads and the signed checkpoints.

    Exits 0 with a one-line summary when the log is intact, 1 with the first
    break (which seq, and what is wrong) otherwise.
    """
    from openamr.guard.audit_verify import verify_configured_log
    from openamr.guard.checkpoints import CheckpointError, configured_public_keys

    _require_schema(ctx)
    try:
        public_keys = configured_public_keys(ctx.settings, public_key_file=public_key_file)
    except CheckpointError as exc:
        raise click.ClickException(str(exc)) from None
    directory = checkpoint_dir or ctx.settings.audit_checkpoint_dir
    verification = verify_configured_log(
        ctx.engine, checkpoint_dir=directory, public_keys=public_keys
    )
    if verification.intact:
        unset = "" if directory else "; OPENAMR_AUDIT_CHECKPOINT_DIR is not set"
        click.echo(verification.summary() + unset)
        return
    click.echo(f"audit log NOT intact ({verification.events} events verified):")
    for problem in verification.problems:
        click.echo(f"  {problem}")
    sys.exit(1)


@audit.command(name="checkpoint")
@pass_context
def audit_checkpoint(ctx: Context) -> None:
    """Verify the log, then sign its tree head into OPENAMR_AUDIT_CHECKPOINT_DIR.

    Run it from a timer (docs/operations.md, Audit log). It signs nothing over
    a log that does not verify.
    """
    from openamr.guard.audit_verify import UnableToCheckpoint, checkpoint_log
    from openamr.guard.checkpoints import (
        CheckpointError,
        NoCheckpointDirectory,
        configured_public_keys,
        configured_signing_key,
        key_file_is_private,
    )

    _require_schema(ctx)
    settings = ctx.settings
    try:
        signing_key = configured_signing_key(settings)
        if settings.audit_checkpoint_dir is None:
            raise NoCheckpointDirectory()
        outcome = checkpoint_log(
            ctx.engine,
            signing_key=signing_key,
            public_keys=configured_public_keys(settings),
            checkpoint_dir=settings.audit_checkpoint_dir,
            now=utc_now(),
        )
    except UnableToCheckpoint as exc:
        click.echo(f"{exc}:", err=True)
        for problem in exc.problems:
            click.echo(f"  {problem}", err=True)
        sys.exit(1)
    except CheckpointError as exc:
        raise click.ClickException(str(exc)) from None
    if settings.audit_signing_key_file and not key_file_is_private(settings.audit_signing_key_file):
        click.echo(
            f"warning: {settings.audit_signing_key_file} can be read by others than its owner "
            "(chmod 600 it)",
            err=True,
        )
    if outcome.checkpoint is None:
        previous = outcome.previous
        if outcome.events == 0:
            click.echo("no events yet: nothing to sign")
        elif previous is not None and previous.tree_size == outcome.events:
            click.echo(f"nothing new since {previous.file_name} ({previous.tree_size} events)")
        else:  # another run wrote the same checkpoint meanwhile
            click.echo(f"a checkpoint over {outcome.events} events exists already")
        return
    click.echo(
        f"checkpoint over {outcome.checkpoint.tree_size} events signed by key "
        f"{outcome.checkpoint.key_id}: {outcome.path}"
    )


@audit.command(name="keygen")
@click.option(
    "--private-key",
    "private_key_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the private key (default: OPENAMR_AUDIT_SIGNING_KEY_FILE).",
)
@click.option(
    "--public-key",
    "public_key_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the public key (default: OPENAMR_AUDIT_PUBLIC_KEY_FILE).",
)
@pass_context
def audit_keygen(ctx: Context, private_key_file: Path | None, public_key_file: Path | None) -> None:
    """Make an Ed25519 key pair for signing checkpoints (private key file mode 0600).

    Keep the private key out of the database and its backups; never replaces a file.
    """
    from openamr.guard.checkpoints import CheckpointError, generate_key_pair

    private = private_key_file or ctx.settings.audit_signing_key_file
    public = public_key_file or ctx.settings.audit_public_key_file
    if private is None or public is None:
        raise click.UsageError(
            "name both files: --private-key and --public-key, or OPENAMR_AUDIT_SIGNING_KEY_FILE "
            "and OPENAMR_AUDIT_PUBLIC_KEY_FILE"
        )
    try:
        new_key_id = generate_key_pair(private, public)
    except CheckpointError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"key {new_key_id}: private key {private} (mode 0600), public key {public}")
    click.echo(f"OPENAMR_AUDIT_SIGNING_KEY_FILE={private}")
    click.echo(f"OPENAMR_AUDIT_PUBLIC_KEY_FILE={public}")


@main.group()
def customer() -> None:
    """Customers: the property owners this installation serves."""


@customer.command(name="list")
@pass_context
def customer_list(ctx: Context) -> None:
    """Customers, their size, and whether their operations staff see hourly values."""
    from openamr.store.customers import list_customers

    _require_schema(ctx)
    with ctx.engine.connect() as conn:
        rows = list_customers(conn, access=ctx.access)
    for row in rows:
        hourly = "on" if row.operations_hourly else "off"
        click.echo(
            f"{row.id:>5}  {row.name:<40} {row.properties:>5} properties "
            f"{row.apartments:>7} apartments  operations hourly {hourly}"
        )
    if not rows:
        click.echo("no customers yet")


@customer.command(name="rename")
@click.argument("name")
@click.argument("new_name")
@pass_context
def customer_rename(ctx: Context, name: str, new_name: str) -> None:
    """Give customer NAME the name NEW_NAME."""
    from openamr.collect import admin
    from openamr.store.customers import find_customer

    with _administering(ctx) as conn:
        found = find_customer(conn, access=ctx.access, name=name)
        row = admin.rename_customer(
            conn, ctx.access, customer_id=found.id, name=new_name, now=utc_now()
        )
    click.echo(f"customer {row.id} is now called {row.name!r}")


@customer.command(name="set-operations-hourly")
@click.argument("name")
@click.argument("state", type=click.Choice(["on", "off"]))
@pass_context
def customer_set_operations_hourly(ctx: Context, name: str, state: str) -> None:
    """Let customer NAME's operations staff see hourly values (each read audited), or not."""
    from openamr.collect import admin
    from openamr.store.customers import find_customer

    with _administering(ctx) as conn:
        found = find_customer(conn, access=ctx.access, name=name)
        row = admin.set_operations_hourly(
            conn, ctx.access, customer_id=found.id, enabled=state == "on", now=utc_now()
        )
    seen = "hourly values" if row.operations_hourly else "daily values and coarser"
    click.echo(f"operations staff of {row.name!r} see {seen}")


@customer.command(name="add")
@click.argument("name")
@pass_context
def customer_add(ctx: Context, name: str) -> None:
    """Add customer NAME (a property owner: a company, never a person)."""
    from openamr.collect import admin

    with _administering(ctx) as conn:
        row = admin.create_customer(conn, ctx.access, name=name, now=utc_now())
    click.echo(f"customer {row.id} {row.name!r} added; add its staff with `openamr staff add`")


@main.group()
def staff() -> None:
    """Staff accounts: customers' administrators and operations staff, and the platform's."""


@staff.command(name="add")
@click.argument("email")
@click.option(
    "--role",
    required=True,
    type=click.Choice(
        ["customer_admin", "operations", "support", "platform_staff", "platform_admin"]
    ),
)
@click.option("--customer", default=None, help="The customer, for customer_admin and operations.")
@click.option(
    "--totp", "with_totp", is_flag=True, help="A TOTP second factor (always for platform roles)."
)
@pass_context
def staff_add(ctx: Context, email: str, role: str, customer: str | None, with_totp: bool) -> None:
    """Create a staff account; prints its passphrase (and TOTP set-up) once."""
    from openamr.access import Role
    from openamr.guard.keyring import Keyring, NoMasterKey
    from openamr.guard.staff import UnableToManageStaff, create_staff_account

    _require_schema(ctx)
    try:
        account = create_staff_account(
            ctx.engine,
            access=ctx.access,
            email=email,
            role=Role(role),
            customer=customer,
            keyring=Keyring.from_settings(ctx.settings),
            now=utc_now(),
            with_totp=with_totp,
        )
    except NoMasterKey as exc:
        raise click.ClickException(
            f"a TOTP secret is sealed under the master key, and {exc}"
        ) from None
    except UnableToManageStaff as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"staff account {account.id} ({account.role.value}) created for {account.email}")
    click.echo("its passphrase, shown only now (change it with `openamr staff passphrase`):")
    click.echo(account.passphrase)
    if account.totp_uri is not None:
        _show_totp(account.totp_uri)


@staff.command(name="passphrase")
@click.argument("email")
@click.option("--generate", is_flag=True, help="Generate one and print it, instead of asking.")
@pass_context
def staff_passphrase(ctx: Context, email: str, generate: bool) -> None:
    """Set the passphrase of the account EMAIL (at least 12 characters); its sessions end."""
    from openamr.guard.passwords import UnableToSetPassphrase
    from openamr.guard.staff import UnableToManageStaff, set_staff_passphrase

    _require_schema(ctx)
    chosen = None
    if not generate:
        chosen = click.prompt("new passphrase", hide_input=True, confirmation_prompt=True)
    try:
        new = set_staff_passphrase(
            ctx.engine, access=ctx.access, email=email, passphrase=chosen, now=utc_now()
        )
    except (UnableToManageStaff, UnableToSetPassphrase) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo("passphrase set; the account's sessions have ended")
    if generate:
        click.echo("the new passphrase, shown only now:")
        click.echo(new)


@staff.command(name="totp")
@click.argument("email")
@pass_context
def staff_totp(ctx: Context, email: str) -> None:
    """Give the account EMAIL a new TOTP secret (the old one stops working); shown once."""
    from openamr.guard.keyring import Keyring, NoMasterKey
    from openamr.guard.staff import UnableToManageStaff, renew_staff_totp

    _require_schema(ctx)
    try:
        uri = renew_staff_totp(
            ctx.engine,
            access=ctx.access,
            email=email,
            keyring=Keyring.from_settings(ctx.settings),
            now=utc_now(),
        )
    except (UnableToManageStaff, NoMasterKey) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo("new TOTP secret set; the account's sessions have ended")
    _show_totp(uri)


@staff.command(name="disable")
@click.argument("email")
@pass_context
def staff_disable(ctx: Context, email: str) -> None:
    """Disable the account EMAIL: it signs in no more, and its sessions end."""
    from openamr.guard.staff import UnableToManageStaff, disable_staff_account

    _require_schema(ctx)
    try:
        disable_staff_account(ctx.engine, access=ctx.access, email=email, now=utc_now())
    except UnableToManageStaff as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{email} disabled")


def _show_totp(uri: str) -> None:
    import segno

    click.echo("its TOTP set-up, shown only now: scan the code with an authenticator app, or")
    click.echo("enter the URI's secret by hand")
    segno.make(uri, error="m").terminal(out=sys.stdout, compact=True)
    click.echo(uri)


@main.group(name="access-code")
def access_code() -> None:
    """Access codes: how a household gets in, without a name."""


@access_code.command(name="issue")
@click.option("--property", "designation", required=True, help="Property designation.")
@click.option("--entrance", required=True, help="Entrance address.")
@click.option("--apartment", required=True, help="Lägenhetsnummer, e.g. 1102.")
@click.option("--customer", default=None, help="The customer, if several have that property.")
@click.option("--days", type=click.IntRange(1, 366), default=None, help="Valid for (default 90).")
@pass_context
def access_code_issue(
    ctx: Context,
    designation: str,
    entrance: str,
    apartment: str,
    customer: str | None,
    days: int | None,
) -> None:
    """A letter's access code for the apartment's current tenancy; prints it once.

    An earlier letter's code for the same tenancy, if not used yet, stops working.
    """
    from datetime import timedelta

    from openamr.guard.households import (
        LETTER,
        REDEEM_PATH,
        UnableToIssueAccessCode,
        issue_access_code,
    )
    from openamr.store import identities

    _require_schema(ctx)
    now = utc_now()
    with ctx.engine.begin() as conn:
        found = identities.find_apartments(
            conn,
            access=ctx.access,
            designation=designation,
            entrance_address=entrance,
            number=apartment,
            customer_name=customer,
        )
        if not found:
            raise click.ClickException(f"no apartment {apartment} at {entrance} in {designation}")
        if len(found) > 1:
            names = ", ".join(sorted({flat.customer for flat in found}))
            raise click.ClickException(
                f"several customers have {designation} ({names}); name one with --customer"
            )
        flat = found[0]
        tenancy = identities.current_tenancy(conn, apartment_id=flat.id, now=now, access=ctx.access)
        if tenancy is None:
            raise click.ClickException(
                f"apartment {apartment} has no current or coming tenancy; "
                "record the move-in first (`openamr tenancy move-in`)"
            )
        try:
            issued = issue_access_code(
                conn,
                tenancy_id=tenancy.id,
                issued_by=ctx.access,
                now=now,
                kind=LETTER,
                valid_for=timedelta(days=days or ctx.settings.access_code_days),
            )
        except UnableToIssueAccessCode as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(
        f"access code for apartment {flat.number}, {flat.entrance_address}, "
        f"{flat.property_designation} (tenancy {tenancy.id}), valid until "
        f"{issued.expires_at.date().isoformat()}; shown only now:"
    )
    click.echo(issued.code)
    click.echo(f"sign in at {ctx.settings.public_url}{REDEEM_PATH} and type the code")


@main.group()
def tenancy() -> None:
    """Tenancies: when a household moved in and out of an apartment (periods, never names)."""


def _apartment_options(command: Any) -> Any:
    """The options that name an apartment the way people do."""
    for option in reversed(
        (
            click.option("--property", "designation", required=True, help="Its designation."),
            click.option("--entrance", default=None, help="Its address, if the number repeats."),
            click.option("--apartment", "number", required=True, help="Lägenhetsnummer."),
            click.option("--customer", "customer_name", default=None, help="If ambiguous."),
        )
    ):
        command = option(command)
    return command


@tenancy.command(name="list")
@_apartment_options
@pass_context
def tenancy_list(
    ctx: Context, designation: str, entrance: str | None, number: str, customer_name: str | None
) -> None:
    """An apartment's tenancies, oldest first."""
    from openamr.collect import admin
    from openamr.store.tenancies import list_tenancies

    with _administering(ctx) as conn:
        flat = admin.find_apartment_at(
            conn,
            ctx.access,
            designation=designation,
            number=number,
            entrance=entrance,
            customer=customer_name,
        )
        rows = list_tenancies(conn, access=ctx.access, apartment_id=flat.id)
    for row in rows:
        until = row.end_at.isoformat() if row.end_at else "(current)"
        click.echo(f"tenancy {row.id:>6}  {row.start_at.isoformat()}  until {until}")
    if not rows:
        click.echo(f"apartment {flat.number} at {flat.entrance} has no tenancies")


@tenancy.command(name="move-in")
@_apartment_options
@click.option(
    "--start",
    required=True,
    help="The first day (midnight at the property), or a time with an offset.",
)
@pass_context
def tenancy_move_in(
    ctx: Context,
    designation: str,
    entrance: str | None,
    number: str,
    customer_name: str | None,
    start: str,
) -> None:
    """A household moves in: a new tenancy from --start, without an end."""
    from openamr.collect import admin

    with _administering(ctx) as conn:
        flat = admin.find_apartment_at(
            conn,
            ctx.access,
            designation=designation,
            number=number,
            entrance=entrance,
            customer=customer_name,
        )
        row = admin.move_in(conn, ctx.access, apartment_id=flat.id, start=start, now=utc_now())
    click.echo(
        f"tenancy {row.id} of apartment {flat.number} at {flat.entrance} "
        f"from {row.start_at.isoformat()}"
    )


@tenancy.command(name="move-out")
@_apartment_options
@click.option(
    "--end",
    required=True,
    help="The first day no longer the household's (midnight at the property), or a time "
    "with an offset.",
)
@pass_context
def tenancy_move_out(
    ctx: Context,
    designation: str,
    entrance: str | None,
    number: str,
    customer_name: str | None,
    end: str,
) -> None:
    """The household moves out: its current tenancy ends at --end, and its access with it."""
    from openamr.collect import admin

    with _administering(ctx) as conn:
        flat = admin.find_apartment_at(
            conn,
            ctx.access,
            designation=designation,
            number=number,
            entrance=entrance,
            customer=customer_name,
        )
        done = admin.move_out_of(conn, ctx.access, apartment_id=flat.id, end=end, now=utc_now())
    click.echo(
        f"tenancy {done.tenancy.id} of apartment {flat.number} at {flat.entrance} "
        f"ends {done.end_at.isoformat()}; {done.sessions_ended} sessions ended, "
        f"{done.access_codes_revoked} unused access codes revoked"
    )


@contextmanager
def _administering(ctx: Context) -> Iterator[Any]:
    """One transaction for an administrative change and its audit event; refusals as messages."""
    from openamr.collect.admin import UnusableInput
    from openamr.store.ownership import UnableToFind
    from openamr.store.portfolio import UnableToRegister

    _require_schema(ctx)
    try:
        with ctx.engine.begin() as conn:
            yield conn
    except (UnableToFind, UnusableInput, UnableToRegister) as exc:
        raise click.ClickException(str(exc)) from None


# The cyclic collector's thresholds while serving. CPython's first one (700 net
# allocations) runs a young collection dozens of times for each batch of
# telegrams or readings, whose objects are all still alive when it runs: some
# 6 % of the telegram pipeline's time. Ten thousand keeps the collector's work
# in proportion to the garbage, for a few MB more before a collection.
SERVE_GC_THRESHOLDS = (10_000, 10, 10)


def settle_collector() -> None:
    """Prepare the cyclic garbage collector for serving, once start-up is done.

    What start-up built lives as long as the server: it is kept out of the
    collector's scans, which otherwise make the slowest reads several times
    slower, and young collections run less often (SERVE_GC_THRESHOLDS).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*SERVE_GC_THRESHOLDS)


def _serve(ctx: Context, *, host: str, port: int, demo_cases: Any = ()) -> None:
    import uvicorn

    from openamr.app import create_app

    app = create_app(ctx.settings, engine=ctx.engine, demo_cases=demo_cases)
    settle_collector()
    # Browsers should use the name passkeys are bound to (OPENAMR_PUBLIC_URL), not the address.
    shown = "localhost" if host in ("127.0.0.1", "::1") else host
    click.echo(f"openamr serving at http://{shown}:{port}/ (API documentation at /docs)", err=True)
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
