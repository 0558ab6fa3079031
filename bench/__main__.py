"""`python -m bench`: run the ingest, read, decode, telegrams and pages benchmarks; print, save."""

from __future__ import annotations

import argparse
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from time import perf_counter

from bench.data import Order, make_series, write_portfolio_csv, write_readings_csv
from bench.decode import VECTORS, DecodeFigure, measure_decode, profile_decode
from bench.ingest import IngestFigure, measure_ingest, prepare_portfolio
from bench.pages import DEMO_SCALE, PagesFigure, format_pages, measure_pages
from bench.profiling import Profile, profile_ingest
from bench.read import ReadFigure, measure_reads, prepare_values
from bench.report import (
    format_decode,
    format_ingest,
    format_profile,
    format_read,
    format_telegrams,
    write_json,
)
from bench.scratch import DATABASES, PostgreSQLScratch, Scratch, SQLiteScratch
from bench.telegram_data import make_meters, make_telegrams
from bench.telegrams import TelegramFigure, prepare_template, profile_receive, run_http, summary
from openamr.settings import Settings
from openamr.timeutil import utc_now

RESULTS = Path(__file__).parent / "results" / "latest.json"
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
BENCHMARKS = ("ingest", "read", "decode", "telegrams", "pages")
DATABASE_BENCHMARKS = ("ingest", "read", "telegrams", "pages")
DECODE_PROFILE_MAX = 20_000  # telegrams: enough for the shares, quick under cProfile


def _names(allowed: Sequence[str]) -> Callable[[str], list[str]]:
    def parse(text: str) -> list[str]:
        names = [name.strip() for name in text.split(",") if name.strip()]
        unknown = [name for name in names if name not in allowed]
        if unknown or not names:
            raise argparse.ArgumentTypeError(
                f"expected a comma-separated list of {', '.join(allowed)}"
            )
        return names

    return parse


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Time openamr's ingest and read paths against the raw database, its "
        "M-Bus decoder against pymbusparser, and telegrams over HTTP end to end, each in the "
        "same run. Defaults are the full sizes of docs/performance.md.",
    )
    parser.add_argument("--only", choices=BENCHMARKS, help="run one benchmark (default: all)")
    parser.add_argument(
        "--databases",
        type=_names(DATABASES),
        default=list(DATABASES),
        help="comma-separated: sqlite,postgresql (default: both)",
    )
    parser.add_argument("--meters", type=int, default=20_000, help="ingest: meters (default 20000)")
    parser.add_argument(
        "--readings", type=int, default=100, help="ingest: hourly readings per meter (default 100)"
    )
    parser.add_argument(
        "--orders",
        type=_names([order.value for order in Order]),
        default=[order.value for order in Order],
        help="ingest: row orders of the file, meter-major,time-major (default: both)",
    )
    parser.add_argument(
        "--time-major-hours",
        type=int,
        default=None,
        metavar="HOURS",
        help="ingest: let the time-major file hold only each meter's first HOURS readings, "
        "for a quicker run (default: all of them)",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=Settings().ingest_batch_size,
        help="ingest: readings per batch (default: openamr's ingest_batch_size, "
        f"{Settings().ingest_batch_size})",
    )
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="READINGS",
        help="also profile with cProfile the ingest of the first READINGS readings of "
        "each file, 10 reads of each openamr read path, the decoding of READINGS telegrams "
        f"(at most {DECODE_PROFILE_MAX:,}) and TelegramIngest.receive of the first READINGS "
        "telegrams (default 0: no profiles)",
    )
    parser.add_argument(
        "--points",
        type=int,
        default=10_000,
        help="read: metering points with a year of hourly values each (default 10000)",
    )
    parser.add_argument(
        "--samples", type=int, default=50, help="read: random points timed (default 50)"
    )
    parser.add_argument(
        "--vectors",
        type=Path,
        default=VECTORS,
        help="decode: the shared M-Bus test vectors (default: %(default)s)",
    )
    parser.add_argument(
        "--decode-telegrams",
        type=int,
        default=100_000,
        help="decode: telegrams per round, at least (default 100000)",
    )
    parser.add_argument(
        "--decode-rounds",
        type=int,
        default=3,
        help="decode: timed rounds, each with the garbage collector on and off; "
        "the median is reported (default 3)",
    )
    parser.add_argument(
        "--telegram-meters",
        type=int,
        default=2_000,
        help="telegrams: wireless M-Bus water meters (default 2000)",
    )
    parser.add_argument(
        "--telegram-hours",
        type=int,
        default=24,
        help="telegrams: hourly telegrams per meter (default 24)",
    )
    parser.add_argument(
        "--telegrams-per-request",
        type=int,
        default=500,
        help="telegrams: telegrams per POST (default 500)",
    )
    parser.add_argument(
        "--encrypted-share",
        type=float,
        default=0.3,
        help="telegrams: share of the meters that encrypt in mode 5 (default 0.3)",
    )
    parser.add_argument(
        "--page-scale",
        type=float,
        default=DEMO_SCALE,
        help=f"pages: the demo portfolio's size, as `openamr demo --scale` (default {DEMO_SCALE})",
    )
    parser.add_argument("--seed", type=int, default=2026, help="random seed (default 2026)")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("OPENAMR_BENCH_PG_URL")
        or os.environ.get("OPENAMR_TEST_PG_URL")
        or DEFAULT_PG_URL,
        help="a PostgreSQL database to create scratch databases from "
        "(default: $OPENAMR_BENCH_PG_URL, $OPENAMR_TEST_PG_URL or %(default)s)",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="where the temporary files and SQLite databases go (default: the system's)",
    )
    parser.add_argument(
        "--output", type=Path, default=RESULTS, help="JSON results (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    positive = (
        "meters",
        "readings",
        "time_major_hours",
        "batch_size",
        "points",
        "samples",
        "decode_telegrams",
        "decode_rounds",
        "telegram_meters",
        "telegram_hours",
        "telegrams_per_request",
    )
    for name in positive:
        if getattr(args, name) is not None and getattr(args, name) <= 0:
            parser.error(f"--{name.replace('_', '-')} must be positive")
    if not 0 <= args.encrypted_share <= 1:
        parser.error("--encrypted-share must be between 0 and 1")
    return args


def machine() -> dict[str, object]:
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "cpu": model,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
    }


def revision() -> str | None:
    """The git commit of the code measured, marked when the working tree differs from it."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--", "openamr"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return f"{commit}+changes" if changed else commit


class Run:
    """One run: its options, the figures gathered so far, and the JSON document they go to."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.clock = perf_counter()
        self.now = utc_now()
        self.machine = machine()
        self.started_at = datetime.now(UTC).isoformat(timespec="seconds")
        self.revision = revision()
        self.ingest_figures: list[IngestFigure] = []
        self.read_figures: list[ReadFigure] = []
        self.decode_figure: DecodeFigure | None = None
        self.telegram_figures: list[TelegramFigure] = []
        self.page_figures: list[PagesFigure] = []
        self.profiles: list[Profile] = []

    def progress(self, message: str) -> None:
        print(f"[{perf_counter() - self.clock:7.1f} s] {message}", file=sys.stderr, flush=True)

    def save(self) -> None:
        """Write what is known so far, so that an interrupted run still leaves its figures."""
        options = {key: value for key, value in vars(self.args).items() if key != "pg_url"}
        write_json(
            self.args.output,
            {
                "started_at": self.started_at,
                "seconds": round(perf_counter() - self.clock, 1),
                "revision": self.revision,
                "machine": self.machine,
                "options": {
                    key: str(value) if isinstance(value, Path) else value
                    for key, value in options.items()
                },
                "ingest": [figure.as_dict() for figure in self.ingest_figures],
                "read": [figure.as_dict() for figure in self.read_figures],
                "decode": None if self.decode_figure is None else self.decode_figure.as_dict(),
                "telegrams": [figure.as_dict() for figure in self.telegram_figures],
                "pages": [figure.as_dict() for figure in self.page_figures],
                "profile": [profile.as_dict() for profile in self.profiles],
            },
        )

    def ingest(self, workdir: Path, scratches: Sequence[Scratch]) -> None:
        args = self.args
        self.progress(f"writing {args.meters * args.readings:,} readings as CSV")
        series = make_series(meters=args.meters, per_meter=args.readings, seed=args.seed)
        portfolio_csv = workdir / "portfolio.csv"
        write_portfolio_csv(portfolio_csv, args.meters)
        files = []
        for name in args.orders:
            order = Order(name)
            hours = args.readings
            if order is Order.TIME_MAJOR and args.time_major_hours is not None:
                hours = min(args.time_major_hours, args.readings)
            path = workdir / f"readings-{order.value}.csv"
            files.append(write_readings_csv(path, series, order, hours))
        for scratch in scratches:
            self.progress(f"{scratch.kind}: importing {args.meters:,} meters (not timed)")
            template, seconds = prepare_portfolio(scratch, portfolio_csv, now=self.now)
            self.progress(f"{scratch.kind}: portfolio imported in {seconds:.0f} s")
            self.ingest_figures += measure_ingest(
                scratch,
                template=template,
                series=series,
                files=files,
                batch_size=args.batch_size,
                now=self.now,
                progress=self.progress,
            )
            for file in files if args.profile else []:
                self.progress(f"{scratch.kind} {file.order}: profiling {args.profile:,} readings")
                self.profiles.append(
                    profile_ingest(
                        scratch,
                        template,
                        file.path,
                        readings=min(args.profile, file.readings),
                        batch_size=args.batch_size,
                        now=self.now,
                    )
                )
            scratch.drop(template)
            self.save()
        for file in files:
            file.path.unlink()

    def read(self, scratches: Sequence[Scratch]) -> None:
        args = self.args
        for scratch in scratches:
            self.progress(f"{scratch.kind}: loading {args.points:,} points x 8,760 hours")
            url, point_ids, setup, notes = prepare_values(
                scratch, points=args.points, seed=args.seed, now=self.now, progress=self.progress
            )
            self.progress(
                f"{scratch.kind}: set up in {sum(setup.values()):.0f} s; "
                f"timing {args.samples} reads"
            )
            timings, profiles = measure_reads(
                scratch,
                url,
                point_ids,
                samples=args.samples,
                seed=args.seed,
                profile_points=10 if args.profile else 0,
            )
            self.profiles += profiles
            self.read_figures.append(
                ReadFigure(
                    database=scratch.kind,
                    points=args.points,
                    samples=min(args.samples, args.points),
                    setup_seconds=setup,
                    size_bytes=scratch.size_bytes(url),
                    timings_ms=timings,
                    notes=notes,
                )
            )
            scratch.drop(url)
            self.save()

    def decode(self) -> None:
        args = self.args
        self.progress(
            f"decode: at least {args.decode_telegrams:,} telegrams a round, "
            f"{args.decode_rounds} rounds"
        )
        self.decode_figure = measure_decode(
            args.vectors,
            minimum=args.decode_telegrams,
            rounds=args.decode_rounds,
            seed=args.seed,
            progress=self.progress,
        )
        if args.profile:
            telegrams = min(args.profile, DECODE_PROFILE_MAX)
            self.progress(f"decode: profiling {telegrams:,} telegrams")
            self.profiles.append(profile_decode(args.vectors, telegrams=telegrams, seed=args.seed))
        self.save()

    def telegrams(self, workdir: Path, scratches: Sequence[Scratch]) -> None:
        args = self.args
        meters = make_meters(
            args.telegram_meters, encrypted_share=args.encrypted_share, seed=args.seed
        )
        data = make_telegrams(
            meters,
            hours=args.telegram_hours,
            per_request=args.telegrams_per_request,
            seed=args.seed,
        )
        self.progress(
            f"telegrams: {data.telegrams:,} telegrams of {len(meters):,} meters "
            f"({data.encrypted_meters:,} encrypted) in {len(data.bodies)} requests"
        )
        for scratch in scratches:
            self.progress(
                f"{scratch.kind}: telegrams: importing {len(meters):,} meters (not timed)"
            )
            template = prepare_template(scratch, data, workdir, now=self.now)
            self.progress(f"{scratch.kind}: telegrams: posting over HTTP")
            figure = run_http(scratch, template, data, now=self.now)
            self.telegram_figures.append(figure)
            self.progress(f"{scratch.kind}: telegrams: {summary(figure)}")
            if args.profile:
                count = min(args.profile, data.telegrams)
                self.progress(f"{scratch.kind}: telegrams: profiling {count:,} telegrams")
                self.profiles.append(profile_receive(scratch, template, data, telegrams=count))
            scratch.drop(template.url)
            self.save()

    def print(self) -> None:
        info = self.machine
        print()
        print(f"openamr bench, {self.started_at}, revision {self.revision}")
        print(
            f"{info['cores']} cores ({info['cpu']}), Python {info['python']}, "
            f"SQLite {info['sqlite']}"
            + (f", PostgreSQL {info['postgresql']}" if "postgresql" in info else "")
        )
        for text in (
            format_ingest(self.ingest_figures, meters=self.args.meters),
            format_read(self.read_figures),
            format_decode(self.decode_figure),
            format_telegrams(self.telegram_figures),
            format_pages(self.page_figures),
            *(format_profile(profile) for profile in self.profiles),
        ):
            if text:
                print()
                print(text)
        print()
        print(f"whole run {perf_counter() - self.clock:,.0f} s; figures in {self.args.output}")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    run = Run(args)
    with (
        tempfile.TemporaryDirectory(prefix="openamr-bench-", dir=args.workdir) as tmp,
        ExitStack() as stack,
    ):
        workdir = Path(tmp)
        scratches: list[Scratch] = []
        databases = args.databases if args.only in (None, *DATABASE_BENCHMARKS) else []
        for kind in databases:
            if kind == "sqlite":
                scratches.append(stack.enter_context(SQLiteScratch(workdir)))
            else:
                server = stack.enter_context(PostgreSQLScratch(args.pg_url))
                run.machine["postgresql"] = server.server_version()
                scratches.append(server)
        if args.only in (None, "ingest"):
            run.ingest(workdir, scratches)
        if args.only in (None, "read"):
            run.read(scratches)
        if args.only in (None, "decode"):
            run.decode()
        if args.only in (None, "telegrams"):
            run.telegrams(workdir, scratches)
        for scratch in scratches if args.only in (None, "pages") else []:
            run.page_figures.append(
                measure_pages(
                    scratch,
                    now=run.now,
                    seed=args.seed,
                    scale=args.page_scale,
                    progress=run.progress,
                )
            )
            run.save()
    run.save()
    run.print()
    # Figures of a run that did not store what it was sent are not figures.
    return 0 if all(figure.verified for figure in run.telegram_figures) else 1


if __name__ == "__main__":
    sys.exit(main())
