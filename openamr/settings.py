"""The one settings object, built once at the edge from environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_DATABASE_URL = "sqlite:///var/openamr.sqlite3"
DEFAULT_TIME_ZONE = "Europe/Stockholm"


class InvalidSettings(ValueError):
    """A setting has a value openamr cannot use; the message names the variable."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything that varies between deployments. Passed in, never imported as a global."""

    database_url: str = DEFAULT_DATABASE_URL
    default_time_zone: str = DEFAULT_TIME_ZONE
    ingest_batch_size: int = 20_000
    max_errors_reported: int = 1_000

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read `OPENAMR_*` variables; unset ones keep their defaults."""
        env = os.environ if environ is None else environ
        time_zone = env.get("OPENAMR_TIME_ZONE", DEFAULT_TIME_ZONE)
        try:
            ZoneInfo(time_zone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise InvalidSettings(
                f"OPENAMR_TIME_ZONE={time_zone!r} is not an IANA time zone"
            ) from exc
        return cls(
            database_url=normalise_database_url(
                env.get("OPENAMR_DATABASE_URL", DEFAULT_DATABASE_URL)
            ),
            default_time_zone=time_zone,
            ingest_batch_size=_positive_int(env, "OPENAMR_INGEST_BATCH_SIZE", 20_000),
            max_errors_reported=_positive_int(env, "OPENAMR_MAX_ERRORS_REPORTED", 1_000),
        )


def normalise_database_url(url: str) -> str:
    """Accept URLs as people paste them: `postgres://` and `postgresql://` use psycopg 3."""
    url = url.strip()
    for scheme in ("postgres://", "postgresql://"):
        if url.startswith(scheme):
            return "postgresql+psycopg://" + url[len(scheme) :]
    if url.startswith(("postgresql+psycopg://", "sqlite://")):
        return url
    raise InvalidSettings(
        f"OPENAMR_DATABASE_URL must be a sqlite:/// or postgresql:// URL, not {url.split(':')[0]!r}"
    )


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value <= 0:
        raise InvalidSettings(f"{name}={raw!r} must be a positive whole number")
    return value
