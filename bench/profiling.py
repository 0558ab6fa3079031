"""Where the time goes: cProfile over the first readings of an import, or over a few reads.

cProfile slows Python code more than time spent waiting for the database, so
the shares it shows overstate the Python side somewhat; they rank the costs,
they do not replace the timed runs.
"""

from __future__ import annotations

import cProfile
import pstats
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from pathlib import Path
from time import perf_counter

from bench.ingest import ACCESS
from bench.scratch import Scratch
from openamr.collect.readings import ReadingIngest, read_readings_csv


@dataclass(frozen=True)
class ProfileLine:
    function: str  # module:line(name), shortened to the package
    calls: int
    own_seconds: float  # in the function itself
    total_seconds: float  # including what it calls

    def as_dict(self) -> dict[str, object]:
        return {
            "function": self.function,
            "calls": self.calls,
            "own_seconds": round(self.own_seconds, 3),
            "total_seconds": round(self.total_seconds, 3),
        }


@dataclass(frozen=True)
class Profile:
    database: str
    label: str  # what was profiled
    seconds: float  # wall time under the profiler
    own: list[ProfileLine]  # the largest own times
    total: list[ProfileLine]  # openamr functions by time including callees

    def as_dict(self) -> dict[str, object]:
        return {
            "database": self.database,
            "label": self.label,
            "seconds": round(self.seconds, 3),
            "top_own_time": [line.as_dict() for line in self.own],
            "openamr_by_total_time": [line.as_dict() for line in self.total],
        }


def profile_ingest(
    scratch: Scratch,
    template: str,
    readings_csv: Path,
    *,
    readings: int,
    batch_size: int,
    now: datetime,
    top: int = 25,
) -> Profile:
    """Profile the import of the file's first `readings` rows into a copy of `template`."""
    url = scratch.create("profile", template=template)
    engine = scratch.engine(url, ingest_batch_size=batch_size)
    try:
        with engine.connect():
            pass
        ingest = ReadingIngest(engine, access=ACCESS, source=f"file:{readings_csv.name}", now=now)
        with readings_csv.open(encoding="utf-8-sig", newline="") as stream:
            return run_profiled(
                lambda: ingest.add_all(
                    islice(read_readings_csv(stream), readings), batch_size=batch_size
                ),
                database=scratch.kind,
                label=f"ingest of the first {readings:,} readings of {readings_csv.name}",
                top=top,
            )
    finally:
        engine.dispose()
        scratch.drop(url)


def run_profiled(
    work: Callable[[], object], *, database: str, label: str, top: int = 25
) -> Profile:
    """Run `work` once under cProfile; its largest costs."""
    profiler = cProfile.Profile()
    started = perf_counter()
    profiler.enable()
    try:
        work()
    finally:
        profiler.disable()
    seconds = perf_counter() - started
    stats = pstats.Stats(profiler)
    lines = []
    # pstats keeps its table in an attribute it does not declare.
    table = stats.stats  # type: ignore[attr-defined]
    for (filename, line, name), (_primitive, calls, own, total, _callers) in table.items():
        lines.append(ProfileLine(_where(filename, line, name), calls, own, total))
    own = sorted(lines, key=lambda item: item.own_seconds, reverse=True)[:top]
    # The entry points take all the time by definition; what they call is the news.
    wrappers = ("(add_all)", "(add_batch)", "(<lambda>)")
    openamr = [
        item
        for item in lines
        if item.function.startswith("openamr/") and not item.function.endswith(wrappers)
    ]
    total = sorted(openamr, key=lambda item: item.total_seconds, reverse=True)[:top]
    return Profile(database, label, seconds, own, total)


def _where(filename: str, line: int, name: str) -> str:
    if filename == "~":
        return name  # a built-in function such as <method 'execute' of ...>
    path = Path(filename)
    parts = path.parts
    for anchor in ("openamr", "sqlalchemy", "psycopg", "bench"):
        if anchor in parts:
            at = len(parts) - 1 - parts[::-1].index(anchor)
            return f"{'/'.join(parts[at:])}:{line}({name})"
    return f"{path.name}:{line}({name})"
