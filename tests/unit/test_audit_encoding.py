"""The canonical encoding of audit events: sorted, compact, ASCII JSON, for any content.

openamr writes the encoding out by hand for speed; these properties hold it
to the definition (json.dumps with sorted keys) byte for byte, so that anyone
can recompute an event's hash with any JSON library.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import assume, given
from hypothesis import strategies as st

from openamr.store.audit import GENESIS_HASH, AuditEvent, canonical_encoding, expected_hash

ids = st.none() | st.integers(min_value=-(2**63), max_value=2**63 - 1)
texts = st.text(max_size=40)
moments = st.datetimes(
    min_value=datetime(1, 1, 2),
    max_value=datetime(9999, 12, 30),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5))]),
)
events = st.builds(
    AuditEvent,
    seq=st.integers(min_value=1, max_value=2**63 - 1),
    at=moments,
    actor=texts,
    role=texts,
    action=texts,
    customer_id=ids,
    property_id=ids,
    apartment_id=ids,
    tenancy_id=ids,
    purpose=st.none() | texts,
    outcome=texts,
    prev_hash=st.just(GENESIS_HASH) | st.binary(min_size=32, max_size=32).map(bytes.hex),
    hash=st.just(""),
)


def _reference(event: AuditEvent) -> bytes:
    """The definition: every column but `hash`, json.dumps with sorted keys and no spaces."""
    document = {
        "seq": event.seq,
        "at": event.at.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z",
        "actor": event.actor,
        "role": event.role,
        "action": event.action,
        "customer_id": event.customer_id,
        "property_id": event.property_id,
        "apartment_id": event.apartment_id,
        "tenancy_id": event.tenancy_id,
        "purpose": event.purpose,
        "outcome": event.outcome,
        "prev_hash": event.prev_hash,
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode("ascii")


@given(events)
def test_the_encoding_is_json_with_sorted_keys_byte_for_byte(event: AuditEvent) -> None:
    assert canonical_encoding(event) == _reference(event)


@given(events)
def test_the_hash_chains_the_previous_hash_and_the_encoding(event: AuditEvent) -> None:
    digest = hashlib.sha256(bytes.fromhex(event.prev_hash) + _reference(event)).hexdigest()
    assert expected_hash(event) == digest


@given(events, texts)
def test_a_different_value_gives_a_different_encoding(event: AuditEvent, other: str) -> None:
    assume(other != event.actor)
    changed = dataclasses.replace(event, actor=other)
    assert canonical_encoding(changed) != canonical_encoding(event)
