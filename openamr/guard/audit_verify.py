"""Verifying the audit log against its signed checkpoints, and checkpointing a verified log.

`verify_log` replays the table from seq 1 in one pass: it recomputes every
event's chain hash, checks that each event follows the one before it, feeds
the hashes to a Merkle tree builder and, at each checkpoint's tree size,
compares the tree head and the last event hash with what the checkpoint
signed. Checkpoints are trusted only when one of the configured public keys
verifies their signature. It reports the first break of the chain precisely:

    modified        an event does not match its hash, or was replaced by one re-hashed
    missing         a seq number is absent: events were deleted
    reordered       an event is intact but stored at another seq than it was written at
    truncated       the table ends before the newest checkpoint's tree size
    rewritten       the events up to a checkpoint's size are not those it signed
                    (the chain was rebuilt)
    signature       a checkpoint's signature does not verify with the key it names
    other_key       a checkpoint is signed by a key that is not configured (the log and
                    its checkpoints were rebuilt under another key)
    unreadable      a checkpoint file cannot be read
    no_public_key   there are checkpoints, but no public key to check them with

`checkpoint_log` signs a new checkpoint only over events that verify, so
tampering is never sealed into a signature; it goes on from the newest
checkpoint's tree, so a periodic run reads only the events since.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy.engine import Engine

from openamr.guard.checkpoints import (
    Checkpoint,
    CheckpointError,
    CheckpointFile,
    key_id,
    read_checkpoint_files,
    sign_checkpoint,
    signature_is_valid,
    write_checkpoint_file,
)
from openamr.guard.merkle import TreeBuilder
from openamr.store import audit as audit_store
from openamr.store.audit import GENESIS_HASH, AuditEvent


class ProblemKind(StrEnum):
    """What is wrong; the values are what `openamr audit verify` prints."""

    MODIFIED = "modified"
    MISSING = "missing"
    REORDERED = "reordered"
    TRUNCATED = "truncated"
    REWRITTEN = "rewritten"
    SIGNATURE = "signature invalid"
    OTHER_KEY = "other key"
    UNREADABLE = "unreadable checkpoint"
    NO_PUBLIC_KEY = "no public key"


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding: its kind, the seq it concerns (if any) and a precise explanation."""

    kind: ProblemKind
    seq: int | None
    detail: str

    def __str__(self) -> str:
        where = f" at seq {self.seq}" if self.seq is not None else ""
        return f"{self.kind.value}{where}: {self.detail}"


@dataclass(frozen=True, slots=True)
class Verification:
    """The outcome of a verification; `problems` is empty when the log is intact."""

    events: int  # events read and found intact
    head: bytes  # the Merkle tree head over them
    last_event_hash: str
    checkpoints: tuple[Checkpoint, ...]  # those whose signature verified, by tree size
    problems: tuple[Problem, ...]

    @property
    def intact(self) -> bool:
        return not self.problems

    @property
    def newest(self) -> Checkpoint | None:
        return self.checkpoints[-1] if self.checkpoints else None

    def summary(self) -> str:
        """One line for an intact log: what was checked, and what could not be."""
        events = "1 event" if self.events == 1 else f"{self.events} events"
        text = f"audit log intact: {events}, hash chain verified"
        newest = self.newest
        if newest is None:
            return (
                text + "; no checkpoint yet, so a removed tail or a rebuilt log cannot be "
                "detected (run `openamr audit checkpoint`)"
            )
        since = self.events - newest.tree_size
        count = len(self.checkpoints)
        matching = (
            "1 signed checkpoint matches" if count == 1 else f"{count} signed checkpoints match"
        )
        return (
            f"{text}; {matching}, the newest over "
            f"{newest.tree_size} events signed {_time(newest.at)} by key {newest.key_id}; "
            f"{since} events since"
        )


@dataclass(frozen=True, slots=True)
class CheckpointOutcome:
    """What `checkpoint_log` did: wrote `checkpoint` to `path`, or nothing (both None)."""

    checkpoint: Checkpoint | None
    path: Path | None
    previous: Checkpoint | None  # the newest checkpoint before this run
    events: int  # events in the log, all verified since `previous`


class UnableToCheckpoint(CheckpointError):
    """The log does not verify (or the keys do not fit), so no checkpoint is signed."""

    def __init__(self, message: str, problems: Sequence[Problem] = ()) -> None:
        super().__init__(message)
        self.problems = tuple(problems)


def verify_log(
    conn: sa.Connection,
    *,
    checkpoint_files: Sequence[CheckpointFile],
    public_keys: Mapping[str, Ed25519PublicKey],
) -> Verification:
    """Replay the whole audit log and check it against the checkpoints (module docstring)."""
    problems, trusted = _trusted_checkpoints(checkpoint_files, public_keys)
    if checkpoint_files and not public_keys:
        problems.append(
            Problem(
                ProblemKind.NO_PUBLIC_KEY,
                None,
                "there are checkpoints but no public key to verify them: set "
                "OPENAMR_AUDIT_PUBLIC_KEY_FILE (or give --public-key)",
            )
        )
    replay = _replay(conn, TreeBuilder(), prev_hash=GENESIS_HASH, trusted=trusted)
    if replay.problem is not None:
        problems.append(replay.problem)
    elif trusted and max(trusted) > replay.events:
        problems.append(_truncated(replay.events, trusted[max(trusted)][0]))
    return Verification(
        events=replay.events,
        head=replay.tree.head(),
        last_event_hash=replay.last_event_hash,
        checkpoints=tuple(checkpoint for size in sorted(trusted) for checkpoint in trusted[size]),
        problems=tuple(problems),
    )


def verify_configured_log(
    engine: Engine, *, checkpoint_dir: Path | None, public_keys: Mapping[str, Ed25519PublicKey]
) -> Verification:
    """Verify the log of `engine` against the checkpoint files of `checkpoint_dir` (if any)."""
    files = read_checkpoint_files(checkpoint_dir) if checkpoint_dir is not None else []
    with engine.connect() as conn:
        return verify_log(conn, checkpoint_files=files, public_keys=public_keys)


def checkpoint_log(
    engine: Engine,
    *,
    signing_key: Ed25519PrivateKey,
    public_keys: Mapping[str, Ed25519PublicKey],
    checkpoint_dir: Path,
    now: datetime,
) -> CheckpointOutcome:
    """Sign and write a checkpoint over all events, if they verify.

    Every checkpoint file must carry a valid signature. The events since the
    newest checkpoint are verified and appended to its tree (its frontier),
    so a run reads only what is new; without a usable newest checkpoint the
    whole log is verified. Events the newest checkpoint covers are
    `verify_log`'s to check: a new checkpoint's head is computed from the
    signed tree, never from them, so tampering there is not sealed either.
    Nothing is written for an empty log or one already covered.

    Raises UnableToCheckpoint, with the problems attached, when the signing
    key is not among `public_keys` (verify would reject its checkpoints) or
    anything does not verify.
    """
    signer = key_id(signing_key.public_key())
    keys = dict(public_keys) or {signer: signing_key.public_key()}
    if signer not in keys:
        raise UnableToCheckpoint(
            f"the signing key {signer} is not among the configured public keys "
            f"({', '.join(sorted(keys))}): verify would reject its checkpoints; add its public "
            "key to OPENAMR_AUDIT_PUBLIC_KEY_FILE"
        )
    problems, trusted = _trusted_checkpoints(read_checkpoint_files(checkpoint_dir), keys)
    refusal = "the audit log does not verify, so no checkpoint was signed"
    if problems:
        raise UnableToCheckpoint(refusal, problems)
    newest = trusted[max(trusted)][0] if trusted else None
    with engine.connect() as conn:
        start = _resume(conn, newest, problems)
        if problems:
            raise UnableToCheckpoint(refusal, problems)
        if start is None or newest is None:
            replay = _replay(conn, TreeBuilder(), prev_hash=GENESIS_HASH, trusted=trusted)
        else:
            replay = _replay(conn, start, prev_hash=newest.last_event_hash, trusted={})
    if replay.problem is not None:
        raise UnableToCheckpoint(refusal, [replay.problem])
    if newest is not None and replay.events < newest.tree_size:
        raise UnableToCheckpoint(refusal, [_truncated(replay.events, newest)])
    if replay.events == 0 or (newest is not None and newest.tree_size == replay.events):
        return CheckpointOutcome(None, None, newest, replay.events)
    checkpoint = sign_checkpoint(
        signing_key,
        tree_size=replay.events,
        root_hash=replay.tree.head(),
        last_event_hash=replay.last_event_hash,
        frontier=replay.tree.frontier,
        now=now,
    )
    path = write_checkpoint_file(checkpoint_dir, checkpoint)
    return CheckpointOutcome(checkpoint if path else None, path, newest, replay.events)


@dataclass(frozen=True, slots=True)
class _Replay:
    events: int  # events found intact, from seq 1
    tree: TreeBuilder
    last_event_hash: str
    problem: Problem | None  # the first break, if any


def _trusted_checkpoints(
    files: Sequence[CheckpointFile], public_keys: Mapping[str, Ed25519PublicKey]
) -> tuple[list[Problem], dict[int, list[Checkpoint]]]:
    """The problems with the files, and the checkpoints whose signature verifies, by size."""
    problems: list[Problem] = []
    trusted: dict[int, list[Checkpoint]] = {}
    for file in files:
        problem = _check_signature(file, public_keys)
        if problem is not None:
            problems.append(problem)
        elif file.checkpoint is not None and public_keys:
            trusted.setdefault(file.checkpoint.tree_size, []).append(file.checkpoint)
    return problems, trusted


def _resume(
    conn: sa.Connection, newest: Checkpoint | None, problems: list[Problem]
) -> TreeBuilder | None:
    """The newest checkpoint's tree, to append to; None to replay from seq 1 instead.

    Adds a problem when the event the checkpoint ends with is gone or changed.
    """
    if newest is None:
        return None
    try:
        tree = TreeBuilder.resume(
            newest.tree_size, [bytes.fromhex(root) for root in newest.frontier]
        )
    except ValueError:
        return None
    if tree.head().hex() != newest.root_hash:
        return None  # not the signed tree's frontier: replay everything
    last = audit_store.find_event(conn, newest.tree_size)
    if last is None:
        if audit_store.last_seq(conn) < newest.tree_size:
            problems.append(_truncated(audit_store.last_seq(conn), newest))
        else:
            problems.append(
                Problem(
                    ProblemKind.MISSING,
                    newest.tree_size,
                    f"event {newest.tree_size}, the last that {newest.file_name} covers, is "
                    "missing",
                )
            )
    elif last.hash != newest.last_event_hash:
        problems.append(
            Problem(
                ProblemKind.REWRITTEN,
                newest.tree_size,
                f"event {newest.tree_size} is not the event {newest.file_name} signed as its "
                "last: the log was rewritten after it was signed",
            )
        )
    return tree


def _replay(
    conn: sa.Connection,
    tree: TreeBuilder,
    *,
    prev_hash: str,
    trusted: Mapping[int, Sequence[Checkpoint]],
) -> _Replay:
    """Check the events after the first `tree.size`, appended to `tree`, up to the first break."""
    # The highest seq an event can have been written at, should one have been moved.
    highest_seq = max(audit_store.last_seq(conn), max(trusted, default=0)) + 1
    expected = tree.size + 1
    problem: Problem | None = None
    stream = audit_store.iter_events(conn, after_seq=tree.size)
    try:
        for event in stream:
            problem = _check_event(
                event, expected=expected, prev_hash=prev_hash, highest_seq=highest_seq
            )
            if problem is not None:
                break
            tree.append(bytes.fromhex(event.hash))
            prev_hash = event.hash
            problem = _check_tree(tree, event, trusted.get(expected, ()))
            if problem is not None:
                break
            expected += 1
    finally:
        stream.close()
    events = expected - 1
    if problem is not None and problem.seq is not None:
        events = min(events, problem.seq - 1)
    return _Replay(events=events, tree=tree, last_event_hash=prev_hash, problem=problem)


def _check_tree(
    tree: TreeBuilder, event: AuditEvent, checkpoints: Sequence[Checkpoint]
) -> Problem | None:
    """A problem if the tree so far is not the one a checkpoint of this size signed."""
    for checkpoint in checkpoints:
        signed = (checkpoint.root_hash, checkpoint.last_event_hash)
        if (tree.head().hex(), event.hash) != signed:
            return Problem(
                ProblemKind.REWRITTEN,
                tree.size,
                f"the first {tree.size} events are not those {checkpoint.file_name} signed "
                f"on {_time(checkpoint.at)}: the log up to seq {tree.size} was rewritten "
                "after it was signed",
            )
    return None


def _truncated(events: int, newest: Checkpoint) -> Problem:
    first = events + 1
    lost = (
        f"event {first} is"
        if first == newest.tree_size
        else f"events {first} to {newest.tree_size} are"
    )
    return Problem(
        ProblemKind.TRUNCATED,
        first,
        f"the log ends at seq {events}, but {newest.file_name} signed on "
        f"{_time(newest.at)} covers {newest.tree_size} events: {lost} gone",
    )


def _check_signature(
    file: CheckpointFile, public_keys: Mapping[str, Ed25519PublicKey]
) -> Problem | None:
    checkpoint = file.checkpoint
    if checkpoint is None:
        return Problem(ProblemKind.UNREADABLE, None, f"{file.path.name} {file.error}")
    if not public_keys or signature_is_valid(checkpoint, public_keys):
        return None
    if checkpoint.key_id in public_keys:
        return Problem(
            ProblemKind.SIGNATURE,
            checkpoint.tree_size,
            f"the signature of {file.path.name} does not verify with key {checkpoint.key_id}: "
            "the file was altered after it was signed",
        )
    return Problem(
        ProblemKind.OTHER_KEY,
        checkpoint.tree_size,
        f"{file.path.name} is signed by key {checkpoint.key_id}, not by the configured "
        f"{', '.join(sorted(public_keys))}: the log and its checkpoints were rebuilt under "
        "another key",
    )


def _check_event(
    event: AuditEvent, *, expected: int, prev_hash: str, highest_seq: int
) -> Problem | None:
    """The first thing wrong with the event read where seq `expected` should be, if anything."""
    if event.seq > expected:
        gone = (
            f"event {expected} is"
            if event.seq == expected + 1
            else f"events {expected} to {event.seq - 1} are"
        )
        return Problem(
            ProblemKind.MISSING, expected, f"{gone} missing (the next stored is seq {event.seq})"
        )
    if event.seq < expected:  # only a seq below 1 can sort before the expected one
        return Problem(
            ProblemKind.MODIFIED, expected, f"an event with seq {event.seq} was inserted"
        )
    if audit_store.expected_hash(event) != event.hash:
        written_as = _seq_written_as(event, highest_seq)
        if written_as is not None:
            return Problem(
                ProblemKind.REORDERED,
                expected,
                f"the event stored at seq {expected} is intact but was written as seq "
                f"{written_as}: events were moved, inserted or removed",
            )
        return Problem(
            ProblemKind.MODIFIED,
            expected,
            f"event {expected} does not match its hash: its content or hash was changed",
        )
    if event.prev_hash != prev_hash:
        if expected == 1:
            return Problem(
                ProblemKind.MODIFIED, 1, "event 1 does not begin the chain: it was replaced"
            )
        return Problem(
            ProblemKind.MODIFIED,
            expected - 1,
            f"event {expected - 1} was changed and re-hashed: event {expected} was written "
            f"after an event with hash {event.prev_hash[:16]}…, not {prev_hash[:16]}…",
        )
    return None


def _seq_written_as(event: AuditEvent, highest_seq: int) -> int | None:
    """The seq at which an event would match its hash, if one does: it was moved there from.

    Only on the way to a report, so a search over every seq the log has is
    affordable: the canonical encoding is split around the seq, and the
    hash of the part before it is computed once.
    """
    marker = b'"seq":0,'
    encoded = audit_store.canonical_encoding(dataclasses.replace(event, seq=0))
    if encoded.count(marker) != 1:
        return None
    before, after = encoded.split(marker)
    try:
        prefix = hashlib.sha256(bytes.fromhex(event.prev_hash) + before + b'"seq":')
    except ValueError:
        return None
    suffix = b"," + after
    for candidate in range(1, highest_seq + 1):
        if candidate == event.seq:
            continue
        digest = prefix.copy()
        digest.update(str(candidate).encode("ascii") + suffix)
        if digest.hexdigest() == event.hash:
            return candidate
    return None


def _time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
