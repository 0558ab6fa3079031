"""Whatever arrives, the decoder answers with a Telegram or an UnableToDecodeTelegram, quickly.

Random bytes, and every shared vector truncated, bit-flipped, overwritten,
shortened or lengthened (with the wired checksum and the wireless L field
made to fit again, so that the mutation reaches the layers behind them), are
decoded with and without the vector's key. The atheris harness in
fuzz/decode_fuzz.py runs for about 20 seconds in a subprocess, from the
vectors as its corpus, and must not find a crash.
"""

from __future__ import annotations

import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openamr.collect.mbus.compact import LayoutCache
from openamr.collect.mbus.model import Telegram, UnableToDecodeTelegram
from openamr.collect.mbus.telegram import decode
from tests.unit.mbus.vector_matching import is_pre_decrypted, load_vectors

REPOSITORY = Path(__file__).resolve().parents[3]
HARNESS = REPOSITORY / "fuzz" / "decode_fuzz.py"
VECTORS = load_vectors()
# "Never hangs": each decode must take under this much CPU time of its thread. CPU
# time rather than the wall clock, so that a busy machine descheduling the test
# (two cores shared with other work) cannot fail it, while a loop would.
TIME_BOUND_S = 0.5
FUZZ_SECONDS = 20
# What a layer may raise on malformed data and the decoder turns into a BadFrame;
# anything else behind a rejection is a defect that the wrapping would hide.
_EXPECTED_CAUSES = (UnableToDecodeTelegram, LookupError, ValueError, ArithmeticError, struct.error)


def _decode_within_bound(data: bytes, **options: Any) -> None:
    started = time.thread_time()
    rejection: UnableToDecodeTelegram | None = None
    try:
        result = decode(data, **options)
    except UnableToDecodeTelegram as exc:
        rejection = exc
    else:
        assert isinstance(result, Telegram)
    assert time.thread_time() - started < TIME_BOUND_S
    if rejection is not None:
        assert rejection.reason
        cause = rejection.__cause__
        assert cause is None or isinstance(cause, _EXPECTED_CAUSES), (
            f"a layer failed behind the rejection: {cause!r}"
        )


def _refit(data: bytes) -> bytes:
    """Make a mutated frame's length and checksum fields true again."""
    if len(data) >= 6 and data[0] == 0x68 and data[3] == 0x68:
        body = data[4:-2]
        if len(body) <= 0xFF:
            length = len(body)
            return bytes([0x68, length, length, 0x68]) + body + bytes([sum(body) & 0xFF, 0x16])
    if data and data[0] != 0x68 and len(data) <= 0x100:
        return bytes([len(data) - 1]) + data[1:]
    return data


@st.composite
def mutated_vectors(draw: st.DrawFn) -> tuple[bytes, dict[str, Any]]:
    vector = draw(st.sampled_from(VECTORS))
    data = bytearray.fromhex(vector["hex"])
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        if not data:
            break
        position = draw(st.integers(min_value=0, max_value=len(data) - 1))
        kind = draw(st.sampled_from(["truncate", "flip", "byte", "delete", "insert"]))
        if kind == "truncate":
            del data[position:]
        elif kind == "flip":
            data[position] ^= 1 << draw(st.integers(min_value=0, max_value=7))
        elif kind == "byte":
            data[position] = draw(st.integers(min_value=0, max_value=255))
        elif kind == "delete":
            del data[position]
        else:
            data.insert(position, draw(st.integers(min_value=0, max_value=255)))
    if draw(st.booleans()):
        data = bytearray(_refit(bytes(data)))
    options: dict[str, Any] = {"allow_pre_decrypted": is_pre_decrypted(vector)}
    if vector["key"] and draw(st.booleans()):
        options["key"] = bytes.fromhex(vector["key"])
    return bytes(data), options


# Hypothesis's deadlines are wall-clock; the CPU-time bound above replaces them.
@settings(max_examples=400, deadline=None)
@given(data=st.binary(max_size=300), key=st.sampled_from([None, bytes(16)]), pre=st.booleans())
def test_random_bytes_decode_or_are_rejected(data: bytes, key: bytes | None, pre: bool) -> None:
    _decode_within_bound(data, key=key, allow_pre_decrypted=pre)


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=mutated_vectors())
def test_mutated_vectors_decode_or_are_rejected(case: tuple[bytes, dict[str, Any]]) -> None:
    data, options = case
    _decode_within_bound(data, layouts=LayoutCache(), **options)


def test_every_prefix_of_every_vector_decodes_or_is_rejected() -> None:
    for vector in VECTORS:
        data = bytes.fromhex(vector["hex"])
        key = bytes.fromhex(vector["key"]) if vector["key"] else None
        for end in range(len(data)):
            _decode_within_bound(data[:end], key=key, allow_pre_decrypted=True)


def test_atheris_finds_no_crash_in_20_seconds(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for number, vector in enumerate(VECTORS):
        for options in range(8):
            (corpus / f"{number}-{options}").write_bytes(
                bytes([options]) + bytes.fromhex(vector["hex"])
            )
    run = subprocess.run(
        [
            sys.executable,
            str(HARNESS),
            f"-max_total_time={FUZZ_SECONDS}",
            "-timeout=5",
            "-rss_limit_mb=2048",
            f"-artifact_prefix={tmp_path}/",
            str(corpus),
        ],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=FUZZ_SECONDS + 40,
        check=False,
    )
    report = run.stderr[-4000:]
    assert run.returncode == 0, report
    assert "Done" in report, report
    assert "decoder defect" not in run.stderr, report
