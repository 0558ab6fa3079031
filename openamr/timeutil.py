"""Parsing instants as people and gateways write them. Only the edges read the clock."""

from __future__ import annotations

from datetime import UTC, datetime


class UnusableTimestamp(ValueError):
    """A timestamp that is not ISO 8601 with an offset."""


def parse_instant(text: str) -> datetime:
    """An ISO 8601 timestamp with an offset (`…+01:00` or `…Z`) as aware UTC, whole seconds.

    A timestamp without an offset is refused: whether 02:30 on the last Sunday of
    October is summer or winter time cannot be guessed.
    """
    raw = text.strip()
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise UnusableTimestamp(f"timestamp {raw[:40]!r} is not ISO 8601") from exc
    if moment.tzinfo is None:
        raise UnusableTimestamp(
            f"timestamp {raw[:40]!r} has no offset; "
            "write it as e.g. 2026-03-29T01:07:00+01:00 or …Z"
        )
    if moment.microsecond:
        moment = moment.replace(microsecond=0)
    return moment if moment.tzinfo is UTC else moment.astimezone(UTC)


def utc_now() -> datetime:
    """The current instant; called only at the edges (CLI, HTTP), passed inward as `now`."""
    return datetime.now(UTC).replace(microsecond=0)
