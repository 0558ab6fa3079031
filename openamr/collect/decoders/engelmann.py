"""Engelmann (EFE): the compact-frame layout of the FAW water meter.

The FAW sends only compact frames (CI 73h: long header, compact data) with
format signature 052Dh, so its layout cannot be learnt from a full frame. The
layout below is read off the compact data itself: a due date and the volume
on it (storage 1), an 8-bit error flags field, fifteen month-end volumes in
storage 2-16, the meter's date and time and the current volume. It is the
layout the public wmbusmeters notes for ``engelmann_faw`` give; that its
EN 13757-3 format signature (CRC of the DIF..VIFE bytes) is 052Dh and that
the frame's full-frame CRC matches are checked in the tests.

Not yet understood: the meaning of the error flag bits (none is set in the
telegrams seen).
"""

from __future__ import annotations

from openamr.collect.decoders._common import ManufacturerFamily


def _faw_layout() -> bytes:
    due_date = bytes.fromhex("426C4413")  # date and volume, storage 1
    error_flags = bytes.fromhex("01FD17")
    months = b"".join(  # volume, storage 2-16: DIF 84/C4 with DIFE n holds storage 2n and 2n+1
        bytes([dif, difes, 0x13])
        for difes in range(1, 9)
        for dif in (0x84, 0xC4)
        if (difes, dif) != (8, 0xC4)
    )
    now = bytes.fromhex("046D0413")  # date and time, current volume
    return due_date + error_flags + months + now


COMPACT_LAYOUTS: tuple[bytes, ...] = (_faw_layout(),)


class Engelmann(ManufacturerFamily):
    """Engelmann meters: standard records, and the FAW's compact layout without a full frame."""

    name = "engelmann"
    manufacturers = frozenset({"EFE"})

    def compact_layouts(self) -> tuple[tuple[str, bytes], ...]:
        """The full-frame layouts Engelmann meters announce only by format signature."""
        return tuple(("EFE", layout) for layout in COMPACT_LAYOUTS)
