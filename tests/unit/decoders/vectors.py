"""The shared test vectors, sliced by hand into what a family is handed.

A wireless frame here has its link CRCs removed: ``L C M(2) A(6) CI ...``.
Families are tested on the bytes after the CI field (``decode_payload``) or on
the records the standard layer reads from a payload (``interpret``); where a
vector is encrypted, the test decrypts it with the vector's key as the
protocol layers would.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from openamr.collect.mbus.identity import device_from_link_address, device_from_long_header
from openamr.collect.mbus.model import Device, UnableToDecodeTelegram

VECTORS = Path(__file__).resolve().parents[2] / "data" / "mbus" / "vectors.json"


@cache
def _all() -> dict[str, dict[str, Any]]:
    if not VECTORS.is_file():
        raise FileNotFoundError(f"the M-Bus test vectors are missing: {VECTORS.resolve()}")
    return {entry["id"]: entry for entry in json.loads(VECTORS.read_text(encoding="utf-8"))}


def vector(vector_id: str) -> dict[str, Any]:
    return _all()[vector_id]


def frame(vector_id: str) -> bytes:
    return bytes.fromhex(vector(vector_id)["hex"])


def wireless(vector_id: str) -> tuple[Device, bytes, int, bytes]:
    """A wireless vector as a family sees it: sender, link header, CI, what follows the CI."""
    data = frame(vector_id)
    return device_from_link_address(data[2:10]), data[:10], data[10], data[11:]


def wired_records(vector_id: str) -> tuple[Device, bytes]:
    """A wired long frame's meter (long header) and its record bytes (checksum and stop cut)."""
    data = frame(vector_id)
    assert data[0] == 0x68, "a wired long frame"
    assert data[6] == 0x72, "with CI 72"
    return device_from_long_header(data[7:15]), data[19:-2]


def after(vector_id: str, marker: str) -> bytes:
    """What follows ``marker`` (hex: the CI field and the bytes just before it) in a frame.

    The marker is looked for after the link header, at a byte boundary; the
    test names enough bytes for the place to be unambiguous.
    """
    data = frame(vector_id)
    wanted = bytes.fromhex(marker)
    position = data.find(wanted, 10)
    assert position >= 0, f"{vector_id}: {marker} not found after the link header"
    return data[position + len(wanted) :]


def mode5_plaintext(vector_id: str, *, header_length: int = 4) -> tuple[Device, int, bytes, bytes]:
    """A CI 7Ah mode 5 vector decrypted with its key: sender, CI, TPL header, plaintext."""
    data = frame(vector_id)
    key = bytes.fromhex(vector(vector_id)["key"])
    ci = data[10]
    header = data[11 : 11 + header_length]
    access_number = header[0]
    iv = data[2:10] + bytes([access_number]) * 8
    body = data[11 + header_length :]
    size = len(body) // 16 * 16
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    plain = decryptor.update(body[:size]) + decryptor.finalize() + body[size:]
    return device_from_link_address(data[2:10]), ci, header, plain


def rejection_reason(call: Callable[[], object]) -> str | None:
    """None if ``call`` returns, the reason if it rejects; any other exception propagates."""
    try:
        call()
    except UnableToDecodeTelegram as rejected:
        return rejected.reason
    return None
