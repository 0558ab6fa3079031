"""Compact frames (CI 79h, OMS and EN 13757-3): a full frame's data without its record headers.

A meter that sends the same records every time sends its full frame now and
then and a compact frame in between. The compact frame starts with a 2-byte
format signature, the EN 13757-4 CRC over the DIF..VIFE bytes of the full
frame's records (idle fillers left out), and a 2-byte full-frame CRC, the same
CRC over the full frame's records with their data; then only the data bytes
follow. Both are little-endian.

To read one, the layout (the full frame's headers) must have been heard:
:class:`LayoutCache` keeps the layouts of full frames by meter and signature.
It answers for a meter from, in turn, that meter's own layouts, the layouts
of other meters of the same manufacturer, version and device type,
:data:`KNOWN_LAYOUTS`, and the layouts the manufacturer families of
:mod:`openamr.collect.decoders` know for meters that never send their full
frame. Any wrong guess is caught by the full-frame CRC, which covers the
headers as well as the data.

A compact frame that was encrypted (security mode 5) is padded to a whole
number of AES blocks with idle fillers (2Fh): fillers after the last record's
data are not data, and are left out of the full-frame CRC.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from openamr.collect.mbus.crc import crc16_en13757
from openamr.collect.mbus.datatypes import LVAR, REST, lvar_length
from openamr.collect.mbus.model import (
    BadFrame,
    Device,
    Record,
    UnableToDecodeTelegram,
    UnknownLayout,
)
from openamr.collect.mbus.records import (
    RecordSpec,
    full_frame_layout,
    resolve_records,
    split_layout,
)

logger = logging.getLogger(__name__)

_Key = TypeVar("_Key", bound=Hashable)
_IDLE_FILLER = 0x2F
_FILLER = bytes([_IDLE_FILLER])
_MAX_KEPT = 65536  # layouts per index before the oldest is forgotten

# Layouts of compact frames from meters whose full frame is seldom heard, as
# facts: these are the DIF..VIFE bytes the meters' full frames carry (quoted in
# the test vectors from wmbusmeters' kamwater and kamheat drivers). Each
# entry's signature is computed from its bytes, so a typo cannot match a
# frame; a wrong layout would fail the full-frame CRC.
_KNOWN_DIF_VIF = (
    # Kamstrup Multical 21 / flowIQ water meters (C1): info codes, volume,
    # target volume, the minimum flow and external temperatures of the month.
    ("KAM", "02FF2004134413615B6167"),
    # Kamstrup Multical 403 heat meters (version 34h, device type 0Ch).
    ("KAM", "040604FF0704FF080414043B0259025D04FF22026C44064414426C"),
)


def format_signature(dif_vif_bytes: bytes) -> int:
    """The format signature of a layout: the EN 13757-4 CRC of its concatenated DIF..VIFE bytes."""
    return crc16_en13757(dif_vif_bytes)


@dataclass(frozen=True, slots=True)
class Layout:
    """A full frame's record headers, interpreted once, and their format signature."""

    signature: int
    specs: tuple[RecordSpec, ...]
    leading_fillers: int  # idle fillers before the first record in the full frame

    @property
    def dif_vif(self) -> bytes:
        return b"".join(spec.header for spec in self.specs)


def layout_signature(data: bytes) -> int:
    """The format signature of a full frame's plaintext application data.

    Raises as :func:`openamr.collect.mbus.records.parse_records` does.
    """
    return _layout(data, with_data=True).signature


class LayoutCache:
    """The layouts of full frames heard, by meter and format signature.

    Bounded: past ``max_layouts`` entries per index, the layout learnt
    longest ago is forgotten (a meter sends its full frame again soon). Safe
    to share between threads: learning takes a lock, finding does not need one.
    """

    def __init__(self, *, max_layouts: int = _MAX_KEPT) -> None:
        self._max = max_layouts
        self._by_meter: dict[tuple[str, str, int, int, int], Layout] = {}
        self._by_model: dict[tuple[str, int, int, int], Layout] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._by_meter)

    def learn(self, device: Device, data: bytes) -> None:
        """Remember the layout of ``data``, a full frame's plaintext application data.

        Raises BadFrame or UnsupportedTelegram, as ``parse_records`` does, when
        ``data`` is not a readable full frame.
        """
        layout = _full_frame_layout(data)
        with self._lock:
            _keep(self._by_meter, _meter_key(device, layout.signature), layout, self._max)
            _keep(self._by_model, _model_key(device, layout.signature), layout, self._max)

    def find(self, device: Device, signature: int) -> Layout | None:
        """The layout with ``signature`` for ``device``: its own, its model's, or a known one.

        Known ones are :data:`KNOWN_LAYOUTS`, then those of the manufacturer
        families (:func:`family_layouts`).
        """
        return (
            self._by_meter.get(_meter_key(device, signature))
            or self._by_model.get(_model_key(device, signature))
            or KNOWN_LAYOUTS.get((device.manufacturer, signature))
            or family_layouts().get((device.manufacturer, signature))
        )


def _keep(index: dict[_Key, Layout], key: _Key, layout: Layout, limit: int) -> None:
    """Store ``layout`` as the newest entry of ``index``, forgetting the oldest past ``limit``."""
    if index.pop(key, None) is None and len(index) >= limit:
        del index[next(iter(index))]
    index[key] = layout


def parse_compact(device: Device, data: bytes, layouts: LayoutCache) -> tuple[Record, ...]:
    """The records of a compact frame: ``data`` is what follows CI 79h.

    Raises UnknownLayout when no full frame with the frame's format signature
    has been heard (from this meter, its model) and no known layout has it, and
    BadFrame when the frame is shorter than its header, its data does not
    fill the layout (idle fillers after the data are padding, not data), the
    full-frame CRC does not match, or a compact profile in it is cut short
    (see :func:`openamr.collect.mbus.records.resolve_records`).
    """
    if len(data) < 4:
        raise BadFrame(f"compact frame of {len(data)} bytes: the 4-byte header does not fit")
    signature = int.from_bytes(data[0:2], "little")
    expected_crc = int.from_bytes(data[2:4], "little")
    layout = layouts.find(device, signature)
    if layout is None:
        raise UnknownLayout(
            f"compact frame from {device.manufacturer} {device.id} with format signature "
            f"{signature:04X}: no full frame with that layout has been heard"
        )
    body = bytes(data[4:])
    chunks = _split_data(layout, body)
    crc = _full_frame_crc(layout, chunks, expected_crc)
    if crc != expected_crc and _ends_with_rest(layout) and body.endswith(_FILLER):
        # Manufacturer data (DIF 0Fh) runs to the end of the frame, so it took
        # the encryption's padding too; the full frame's did not have it.
        try:
            trimmed = _split_data(layout, body.rstrip(_FILLER))
        except BadFrame:  # the fillers were data of the records before: the CRC error stands
            trimmed = chunks
        if _full_frame_crc(layout, trimmed, expected_crc) == expected_crc:
            chunks, crc = trimmed, expected_crc
    if crc != expected_crc:
        raise BadFrame(
            f"compact frame with format signature {signature:04X}: full-frame CRC "
            f"{expected_crc:04X} does not match {crc:04X} computed over its data"
        )
    return resolve_records(
        [spec.record(chunk) for spec, chunk in zip(layout.specs, chunks, strict=True)],
        layout.specs,
    )


def _full_frame_crc(layout: Layout, chunks: list[bytes], expected: int) -> int:
    """The CRC of the full frame that the layout and these data fields make.

    A full frame that started with idle fillers may or may not have had them
    in its CRC: when the CRC without them is not ``expected``, the one with
    them is returned.
    """
    full = b"".join(spec.header + chunk for spec, chunk in zip(layout.specs, chunks, strict=True))
    crc = crc16_en13757(full)
    if crc != expected and layout.leading_fillers:
        crc = crc16_en13757(_FILLER * layout.leading_fillers + full)
    return crc


def _ends_with_rest(layout: Layout) -> bool:
    return bool(layout.specs) and layout.specs[-1].length == REST


def _split_data(layout: Layout, body: bytes) -> list[bytes]:
    """The data field of each of the layout's records, in order; BadFrame if they do not fit."""
    chunks: list[bytes] = []
    end = len(body)
    pos = 0
    for spec in layout.specs:
        length = spec.length
        if length == REST:
            length = end - pos
        elif length == LVAR:
            size = lvar_length(body[pos]) if pos < end else -1
            if size < 0:
                raise BadFrame(
                    f"compact frame at offset {pos + 4}: no valid variable-length byte "
                    f"for record {spec.header.hex().upper()}"
                )
            length = size + 1
        if pos + length > end:
            raise BadFrame(
                f"compact frame of {end} data bytes is shorter than its layout "
                f"(signature {layout.signature:04X})"
            )
        chunks.append(body[pos : pos + length])
        pos += length
    if body[pos:].strip(_FILLER):  # only idle fillers may follow: an encryption's padding
        raise BadFrame(
            f"compact frame has {end - pos} data bytes more than its layout "
            f"(signature {layout.signature:04X})"
        )
    return chunks


def _layout(data: bytes, *, with_data: bool) -> Layout:
    if with_data:
        return _full_frame_layout(data)
    specs, leading_fillers = split_layout(bytes(data), with_data=False)
    return _interned(specs, leading_fillers, b"".join(spec.header for spec in specs))


def _full_frame_layout(data: bytes) -> Layout:
    """The layout of a full frame: every full frame is learnt, and its plan has it ready."""
    return _interned(*full_frame_layout(data))


def _interned(specs: tuple[RecordSpec, ...], leading_fillers: int, dif_vif: bytes) -> Layout:
    key = (dif_vif, leading_fillers)
    known = _INTERNED.get(key)
    if known is not None:
        return known
    layout = Layout(format_signature(dif_vif), specs, leading_fillers)
    if len(_INTERNED) >= _MAX_KEPT:
        _INTERNED.clear()
    _INTERNED[key] = layout
    return layout


def _meter_key(device: Device, signature: int) -> tuple[str, str, int, int, int]:
    return (device.manufacturer, device.id, device.version, device.device_type, signature)


def _model_key(device: Device, signature: int) -> tuple[str, int, int, int]:
    return (device.manufacturer, device.version, device.device_type, signature)


# One Layout object per distinct DIF..VIFE string and leading fillers: meters of a
# model share it. Both are in the key: a model's encrypted frames lead with the
# 2F2F of their decryption check and its plaintext ones do not, and a key of the
# string alone made the two evict each other on every other telegram.
_INTERNED: dict[tuple[bytes, int], Layout] = {}


def _known_layouts() -> dict[tuple[str, int], Layout]:
    layouts = (
        (manufacturer, _layout(bytes.fromhex(dif_vif), with_data=False))
        for manufacturer, dif_vif in _KNOWN_DIF_VIF
    )
    return {(manufacturer, layout.signature): layout for manufacturer, layout in layouts}


# By manufacturer and format signature.
KNOWN_LAYOUTS = _known_layouts()


@functools.cache
def family_layouts() -> Mapping[tuple[str, int], Layout]:
    """The layouts the manufacturer families know, by manufacturer and format signature.

    Read once, on the first compact frame that no other layout answers:
    :mod:`openamr.collect.decoders` imports this package's layers, so it is
    imported here only when needed. A family layout that is not a readable
    DIF..VIFE string is left out with a warning rather than failing every
    compact frame.
    """
    from openamr.collect.decoders import known_compact_layouts  # here, not at the top: see above

    layouts: dict[tuple[str, int], Layout] = {}
    for manufacturer, dif_vif in known_compact_layouts():
        try:
            layout = _layout(dif_vif, with_data=False)
        except UnableToDecodeTelegram as exc:
            logger.warning("compact layout %s of %s left out: %s", dif_vif.hex(), manufacturer, exc)
            continue
        layouts.setdefault((manufacturer, layout.signature), layout)
    return layouts
