"""Pages: the household's year view in headless Chromium, and what is behind it under load.

Set-up, not timed: a migrated database with the demo portfolio at a fifth of
its size (`openamr.demo.load.load_demo`: the generator's meters, tenancies,
prices and readings through the import and ingest paths; 60 apartments, so
that the page's comparison with similar apartments has a group that passes
the cohort screen), generated to a day past the start of this year so that
last year is a whole year of hourly values for every medium; an access code
for a household that has lived there all that year; the application started
as in production (`openamr serve`: uvicorn, one process of its own, on a free
loopback port); Debian's Chromium, headless, through Playwright, which
redeems the code on the sign-in page as a household would.

Timed:

- the page: the household's first medium (electricity) in the year view of
  last year (`/home/points/{id}?view=year`: twelve monthly bars read from the
  year's hourly values, with cost and comparisons), loaded in a fresh browser
  context each time, so with an empty cache, as a first visit is; then once
  more in the same context (a return visit); then on a phone's screen with
  Chromium's CPU throttling. Bytes transferred are the sum of Chromium's
  `Network.loadingFinished` `encodedDataLength` (headers and bodies as they
  came over the wire) of every http request of the load, static files
  included; the time is that of the `openamr:chart-drawn` performance mark,
  which the chart script sets when uPlot first draws, from navigation start.
- what is behind it, from a second process at a fixed number of requests in
  flight over kept-alive HTTP/1.1 connections (httpx2, one per worker thread),
  with the household's session: the page's HTML alone, and
  `GET /api/v1/metering-points/{id}/values` for the same point and year,
  monthly (what the page shows) and hourly (the year's rows themselves);
  each against the p95 of a raw driver select of the same hourly rows (as
  many runs, one at a time, in this process, just before), and with the
  server process's CPU time per request.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing import get_context
from pathlib import Path
from time import perf_counter
from typing import Any
from urllib.parse import urlsplit

import httpx2
from playwright.sync_api import Browser, BrowserContext, ViewportSize, sync_playwright

from bench.scratch import Scratch, SQLiteScratch
from openamr.access import AccessContext
from openamr.db import to_epoch
from openamr.demo.generate import TIME_ZONE
from openamr.demo.load import load_demo
from openamr.guard.households import issue_access_code
from openamr.guard.passwords import generate_passphrase
from openamr.guard.sessions import SESSION_COOKIE
from openamr.settings import Settings
from openamr.store import identities, queries
from openamr.store.migrations import upgrade

BYTES_GOAL = 300_000  # bytes transferred for the page, everything included (300 kB)
CHART_GOAL_MS = 1_000.0  # navigation start to the year chart drawn
CHART_MARK = "openamr:chart-drawn"  # set by openamr/present/static/chart.js
CHROMIUM = "/usr/bin/chromium"
VIEWPORT: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 390, "height": 844}
PHONE_CPU_SLOWDOWN = 4  # Chromium's CPU throttling, as its tools suggest for a mid-range phone
# The demo portfolio's size (`openamr demo --scale`): at 0.2, 60 apartments, of which 18 in
# the largest property, where the household lives.
DEMO_SCALE = 0.2
COLD_LOADS = 5  # page loads with an empty cache, each in a fresh browser context
PHONE_LOADS = 3  # the same on a phone's screen with a slowed CPU
# What the load process asks for, how many requests it keeps in flight at once, and how
# many it makes (and raw selects as many): the page's HTML alone; the API's year by
# month, as the page shows it; the API's year by hour, its hourly rows themselves.
TARGETS = (("page HTML", (1,), 40), ("API month", (1, 4), 100), ("API hour", (1, 4), 100))
ACCESS = AccessContext.operator("bench")


@dataclass
class PageLoad:
    """One load of the year view: what came over the wire and when the chart was drawn."""

    bytes: int
    bytes_by_path: dict[str, int]  # the page, its static files (and a favicon the browser asks for)
    chart_ms: float  # navigation start to the chart-drawn mark
    response_end_ms: float  # navigation start to the last byte of the HTML
    dom_content_loaded_ms: float
    similar: bool  # the comparison with similar apartments was shown (a group passed)

    def as_dict(self) -> dict[str, object]:
        return {
            "bytes": self.bytes,
            "bytes_by_path": self.bytes_by_path,
            "chart_ms": round(self.chart_ms, 1),
            "response_end_ms": round(self.response_end_ms, 1),
            "dom_content_loaded_ms": round(self.dom_content_loaded_ms, 1),
            "similar_shown": self.similar,
        }


@dataclass
class ApiRun:
    """One target at one concurrency: every request's latency as the load process saw it."""

    target: str  # one of TARGETS
    concurrency: int
    timings_ms: list[float]
    seconds: float  # first request sent to last answer read
    body_bytes: int  # of one answer
    raw_ms: list[float]  # as many raw selects of the same hours, just before
    server_cpu_ms: float  # the server process's CPU time per request (SQLite's work included)

    @property
    def ratio(self) -> float:
        """p95 of the API against p95 of the raw select."""
        return p95(self.timings_ms) / p95(self.raw_ms)

    @property
    def rate(self) -> float:
        return len(self.timings_ms) / self.seconds

    def as_dict(self) -> dict[str, object]:
        return {
            "target": self.target,
            "concurrency": self.concurrency,
            "requests": len(self.timings_ms),
            "seconds": round(self.seconds, 3),
            "requests_per_second": round(self.rate, 1),
            "body_bytes": self.body_bytes,
            "p50_ms": round(statistics.median(self.timings_ms), 3),
            "p95_ms": round(p95(self.timings_ms), 3),
            "raw_p50_ms": round(statistics.median(self.raw_ms), 3),
            "raw_p95_ms": round(p95(self.raw_ms), 3),
            "server_cpu_ms_per_request": round(self.server_cpu_ms, 2),
            "p95_ratio_to_raw": round(self.ratio, 2),
            "samples_ms": [round(value, 3) for value in self.timings_ms],
            "raw_samples_ms": [round(value, 3) for value in self.raw_ms],
        }


@dataclass
class PagesFigure:
    """One database: the page's loads, the API's runs and the raw select's timings."""

    database: str
    year: int
    scale: float  # of the demo portfolio
    apartments: int  # in the household's property
    point_id: int
    hours: int  # the point's hourly values in the year
    statuses: dict[str, int]  # of those hours
    browser: str
    setup_seconds: dict[str, float]
    # The machine's 1-minute load average as the page loads began and as the API runs ended:
    # the timings are wall-clock ones, and other work on the machine stretches them.
    load_average: list[float] = field(default_factory=list)
    cold: list[PageLoad] = field(default_factory=list)
    warm: list[PageLoad] = field(default_factory=list)
    phone: list[PageLoad] = field(default_factory=list)
    api: list[ApiRun] = field(default_factory=list)

    @property
    def cold_bytes(self) -> int:
        return max(load.bytes for load in self.cold)

    @property
    def chart_ms(self) -> float:
        return statistics.median(load.chart_ms for load in self.cold)

    def as_dict(self) -> dict[str, object]:
        return {
            "database": self.database,
            "year": self.year,
            "demo_scale": self.scale,
            "property_apartments": self.apartments,
            "point_id": self.point_id,
            "hours": self.hours,
            "statuses": self.statuses,
            "browser": self.browser,
            "viewport": VIEWPORT,
            "setup_seconds": {key: round(value, 1) for key, value in self.setup_seconds.items()},
            "load_average": [round(value, 2) for value in self.load_average],
            "bytes_goal": BYTES_GOAL,
            "chart_goal_ms": CHART_GOAL_MS,
            "cold_bytes_max": self.cold_bytes,
            "cold_chart_ms_median": round(self.chart_ms, 1),
            "cold_chart_ms_max": round(max(load.chart_ms for load in self.cold), 1),
            "cold": [load.as_dict() for load in self.cold],
            "warm": [load.as_dict() for load in self.warm],
            "phone": {
                "viewport": PHONE,
                "cpu_slowdown": PHONE_CPU_SLOWDOWN,
                "loads": [load.as_dict() for load in self.phone],
            },
            "api": [run.as_dict() for run in self.api],
        }


def p95(values: Sequence[float]) -> float:
    """The 95th percentile, interpolated as bench.read computes its own."""
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=20, method="inclusive")[-1]


@dataclass(frozen=True)
class Household:
    """The household the page is measured for: its access code and the point shown."""

    code: str
    point_id: int
    medium: str
    apartments: int  # in its property, its own included


def measure_pages(
    scratch: Scratch,
    *,
    now: datetime,
    seed: int,
    scale: float = DEMO_SCALE,
    progress: Callable[[str], None],
) -> PagesFigure:
    """Set up one database, serve it, and measure the page and the API on it."""
    year = now.astimezone(TIME_ZONE).year - 1
    start, end = _year(year)
    expected = (end - start) // timedelta(hours=1)
    setup: dict[str, float] = {}
    started = perf_counter()
    url = scratch.create("pages")
    try:
        household, hours, statuses = _prepare(
            url, scratch, year=year, now=now, seed=seed, scale=scale
        )
        setup["database"] = perf_counter() - started
        progress(
            f"{scratch.kind}: pages: demo loaded in {setup['database']:.0f} s; "
            f"{hours:,} hourly values in {year} for the {household.medium} point"
        )
        if hours != expected:
            raise RuntimeError(f"the point has {hours} hourly values in {year}, not {expected}")
        with _server(url) as server, sync_playwright() as driver:
            base = server.base_url
            lap = perf_counter()
            browser = driver.chromium.launch(executable_path=CHROMIUM, headless=True)
            try:
                state = _sign_in(browser, base, household.code)
                setup["server_browser_sign_in"] = perf_counter() - lap
                figure = PagesFigure(
                    database=scratch.kind,
                    year=year,
                    scale=scale,
                    apartments=household.apartments,
                    point_id=household.point_id,
                    hours=hours,
                    statuses=statuses,
                    browser=f"Chromium {browser.version}",
                    setup_seconds=setup,
                )
                figure.load_average.append(os.getloadavg()[0])
                page_path = f"/home/points/{household.point_id}?view=year&day={year}-07-01"
                for _ in range(COLD_LOADS):
                    context = browser.new_context(
                        base_url=base, viewport=VIEWPORT, storage_state=state
                    )
                    try:
                        figure.cold.append(_load(context, page_path))
                        figure.warm.append(_load(context, page_path))
                    finally:
                        context.close()
                for _ in range(PHONE_LOADS):
                    context = browser.new_context(
                        base_url=base, viewport=PHONE, storage_state=state, is_mobile=True
                    )
                    try:
                        figure.phone.append(_load(context, page_path, slowdown=PHONE_CPU_SLOWDOWN))
                    finally:
                        context.close()
            finally:
                browser.close()
            progress(
                f"{scratch.kind}: pages: {figure.cold_bytes:,} bytes, chart drawn after "
                f"{figure.chart_ms:.0f} ms (median of {COLD_LOADS} first visits)"
            )
            cookie = _session_cookie(state)
            with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as load:
                load.submit(int).result()  # started and imported before any clock runs
                _api_runs(figure, scratch, url, server, load, page_path, cookie, progress)
        figure.load_average.append(os.getloadavg()[0])
    finally:
        scratch.drop(url)
    return figure


def _api_runs(
    figure: PagesFigure,
    scratch: Scratch,
    url: str,
    server: _Served,
    load: ProcessPoolExecutor,
    page_path: str,
    cookie: str,
    progress: Callable[[str], None],
) -> None:
    """Each target at each of its concurrencies, after as many raw selects of the same hours."""
    year, point_id = figure.year, figure.point_id
    api = f"/api/v1/metering-points/{point_id}/values?from={year}-01-01&to={year + 1}-01-01"
    paths = {
        "page HTML": page_path,
        "API month": f"{api}&resolution=month",
        "API hour": f"{api}&resolution=hour",
    }
    for target, concurrencies, requests in TARGETS:
        path = paths[target]
        for concurrency in concurrencies:
            # The raw selects just before each run: a busy machine then weighs on both.
            raw_ms = _raw_selects(
                scratch, url, point_id, year=year, hours=figure.hours, runs=requests
            )
            cpu = server.cpu_seconds()
            timings, seconds, body_bytes = load.submit(
                load_worker, server.base_url, path, cookie, concurrency, requests
            ).result()
            # The warm-up requests are in it: one per connection, beside the timed ones.
            cpu_ms = (server.cpu_seconds() - cpu) * 1000 / (requests + concurrency)
            run = ApiRun(target, concurrency, timings, seconds, body_bytes, raw_ms, cpu_ms)
            figure.api.append(run)
            progress(
                f"{scratch.kind}: pages: {target} x{concurrency}: "
                f"p95 {p95(run.timings_ms):.1f} ms, raw p95 {p95(raw_ms):.2f} ms"
            )


def _year(year: int) -> tuple[datetime, datetime]:
    """The local year in the demo's zone, as UTC instants [start, end)."""
    start = datetime(year, 1, 1, tzinfo=TIME_ZONE).astimezone(UTC)
    return start, datetime(year + 1, 1, 1, tzinfo=TIME_ZONE).astimezone(UTC)


def _prepare(
    url: str, scratch: Scratch, *, year: int, now: datetime, seed: int, scale: float
) -> tuple[Household, int, dict[str, int]]:
    """Migrate, load the demo up to this year, issue an access code; the household and its hours."""
    year_start, year_end = _year(year)
    settings = Settings(database_url=url, default_time_zone=str(TIME_ZONE))
    engine = scratch.engine(url)
    try:
        upgrade(engine)
        # A day past the year, so that its last hour is closed by a later reading.
        until = year_end + timedelta(days=1)
        load_demo(engine, access=ACCESS, settings=settings, now=until, seed=seed, scale=scale)
        with engine.begin() as conn:
            chosen = None
            # The largest property: its other apartments are the group the household's
            # year is compared with, the page's costliest part.
            properties = queries.list_properties(conn, access=ACCESS)
            for prop in sorted(properties, key=lambda found: -found.apartments):
                for flat in queries.list_apartments(conn, access=ACCESS, property_id=prop.id):
                    tenancy = identities.current_tenancy(
                        conn, apartment_id=flat.id, now=now, access=ACCESS
                    )
                    if tenancy is None or tenancy.start_at > year_start:
                        continue
                    points = queries.list_metering_points(
                        conn, access=ACCESS, apartment_id=flat.id, medium="electricity"
                    )
                    if points:
                        chosen = (tenancy, points[0], prop.apartments)
                        break
                if chosen:
                    break
            if chosen is None:
                raise RuntimeError("no demo household lived in its apartment all of last year")
            tenancy, point, apartments = chosen
            code = issue_access_code(
                conn, tenancy_id=tenancy.id, issued_by=ACCESS, now=now, kind="letter"
            )
    finally:
        engine.dispose()
    if isinstance(scratch, SQLiteScratch):
        scratch.checkpoint(url)
    statuses = _statuses(scratch, url, point.id, year_start, year_end)
    household = Household(code.code, point.id, point.medium, apartments)
    return household, sum(statuses.values()), statuses


def _raw_sql(kind: str) -> str:
    mark = "?" if kind == "sqlite" else "%s"
    return (
        "SELECT start_at, value, status FROM hourly_value "
        f"WHERE metering_point_id = {mark} AND start_at >= {mark} AND start_at < {mark}"
    )


def _bounds(kind: str, start: datetime, end: datetime) -> tuple[Any, Any]:
    return (to_epoch(start), to_epoch(end)) if kind == "sqlite" else (start, end)


def _statuses(
    scratch: Scratch, url: str, point_id: int, start: datetime, end: datetime
) -> dict[str, int]:
    """How many of the point's hours in [start, end) are stored, by status."""
    conn = scratch.connect_raw(url)
    with closing(conn):
        rows = conn.execute(
            _raw_sql(scratch.kind), (point_id, *_bounds(scratch.kind, start, end))
        ).fetchall()
        conn.rollback()
    counts: dict[str, int] = {}
    for _start, _value, status in rows:
        counts[status] = counts.get(status, 0) + 1
    return dict(sorted(counts.items()))


def _raw_selects(
    scratch: Scratch, url: str, point_id: int, *, year: int, hours: int, runs: int
) -> list[float]:
    """Milliseconds of the driver's select of the point's year, `runs` times after one."""
    sql, bounds = _raw_sql(scratch.kind), _bounds(scratch.kind, *_year(year))
    timings = []
    conn = scratch.connect_raw(url)
    with closing(conn):
        for run in range(runs + 1):
            began = perf_counter()
            cursor = conn.cursor()
            try:
                cursor.execute(sql, (point_id, *bounds))
                rows = cursor.fetchall()
            finally:
                cursor.close()
            elapsed = (perf_counter() - began) * 1000
            conn.rollback()
            if len(rows) != hours:
                raise RuntimeError(f"the raw select found {len(rows)} hours, not {hours}")
            if run:  # the first warms the cache, as each connection's first API request does
                timings.append(elapsed)
    return timings


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@dataclass(frozen=True)
class _Served:
    base_url: str  # http://localhost:PORT
    pid: int

    def cpu_seconds(self) -> float:
        """User and system time the server process has used so far (Linux)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def _server(url: str) -> Iterator[_Served]:
    """`openamr serve` on the database in a process of its own, on a free port."""
    port = _free_port()
    base = f"http://localhost:{port}"
    env = {
        **os.environ,
        "OPENAMR_DATABASE_URL": url,
        "OPENAMR_PUBLIC_URL": base,
        "OPENAMR_TIME_ZONE": str(TIME_ZONE),
    }
    command = [sys.executable, "-c", "from openamr.cli import main; main()", "serve"]
    with open(os.devnull, "wb") as quiet:
        server = subprocess.Popen(
            [*command, "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=quiet,
            stderr=subprocess.PIPE,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                error = server.stderr.read().decode(errors="replace") if server.stderr else ""
                raise RuntimeError(f"openamr serve ended with {server.returncode}: {error[-2000:]}")
            try:
                if httpx2.get(f"http://127.0.0.1:{port}/", timeout=2).status_code == 200:
                    break
            except httpx2.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("openamr serve did not answer within 60 s")
            time.sleep(0.1)
        # Its warnings would fill the pipe; read them away while it serves.
        threading.Thread(target=_drain, args=(server.stderr,), daemon=True).start()
        yield _Served(base, server.pid)
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _drain(stream: Any) -> None:
    for _line in stream:
        pass


def _sign_in(browser: Browser, base: str, code: str) -> Any:
    """Redeem the access code on the sign-in page; the browser state holding the session."""
    context = browser.new_context(base_url=base, viewport=VIEWPORT)
    try:
        page = context.new_page()
        page.goto("/household")
        passphrase = generate_passphrase()
        page.fill("#code", code)
        page.fill("#new-passphrase", passphrase)
        page.fill("#new-passphrase-again", passphrase)
        with page.expect_navigation():
            page.click("form[action='/household/redeem'] button[type=submit]")
        if not page.url.endswith("/home/welcome"):
            raise RuntimeError(f"redeeming the access code led to {page.url}")
        return context.storage_state()
    finally:
        context.close()


def _session_cookie(state: Any) -> str:
    for cookie in state["cookies"]:
        if cookie["name"] == SESSION_COOKIE:
            return f"{SESSION_COOKIE}={cookie['value']}"
    raise RuntimeError("signing in left no session cookie")


_TIMING = """(name) => {
  const nav = performance.getEntriesByType("navigation")[0];
  const mark = performance.getEntriesByName(name)[0];
  return {chart: mark.startTime, responseEnd: nav.responseEnd,
          domContentLoaded: nav.domContentLoadedEventEnd,
          bars: JSON.parse(document.getElementById("chart-data").textContent).x.length,
          similar: document.getElementById("similar") !== null};
}"""


def _load(context: BrowserContext, path: str, *, slowdown: int = 1) -> PageLoad:
    """Open `path` in a new page of `context`; what was transferred and when the chart was drawn.

    `slowdown` throttles the page's CPU that many times (Chromium's emulation).
    """
    page = context.new_page()
    try:
        cdp = context.new_cdp_session(page)
        paths: dict[str, str] = {}
        sizes: dict[str, int] = {}

        def sent(event: dict[str, Any]) -> None:
            paths.setdefault(event["requestId"], event["request"]["url"])

        def finished(event: dict[str, Any]) -> None:
            sizes[event["requestId"]] = int(event["encodedDataLength"])

        cdp.on("Network.requestWillBeSent", sent)
        cdp.on("Network.loadingFinished", finished)
        cdp.send("Network.enable")
        if slowdown > 1:
            cdp.send("Emulation.setCPUThrottlingRate", {"rate": slowdown})
        page.goto(path)
        page.wait_for_function(
            "(name) => performance.getEntriesByName(name).length > 0", arg=CHART_MARK
        )
        page.wait_for_load_state("networkidle")
        timing = page.evaluate(_TIMING, CHART_MARK)
        if timing["bars"] != 12:
            raise RuntimeError(f"the year view drew {timing['bars']} bars, not 12")
        by_path: dict[str, int] = {}
        for request_id, size in sizes.items():
            where = urlsplit(paths.get(request_id, ""))
            if where.scheme not in ("http", "https"):
                continue  # a data: URL (the date picker's icon) is not transferred
            # The path alone: the page's query and the static files' version are the same.
            name = where.path
            by_path[name] = by_path.get(name, 0) + size
        cdp.detach()
        return PageLoad(
            bytes=sum(by_path.values()),
            bytes_by_path=by_path,
            chart_ms=float(timing["chart"]),
            response_end_ms=float(timing["responseEnd"]),
            dom_content_loaded_ms=float(timing["domContentLoaded"]),
            similar=bool(timing["similar"]),
        )
    finally:
        page.close()


def load_worker(
    base: str, path: str, cookie: str, concurrency: int, requests: int
) -> tuple[list[float], float, int]:
    """In the load process: `requests` GETs, `concurrency` threads each on its own connection.

    Each thread first makes one untimed request (it opens the connection);
    then the threads take the timed requests from one shared count. Returns
    the latencies in ms, the wall-clock seconds of the timed requests, and
    the size of one answer's body. Raises RuntimeError for any answer but 200.
    """
    lock = threading.Lock()
    left = [requests]
    timings: list[float] = []
    sizes: list[int] = []
    errors: list[str] = []
    ready = threading.Barrier(concurrency + 1)

    def work() -> None:
        with httpx2.Client(base_url=base, headers={"Cookie": cookie}, timeout=120) as client:
            try:
                sizes.append(_get(client, path))
            except RuntimeError as exc:
                errors.append(str(exc))
            ready.wait()
            while not errors:
                with lock:
                    if left[0] == 0:
                        return
                    left[0] -= 1
                began = perf_counter()
                try:
                    _get(client, path)
                except RuntimeError as exc:
                    errors.append(str(exc))
                    return
                elapsed = (perf_counter() - began) * 1000
                with lock:
                    timings.append(elapsed)

    threads = [threading.Thread(target=work) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    ready.wait()
    started = perf_counter()
    for thread in threads:
        thread.join()
    seconds = perf_counter() - started
    if errors:
        raise RuntimeError(errors[0])
    return timings, seconds, sizes[0]


def _get(client: httpx2.Client, path: str) -> int:
    answer = client.get(path)
    if answer.status_code != 200:
        raise RuntimeError(f"GET {path}: {answer.status_code} {answer.text[:300]}")
    return len(answer.content)


def _verdict(met: bool) -> str:
    return "met" if met else "NOT met"


def format_pages(figures: Sequence[PagesFigure]) -> str:
    """The figures as the terminal shows them: ratios to the goals and to the raw select."""
    if not figures:
        return ""
    first = figures[0]
    visits = []
    for f in figures:
        for label, loads in (
            ("first visit", f.cold),
            ("return visit", f.warm),
            (f"phone, CPU {PHONE_CPU_SLOWDOWN}x slower", f.phone),
        ):
            chart = statistics.median(load.chart_ms for load in loads)
            most = max(load.bytes for load in loads)
            visits.append(
                [
                    f.database,
                    label,
                    f"{len(loads)}",
                    f"{most:,}",
                    f"{most / BYTES_GOAL:.2f}",
                    f"{statistics.median(load.response_end_ms for load in loads):.0f}",
                    f"{chart:.0f}",
                    f"{max(load.chart_ms for load in loads):.0f}",
                    f"{chart / CHART_GOAL_MS:.2f}",
                    _verdict(most < BYTES_GOAL and chart < CHART_GOAL_MS)
                    if loads is f.cold
                    else "",
                ]
            )
    busy = "; ".join(
        f"{f.database} {' to '.join(f'{value:.1f}' for value in f.load_average)}" for f in figures
    )
    files = ", ".join(f"{name} {size:,}" for name, size in first.cold[0].bytes_by_path.items())
    api = [
        [
            f.database,
            run.target,
            f"{run.concurrency}",
            f"{len(run.timings_ms)}",
            f"{run.body_bytes:,}",
            f"{run.rate:,.0f}",
            f"{statistics.median(run.timings_ms):.1f}",
            f"{p95(run.timings_ms):.1f}",
            f"{p95(run.raw_ms):.2f}",
            f"{run.ratio:.1f}",
            f"{run.server_cpu_ms:.1f}",
        ]
        for f in figures
        for run in f.api
    ]
    return "\n".join(
        [
            f"Pages: the household's year view of {first.year} (12 monthly bars from "
            f"{first.hours:,} hourly values; demo at scale {first.scale:g}, "
            f"{first.apartments} apartments in its property; similar apartments "
            f"{'shown' if all(load.similar for load in first.cold) else 'NOT shown'}) "
            f"in headless {first.browser}, "
            f"{VIEWPORT['width']}x{VIEWPORT['height']}; each first visit in a fresh context "
            f"(empty cache), the return visit in the same one; load average {busy} "
            f"on {os.cpu_count()} cores",
            _table(
                [
                    "database",
                    "visit",
                    "loads",
                    "bytes (max)",
                    f"x {BYTES_GOAL // 1000} kB",
                    "HTML ms",
                    "chart ms",
                    "max ms",
                    "x 1 s",
                    "goals",
                ],
                visits,
            ),
            f"bytes of a first visit ({first.database}): {files}",
            "Behind the page, from a second process (httpx2, a kept-alive connection per "
            "request in flight): its HTML alone, and GET /api/v1/metering-points/{id}/values of "
            "that year by month (what it shows) and by hour; each against as many raw driver "
            "selects of the year's hourly rows, run just before it",
            _table(
                [
                    "database",
                    "GET",
                    "in flight",
                    "requests",
                    "body bytes",
                    "req/s",
                    "p50 ms",
                    "p95 ms",
                    "raw p95 ms",
                    "API p95 / raw p95",
                    "server CPU ms/req",
                ],
                api,
            ),
        ]
    )


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    numeric = [bool(rows) and rows[0][i][:1].isdigit() for i in range(len(header))]
    lines = [
        "  ".join(
            cell.rjust(width) if right else cell.ljust(width)
            for cell, width, right in zip(cells, widths, numeric, strict=True)
        ).rstrip()
        for cells in [header, ["-" * width for width in widths], *rows]
    ]
    return "\n".join(lines)
