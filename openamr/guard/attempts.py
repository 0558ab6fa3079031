"""Limits on failed sign-ins: per account and per client address, counted over the last hour.

An account (a staff e-mail, a household handle) takes at most
`Settings.sign_in_failures_per_account` (100) failures an hour; an address at
most `sign_in_failures_per_address` (300 by default: an office or a
carrier-grade NAT puts many honest people behind one address, while one
source guessing at many accounts is held to 300 an hour, 7,200 a day, each
costing an argon2id verification). An account's count restarts after a
success; an address's does not. The limit is on what was typed, whether an
account of that name exists or not, so that being refused says nothing
about existence either.

Both are stored as keyed digests (HMAC-SHA-256 under the server's
sign-in secret), never as e-mail addresses, handles or IP addresses: the
table names nobody, and the digest of a guessed address cannot be checked
without the secret.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from openamr.settings import Settings
from openamr.store import identities as store

WINDOW = timedelta(hours=1)

T = TypeVar("T")


class TooManyAttempts(Exception):
    """Too many failed sign-ins from this account or address in the last hour."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(
            "too many failed sign-ins; wait a while and try again "
            f"(in {max(1, math.ceil(retry_after_s / 60))} minutes)"
        )
        self.retry_after_s = retry_after_s


@dataclass(frozen=True, slots=True)
class AttemptKeys:
    """The keyed digests an attempt is counted under."""

    account: str
    address: str


def attempt_keys(settings: Settings, *, kind: str, account: str, address: str) -> AttemptKeys:
    """The digests for an attempt on `account` (a staff, household or code) from `address`."""
    return AttemptKeys(
        account=_keyed(settings.sign_in_secret, f"{kind}\x00{account}"),
        address=_keyed(settings.sign_in_secret, f"address\x00{address}"),
    )


def refusal(
    conn: sa.Connection,
    keys: AttemptKeys,
    *,
    settings: Settings,
    now: datetime,
    check_account: bool = True,
) -> TooManyAttempts | None:
    """The refusal due if this account or address is over its limit, else None."""
    since = now - WINDOW
    by_account, by_address = store.count_failures(
        conn, account_digest=keys.account, address_digest=keys.address, since=since
    )
    over_account = check_account and by_account >= settings.sign_in_failures_per_account
    if not over_account and by_address < settings.sign_in_failures_per_address:
        return None
    oldest = store.oldest_failure_since(
        conn, account_digest=keys.account, address_digest=keys.address, since=since
    )
    retry_after = WINDOW - (now - oldest) if oldest is not None else WINDOW
    return TooManyAttempts(int(retry_after.total_seconds()))


def record(conn: sa.Connection, keys: AttemptKeys, *, succeeded: bool, now: datetime) -> None:
    """Count one attempt, in the caller's transaction."""
    store.record_attempt(
        conn,
        account_digest=keys.account,
        address_digest=keys.address,
        succeeded=succeeded,
        now=now,
        forget_before=now - WINDOW,
    )


def committed(engine: Engine, work: Callable[[sa.Connection], T | Exception]) -> T:
    """Run `work` in a transaction that commits, then raise the refusal it returned, if any.

    A refusal must still commit what it wrote (the failed attempt that counts
    towards the limits, its audit event, a passkey challenge used up), so
    refusals are returned from the transaction rather than raised inside it.
    """
    with engine.begin() as conn:
        outcome = work(conn)
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


def _keyed(secret: bytes, text: str) -> str:
    return hmac.new(secret, text.encode(), hashlib.sha256).hexdigest()
