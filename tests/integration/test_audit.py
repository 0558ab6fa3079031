"""The audit log: one gap-free hash chain, append-only, and every kind of tampering detected.

The tamper tests play the attacker who can write to the database (as its
owner, past the triggers) but not to the signing key: they change, delete,
swap and cut events, or rebuild the whole chain and its checkpoints under a
key of their own. `openamr audit verify`, run against the checkpoints an
operator exported before the attack, must fail and say where and what.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result
from sqlalchemy.engine import Engine

from openamr.access import AccessContext, Role
from openamr.cli import main
from openamr.guard.audit import NO_TARGET, Target, UnableToRecordEvent, record, record_access
from openamr.guard.audit_verify import verify_log
from openamr.guard.checkpoints import (
    generate_key_pair,
    load_signing_key,
    sign_checkpoint,
    write_checkpoint_file,
)
from openamr.guard.merkle import tree_head
from openamr.store import audit as audit_store
from openamr.store.audit import GENESIS_HASH, AuditEvent
from openamr.store.schema import audit_event, customer

NOW = datetime(2026, 11, 1, 12, 0, 0, tzinfo=UTC)
SUPPORT = AccessContext(
    actor="staff:12", role=Role.SUPPORT, customer_ids=frozenset({1}), grant_id=3
)


# --- helpers -----------------------------------------------------------------------------


def _record_events(engine: Engine, count: int, *, first: int = 1) -> None:
    """`count` events, one transaction each, as the parts of openamr write them."""
    for n in range(first, first + count):
        with engine.begin() as conn:
            record(
                conn,
                actor=f"staff:{n % 4}",
                role=Role.OPERATIONS.value,
                action="values.read" if n % 3 else "session.sign_in",
                now=NOW + timedelta(minutes=n),
                target=Target(customer_id=1, property_id=2, apartment_id=n, tenancy_id=100 + n),
                outcome="ok" if n % 5 else "denied",
            )


def _events(engine: Engine) -> list[AuditEvent]:
    with engine.connect() as conn:
        return list(audit_store.iter_events(conn))


@contextmanager
def _past_the_triggers(engine: Engine) -> Iterator[sa.Connection]:
    """A transaction that can rewrite `audit_event`, as its owner or the file's holder can."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
            yield conn
            return
        triggers = conn.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_event'"
        ).all()
        for name, _sql in triggers:
            conn.exec_driver_sql(f'DROP TRIGGER "{name}"')
        yield conn
        for _name, sql in triggers:
            conn.exec_driver_sql(sql)


def _set(engine: Engine, seq: int, **values: Any) -> None:
    with _past_the_triggers(engine) as conn:
        conn.execute(audit_event.update().where(audit_event.c.seq == seq).values(**values))


def _delete(engine: Engine, where: sa.ColumnElement[bool]) -> None:
    with _past_the_triggers(engine) as conn:
        conn.execute(audit_event.delete().where(where))


def _swap(engine: Engine, first: int, second: int) -> None:
    with _past_the_triggers(engine) as conn:
        for old, new in ((first, -1), (second, first), (-1, second)):
            conn.execute(audit_event.update().where(audit_event.c.seq == old).values(seq=new))


def _rebuild_chain(engine: Engine, events: list[AuditEvent]) -> None:
    """Replace the whole table by `events`, renumbered and re-hashed: a consistent forgery."""
    with _past_the_triggers(engine) as conn:
        conn.execute(audit_event.delete())
        prev_hash = GENESIS_HASH
        for seq, event in enumerate(events, start=1):
            forged = dataclasses.replace(event, seq=seq, prev_hash=prev_hash, hash="")
            forged = dataclasses.replace(forged, hash=audit_store.expected_hash(forged))
            conn.execute(audit_event.insert().values(**dataclasses.asdict(forged)))
            prev_hash = forged.hash


@dataclasses.dataclass
class Installation:
    """An installation's audit configuration, as an operator sets it up."""

    engine: Engine
    root: Path

    @property
    def signing_key(self) -> Path:
        return self.root / "keys" / "audit-signing.pem"

    @property
    def public_key(self) -> Path:
        return self.root / "keys" / "audit-public.pem"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def exported(self) -> Path:
        return self.root / "exported"

    def env(self, **overrides: str | None) -> dict[str, str | None]:
        env: dict[str, str | None] = {
            "OPENAMR_DATABASE_URL": self.engine.url.render_as_string(hide_password=False),
            "OPENAMR_AUDIT_SIGNING_KEY_FILE": str(self.signing_key),
            "OPENAMR_AUDIT_PUBLIC_KEY_FILE": str(self.public_key),
            "OPENAMR_AUDIT_CHECKPOINT_DIR": str(self.checkpoints),
        }
        env.update(overrides)
        return env

    def openamr(self, *args: str, **env: str | None) -> Result:
        return CliRunner().invoke(main, list(args), env=self.env(**env))

    def export_checkpoints(self) -> None:
        """What the operator's timer does: copy the checkpoints off the machine."""
        shutil.copytree(self.checkpoints, self.exported, dirs_exist_ok=True)

    def verify_exported(self) -> Result:
        return self.openamr("audit", "verify", "--checkpoints", str(self.exported))


@pytest.fixture
def installation(engine: Engine, tmp_path: Path) -> Installation:
    """Keys made with `openamr audit keygen`, 20 events checkpointed and exported, 3 after."""
    setup = Installation(engine, tmp_path)
    keygen = setup.openamr("audit", "keygen")
    assert keygen.exit_code == 0, keygen.output
    _record_events(engine, 20)
    checkpoint = setup.openamr("audit", "checkpoint")
    assert checkpoint.exit_code == 0, checkpoint.output
    setup.export_checkpoints()
    _record_events(engine, 3, first=21)
    return setup


def _assert_fails(result: Result, *expected: str) -> None:
    assert result.exit_code == 1, result.output
    assert "audit log NOT intact" in result.output
    for text in expected:
        assert text in result.output


# --- the chain ---------------------------------------------------------------------------


def test_events_are_chained_in_order_and_an_intact_log_verifies(engine: Engine) -> None:
    with engine.begin() as conn:
        record(conn, actor="cli:alice", role="operator", action="portfolio.import", now=NOW)
        record_access(
            conn,
            SUPPORT,
            action="presentation.read",
            now=NOW + timedelta(seconds=1, microseconds=500),
            target=Target(customer_id=1, apartment_id=5, tenancy_id=9),
        )
    events = _events(engine)
    assert [event.seq for event in events] == [1, 2]
    assert events[0].prev_hash == GENESIS_HASH
    assert events[1].prev_hash == events[0].hash
    assert all(audit_store.expected_hash(event) == event.hash for event in events)
    second = events[1]
    assert (second.actor, second.role, second.purpose, second.tenancy_id) == (
        "staff:12",
        "support",
        "grant:3",
        9,
    )
    assert second.at == NOW + timedelta(seconds=1)  # whole seconds, as hashed

    result = CliRunner().invoke(
        main,
        ["audit", "verify"],
        env={"OPENAMR_DATABASE_URL": engine.url.render_as_string(hide_password=False)},
    )
    assert result.exit_code == 0, result.output
    assert result.output.count("\n") == 1
    assert result.output.startswith("audit log intact: 2 events, hash chain verified")
    assert "no checkpoint yet" in result.output
    assert result.output.rstrip().endswith("OPENAMR_AUDIT_CHECKPOINT_DIR is not set")


def test_the_canonical_encoding_is_sorted_compact_json_with_utc_times() -> None:
    event = AuditEvent(
        seq=7,
        at=datetime(2026, 3, 29, 1, 7, tzinfo=UTC),
        actor="cli:åsa",
        role="operator",
        action="values.read",
        customer_id=1,
        property_id=None,
        apartment_id=3,
        tenancy_id=None,
        purpose='a "quoted", purpose',
        outcome="ok",
        prev_hash=GENESIS_HASH,
        hash="",
    )
    assert audit_store.canonical_encoding(event) == (
        b'{"action":"values.read","actor":"cli:\\u00e5sa","apartment_id":3,'
        b'"at":"2026-03-29T01:07:00Z","customer_id":1,"outcome":"ok",'
        b'"prev_hash":"' + GENESIS_HASH.encode() + b'","property_id":null,'
        b'"purpose":"a \\"quoted\\", purpose","role":"operator","seq":7,"tenancy_id":null}'
    )


def test_an_event_rolls_back_with_the_act_it_records(engine: Engine) -> None:
    def act_that_fails() -> None:
        with engine.begin() as conn:
            record(conn, actor="staff:1", role="customer_admin", action="tenancy.end", now=NOW)
            raise RuntimeError("the act failed")

    with pytest.raises(RuntimeError):
        act_that_fails()
    _record_events(engine, 1)
    assert [event.seq for event in _events(engine)] == [1]


def test_concurrent_writers_make_one_gap_free_chain(engine: Engine) -> None:
    """Threads append at once, some after reading or writing other tables, some rolling back."""
    with engine.begin() as conn:
        conn.execute(customer.insert().values(id=1, name="Hem AB", created_at=NOW))
    threads, per_thread = 6, 15
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def write(worker: int) -> None:
        try:
            start.wait()
            for n in range(per_thread):
                with engine.connect() as conn, conn.begin() as transaction:
                    if n % 3 == 1:  # a read of household data, then its event
                        conn.execute(sa.select(customer.c.id)).all()
                    elif n % 3 == 2:  # an administrative change, then its event
                        conn.execute(
                            customer.update().where(customer.c.id == 1).values(name="Hem AB")
                        )
                    record(
                        conn,
                        actor=f"staff:{worker}",
                        role="operations",
                        action="values.read",
                        now=NOW,
                        target=Target(customer_id=1, tenancy_id=n),
                    )
                    if n % 5 == 4:
                        transaction.rollback()
        except BaseException as exc:  # reported below
            errors.append(exc)

    workers = [threading.Thread(target=write, args=(worker,)) for worker in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    committed = threads * (per_thread - per_thread // 5)
    events = _events(engine)
    assert [event.seq for event in events] == list(range(1, committed + 1))
    with engine.connect() as conn:
        verification = verify_log(conn, checkpoint_files=[], public_keys={})
    assert verification.intact, verification.problems
    assert verification.events == committed


def test_an_event_that_cannot_be_stored_as_given_is_refused(engine: Engine) -> None:
    with engine.begin() as conn:
        with pytest.raises(UnableToRecordEvent, match="aware"):
            record(conn, actor="a", role="operator", action="x", now=datetime(2026, 1, 1))
        with pytest.raises(UnableToRecordEvent, match="action is longer than 64"):
            record(conn, actor="a", role="operator", action="x" * 65, now=NOW)
    assert _events(engine) == []


# --- append-only -------------------------------------------------------------------------


def test_the_database_refuses_to_update_or_delete_an_event(engine: Engine) -> None:
    _record_events(engine, 2)
    for statement in (
        audit_event.update().where(audit_event.c.seq == 1).values(action="nothing"),
        audit_event.delete().where(audit_event.c.seq == 2),
        audit_event.delete(),
    ):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(statement)
    if engine.dialect.name == "postgresql":
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as conn:
            conn.exec_driver_sql("TRUNCATE audit_event")
        _check_the_documented_application_role(engine)
    assert [(event.seq, event.action) for event in _events(engine)[:2]] == [
        (1, "values.read"),
        (2, "values.read"),
    ]


def _check_the_documented_application_role(engine: Engine) -> None:
    """docs/operations.md: the application's role has INSERT and SELECT on audit_event only.

    As that role, events are recorded, and UPDATE and DELETE are refused by the
    grants themselves, before any trigger is consulted.
    """
    role = f"openamr_test_app_{uuid.uuid4().hex[:8]}"
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE ROLE {role} NOLOGIN")
        conn.exec_driver_sql(f"GRANT SELECT, INSERT ON audit_event TO {role}")
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"SET LOCAL ROLE {role}")
            record(conn, actor="staff:1", role="operations", action="values.read", now=NOW)
        for statement in ("UPDATE audit_event SET action = 'x'", "DELETE FROM audit_event"):
            # "permission denied", not the trigger's "append-only": the grant refuses first.
            with pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
                _execute_as(engine, role, statement)
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP OWNED BY {role}")
            conn.exec_driver_sql(f"DROP ROLE {role}")


def _execute_as(engine: Engine, role: str, statement: str) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql(f"SET LOCAL ROLE {role}")
        conn.exec_driver_sql(statement)


# --- checkpoints and verify --------------------------------------------------------------


def test_a_checkpoint_signs_the_tree_head_and_verify_checks_it(
    installation: Installation,
) -> None:
    [path] = sorted(installation.checkpoints.iterdir())
    assert path.name == "checkpoint-000000000020.json"
    events = _events(installation.engine)
    head = tree_head([bytes.fromhex(event.hash) for event in events[:20]])
    assert f'"root_hash": "{head.hex()}"' in path.read_text()
    assert f'"last_event_hash": "{events[19].hash}"' in path.read_text()

    result = installation.verify_exported()
    assert result.exit_code == 0, result.output
    assert result.output.count("\n") == 1
    assert result.output.startswith("audit log intact: 23 events, hash chain verified; ")
    assert "1 signed checkpoint matches, the newest over 20 events" in result.output
    assert "3 events since" in result.output

    again = installation.openamr("audit", "checkpoint")
    assert again.exit_code == 0, again.output
    assert "checkpoint over 23 events" in again.output
    unchanged = installation.openamr("audit", "checkpoint")
    assert unchanged.output.strip() == (
        "nothing new since checkpoint-000000000023.json (23 events)"
    )
    assert len(list(installation.checkpoints.iterdir())) == 2


@pytest.mark.parametrize(
    ("column", "tampered"),
    [
        ("action", lambda event: event.action[:-1] + "f"),
        ("actor", lambda event: "staff:99"),
        ("tenancy_id", lambda event: event.tenancy_id + 1),
        ("purpose", lambda event: "grant:1"),
        ("outcome", lambda event: "ok" if event.outcome != "ok" else "denied"),
        ("at", lambda event: event.at + timedelta(seconds=1)),
        ("hash", lambda event: ("0" if event.hash[0] != "0" else "1") + event.hash[1:]),
        ("prev_hash", lambda event: event.prev_hash[:-1] + "0"),
    ],
)
def test_a_changed_byte_of_one_event_is_found(
    installation: Installation, column: str, tampered: Any
) -> None:
    event = _events(installation.engine)[6]
    _set(installation.engine, 7, **{column: tampered(event)})
    _assert_fails(installation.verify_exported(), "modified at seq 7: event 7 does not match")


def test_an_event_changed_and_re_hashed_is_found(installation: Installation) -> None:
    event = _events(installation.engine)[6]
    forged = dataclasses.replace(event, action="session.sign_in")
    _set(installation.engine, 7, action=forged.action, hash=audit_store.expected_hash(forged))
    _assert_fails(installation.verify_exported(), "modified at seq 7: event 7 was changed")


def test_a_deleted_event_is_found(installation: Installation) -> None:
    _delete(installation.engine, audit_event.c.seq == 7)
    _assert_fails(
        installation.verify_exported(), "missing at seq 7: event 7 is missing (the next stored"
    )


def test_two_swapped_events_are_found(installation: Installation) -> None:
    _swap(installation.engine, 7, 8)
    _assert_fails(
        installation.verify_exported(),
        "reordered at seq 7: the event stored at seq 7 is intact but was written as seq 8",
    )


def test_a_forged_event_inserted_into_the_chain_is_found(installation: Installation) -> None:
    """The attacker shifts events 7.. up by one and links a forged event 7 to event 6."""
    engine = installation.engine
    events = _events(engine)
    with _past_the_triggers(engine) as conn:
        for seq in range(len(events), 6, -1):
            conn.execute(audit_event.update().where(audit_event.c.seq == seq).values(seq=seq + 1))
        forged = dataclasses.replace(events[6], action="session.sign_in", hash="")
        forged = dataclasses.replace(forged, hash=audit_store.expected_hash(forged))
        conn.execute(audit_event.insert().values(**dataclasses.asdict(forged)))
    _assert_fails(
        installation.verify_exported(),
        "reordered at seq 8: the event stored at seq 8 is intact but was written as seq 7",
    )


def test_a_cut_tail_is_found_against_the_exported_checkpoint(
    installation: Installation,
) -> None:
    _delete(installation.engine, audit_event.c.seq > 15)
    _assert_fails(
        installation.verify_exported(),
        "truncated at seq 16: the log ends at seq 15, but checkpoint-000000000020.json",
        "events 16 to 20 are gone",
    )


def test_a_chain_rebuilt_and_checkpointed_under_another_key_is_found(
    installation: Installation,
) -> None:
    """The attacker drops event 7, re-hashes everything and re-signs with a key of their own."""
    engine = installation.engine
    events = _events(engine)
    _rebuild_chain(engine, events[:6] + events[7:])
    forged_private, forged_public = installation.root / "forged.pem", installation.root / "f.pub"
    generate_key_pair(forged_private, forged_public)
    shutil.rmtree(installation.checkpoints)
    rebuilt = _events(engine)
    write_checkpoint_file(
        installation.checkpoints,
        sign_checkpoint(
            load_signing_key(forged_private),
            tree_size=len(rebuilt),
            root_hash=tree_head([bytes.fromhex(event.hash) for event in rebuilt]),
            last_event_hash=rebuilt[-1].hash,
            frontier=[],
            now=NOW,
        ),
    )
    with engine.connect() as conn:  # the rebuilt chain is consistent in itself
        assert verify_log(conn, checkpoint_files=[], public_keys={}).intact

    _assert_fails(
        installation.verify_exported(),
        "rewritten at seq 20: the first 20 events are not those checkpoint-000000000020.json "
        "signed",
    )
    _assert_fails(
        installation.openamr("audit", "verify"),
        "other key at seq 22: checkpoint-000000000022.json is signed by key",
        "rebuilt under another key",
    )
    refused = installation.openamr("audit", "checkpoint")
    assert refused.exit_code == 1
    assert "does not verify, so no checkpoint was signed" in refused.output


def test_an_altered_checkpoint_file_is_found(installation: Installation) -> None:
    path = installation.exported / "checkpoint-000000000020.json"
    text = path.read_text()
    path.write_text(text.replace('"tree_size": 20', '"tree_size": 19'))
    _assert_fails(
        installation.verify_exported(),
        "signature invalid at seq 19: the signature of checkpoint-000000000020.json does not "
        "verify",
    )


def test_an_unreadable_checkpoint_file_is_reported(installation: Installation) -> None:
    (installation.exported / "checkpoint-000000000021.json").write_text("{not json")
    _assert_fails(
        installation.verify_exported(),
        "unreadable checkpoint: checkpoint-000000000021.json cannot be read as JSON",
    )


def test_verify_trusts_only_the_public_key_it_is_given(installation: Installation) -> None:
    other_private, other_public = installation.root / "o.pem", installation.root / "o.pub"
    generate_key_pair(other_private, other_public)
    result = installation.openamr(
        "audit",
        "verify",
        "--checkpoints",
        str(installation.exported),
        "--public-key",
        str(other_public),
    )
    _assert_fails(result, "other key at seq 20")
    no_keys = installation.openamr(
        "audit",
        "verify",
        "--checkpoints",
        str(installation.exported),
        OPENAMR_AUDIT_SIGNING_KEY_FILE=None,
        OPENAMR_AUDIT_PUBLIC_KEY_FILE=None,
    )
    _assert_fails(no_keys, "no public key: there are checkpoints but no public key to verify them")


def test_a_checkpoint_is_never_signed_over_a_tampered_log(installation: Installation) -> None:
    _set(installation.engine, 22, actor="staff:0")  # after the last checkpoint
    result = installation.openamr("audit", "checkpoint")
    assert result.exit_code == 1
    assert "modified at seq 22" in result.output
    assert [path.name for path in installation.checkpoints.iterdir()] == [
        "checkpoint-000000000020.json"
    ]


def test_a_checkpoint_goes_on_from_the_signed_tree_and_seals_no_earlier_tampering(
    installation: Installation,
) -> None:
    """A run reads only the events since the newest checkpoint; the tree before is the signed one."""
    engine = installation.engine
    original = [bytes.fromhex(event.hash) for event in _events(engine)]
    _set(engine, 5, actor="staff:99")  # below the checkpoint, not re-hashed
    result = installation.openamr("audit", "checkpoint")
    assert result.exit_code == 0, result.output
    newest = installation.checkpoints / "checkpoint-000000000023.json"
    assert f'"root_hash": "{tree_head(original).hex()}"' in newest.read_text()
    _assert_fails(installation.openamr("audit", "verify"), "modified at seq 5")


def test_a_checkpoint_is_refused_over_a_log_rewritten_below_the_newest_checkpoint(
    installation: Installation,
) -> None:
    engine = installation.engine
    events = _events(engine)
    events[6] = dataclasses.replace(events[6], outcome="denied")
    _rebuild_chain(engine, events)
    result = installation.openamr("audit", "checkpoint")
    assert result.exit_code == 1
    assert (
        "rewritten at seq 20: event 20 is not the event checkpoint-000000000020.json signed as "
        "its last"
    ) in result.output


def test_a_checkpoint_with_a_damaged_frontier_makes_the_next_run_replay_everything(
    installation: Installation,
) -> None:
    path = installation.checkpoints / "checkpoint-000000000020.json"
    document = json.loads(path.read_text())
    document["frontier"] = ["00" * 32] * len(document["frontier"])
    path.write_text(json.dumps(document))
    result = installation.openamr("audit", "checkpoint")
    assert result.exit_code == 0, result.output
    assert "checkpoint over 23 events" in result.output
    verified = installation.openamr("audit", "verify")
    assert verified.exit_code == 0, verified.output
    assert "2 signed checkpoints match" in verified.output


def test_without_a_signing_key_events_are_recorded_but_no_checkpoint_is_written(
    engine: Engine, tmp_path: Path
) -> None:
    setup = Installation(engine, tmp_path)
    _record_events(engine, 2)
    result = setup.openamr(
        "audit",
        "checkpoint",
        OPENAMR_AUDIT_SIGNING_KEY_FILE=None,
        OPENAMR_AUDIT_PUBLIC_KEY_FILE=None,
    )
    assert result.exit_code == 1
    assert "no audit signing key is configured: set OPENAMR_AUDIT_SIGNING_KEY_FILE" in (
        result.output
    )
    assert "Events are still recorded" in result.output
    assert not setup.checkpoints.exists()
    assert len(_events(engine)) == 2


def test_keygen_writes_a_private_key_only_its_owner_can_read_and_never_replaces_one(
    tmp_path: Path,
) -> None:
    private, public = tmp_path / "audit.pem", tmp_path / "audit.pub"
    first = CliRunner().invoke(
        main, ["audit", "keygen", "--private-key", str(private), "--public-key", str(public)]
    )
    assert first.exit_code == 0, first.output
    assert os.stat(private).st_mode & 0o777 == 0o600
    assert b"PRIVATE KEY" in private.read_bytes()
    assert public.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    original = private.read_bytes()
    second = CliRunner().invoke(
        main, ["audit", "keygen", "--private-key", str(private), "--public-key", str(public)]
    )
    assert second.exit_code == 1
    assert "exists already" in second.output
    assert private.read_bytes() == original


def test_audit_events_name_no_one_and_hold_no_values() -> None:
    """The table has no column for a name, contact details or a consumption value."""
    columns = {column.name for column in audit_event.columns}
    assert columns == {
        "seq",
        "at",
        "actor",
        "role",
        "action",
        "customer_id",
        "property_id",
        "apartment_id",
        "tenancy_id",
        "purpose",
        "outcome",
        "prev_hash",
        "hash",
    }
    assert Target() == NO_TARGET
