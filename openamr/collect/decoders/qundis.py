"""Qundis (QDS): the walk-by block of Q caloric heat cost allocators.

In walk-by mode (CI 78h) a Q caloric sends its readings not as EN 13757-3
records but in one manufacturer-specific record, DIF 0Dh VIF FFh VIFE 5Fh,
of 53 bytes. Read at the fixed offsets that the public wmbusmeters notes on
Qundis walk-by telegrams give, and that the same meter's standard telegram
(CI 7Ah, in the test vectors) confirms value for value:

======  ======================================================================
offset  field
======  ======================================================================
9       the VIF of the values that follow (6Eh: HCA units)
12-15   current value, BCD
16-17   due date of the billing period (type G), storage 1
18-21   value at that due date, BCD
22-23   date of the last month end (type G), storage 17 as in the standard
        telegram
24-27   value at the last month end, BCD
======  ======================================================================

The records replace the raw one; the standard records around it (the date
and time, 046Dh) come from the standard layer as usual.

Not yet understood: bytes 0-8, 10-11 and 28-52 (among them what looks like a
history of 16-bit values); blocks whose byte 9 is not 6Eh (other Qundis
devices, or an encrypted block) are left raw.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date

from openamr.collect.decoders._common import (
    Decoded,
    ManufacturerFamily,
    manufacturer_register,
)
from openamr.collect.mbus.datatypes import DateValue, decode_bcd, decode_date_g
from openamr.collect.mbus.model import Device, Record

_WALK_BY_REGISTER = 0x5F
_WALK_BY_LENGTH = 53
_VIF_OFFSET = 9
_HCA_VIF = 0x6E
_DUE_DATE_STORAGE = 1
_MONTH_END_STORAGE = 17  # where the standard Q caloric telegram keeps the month-end value


class Qundis(ManufacturerFamily):
    """Qundis walk-by blocks made readable; standard Qundis records pass unchanged."""

    name = "qundis"
    manufacturers = frozenset({"QDS"})

    def interpret(self, device: Device, records: Sequence[Record]) -> Decoded:
        """The walk-by block's values as HCA and date records in place of the raw block."""
        readable: list[Record] = []
        for record in records:
            block = record.value
            if (
                manufacturer_register(record) == _WALK_BY_REGISTER
                and isinstance(block, bytes)
                and len(block) == _WALK_BY_LENGTH
                and block[_VIF_OFFSET] == _HCA_VIF
            ):
                readable.extend(_walk_by(record, block))
            else:
                readable.append(record)
        return tuple(readable), ()


def _walk_by(source: Record, block: bytes) -> tuple[Record, ...]:
    due_date, _ = decode_date_g(block[16:18])
    month_end, _ = decode_date_g(block[22:24])
    return (
        _hca(source, block[12:16], 0, None, "current HCA units"),
        _date(source, due_date, _DUE_DATE_STORAGE, "due date of the billing period"),
        _hca(source, block[18:22], _DUE_DATE_STORAGE, due_date, "HCA units at the due date"),
        _date(source, month_end, _MONTH_END_STORAGE, "last month end"),
        _hca(source, block[24:28], _MONTH_END_STORAGE, month_end, "HCA units at the month end"),
    )


def _hca(source: Record, digits: bytes, storage: int, at: DateValue, description: str) -> Record:
    value = decode_bcd(digits)
    return replace(
        source,
        quantity="hca_units",
        value=value,
        unit="units",
        storage=storage,
        at=at if isinstance(at, date) else None,
        description=f"Qundis walk-by block: {description}"
        + ("" if value is not None else "; not BCD, the meter flags an error"),
    )


def _date(source: Record, value: DateValue, storage: int, description: str) -> Record:
    return replace(
        source,
        quantity="date",
        value=value,
        unit=None,
        storage=storage,
        at=None,
        description=f"Qundis walk-by block: {description}",
    )
