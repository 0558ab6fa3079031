"""A decoded telegram for people: a plain-text table, or JSON-ready values.

Bytes are written in hex, decimals as strings (exact, never floats), dates
and times in ISO 8601.
"""

from __future__ import annotations

from dataclasses import fields, is_dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from openamr.collect.mbus.identity import describe
from openamr.collect.mbus.model import Record, Telegram

_RECORD_COLUMNS = ("quantity", "value", "unit", "storage", "tariff", "subunit", "function", "at")


def telegram_as_json(telegram: Telegram) -> dict[str, Any]:
    """The telegram as JSON-ready values: every field, records included."""
    result = jsonable(telegram)
    assert isinstance(result, dict)
    return result


def jsonable(value: object) -> Any:
    """``value`` with bytes as hex, decimals as strings and time points in ISO 8601."""
    if is_dataclass(value) and not isinstance(value, type):
        return {item.name: jsonable(getattr(value, item.name)) for item in fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, bytes):
        return value.hex().upper()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    return value


def telegram_as_table(telegram: Telegram) -> str:
    """The telegram as lines of text: its header, then one row per record."""
    header = telegram.access_number
    lines = [
        f"device    {describe(telegram.device)}",
        f"link      {telegram.link}, CI {telegram.ci:02X}, access number "
        f"{'-' if header is None else header}, status "
        f"{'-' if telegram.status is None else f'{telegram.status:02X}'}",
        f"security  {telegram.security}",
        f"flags     {', '.join(telegram.flags) or '-'}",
    ]
    if telegram.family:
        lines.append(f"family    {telegram.family}")
    if telegram.format_signature is not None:
        lines.append(f"layout    format signature {telegram.format_signature:04X}")
    lines += [f"note      {note}" for note in telegram.notes]
    rows = [_RECORD_COLUMNS, *(_record_row(record) for record in telegram.records)]
    widths = [max(len(row[column]) for row in rows) for column in range(len(_RECORD_COLUMNS))]
    lines.append(f"records   {len(telegram.records)}")
    lines += [
        "  "
        + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    return "\n".join(lines)


def _record_row(record: Record) -> tuple[str, ...]:
    return (
        record.quantity,
        _text(record.value),
        record.unit or "",
        str(record.storage),
        str(record.tariff),
        str(record.subunit),
        record.function.value,
        _text(record.at),
    )


def _text(value: object) -> str:
    if value is None:
        return ""
    rendered = jsonable(value)
    return rendered if isinstance(rendered, str) else str(rendered)
