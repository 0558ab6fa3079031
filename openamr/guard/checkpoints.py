"""Signed tree heads of the audit log ("checkpoints"), kept in files outside the database.

A checkpoint says: the first `tree_size` events of the log have the RFC 9162
Merkle tree head `root_hash`, and the last of them has the chain hash
`last_event_hash`; signed at `at` with an Ed25519 key whose id is `key_id`.
The Merkle leaves are the events' chain hashes (32 bytes each), so a tree
head covers every event's content through the chain.

A checkpoint file also holds the tree's `frontier`, the roots of its
perfect subtrees, so that the next checkpoint goes on from it without
reading the events it covers again. The frontier is not signed and needs
not be: it is used only when it folds to the signed root hash.

The signing key is a file named by configuration
(`OPENAMR_AUDIT_SIGNING_KEY_FILE`), never the database: someone who can
rewrite the table cannot sign a matching checkpoint. Verification uses the
public keys of `OPENAMR_AUDIT_PUBLIC_KEY_FILE` (one or more PEM blocks, so an
old key can stay trusted after a rotation), or the signing key's own public
half when that is not set. Files are named by tree size
(``checkpoint-000000001234.json``) so that they sort, and copying them to
other storage is a plain file copy.

The exceptions::

    CheckpointError                messages name files and key ids, never key material
     ├── NoSigningKey              no signing key is configured
     ├── NoCheckpointDirectory     no checkpoint directory is configured
     ├── UnableToLoadKey           a key file that is missing, unreadable or not Ed25519
     └── UnableToWriteKey          keygen would overwrite a file, or cannot write it
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from openamr.settings import Settings

FORMAT = "openamr-audit-checkpoint/1"
FILE_NAME = re.compile(r"^checkpoint-(\d{12})\.json$")
_HEX_HASH = re.compile(r"^[0-9a-f]{64}$")
_KEY_ID = re.compile(r"^[0-9a-f]{16}$")
_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
_PEM_PUBLIC_KEY = re.compile(
    rb"-----BEGIN PUBLIC KEY-----\s.*?-----END PUBLIC KEY-----", flags=re.DOTALL
)
_SIGNED_FIELDS = ("format", "tree_size", "root_hash", "last_event_hash", "at", "key_id")


class CheckpointError(Exception):
    """A checkpoint or a key could not be made, read or used. Never holds key material."""


class NoSigningKey(CheckpointError):
    """No signing key is configured: events are still recorded, but nothing can be signed."""

    def __init__(self) -> None:
        super().__init__(
            "no audit signing key is configured: set OPENAMR_AUDIT_SIGNING_KEY_FILE "
            "(`openamr audit keygen` makes a key pair). Events are still recorded, but "
            "without signed checkpoints a removed tail or a rebuilt log cannot be detected"
        )


class NoCheckpointDirectory(CheckpointError):
    """No checkpoint directory is configured."""

    def __init__(self) -> None:
        super().__init__(
            "no audit checkpoint directory is configured: set OPENAMR_AUDIT_CHECKPOINT_DIR "
            "(on other storage than the database, or shipped off the machine)"
        )


class UnableToLoadKey(CheckpointError):
    """A key file is missing, unreadable, or does not hold an Ed25519 key."""


class UnableToWriteKey(CheckpointError):
    """A new key pair cannot be written (a file exists already, or the directory refuses)."""


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A signed tree head of the first `tree_size` events."""

    tree_size: int
    root_hash: str  # hexadecimal
    last_event_hash: str  # hexadecimal: the chain hash of event `tree_size`
    at: datetime  # UTC, whole seconds
    key_id: str
    signature: bytes = field(repr=False)
    # The tree's perfect subtree roots, largest first (hexadecimal); not signed.
    frontier: tuple[str, ...] = ()

    @property
    def file_name(self) -> str:
        return checkpoint_file_name(self.tree_size)

    def signed_bytes(self) -> bytes:
        """What the signature covers: the fields but the signature, as canonical JSON."""
        return signed_bytes(
            tree_size=self.tree_size,
            root_hash=self.root_hash,
            last_event_hash=self.last_event_hash,
            at=self.at,
            key_id=self.key_id,
        )


@dataclass(frozen=True, slots=True)
class CheckpointFile:
    """A file of the checkpoint directory: its checkpoint, or why it could not be read."""

    path: Path
    checkpoint: Checkpoint | None
    error: str | None = None


def checkpoint_file_name(tree_size: int) -> str:
    """``checkpoint-000000001234.json``: files sort by tree size."""
    return f"checkpoint-{tree_size:012d}.json"


def key_id(public_key: Ed25519PublicKey) -> str:
    """A short name for a public key: the first 16 hex digits of SHA-256 of its raw bytes."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def signed_bytes(
    *, tree_size: int, root_hash: str, last_event_hash: str, at: datetime, key_id: str
) -> bytes:
    """The canonical encoding a checkpoint's signature covers."""
    document = {
        "format": FORMAT,
        "tree_size": tree_size,
        "root_hash": root_hash,
        "last_event_hash": last_event_hash,
        "at": _format_time(at),
        "key_id": key_id,
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode("ascii")


def sign_checkpoint(
    signing_key: Ed25519PrivateKey,
    *,
    tree_size: int,
    root_hash: bytes,
    last_event_hash: str,
    frontier: Sequence[bytes],
    now: datetime,
) -> Checkpoint:
    """Sign the tree head of the first `tree_size` events."""
    unsigned = Checkpoint(
        tree_size=tree_size,
        root_hash=root_hash.hex(),
        last_event_hash=last_event_hash,
        at=now.astimezone(UTC).replace(microsecond=0),
        key_id=key_id(signing_key.public_key()),
        signature=b"",
    )
    signature = signing_key.sign(unsigned.signed_bytes())
    return Checkpoint(
        tree_size=unsigned.tree_size,
        root_hash=unsigned.root_hash,
        last_event_hash=unsigned.last_event_hash,
        at=unsigned.at,
        key_id=unsigned.key_id,
        signature=signature,
        frontier=tuple(digest.hex() for digest in frontier),
    )


def signature_is_valid(checkpoint: Checkpoint, public_keys: Mapping[str, Ed25519PublicKey]) -> bool:
    """True when one of `public_keys` made the checkpoint's signature over its fields."""
    message = checkpoint.signed_bytes()
    for public_key in public_keys.values():
        try:
            public_key.verify(checkpoint.signature, message)
        except InvalidSignature:
            continue
        return True
    return False


def write_checkpoint_file(directory: Path, checkpoint: Checkpoint) -> Path | None:
    """Write the checkpoint's file, or return None when a file for its tree size exists.

    The file appears whole or not at all (written aside, flushed to disk, then
    linked into place), and an existing file is never replaced.
    """
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / checkpoint.file_name
    document = {
        "format": FORMAT,
        "tree_size": checkpoint.tree_size,
        "root_hash": checkpoint.root_hash,
        "last_event_hash": checkpoint.last_event_hash,
        "at": _format_time(checkpoint.at),
        "key_id": checkpoint.key_id,
        "signature": base64.b64encode(checkpoint.signature).decode("ascii"),
        "frontier": list(checkpoint.frontier),
    }
    text = json.dumps(document, indent=2) + "\n"
    descriptor, temporary = tempfile.mkstemp(dir=directory, prefix=".checkpoint-", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        # mkstemp makes the file 0600; a tree head is no secret, and copies must be readable.
        os.chmod(temporary, 0o644)
        try:
            os.link(temporary, target)
        except FileExistsError:
            return None
        except OSError:
            # A file system without hard links (some network mounts): check, then
            # rename, leaving only a narrow window to replace a concurrent writer's file.
            if target.exists():
                return None
            os.replace(temporary, target)
        _sync_directory(directory)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
    return target


def read_checkpoint_files(directory: Path) -> list[CheckpointFile]:
    """Every ``checkpoint-*.json`` of the directory, in order of tree size; [] if it is absent."""
    if not directory.is_dir():
        return []
    files = sorted(path for path in directory.iterdir() if FILE_NAME.match(path.name))
    return [_read_checkpoint_file(path) for path in files]


def generate_key_pair(private_path: Path, public_path: Path) -> str:
    """Write a new Ed25519 key pair as PEM files and return its key id.

    The private key file is created with mode 0600; neither file may exist
    already (a replaced signing key would leave earlier checkpoints unverifiable).
    Raises UnableToWriteKey.
    """
    for path in (private_path, public_path):
        if path.exists():
            raise UnableToWriteKey(f"{path} exists already; keygen never replaces a key file")
    private_key = Ed25519PrivateKey.generate()
    private_pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    _write_new_file(private_path, private_pem, mode=0o600)
    _write_new_file(public_path, public_pem, mode=0o644)
    return key_id(private_key.public_key())


def load_signing_key(path: Path) -> Ed25519PrivateKey:
    """The Ed25519 private key of a PEM file. Raises UnableToLoadKey."""
    data = _read_key_file(path)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise UnableToLoadKey(
            f"{path} does not hold an unencrypted PEM private key ({type(exc).__name__})"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise UnableToLoadKey(f"{path} holds a private key that is not Ed25519")
    return key


def load_public_keys(path: Path) -> dict[str, Ed25519PublicKey]:
    """The Ed25519 public keys of a file of PEM blocks, by key id. Raises UnableToLoadKey."""
    data = _read_key_file(path)
    keys: dict[str, Ed25519PublicKey] = {}
    for number, block in enumerate(_PEM_PUBLIC_KEY.findall(data), start=1):
        try:
            key = serialization.load_pem_public_key(block)
        except ValueError:
            raise UnableToLoadKey(f"{path}: public key {number} cannot be read") from None
        if not isinstance(key, Ed25519PublicKey):
            raise UnableToLoadKey(f"{path}: public key {number} is not Ed25519")
        keys[key_id(key)] = key
    if not keys:
        raise UnableToLoadKey(f"{path} holds no PEM public key (-----BEGIN PUBLIC KEY-----)")
    return keys


def configured_signing_key(settings: Settings) -> Ed25519PrivateKey:
    """The signing key of the configuration. Raises NoSigningKey or UnableToLoadKey."""
    if settings.audit_signing_key_file is None:
        raise NoSigningKey()
    return load_signing_key(settings.audit_signing_key_file)


def configured_public_keys(
    settings: Settings, *, public_key_file: Path | None = None
) -> dict[str, Ed25519PublicKey]:
    """The public keys that verify checkpoints; {} when none can be found.

    `public_key_file` (an auditor's own copy) comes first, then
    OPENAMR_AUDIT_PUBLIC_KEY_FILE, then the public half of the signing key.
    Raises UnableToLoadKey for a file that is named but unusable.
    """
    path = public_key_file or settings.audit_public_key_file
    if path is not None:
        return load_public_keys(path)
    if settings.audit_signing_key_file is not None:
        public_key = load_signing_key(settings.audit_signing_key_file).public_key()
        return {key_id(public_key): public_key}
    return {}


def key_file_is_private(path: Path) -> bool:
    """False when others than the owner may read the signing key file."""
    return path.stat().st_mode & 0o077 == 0


def _read_checkpoint_file(path: Path) -> CheckpointFile:
    try:
        document: Any = json.loads(path.read_text(encoding="ascii"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return CheckpointFile(path, None, f"cannot be read as JSON ({type(exc).__name__})")
    if not isinstance(document, dict) or set(document) != {
        *_SIGNED_FIELDS,
        "signature",
        "frontier",
    }:
        return CheckpointFile(path, None, "does not have the fields of a checkpoint")
    tree_size, at = document["tree_size"], document["at"]
    valid = (
        document["format"] == FORMAT
        and type(tree_size) is int
        and tree_size >= 1
        and isinstance(document["root_hash"], str)
        and _HEX_HASH.match(document["root_hash"])
        and isinstance(document["last_event_hash"], str)
        and _HEX_HASH.match(document["last_event_hash"])
        and isinstance(at, str)
        and _TIME.match(at)
        and isinstance(document["key_id"], str)
        and _KEY_ID.match(document["key_id"])
        and isinstance(document["signature"], str)
        and isinstance(document["frontier"], list)
        and all(isinstance(root, str) and _HEX_HASH.match(root) for root in document["frontier"])
    )
    if not valid:
        return CheckpointFile(path, None, "has a field of the wrong form")
    try:
        signature = base64.b64decode(document["signature"], validate=True)
        moment = datetime.strptime(at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except (binascii.Error, ValueError):
        return CheckpointFile(path, None, "has a signature or time that cannot be read")
    checkpoint = Checkpoint(
        tree_size=tree_size,
        root_hash=document["root_hash"],
        last_event_hash=document["last_event_hash"],
        at=moment,
        key_id=document["key_id"],
        signature=signature,
        frontier=tuple(document["frontier"]),
    )
    return CheckpointFile(path, checkpoint)


def _read_key_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UnableToLoadKey(
            f"key file {path} cannot be read: {exc.strerror or type(exc).__name__}"
        ) from None


def _write_new_file(path: Path, data: bytes, *, mode: int) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # O_EXCL: never follow or replace something that appeared meanwhile.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except OSError as exc:
        raise UnableToWriteKey(
            f"{path} cannot be created: {exc.strerror or type(exc).__name__}"
        ) from None
    with os.fdopen(descriptor, "wb") as stream:
        stream.write(data)
        stream.flush()
        os.fsync(stream.fileno())
    os.chmod(path, mode)  # the umask may have taken bits away from a public key's mode


def _sync_directory(directory: Path) -> None:
    """Make a new directory entry durable (POSIX); a no-op where directories cannot be opened."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
