"""The one settings object, built once at the edge from environment variables."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_DATABASE_URL = "sqlite:///var/openamr.sqlite3"
DEFAULT_TIME_ZONE = "Europe/Stockholm"
# Where browsers reach openamr: the passkeys' relying party and origin. Plain
# http is accepted for localhost only, where browsers treat it as secure.
DEFAULT_PUBLIC_URL = "http://localhost:8000"
# Failed sign-ins per hour: per account the ceiling; per address higher,
# because a housing company's office or a carrier-grade NAT puts many people
# behind one address (docs/operations.md, Sign-in).
MAX_SIGN_IN_FAILURES_PER_ACCOUNT = 100
# `openamr collect mqtt`: the broker, the topic filter whose one '+' level is the
# gateway, and a fixed client id, so the broker keeps the session (and the
# messages not yet acknowledged) across restarts.
DEFAULT_MQTT_URL = "mqtt://127.0.0.1:1883"
DEFAULT_MQTT_TOPIC = "openamr/gateways/+/telegrams"
DEFAULT_MQTT_CLIENT_ID = "openamr-collector"
DEFAULT_SIGN_IN_FAILURES_PER_ADDRESS = 300


MASTER_KEY_BYTES = 32  # AES-256
MASTER_KEY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class InvalidSettings(ValueError):
    """A setting has a value openamr cannot use; the message names the variable."""


@dataclass(frozen=True, slots=True)
class MasterKey:
    """A master key for sealing meter keys: its name, stored beside what it seals, and 32 bytes.

    The bytes never appear in a repr, so settings can be printed and logged.
    """

    id: str
    key: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything that varies between deployments. Passed in, never imported as a global."""

    database_url: str = DEFAULT_DATABASE_URL
    default_time_zone: str = DEFAULT_TIME_ZONE
    ingest_batch_size: int = 20_000
    max_errors_reported: int = 1_000
    # The first is current: new meter keys are sealed under it, the others only open.
    master_keys: tuple[MasterKey, ...] = ()
    # The audit log's checkpoints (openamr.guard.checkpoints): key files and their directory,
    # all outside the database. None: not configured.
    audit_signing_key_file: Path | None = None
    audit_public_key_file: Path | None = None
    audit_checkpoint_dir: Path | None = None
    public_url: str = DEFAULT_PUBLIC_URL
    access_code_days: int = 90  # how long a printed access code (a letter) stays valid
    sign_in_failures_per_account: int = MAX_SIGN_IN_FAILURES_PER_ACCOUNT
    sign_in_failures_per_address: int = DEFAULT_SIGN_IN_FAILURES_PER_ADDRESS
    # Keys the digests of e-mail addresses, handles and client addresses in
    # sign_in_attempt, so the table names nobody. Without OPENAMR_SIGN_IN_SECRET
    # it is derived from the first master key, else random per process.
    sign_in_secret: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
    # May hold the broker's user and password, so it is left out of the repr.
    mqtt_url: str = field(default=DEFAULT_MQTT_URL, repr=False)
    mqtt_topic: str = DEFAULT_MQTT_TOPIC
    mqtt_client_id: str = DEFAULT_MQTT_CLIENT_ID

    def __post_init__(self) -> None:
        if not 0 < self.sign_in_failures_per_account <= MAX_SIGN_IN_FAILURES_PER_ACCOUNT:
            raise InvalidSettings(
                f"at most {MAX_SIGN_IN_FAILURES_PER_ACCOUNT} failed sign-ins per hour per account"
            )

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
        master_keys = _master_keys(env)
        return cls(
            database_url=normalise_database_url(
                env.get("OPENAMR_DATABASE_URL", DEFAULT_DATABASE_URL)
            ),
            default_time_zone=time_zone,
            ingest_batch_size=_positive_int(env, "OPENAMR_INGEST_BATCH_SIZE", 20_000),
            max_errors_reported=_positive_int(env, "OPENAMR_MAX_ERRORS_REPORTED", 1_000),
            master_keys=master_keys,
            audit_signing_key_file=_optional_path(env, "OPENAMR_AUDIT_SIGNING_KEY_FILE"),
            audit_public_key_file=_optional_path(env, "OPENAMR_AUDIT_PUBLIC_KEY_FILE"),
            audit_checkpoint_dir=_optional_path(env, "OPENAMR_AUDIT_CHECKPOINT_DIR"),
            public_url=parse_public_url(env.get("OPENAMR_PUBLIC_URL", DEFAULT_PUBLIC_URL)),
            access_code_days=_positive_int(env, "OPENAMR_ACCESS_CODE_DAYS", 90),
            sign_in_failures_per_address=_positive_int(
                env, "OPENAMR_SIGN_IN_FAILURES_PER_ADDRESS", DEFAULT_SIGN_IN_FAILURES_PER_ADDRESS
            ),
            sign_in_secret=_sign_in_secret(env, master_keys),
            mqtt_url=parse_mqtt_url(env.get("OPENAMR_MQTT_URL", DEFAULT_MQTT_URL)),
            mqtt_topic=env.get("OPENAMR_MQTT_TOPIC", DEFAULT_MQTT_TOPIC),
            mqtt_client_id=env.get("OPENAMR_MQTT_CLIENT_ID", DEFAULT_MQTT_CLIENT_ID),
        )

    @property
    def relying_party_id(self) -> str:
        """The passkeys' relying party: the host name of `public_url`."""
        return urlsplit(self.public_url).hostname or "localhost"

    @property
    def origin(self) -> str:
        """The browser origin of `public_url`: scheme, host and port."""
        parts = urlsplit(self.public_url)
        return f"{parts.scheme}://{parts.netloc}"


def parse_public_url(url: str) -> str:
    """OPENAMR_PUBLIC_URL as an origin: https://host[:port], or http:// on localhost only.

    Passkeys and the `__Host-` session cookie need a secure context, which
    browsers grant plain http on localhost alone.
    """
    text = url.strip().rstrip("/")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidSettings(
            f"OPENAMR_PUBLIC_URL={url!r} must be an https:// URL such as https://amr.example.se"
        )
    if parts.path or parts.query or parts.fragment or parts.username or parts.password:
        raise InvalidSettings(
            f"OPENAMR_PUBLIC_URL={url!r} must be scheme, host and port only, without a path"
        )
    if parts.scheme == "http" and parts.hostname not in ("localhost", "127.0.0.1", "::1"):
        raise InvalidSettings(
            f"OPENAMR_PUBLIC_URL={url!r} must be https: browsers keep passkeys and the "
            "session cookie from plain http except on localhost"
        )
    return text


def parse_mqtt_url(url: str) -> str:
    """OPENAMR_MQTT_URL checked: mqtt://[user:password@]host[:port] (tcp:// too)."""
    text = url.strip()
    parts = urlsplit(text)
    try:
        parts.port  # noqa: B018 - a port that is not a number raises here
    except ValueError:
        parts = urlsplit("")
    if parts.scheme not in ("mqtt", "tcp") or not parts.hostname:
        # Not the value itself: it may hold the broker's password.
        raise InvalidSettings("OPENAMR_MQTT_URL must be mqtt://[user:password@]host[:port]")
    return text


def _sign_in_secret(env: Mapping[str, str], master_keys: tuple[MasterKey, ...]) -> bytes:
    """OPENAMR_SIGN_IN_SECRET (32 bytes, hex or base64), else one derived from a master key."""
    raw = env.get("OPENAMR_SIGN_IN_SECRET", "").strip()
    if raw:
        key = _key_bytes(raw)
        if key is None:
            raise InvalidSettings(
                f"OPENAMR_SIGN_IN_SECRET must be {MASTER_KEY_BYTES} bytes, as 64 hexadecimal "
                "digits or in base64 (`openssl rand -base64 32`)"
            )
        return key
    if master_keys:
        # The last master key changes least often (new ones go first), so the
        # digests, and with them the counts of recent failures, survive a rotation
        # until the old key is dropped.
        return hmac.new(
            master_keys[-1].key, b"openamr sign-in attempt digests", hashlib.sha256
        ).digest()
    return secrets.token_bytes(32)


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


def _optional_path(env: Mapping[str, str], name: str) -> Path | None:
    raw = env.get(name, "").strip()
    return Path(raw) if raw else None


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


def parse_master_keys(text: str, *, source: str) -> tuple[MasterKey, ...]:
    """Master keys from `id:key` entries separated by commas or new lines; `#` starts a comment.

    A key is 32 bytes written as 64 hexadecimal digits or in base64. Raises
    InvalidSettings naming `source`, the entry's position and its id, never the key.
    """
    entries = [
        entry.strip()
        for line in text.splitlines()
        for entry in line.split("#", 1)[0].split(",")
        if entry.strip()
    ]
    keys: list[MasterKey] = []
    for number, entry in enumerate(entries, start=1):
        key_id, colon, material = (part.strip() for part in entry.partition(":"))
        if not colon or not MASTER_KEY_ID.match(key_id):
            raise InvalidSettings(
                f"{source}: entry {number} must be id:key, with an id of up to 64 letters, "
                "digits, '.', '_' or '-'"
            )
        key = _key_bytes(material)
        if key is None:
            raise InvalidSettings(
                f"{source}: the key of entry {number} ({key_id!r}) must be {MASTER_KEY_BYTES} "
                "bytes, as 64 hexadecimal digits or in base64 (`openssl rand -base64 32`)"
            )
        if any(known.id == key_id for known in keys):
            raise InvalidSettings(f"{source}: master key id {key_id!r} is given twice")
        keys.append(MasterKey(id=key_id, key=key))
    return tuple(keys)


def _master_keys(env: Mapping[str, str]) -> tuple[MasterKey, ...]:
    """OPENAMR_MASTER_KEYS first, then the entries of OPENAMR_MASTER_KEY_FILE."""
    keys = parse_master_keys(env.get("OPENAMR_MASTER_KEYS", ""), source="OPENAMR_MASTER_KEYS")
    path = env.get("OPENAMR_MASTER_KEY_FILE", "").strip()
    if not path:
        return keys
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = (
            (exc.strerror or type(exc).__name__)
            if isinstance(exc, OSError)
            else "it is not UTF-8 text"
        )
        raise InvalidSettings(
            f"OPENAMR_MASTER_KEY_FILE={path!r} cannot be read: {reason}"
        ) from None
    from_file = parse_master_keys(text, source=f"OPENAMR_MASTER_KEY_FILE {path}")
    for key in from_file:
        if any(known.id == key.id for known in keys):
            raise InvalidSettings(
                f"master key id {key.id!r} is in both OPENAMR_MASTER_KEYS and "
                "OPENAMR_MASTER_KEY_FILE"
            )
    return keys + from_file


def _key_bytes(material: str) -> bytes | None:
    if re.fullmatch(r"[0-9A-Fa-f]{64}", material):
        return bytes.fromhex(material)
    try:
        # Standard and URL-safe alphabets, padding optional.
        key = base64.b64decode(
            material.replace("-", "+").replace("_", "/") + "=" * (-len(material) % 4),
            validate=True,
        )
    except (binascii.Error, ValueError):
        return None
    return key if len(key) == MASTER_KEY_BYTES else None
