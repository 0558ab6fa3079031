"""The figures of one run: a table on the terminal and the same figures as JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from bench.decode import DECODE_GOAL, DecodeFigure
from bench.decode import PATH_LABELS as DECODE_LABELS
from bench.decode import PATHS as DECODE_PATHS
from bench.ingest import IngestFigure
from bench.profiling import Profile
from bench.read import HOURS, PATH_LABELS, PATHS, ReadFigure
from bench.telegrams import TELEGRAM_GOAL, TelegramFigure

INGEST_GOAL = 0.5  # at least half the raw database's rate
READ_GOAL = 2.0  # at most twice the raw select's time


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    # Figures line up on the right, words on the left, judged by the first row.
    numeric = [bool(rows) and rows[0][i][:1].isdigit() for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            cell.rjust(width) if right else cell.ljust(width)
            for cell, width, right in zip(cells, widths, numeric, strict=True)
        ).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def _verdict(met: bool) -> str:
    return "met" if met else "NOT met"


def format_ingest(figures: Sequence[IngestFigure], *, meters: int) -> str:
    if not figures:
        return ""
    title = (
        f"Ingest: {meters:,} electricity meters, batch {figures[0].batch_size:,}; raw = the same "
        "rows into a bare keyed table, mean of a run before and one after openamr's"
    )
    rows = [
        [
            f.database,
            f.order,
            f"{f.hours}",
            f"{f.readings:,}",
            f"{f.seconds:,.1f}",
            f"{f.rate:,.0f}",
            f"{f.raw_rate:,.0f}",
            f"{f.ratio:.3f}",
            _verdict(f.ratio >= INGEST_GOAL),
            f"{f.parse_raw_rate:,.0f}",
            f"{f.rate / f.parse_raw_rate:.3f}",
        ]
        for f in figures
    ]
    header = [
        "database",
        "row order",
        "per meter",
        "readings",
        "openamr s",
        "openamr /s",
        "raw /s",
        "openamr/raw",
        f"goal >= {INGEST_GOAL}",
        "parse+raw /s",
        "openamr/(parse+raw)",
    ]
    return f"{title}\n{_table(header, rows)}"


def format_read(figures: Sequence[ReadFigure]) -> str:
    if not figures:
        return ""
    parts = []
    for f in figures:
        parts.append(
            f"Read ({f.database}): one point's year ({HOURS:,} hourly values) from "
            f"{f.points:,} points x {HOURS:,} = {f.points * HOURS / 1e6:.1f} M rows "
            f"({f.size_bytes / 1e9:.1f} GB), {f.samples} random points, warm cache"
        )
        rows = [
            [
                PATH_LABELS[path],
                f"{f.p50(path):.2f}",
                f"{f.p95(path):.2f}",
                f"{f.ratio(path):.2f}",
                f"{f.ratio(path, p95=True):.2f}",
                "" if path == "raw" else _verdict(f.ratio(path) <= READ_GOAL),
            ]
            for path in PATHS
        ]
        header = ["path", "p50 ms", "p95 ms", "x raw p50", "x raw p95", f"goal <= {READ_GOAL:g}x"]
        parts.append(_table(header, rows))
        setup = ", ".join(f"{key} {value:,.0f} s" for key, value in f.setup_seconds.items())
        parts.append(f"set-up (not timed): {setup}")
        parts.extend(f"note: {note}" for note in f.notes)
    return "\n".join(parts)


def format_decode(figure: DecodeFigure | None) -> str:
    if figure is None:
        return ""
    title = (
        f"Decode: the shared M-Bus vectors ({figure.vectors}, of which "
        f"{len(figure.rejected_by_design)} must be rejected and are left out); openamr decodes "
        f"{len(figure.ours_decoded)}, pymbusparser parses {len(figure.theirs_parsed)} "
        f"({len(figure.theirs_complete)} completely), both decode {len(figure.common)} correctly. "
        f"One process, median of {figure.rounds} rounds"
    )
    rows = []
    for path in DECODE_PATHS:
        stream = "all" if path == "ours_all" else "common"
        mix = figure.mix[stream]
        total = sum(mix.values())
        rows.append(
            [
                DECODE_LABELS[path],
                f"{figure.telegrams[stream]:,}",
                ", ".join(f"{count / total:.0%} {name}" for name, count in sorted(mix.items())),
                f"{figure.rate(path):,.0f}",
                f"{1e6 / figure.rate(path):.0f}",
                f"{figure.rate(path, cpu=True):,.0f}",
                f"{figure.rate(path, gc_on=False):,.0f}",
                f"{figure.rate(path, gc_on=False, cpu=True):,.0f}",
            ]
        )
    header = [
        "decoder, telegrams",
        "per round",
        "mix",
        "gc on /s",
        "µs each",
        "gc on /CPU-s",
        "gc off /s",
        "gc off /CPU-s",
    ]
    ratio = figure.ratio()
    lines = [
        title,
        _table(header, rows),
        f"openamr/pymbusparser on the same telegrams, gc on: {ratio:.2f} "
        f"(goal >= {DECODE_GOAL:g}: {_verdict(ratio >= DECODE_GOAL)}), "
        f"{figure.ratio(cpu=True):.2f} by CPU time; gc off: {figure.ratio(gc_on=False):.2f}, "
        f"{figure.ratio(gc_on=False, cpu=True):.2f} by CPU time",
        "/s: telegrams per wall-clock second of the median round (time.perf_counter); "
        "/CPU-s: per second of this process's CPU time (time.process_time), which a busy "
        "machine disturbs less",
    ]
    if figure.ours_failed:
        lines.append(f"openamr does not decode ({len(figure.ours_failed)}):")
        lines.extend(f"  {key}: {reason[:110]}" for key, reason in figure.ours_failed.items())
    excluded = figure.excluded_from_comparison
    lines.append(f"decoded by openamr but left out of the comparison ({len(excluded)}):")
    lines.extend(f"  {key}: {reason[:110]}" for key, reason in excluded.items())
    return "\n".join(lines)


def format_telegrams(figures: Sequence[TelegramFigure]) -> str:
    if not figures:
        return ""
    first = figures[0]
    title = (
        f"Telegrams end to end: {first.meters:,} wireless M-Bus water meters "
        f"({first.encrypted_meters:,} with mode 5 keys) x {first.hours} hours = "
        f"{first.telegrams:,} telegrams, time-major, {first.per_request} per request "
        f"({first.requests} requests); {first.transport}"
    )
    rows = [
        [
            f.database,
            f"{f.telegrams:,}",
            f"{f.seconds:,.1f}",
            f"{f.rate:,.0f}",
            f"{f.rate / TELEGRAM_GOAL:.2f}",
            _verdict(f.rate >= TELEGRAM_GOAL),
            f"{f.receive_seconds / f.seconds:.0%}",
            f"{f.cpu_seconds / f.seconds:.0%}",
            f"{f.cpu_rate:,.0f}",
            "–" if f.total_cpu_rate is None else f"{f.total_cpu_rate:,.0f}",
            f"{f.found.get('hourly_values_measured', 0):,}",
            "yes" if f.verified else "NO",
        ]
        for f in figures
    ]
    header = [
        "database",
        "telegrams",
        "s",
        "telegrams/s",
        "x goal",
        f"goal >= {TELEGRAM_GOAL:,}/s",
        "in receive",
        "CPU of wall",
        "/CPU-s",
        "/CPU-s with db",
        "hourly values",
        "verified",
    ]
    lines = [
        f"{title}\n{_table(header, rows)}",
        "in receive: share of the time inside TelegramIngest.receive; CPU of wall and /CPU-s: "
        "this process's CPU time (server, client, SQLite; not PostgreSQL's server processes); "
        "/CPU-s with db: with the CPU time of PostgreSQL's backends serving the run as well",
    ]
    for f in figures:
        setup = ", ".join(f"{key} {value:,.1f} s" for key, value in f.setup_seconds.items())
        lines.append(f"{f.database} set-up (not timed): {setup}")
        lines.extend(f"{f.database} NOT VERIFIED: {problem}" for problem in f.problems)
    return "\n".join(lines)


def format_profile(profile: Profile, *, lines: int = 15) -> str:
    title = f"Profile ({profile.database}): {profile.label}, {profile.seconds:.1f} s under cProfile"
    own = _table(
        ["own time: function", "calls", "own s", "share"],
        [
            [
                item.function[:90],
                f"{item.calls:,}",
                f"{item.own_seconds:.2f}",
                f"{item.own_seconds / profile.seconds:.0%}",
            ]
            for item in profile.own[:lines]
        ],
    )
    total = _table(
        ["openamr, including callees", "calls", "total s", "share"],
        [
            [
                item.function[:90],
                f"{item.calls:,}",
                f"{item.total_seconds:.2f}",
                f"{item.total_seconds / profile.seconds:.0%}",
            ]
            for item in profile.total[:lines]
        ],
    )
    return f"{title}\n{own}\n\n{total}"


def write_json(path: Path, document: dict[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
