"""Telegrams end to end: `POST /api/v1/telegrams` over HTTP to stored readings and hourly values.

Set-up, not timed: a migrated database with a portfolio of wireless M-Bus water
meters (manufacturer KAM, the M-Bus id as meter identity, a sealed key for the
encrypting ones, under a master key given as `OPENAMR_MASTER_KEYS` gives it),
and a gateway registered with its bearer token. It is copied for every run, as
the ingest benchmark copies its portfolio database.

Timed: the application of `create_app(settings, engine=engine)` served by
uvicorn in a thread of this process on a free loopback port, and one gateway
posting its prepared JSON bodies one after the other over one kept-alive
HTTP/1.1 connection (httpx2, the HTTP client of the dev lock). The clock runs
from the first request to the last answer. The server's work (HTTP, JSON,
checking each item, then `TelegramIngest.receive`: store, decode, readings,
hourly values, outcomes and hearings) and the client's small share (sending
prepared bytes, reading the answer) share one interpreter, so the rate is that
of one core, plus PostgreSQL's own process where it is the database.

Afterwards the run checks that every telegram was stored once and decoded, that
each gave its reading, and that the expected hourly values exist.
"""

from __future__ import annotations

import gc
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from time import perf_counter, process_time
from typing import Any

import httpx2
import sqlalchemy as sa
import uvicorn

from bench.data import CUSTOMER, PROPERTY, TIME_ZONE
from bench.ingest import ACCESS
from bench.profiling import Profile, run_profiled
from bench.scratch import Scratch, SQLiteScratch
from bench.telegram_data import GATEWAY, TelegramSet, write_portfolio_csv
from openamr.app import create_app
from openamr.cli import settle_collector
from openamr.collect.gateways import register_gateway
from openamr.collect.portfolio import import_portfolio, read_portfolio_csv
from openamr.collect.telegram_input import parse_item
from openamr.collect.telegrams import build_telegram_ingest
from openamr.guard.keyring import Keyring
from openamr.settings import Settings, parse_master_keys
from openamr.store.migrations import upgrade
from openamr.store.schema import hourly_value, reading, telegram
from openamr.store.telegrams import DECODED, Gateway, IncomingTelegram

TELEGRAM_GOAL = 5_000  # telegrams per second, end to end, on one core
TRANSPORT = "HTTP/1.1 over loopback: uvicorn (h11) in a thread, httpx2 client, one connection"


@dataclass
class TelegramFigure:
    """One database: the end-to-end rate, and what the run found stored afterwards."""

    database: str
    meters: int
    encrypted_meters: int
    hours: int
    telegrams: int
    per_request: int
    requests: int
    seconds: float  # first request sent to last answer read
    cpu_seconds: float  # of this process (server, client, SQLite) in that time
    receive_seconds: float  # of that, inside TelegramIngest.receive
    setup_seconds: dict[str, float]
    transport: str = TRANSPORT
    # PostgreSQL's backends serving the run, where /proc shows them (a local server)
    database_cpu_seconds: float | None = None
    answered: dict[str, int] = field(default_factory=dict)  # summed over the answers
    found: dict[str, int] = field(default_factory=dict)  # counted in the database afterwards
    expected: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.telegrams / self.seconds

    @property
    def cpu_rate(self) -> float:
        """Telegrams per second of this process's CPU time (PostgreSQL's own is not in it)."""
        return self.telegrams / self.cpu_seconds

    @property
    def total_cpu_rate(self) -> float | None:
        """Telegrams per second of this process's CPU and the database server's together."""
        if self.database_cpu_seconds is None:
            return None
        return self.telegrams / (self.cpu_seconds + self.database_cpu_seconds)

    @property
    def verified(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, object]:
        return {
            "database": self.database,
            "meters": self.meters,
            "encrypted_meters": self.encrypted_meters,
            "hours": self.hours,
            "telegrams": self.telegrams,
            "telegrams_per_request": self.per_request,
            "requests": self.requests,
            "transport": self.transport,
            "seconds": round(self.seconds, 3),
            "telegrams_per_second": round(self.rate),
            "goal_telegrams_per_second": TELEGRAM_GOAL,
            "ratio_to_goal": round(self.rate / TELEGRAM_GOAL, 3),
            "cpu_seconds": round(self.cpu_seconds, 3),
            "telegrams_per_cpu_second": round(self.cpu_rate),
            "receive_seconds": round(self.receive_seconds, 3),
            "database_cpu_seconds": None
            if self.database_cpu_seconds is None
            else round(self.database_cpu_seconds, 3),
            "telegrams_per_total_cpu_second": None
            if self.total_cpu_rate is None
            else round(self.total_cpu_rate),
            "setup_seconds": {key: round(value, 1) for key, value in self.setup_seconds.items()},
            "answered": self.answered,
            "found": self.found,
            "expected": self.expected,
            "verified": self.verified,
            "problems": self.problems,
        }


@dataclass(frozen=True)
class Template:
    """A database holding the portfolio and the gateway, to be copied for each run."""

    url: str
    settings: Settings  # with the master key the meter keys were sealed under
    gateway: Gateway
    token: str
    setup_seconds: dict[str, float]


def bench_settings(url: str) -> Settings:
    """Settings for `url` with a fresh master key, written as OPENAMR_MASTER_KEYS takes it."""
    master = f"bench-{secrets.token_hex(4)}:{secrets.token_hex(32)}"
    return Settings(
        database_url=url,
        default_time_zone=TIME_ZONE,
        master_keys=parse_master_keys(master, source="OPENAMR_MASTER_KEYS"),
    )


def prepare_template(
    scratch: Scratch, data: TelegramSet, workdir: Path, *, now: datetime
) -> Template:
    """Migrate, import the meters with their keys and register the gateway (not timed)."""
    url = scratch.create("telegrams")
    settings = bench_settings(url)
    engine = scratch.engine(url)
    portfolio_csv = workdir / "telegram-portfolio.csv"
    write_portfolio_csv(portfolio_csv, data.meters)
    seconds: dict[str, float] = {}
    try:
        started = perf_counter()
        upgrade(engine)
        seconds["migrate"] = perf_counter() - started
        started = perf_counter()
        with portfolio_csv.open(encoding="utf-8", newline="") as stream:
            report = import_portfolio(
                engine,
                read_portfolio_csv(stream),
                access=ACCESS,
                source=f"file:{portfolio_csv.name}",
                time_zone=TIME_ZONE,
                now=now,
                keyring=Keyring.from_settings(settings),
            )
        seconds["portfolio"] = perf_counter() - started
        if report.errors:
            first = report.errors[0]
            raise RuntimeError(
                f"the telegram portfolio does not load: line {first.line}: {first.reason}"
            )
        if report.keys_set != data.encrypted_meters:
            raise RuntimeError(f"{report.keys_set} meter keys stored, not {data.encrypted_meters}")
        gateway, token = register_gateway(
            engine,
            customer=CUSTOMER,
            identity=GATEWAY,
            property_designation=PROPERTY,
            access=ACCESS,
            now=now,
        )
    finally:
        engine.dispose()
        portfolio_csv.unlink(missing_ok=True)
    if isinstance(scratch, SQLiteScratch):
        scratch.checkpoint(url)
    return Template(url, settings, gateway, token, seconds)


def _free_socket() -> socket.socket:
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets whose protocol says
    # TCP, and uvicorn's accepted connections inherit this one's. Without it every
    # answer waited some 40 ms for the client's delayed ACK (Nagle), twice a request's
    # work; `openamr serve` binds through asyncio itself and has TCP_NODELAY.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """`app` served by uvicorn in a background thread on a free loopback port; its base URL."""
    sock = _free_socket()
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="bench-uvicorn", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        host, port = sock.getsockname()[:2]
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


class _Timed:
    """Wraps the ingest's `receive` to add up the time spent in it."""

    def __init__(self, receive: Callable[..., Any]) -> None:
        self.receive = receive
        self.seconds = 0.0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        started = perf_counter()
        try:
            return self.receive(*args, **kwargs)
        finally:
            self.seconds += perf_counter() - started


def run_http(
    scratch: Scratch, template: Template, data: TelegramSet, *, now: datetime
) -> TelegramFigure:
    """Post every body to a fresh copy of the template over HTTP; the rate and the checks."""
    url = scratch.create("telegrams-run", template=template.url)
    settings = replace(template.settings, database_url=url)
    engine = scratch.engine(url)
    figure = TelegramFigure(
        database=scratch.kind,
        meters=len(data.meters),
        encrypted_meters=data.encrypted_meters,
        hours=data.hours,
        telegrams=data.telegrams,
        per_request=data.per_request,
        requests=len(data.bodies),
        seconds=0.0,
        cpu_seconds=0.0,
        receive_seconds=0.0,
        setup_seconds=dict(template.setup_seconds),
        expected=_expected(data),
    )
    try:
        with engine.connect():
            pass  # the pool's first connection is not part of the run
        app = create_app(settings, engine=engine)
        timed = _Timed(app.state.telegram_ingest.receive)
        app.state.telegram_ingest.receive = timed
        headers = {
            "Authorization": f"Bearer {template.token}",
            "Content-Type": "application/json",
        }
        answered: dict[str, int] = {}
        with serving(app) as base, httpx2.Client(base_url=base, timeout=600) as client:
            # One untimed request opens the connection and checks the token.
            _post(client, headers, b'{"telegrams":[]}')
            timed.seconds = 0.0
            with _frozen():
                backends = _backend_cpu(engine)
                cpu = process_time()
                started = perf_counter()
                for body in data.bodies:
                    for key, value in _post(client, headers, body).items():
                        if isinstance(value, int):
                            answered[key] = answered.get(key, 0) + value
                figure.seconds = perf_counter() - started
                figure.cpu_seconds = process_time() - cpu
                figure.database_cpu_seconds = _backend_cpu_since(engine, backends)
            figure.receive_seconds = timed.seconds
        figure.answered = answered
        figure.found = _count(engine)
        figure.problems = _check(figure)
    finally:
        engine.dispose()
        scratch.drop(url)
    return figure


@contextmanager
def _frozen() -> Iterator[None]:
    """The cyclic collector as `openamr serve` settles it after start-up (cli.settle_collector):
    what exists before the run kept out of its scans, and its thresholds raised.

    The server shares this process with the benchmark's own data (48,000 parsed
    items, the request bodies), which a real server does not hold; without the
    freeze every full collection would scan it and charge the server for it.
    """
    thresholds = gc.get_threshold()
    settle_collector()
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def _backend_cpu(engine: sa.Engine) -> dict[int, float] | None:
    """CPU seconds so far of each PostgreSQL backend connected to the engine's database.

    Read from /proc, so only for a server on this machine; None for SQLite or
    where /proc does not show the backends.
    """
    if engine.dialect.name != "postgresql":
        return None
    with engine.connect() as conn:
        pids = conn.exec_driver_sql(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
        ).scalars()
        used: dict[int, float] = {}
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                return None
            # utime and stime, the 14th and 15th fields of stat(5), in clock ticks.
            used[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return used


def _backend_cpu_since(engine: sa.Engine, before: dict[int, float] | None) -> float | None:
    """The database server's CPU seconds since `before` (backends started since count whole)."""
    after = _backend_cpu(engine) if before is not None else None
    if before is None or after is None:
        return None
    return sum(used - before.get(pid, 0.0) for pid, used in after.items())


def _post(client: httpx2.Client, headers: dict[str, str], body: bytes) -> dict[str, object]:
    answer = client.post("/api/v1/telegrams", content=body, headers=headers)
    if answer.status_code != 200:
        raise RuntimeError(f"POST /api/v1/telegrams: {answer.status_code} {answer.text[:500]}")
    document: dict[str, object] = answer.json()
    return document


def _expected(data: TelegramSet) -> dict[str, int]:
    # Every meter reads 1 to 59 minutes past each hour, so its readings cover the
    # whole hours between its first and its last: one fewer than its intervals.
    return {
        "telegrams": data.telegrams,
        "decoded": data.telegrams,
        "readings": data.telegrams,
        "hourly_values": len(data.meters) * max(data.hours - 2, 0),
    }


def _count(engine: sa.Engine) -> dict[str, int]:
    def count(table: sa.Table, *where: sa.ColumnElement[bool]) -> int:
        query = sa.select(sa.func.count()).select_from(table).where(*where)
        return int(conn.execute(query).scalar_one())

    with engine.connect() as conn:
        return {
            "telegrams": count(telegram),
            "decoded": count(telegram, telegram.c.state == DECODED),
            "readings": count(reading),
            "hourly_values": count(hourly_value),
            "hourly_values_measured": count(hourly_value, hourly_value.c.status == "measured"),
        }


def _check(figure: TelegramFigure) -> list[str]:
    problems = []
    expected, found, answered = figure.expected, figure.found, figure.answered
    for name in ("telegrams", "decoded", "readings"):
        if found.get(name) != expected[name]:
            problems.append(f"{found.get(name)} {name} in the database, not {expected[name]}")
    if found.get("hourly_values_measured") != expected["hourly_values"]:
        problems.append(
            f"{found.get('hourly_values_measured')} measured hourly values, "
            f"not {expected['hourly_values']}"
        )
    for name in ("received", "decoded", "readings"):
        if answered.get(name) != figure.telegrams:
            problems.append(
                f"the answers count {answered.get(name)} {name}, not {figure.telegrams}"
            )
    for name in ("duplicates", "failed", "unassigned", "readings_rejected", "rejected"):
        if answered.get(name):
            problems.append(f"the answers count {answered[name]} {name}")
    return problems


def profile_receive(
    scratch: Scratch, template: Template, data: TelegramSet, *, telegrams: int
) -> Profile:
    """cProfile `TelegramIngest.receive` in-process over the first `telegrams` telegrams.

    The items are checked as the API checks them (not profiled), then each
    request's batch goes to `receive` as the endpoint hands it over.
    """
    url = scratch.create("telegrams-profile", template=template.url)
    settings = replace(template.settings, database_url=url)
    engine = scratch.engine(url)
    try:
        with engine.connect():
            pass
        ingest = build_telegram_ingest(engine, settings)
        batches: list[list[IncomingTelegram]] = []
        left = telegrams
        for items in data.items:
            if left <= 0:
                break
            batch = []
            for item in items[:left]:
                parsed = parse_item(item, now=ingest.clock(), gateway=GATEWAY)
                assert not isinstance(parsed, str), parsed
                batch.append(parsed)
            batches.append(batch)
            left -= len(batch)
        count = sum(len(batch) for batch in batches)

        def work() -> None:
            for batch in batches:
                ingest.receive(template.gateway, batch)

        with _frozen():
            profile = run_profiled(
                work,
                database=scratch.kind,
                label=f"TelegramIngest.receive of the first {count:,} telegrams "
                f"({len(batches)} batches of up to {data.per_request})",
                top=40,
            )
    finally:
        engine.dispose()
        scratch.drop(url)
    # receive and process enclose everything; what they call is the news.
    wrappers = ("(receive)", "(process)", "(work)")
    total = [line for line in profile.total if not line.function.endswith(wrappers)]
    return Profile(profile.database, profile.label, profile.seconds, profile.own, total[:25])


def summary(figure: TelegramFigure) -> str:
    """One line for the progress log."""
    return (
        f"{figure.rate:,.0f} telegrams/s ({figure.telegrams:,} in {figure.seconds:.1f} s, "
        f"{figure.receive_seconds / figure.seconds:.0%} in receive)"
        + ("" if figure.verified else f"; NOT VERIFIED: {'; '.join(figure.problems)}")
    )
