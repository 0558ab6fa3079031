"""Passphrases: argon2id at OWASP's parameters, re-hashed when those change, and refused when weak."""

from __future__ import annotations

import statistics
import time

import pytest
from argon2 import PasswordHasher, Type
from argon2.low_level import Type as LowType

from openamr.guard.passwords import (
    UnableToSetPassphrase,
    check_new_passphrase,
    generate_passphrase,
    hash_passphrase,
    production_hasher,
    verify_passphrase,
)
from openamr.settings import InvalidSettings, Settings

PASSPHRASE = "blue kettle on the balcony"


def test_the_production_parameters_are_at_least_owasps_minimum_for_argon2id() -> None:
    hasher = production_hasher()
    assert hasher.type is Type.ID
    assert hasher.time_cost >= 2
    assert hasher.memory_cost >= 19 * 1024  # KiB: 19 MiB
    assert hasher.parallelism == 1
    stored = hash_passphrase(PASSPHRASE)
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert PASSPHRASE not in stored


def test_a_passphrase_verifies_and_another_does_not() -> None:
    stored = hash_passphrase(PASSPHRASE)
    assert verify_passphrase(stored, PASSPHRASE).ok
    assert verify_passphrase(stored, PASSPHRASE + " ").ok is False
    assert verify_passphrase(stored, "Blue kettle on the balcony").ok is False
    assert verify_passphrase("not a hash", PASSPHRASE).ok is False
    # Salted: the same passphrase never gives the same hash twice.
    assert hash_passphrase(PASSPHRASE) != stored


def test_the_same_words_typed_on_another_device_match() -> None:
    # "é" composed (U+00E9) and decomposed (e + U+0301); full-width digits from a phone keyboard.
    stored = hash_passphrase("caf\u00e9 au lait 2026")
    assert verify_passphrase(stored, "cafe\u0301 au lait 2026").ok
    assert verify_passphrase(stored, "caf\u00e9 au lait \uff12\uff10\uff12\uff16").ok


def test_a_hash_under_older_parameters_verifies_and_is_replaced_by_a_current_one() -> None:
    weaker = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=2, type=LowType.ID)
    old = weaker.hash(PASSPHRASE)
    outcome = verify_passphrase(old, PASSPHRASE)
    assert outcome.ok
    assert outcome.new_hash is not None
    assert outcome.new_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    again = verify_passphrase(outcome.new_hash, PASSPHRASE)
    assert again.ok
    assert again.new_hash is None
    # A wrong passphrase on an old hash is not re-hashed.
    assert verify_passphrase(old, "something else entirely").new_hash is None


def test_an_unknown_account_takes_as_long_as_a_known_one() -> None:
    stored = hash_passphrase(PASSPHRASE)
    verify_passphrase(None, "warm up the dummy hash")

    def median(stored_hash: str | None) -> float:
        times = []
        for _ in range(5):
            start = time.perf_counter()
            assert not verify_passphrase(stored_hash, "a wrong passphrase here").ok
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    known, unknown = median(stored), median(None)
    # One argon2id verification either way (~35 ms); without it an unknown one takes microseconds.
    assert unknown > 0.5 * known
    assert verify_passphrase(None, PASSPHRASE).ok is False


@pytest.mark.parametrize(
    ("passphrase", "why"),
    [
        ("short one", "at least 12 characters"),
        ("aaaaaaaaaaaaaaaa", "one character repeated"),
        ("123456789012", "most common"),
        ("Password1234", "most common"),
        ("x" * 257, "at most 256"),
    ],
)
def test_weak_passphrases_are_refused_with_the_reason_and_without_repeating_them(
    passphrase: str, why: str
) -> None:
    with pytest.raises(UnableToSetPassphrase, match=why) as refused:
        check_new_passphrase(passphrase)
    assert passphrase not in str(refused.value)


def test_a_passphrase_may_not_contain_the_handle() -> None:
    with pytest.raises(UnableToSetPassphrase, match="handle"):
        check_new_passphrase("my home hq7k2m9x4d1a3", handle="hq7k2m9x4d1a3")
    assert check_new_passphrase("twelve chars", handle="hq7k2m9x4d1a3") == "twelve chars"


def test_generated_passphrases_are_long_random_and_acceptable() -> None:
    made = {generate_passphrase() for _ in range(50)}
    assert len(made) == 50
    for passphrase in made:
        assert len(passphrase) == 29
        assert check_new_passphrase(passphrase) == passphrase


def test_failed_sign_ins_per_account_are_limited_to_100_an_hour_at_most() -> None:
    assert Settings().sign_in_failures_per_account == 100
    assert Settings.from_env({}).sign_in_failures_per_address == 300
    with pytest.raises(InvalidSettings, match="at most 100"):
        Settings(sign_in_failures_per_account=101)
