"""A telegram as a gateway sends it (HTTP or MQTT), checked before it is stored.

An item is a JSON object::

    {"hex": "2A442D2C…", "received_at": "2026-11-29T08:15:02Z", "rssi": -71, "gateway": "gw-7"}

`hex` is the telegram from its first byte (spaces, colons and underscores
are ignored); `received_at` is when the gateway heard it, ISO 8601 with an
offset (the time of arrival if left out); `rssi` is in dBm; `gateway`, if
given, must be the gateway that sends it. An item that cannot be used is
answered with its reason and kept as a rejected input.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime

from openamr.store.telegrams import IncomingTelegram
from openamr.timeutil import UnusableTimestamp, parse_instant

# The longest frames: a wired long frame is at most 261 bytes, a wireless one
# 256 bytes plus its CRCs (format A: 2 bytes per 16-byte block).
MAX_FRAME_BYTES = 300
MIN_FRAME_BYTES = 5
_SEPARATORS = re.compile(r"[\s:_-]+")


def parse_item(item: object, *, now: datetime, gateway: str) -> IncomingTelegram | str:
    """The telegram in `item`, or the reason it cannot be used."""
    if not isinstance(item, Mapping):
        return "each telegram must be a JSON object with at least `hex`"
    named = item.get("gateway")
    if named is not None and str(named) != gateway:
        return f"the telegram names gateway {str(named)[:64]!r}, but gateway {gateway!r} sent it"
    text = item.get("hex", item.get("telegram"))
    if not isinstance(text, str) or not text.strip():
        return "`hex` is missing: the telegram's bytes as hexadecimal text"
    frame = parse_hex(text)
    if isinstance(frame, str):
        return frame
    received = item.get("received_at")
    if received is None:
        received_at = now
    elif not isinstance(received, str):
        return "`received_at` must be an ISO 8601 timestamp with an offset"
    else:
        try:
            received_at = parse_instant(received)
        except UnusableTimestamp as exc:
            return f"`received_at`: {exc}"
    rssi = item.get("rssi")
    if isinstance(rssi, str):
        # A re-processed item comes back from the dead letters as text.
        try:
            rssi = float(rssi) if rssi.strip() not in ("", "None") else None
        except ValueError:
            return "`rssi` must be a number of dBm between -200 and 50"
    if rssi is not None and (
        isinstance(rssi, bool) or not isinstance(rssi, int | float) or not -200 <= rssi <= 50
    ):
        return "`rssi` must be a number of dBm between -200 and 50"
    return IncomingTelegram(
        frame=frame, received_at=received_at, rssi=None if rssi is None else round(rssi)
    )


def parse_hex(text: str) -> bytes | str:
    """The bytes of a hexadecimal telegram, or the reason they cannot be read."""
    try:
        # Most gateways send bare digits: bytes.fromhex reads them (and spaces between
        # bytes) without the regular expression, which cost more than the rest.
        frame = bytes.fromhex(text)
    except ValueError:
        digits = _SEPARATORS.sub("", text)
        if len(digits) % 2:
            return f"`hex` has an odd number of digits ({len(digits)})"
        try:
            frame = bytes.fromhex(digits)
        except ValueError:
            return "`hex` holds characters that are not hexadecimal digits"
    if not MIN_FRAME_BYTES <= len(frame) <= MAX_FRAME_BYTES:
        return (
            f"a telegram is {MIN_FRAME_BYTES} to {MAX_FRAME_BYTES} bytes long; "
            f"this one is {len(frame)}"
        )
    return frame
