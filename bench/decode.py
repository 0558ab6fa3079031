"""Decode: telegrams per second of openamr's M-Bus decoder, and of pymbusparser on the same ones.

The telegrams are the shared test vectors (tests/data/mbus/vectors.json, a copy
of ../shared/testdata/mbus/vectors.json, described in its README): real
telegrams of many meters, wired long frames, wireless plaintext, mode 5, mode 7
and ELL-encrypted ones with their keys, and payloads a source stored already
decrypted. The vectors a decoder must reject are left out. Every other vector
our decoder decodes is used, with its key, a pre-decrypted one with
``allow_pre_decrypted=True``; one ``LayoutCache`` serves the whole run, as in a
collector, and has learnt every full frame before the clock starts, so a
compact frame finds its layout.

For the comparison, a telegram counts as decoded correctly by pymbusparser
when its output holds our decoder's main register: the meter's own quantity
(energy or volume first, then heat cost allocator units, then temperature or
humidity, as openamr's register readings take them), in the same storage,
tariff and subunit, with the same value once both units are brought to one
(Wh, m3, °C). Both decoders are then timed on the telegrams both decode
correctly, in the same order and the same run.

Each stream is the chosen vectors, shuffled (seeded) and repeated to at least
the asked number of telegrams. Timing is single-process, with
``time.perf_counter``, for several rounds; the figure is the median round.
Rounds run with the cyclic garbage collector on, as a collector runs, and
again with it off (``gc.disable()``, as ``timeit`` does) to show its share.
The order of the streams turns from round to round, so drift on a noisy
machine does not fall on one side.
"""

from __future__ import annotations

import gc
import json
import random
import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from itertools import islice
from pathlib import Path
from time import perf_counter, process_time
from typing import Any

import pymbusparser

from bench.profiling import Profile, run_profiled
from openamr.collect.mbus.compact import LayoutCache
from openamr.collect.mbus.model import Function, Record, Telegram, UnableToDecodeTelegram
from openamr.collect.mbus.telegram import decode
from openamr.collect.telegram_readings import REGISTER_RECORDS

# The shared vectors travel with the repository (a copy of ../shared/testdata/mbus);
# the shared directory is the fallback for a tree without the copy.
_ROOT = Path(__file__).resolve().parents[1]
_VECTOR_PLACES = (
    _ROOT / "tests" / "data" / "mbus" / "vectors.json",
    _ROOT.parent / "shared" / "testdata" / "mbus" / "vectors.json",
)
VECTORS = next((place for place in _VECTOR_PLACES if place.is_file()), _VECTOR_PLACES[0])
PATHS = ("ours_all", "ours_common", "pymbusparser_common")
PATH_LABELS = {
    "ours_all": "openamr, every vector it decodes",
    "ours_common": "openamr, vectors both decode correctly",
    "pymbusparser_common": "pymbusparser, vectors both decode correctly",
}
DECODE_GOAL = 1.0  # openamr at least as fast as pymbusparser on the same telegrams

# The register quantities in the order a telegram's main register is looked for.
_MAIN_QUANTITIES = [name for names in REGISTER_RECORDS.values() for name in names]

# unit -> (dimension, size in the dimension's base unit), for both decoders' spellings.
_OUR_UNITS: dict[str | None, tuple[str, Fraction]] = {
    "Wh": ("energy", Fraction(1)),
    "kWh": ("energy", Fraction(10**3)),
    "MWh": ("energy", Fraction(10**6)),
    "GWh": ("energy", Fraction(10**9)),
    "J": ("energy", Fraction(1, 3600)),
    "kJ": ("energy", Fraction(10**3, 3600)),
    "MJ": ("energy", Fraction(10**6, 3600)),
    "GJ": ("energy", Fraction(10**9, 3600)),
    "m3": ("volume", Fraction(1)),
    "m³": ("volume", Fraction(1)),
    "l": ("volume", Fraction(1, 1000)),
    "°C": ("temperature", Fraction(1)),
    "K": ("temperature", Fraction(1)),
    "%RH": ("humidity", Fraction(1)),
    "units": ("hca", Fraction(1)),
    None: ("hca", Fraction(1)),
}
_THEIR_UNITS: dict[str, tuple[str, Fraction]] = {
    "W.h": ("energy", Fraction(1)),
    "J": ("energy", Fraction(1, 3600)),
    "m3": ("volume", Fraction(1)),
    "Cel": ("temperature", Fraction(1)),
    "K": ("temperature", Fraction(1)),
    "%": ("humidity", Fraction(1)),
}
_FLOAT_TOLERANCE = 1e-6  # relative: meters send IEEE 754 single-precision reals


@dataclass(frozen=True)
class Vector:
    id: str
    data: bytes
    key: bytes | None = field(repr=False)
    pre_decrypted: bool

    @property
    def protection(self) -> str:
        if self.pre_decrypted:
            return "pre-decrypted"
        return "plaintext" if self.key is None else "encrypted"


Item = tuple[bytes, bytes | None, bool]  # data, key, allow_pre_decrypted


def _stream_of(path: str) -> str:
    return "all" if path == "ours_all" else "common"


@dataclass
class DecodeFigure:
    """Which vectors each decoder decodes, and the timed rounds of each stream."""

    vectors: int
    rejected_by_design: list[str]  # error vectors, left out
    ours_failed: dict[str, str]  # vector: our decoder's reason
    theirs_failed: dict[str, str]  # vector: pymbusparser's error, or its output's problem
    ours_decoded: list[str]
    theirs_parsed: list[str]  # without an exception
    theirs_complete: list[str]  # and with decode_state "complete"
    common: list[str]  # both decode correctly (the main register agrees)
    excluded_from_comparison: dict[str, str]  # decoded by us, not compared: why
    mix: dict[str, dict[str, int]]  # stream: protection: telegrams
    telegrams: dict[str, int]  # per round, per stream
    rounds: int
    seconds: dict[str, dict[str, list[float]]] = field(default_factory=dict)  # path: gc: rounds
    cpu_seconds: dict[str, dict[str, list[float]]] = field(default_factory=dict)

    def median(self, path: str, *, gc_on: bool = True, cpu: bool = False) -> float:
        rounds = self.cpu_seconds if cpu else self.seconds
        return statistics.median(rounds[path]["on" if gc_on else "off"])

    def rate(self, path: str, *, gc_on: bool = True, cpu: bool = False) -> float:
        """Telegrams per second of the median round: by the wall clock, or by the CPU time used."""
        return self.telegrams[_stream_of(path)] / self.median(path, gc_on=gc_on, cpu=cpu)

    def ratio(self, *, gc_on: bool = True, cpu: bool = False) -> float:
        """openamr's rate over pymbusparser's, on the telegrams both decode correctly."""
        ours = self.rate("ours_common", gc_on=gc_on, cpu=cpu)
        return ours / self.rate("pymbusparser_common", gc_on=gc_on, cpu=cpu)

    def as_dict(self) -> dict[str, object]:
        return {
            "vectors": self.vectors,
            "rejected_by_design": self.rejected_by_design,
            "ours_decoded": len(self.ours_decoded),
            "ours_failed": self.ours_failed,
            "pymbusparser_parsed": len(self.theirs_parsed),
            "pymbusparser_complete": len(self.theirs_complete),
            "pymbusparser_failed": self.theirs_failed,
            "common": self.common,
            "excluded_from_comparison": self.excluded_from_comparison,
            "mix": self.mix,
            "telegrams_per_round": self.telegrams,
            "rounds": self.rounds,
            "pymbusparser_version": pymbusparser.__version__,
            "paths": {
                path: {
                    gc_state: {
                        "median_seconds": round(self.median(path, gc_on=gc_on), 4),
                        "telegrams_per_second": round(self.rate(path, gc_on=gc_on)),
                        "median_cpu_seconds": round(self.median(path, gc_on=gc_on, cpu=True), 4),
                        "telegrams_per_cpu_second": round(self.rate(path, gc_on=gc_on, cpu=True)),
                        "seconds": [round(value, 4) for value in self.seconds[path][gc_state]],
                        "cpu_seconds": [
                            round(value, 4) for value in self.cpu_seconds[path][gc_state]
                        ],
                    }
                    for gc_state, gc_on in (("on", True), ("off", False))
                }
                for path in PATHS
            },
            "ratio_ours_to_pymbusparser": {
                "gc_on": round(self.ratio(), 3),
                "gc_off": round(self.ratio(gc_on=False), 3),
                "gc_on_cpu": round(self.ratio(cpu=True), 3),
                "gc_off_cpu": round(self.ratio(gc_on=False, cpu=True), 3),
            },
        }


def load_vectors(path: Path) -> tuple[list[Vector], list[str]]:
    """The vectors a decoder should decode, and the ids of those it must reject."""
    if not path.is_file():
        raise FileNotFoundError(f"the M-Bus test vectors are missing: expected them at {path}")
    usable, rejected = [], []
    for entry in json.loads(path.read_text(encoding="utf-8")):
        if str(entry["expected_kind"]).startswith("error:"):
            rejected.append(entry["id"])
            continue
        security = entry.get("security") or {}
        usable.append(
            Vector(
                id=entry["id"],
                data=bytes.fromhex(entry["hex"]),
                key=bytes.fromhex(entry["key"]) if entry["key"] else None,
                pre_decrypted=str(security.get("payload_in_hex", "")).startswith(
                    "plaintext (pre-decrypted"
                ),
            )
        )
    return usable, rejected


def _decode(vector: Vector, layouts: LayoutCache) -> Telegram:
    return decode(
        vector.data, key=vector.key, layouts=layouts, allow_pre_decrypted=vector.pre_decrypted
    )


def decode_ours(vectors: Sequence[Vector], layouts: LayoutCache) -> dict[str, Telegram | str]:
    """Each vector's telegram, or why our decoder rejects it.

    Two passes: the first lets `layouts` learn every full frame, so that the
    second reads a compact frame as a collector does once it has heard its
    meter's full frame.
    """
    for vector in vectors:
        with suppress(UnableToDecodeTelegram):
            _decode(vector, layouts)
    outcomes: dict[str, Telegram | str] = {}
    for vector in vectors:
        try:
            outcomes[vector.id] = _decode(vector, layouts)
        except UnableToDecodeTelegram as exc:
            outcomes[vector.id] = f"{exc.cause}: {exc.reason}"
    return outcomes


def decode_theirs(vectors: Sequence[Vector]) -> dict[str, dict[str, Any] | str]:
    """Each vector's pymbusparser output, or its error."""
    outcomes: dict[str, dict[str, Any] | str] = {}
    for vector in vectors:
        try:
            outcomes[vector.id] = pymbusparser.parse(vector.data, key=vector.key)
        except (pymbusparser.MbusParserError, ValueError, TypeError) as exc:
            outcomes[vector.id] = f"{type(exc).__name__}: {exc}"
    return outcomes


def main_register(telegram: Telegram) -> Record | None:
    """The meter's register value: of the first register quantity it has, the plain record first."""
    for quantity in _MAIN_QUANTITIES:
        records = [
            record
            for record in telegram.records
            if record.quantity == quantity
            and isinstance(record.value, Decimal | int)
            and not isinstance(record.value, bool)
            and record.unit in _OUR_UNITS
        ]
        plain = [
            record
            for record in records
            if (record.storage, record.tariff, record.subunit, record.function)
            == (0, 0, 0, Function.INSTANTANEOUS)
        ]
        if plain or records:
            return (plain or records)[0]
    return None


def _their_value(record: Mapping[str, Any]) -> tuple[str, Fraction | float] | None:
    """A pymbusparser record's (dimension, value in the base unit), if it is a register."""
    unit = record.get("unit")
    quantities = record.get("quantities") or []
    if unit is None and any("HCA" in quantity for quantity in quantities):
        dimension, size = "hca", Fraction(1)
    elif unit in _THEIR_UNITS:
        dimension, size = _THEIR_UNITS[unit]
    else:
        return None
    value = record.get("value") or {}
    kind, raw = value.get("kind"), value.get("value")
    if kind == "float" and isinstance(raw, int | float):
        return dimension, float(raw) * float(size)
    if kind in ("decimal", "text") and raw is not None:
        try:
            return dimension, Fraction(Decimal(str(raw))) * size
        except (InvalidOperation, ValueError):
            return None
    return None


def holds_register(output: Mapping[str, Any], register: Record) -> bool:
    """Whether pymbusparser's output has a record equal to our main register."""
    dimension, size = _OUR_UNITS[register.unit]
    assert isinstance(register.value, Decimal | int)
    ours = Fraction(register.value) * size
    for record in output.get("records") or []:
        place = (record.get("storage_number"), record.get("tariff"), record.get("subunit"))
        if place != (register.storage, register.tariff, register.subunit):
            continue
        theirs = _their_value(record)
        if theirs is None or theirs[0] != dimension:
            continue
        value = theirs[1]
        if isinstance(value, float):
            if abs(value - float(ours)) <= _FLOAT_TOLERANCE * max(abs(float(ours)), 1.0):
                return True
        elif value == ours:
            return True
    return False


def compare(
    vectors: Sequence[Vector],
    ours: Mapping[str, Telegram | str],
    theirs: Mapping[str, dict[str, Any] | str],
) -> tuple[list[str], dict[str, str]]:
    """The vectors both decode correctly, and why each other one we decode is left out."""
    common, excluded = [], {}
    for vector in vectors:
        telegram = ours[vector.id]
        if isinstance(telegram, str):
            continue
        output = theirs[vector.id]
        register = main_register(telegram)
        if isinstance(output, str):
            excluded[vector.id] = f"pymbusparser: {output}"
        elif register is None:
            excluded[vector.id] = "our decoder gives no register value to compare"
        elif holds_register(output, register):
            common.append(vector.id)
        else:
            security = output.get("security") or {}
            value = register.value
            assert isinstance(value, Decimal | int)
            excluded[vector.id] = (
                f"pymbusparser's output ({output.get('decode_state')}, decryption "
                f"{security.get('decryption_state')}) lacks our {register.quantity} "
                f"{value} {register.unit} (storage {register.storage}, "
                f"tariff {register.tariff})"
            )
    return common, excluded


def stream(vectors: Sequence[Vector], *, minimum: int, seed: int) -> list[Item]:
    """The vectors repeated to at least `minimum` telegrams, shuffled with `seed`."""
    repeats = -(-minimum // len(vectors))
    items = [(v.data, v.key, v.pre_decrypted) for v in vectors] * repeats
    random.Random(seed).shuffle(items)
    return items


def _mix(vectors: Sequence[Vector], telegrams: int) -> dict[str, int]:
    repeats = telegrams // len(vectors)
    counts: dict[str, int] = {}
    for vector in vectors:
        counts[vector.protection] = counts.get(vector.protection, 0) + repeats
    return counts


def run_ours(items: Iterable[Item], layouts: LayoutCache) -> None:
    for data, key, pre_decrypted in items:
        decode(data, key=key, layouts=layouts, allow_pre_decrypted=pre_decrypted)


def run_theirs(items: Iterable[Item]) -> None:
    parse = pymbusparser.parse
    for data, key, _pre_decrypted in items:
        parse(data, key=key)


def _timed(work: Callable[[], None], *, gc_on: bool) -> tuple[float, float]:
    """Wall and CPU seconds of `work`, with the collector as asked and a clean heap to start."""
    gc.collect()
    if not gc_on:
        gc.disable()
    try:
        cpu = process_time()
        started = perf_counter()
        work()
        return perf_counter() - started, process_time() - cpu
    finally:
        gc.enable()


def measure_decode(
    path: Path,
    *,
    minimum: int,
    rounds: int,
    seed: int,
    progress: Callable[[str], None],
) -> DecodeFigure:
    vectors, rejected = load_vectors(path)
    layouts = LayoutCache()  # one for the whole run, as a collector has
    ours = decode_ours(vectors, layouts)
    theirs = decode_theirs(vectors)
    decoded = [vector for vector in vectors if not isinstance(ours[vector.id], str)]
    common_ids, excluded = compare(vectors, ours, theirs)
    common = [vector for vector in vectors if vector.id in common_ids]
    if not decoded or not common:
        raise RuntimeError(
            f"nothing to time: openamr decodes {len(decoded)} vectors, "
            f"{len(common)} of them also pymbusparser"
        )
    all_items = stream(decoded, minimum=minimum, seed=seed)
    common_items = stream(common, minimum=minimum, seed=seed)
    figure = DecodeFigure(
        vectors=len(vectors) + len(rejected),
        rejected_by_design=rejected,
        ours_failed={key: value for key, value in ours.items() if isinstance(value, str)},
        theirs_failed={key: value for key, value in theirs.items() if isinstance(value, str)},
        ours_decoded=[vector.id for vector in decoded],
        theirs_parsed=[key for key, value in theirs.items() if not isinstance(value, str)],
        theirs_complete=[
            key
            for key, value in theirs.items()
            if not isinstance(value, str) and value.get("decode_state") == "complete"
        ],
        common=common_ids,
        excluded_from_comparison=excluded,
        mix={
            "all": _mix(decoded, len(all_items)),
            "common": _mix(common, len(common_items)),
        },
        telegrams={"all": len(all_items), "common": len(common_items)},
        rounds=rounds,
    )
    progress(
        f"decode: openamr decodes {len(decoded)} of {len(vectors)} vectors, pymbusparser "
        f"parses {len(figure.theirs_parsed)}; {len(common)} in common; streams of "
        f"{len(all_items):,} and {len(common_items):,} telegrams"
    )
    work = {
        "ours_all": lambda: run_ours(all_items, layouts),
        "ours_common": lambda: run_ours(common_items, layouts),
        "pymbusparser_common": lambda: run_theirs(common_items),
    }
    figure.seconds = {path_: {"on": [], "off": []} for path_ in PATHS}
    figure.cpu_seconds = {path_: {"on": [], "off": []} for path_ in PATHS}
    for number in range(rounds):
        order = PATHS[number % len(PATHS) :] + PATHS[: number % len(PATHS)]
        for gc_on in (True, False) if number % 2 == 0 else (False, True):
            for name in order:
                wall, cpu = _timed(work[name], gc_on=gc_on)
                figure.seconds[name]["on" if gc_on else "off"].append(wall)
                figure.cpu_seconds[name]["on" if gc_on else "off"].append(cpu)
        rates = (
            f"{name} {figure.telegrams[_stream_of(name)] / figure.seconds[name]['on'][-1]:,.0f}/s"
            for name in PATHS
        )
        progress(f"decode round {number + 1}/{rounds} (gc on): {', '.join(rates)}")
    return figure


def profile_decode(path: Path, *, telegrams: int, seed: int) -> Profile:
    """cProfile our decoder over the first `telegrams` of the stream of every vector it decodes."""
    vectors, _rejected = load_vectors(path)
    layouts = LayoutCache()
    ours = decode_ours(vectors, layouts)
    decoded = [vector for vector in vectors if not isinstance(ours[vector.id], str)]
    items = list(islice(stream(decoded, minimum=telegrams, seed=seed), telegrams))
    return run_profiled(
        lambda: run_ours(items, layouts),
        database="in memory",
        label=f"openamr decode of {len(items):,} telegrams, of the {len(decoded)} vectors "
        "it decodes",
    )
