"""Dead letters: inputs that could not be used are kept with their reason, never dropped."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from openamr.store.schema import rejected_input


@dataclass(frozen=True, slots=True)
class Rejection:
    """One input row that could not be used: where it was, why, and what it said."""

    line: int | None
    reason: str
    payload: Mapping[str, str]
    customer_id: int | None = None


def keep_rejections(
    conn: sa.Connection,
    rejections: Sequence[Rejection],
    *,
    kind: str,
    source: str,
    received_at: datetime,
) -> None:
    """Keep rejected rows so that `openamr reprocess` can try them once the cause is fixed."""
    if not rejections:
        return
    conn.execute(
        rejected_input.insert(),
        [
            {
                "customer_id": item.customer_id,
                "kind": kind,
                "source": source[:200],
                "line": item.line,
                "payload": json.dumps(dict(item.payload), ensure_ascii=False),
                "reason": item.reason[:500],
                "received_at": received_at,
            }
            for item in rejections
        ],
    )
