"""TOTP: RFC 6238 codes, a window of one step either side, each code once; secrets sealed."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from openamr.guard import totp
from openamr.guard.keyring import Keyring, NoMasterKey, UnableToOpenSecret
from openamr.settings import MasterKey

OLD = MasterKey("2025-01", bytes(range(32)))
NEW = MasterKey("2026-06", bytes(range(100, 132)))
# RFC 6238, appendix B: the SHA-1 seed "12345678901234567890".
RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()
NOW = datetime(2026, 11, 29, 12, 0, 15, tzinfo=UTC)


def test_codes_are_those_of_rfc_6238() -> None:
    # Appendix B gives 8 digits; an authenticator app shows the last 6.
    assert totp.code_at_step(RFC_SECRET, 59 // 30) == "287082"
    assert totp.code_at_step(RFC_SECRET, 1111111109 // 30) == "081804"
    assert totp.code_at_step(RFC_SECRET, 1234567890 // 30) == "005924"


def test_the_current_step_and_one_either_side_are_accepted_and_no_further() -> None:
    secret = totp.new_secret()
    step = totp.step_at(NOW)
    for offset in (-1, 0, 1):
        code = totp.code_at_step(secret, step + offset)
        assert totp.matching_step(secret, code, now=NOW, last_step=None) == step + offset
    for offset in (-3, -2, 2, 3):
        code = totp.code_at_step(secret, step + offset)
        if code not in {totp.code_at_step(secret, step + near) for near in (-1, 0, 1)}:
            assert totp.matching_step(secret, code, now=NOW, last_step=None) is None


def test_a_code_is_accepted_once_and_an_older_one_not_after_a_newer() -> None:
    secret = totp.new_secret()
    step = totp.step_at(NOW)
    code = totp.code_at_step(secret, step)
    assert totp.matching_step(secret, code, now=NOW, last_step=step) is None
    older = totp.code_at_step(secret, step - 1)
    assert totp.matching_step(secret, older, now=NOW, last_step=step) is None
    newer = totp.code_at_step(secret, step + 1)
    assert totp.matching_step(secret, newer, now=NOW, last_step=step) == step + 1


def test_codes_are_read_as_typed_and_anything_else_is_refused() -> None:
    secret = totp.new_secret()
    code = totp.code_at_step(secret, totp.step_at(NOW))
    spaced = f" {code[:3]} {code[3:]} "
    assert totp.matching_step(secret, spaced, now=NOW, last_step=None) == totp.step_at(NOW)
    for wrong in ("", "12345", "1234567", "abcdef", code + "0"):
        assert totp.matching_step(secret, wrong, now=NOW, last_step=None) is None


def test_a_new_secret_is_160_random_bits_and_its_uri_names_the_issuer_and_account() -> None:
    secrets = {totp.new_secret() for _ in range(20)}
    assert len(secrets) == 20
    secret = secrets.pop()
    assert len(base64.b32decode(secret)) == 20
    uri = urlsplit(totp.provisioning_uri(secret, email="ops@hem.se"))
    assert (uri.scheme, uri.netloc) == ("otpauth", "totp")
    assert "ops%40hem.se" in uri.path
    query = parse_qs(uri.query)
    assert query["secret"] == [secret]
    assert query["issuer"] == ["openamr"]


def test_a_sealed_secret_opens_for_its_account_only_and_does_not_show() -> None:
    keyring = Keyring((NEW,))
    secret = totp.new_secret()
    sealed = totp.seal(keyring, secret, email="ops@hem.se")
    assert secret.encode() not in sealed
    assert base64.b32decode(secret) not in sealed
    assert totp.unseal(keyring, sealed, email="ops@hem.se") == secret
    with pytest.raises(UnableToOpenSecret, match="another subject"):
        totp.unseal(keyring, sealed, email="admin@hem.se")
    # The same bytes under another purpose do not open either.
    with pytest.raises(UnableToOpenSecret):
        keyring.unseal_secret(sealed, purpose="something else", subject="ops@hem.se")
    assert totp.seal(keyring, secret, email="ops@hem.se") != sealed  # a fresh nonce each time


def test_an_altered_sealed_secret_does_not_open() -> None:
    keyring = Keyring((NEW,))
    sealed = bytearray(totp.seal(keyring, totp.new_secret(), email="ops@hem.se"))
    for position in (len(sealed) - 1, len(sealed) // 2, 2):
        changed = bytearray(sealed)
        changed[position] ^= 0x01
        with pytest.raises(UnableToOpenSecret):
            totp.unseal(keyring, bytes(changed), email="ops@hem.se")
    with pytest.raises(UnableToOpenSecret, match="not a sealed secret"):
        totp.unseal(keyring, b"\x01plain", email="ops@hem.se")


def test_secrets_sealed_under_an_older_master_key_open_while_it_is_configured() -> None:
    secret = totp.new_secret()
    sealed = totp.seal(Keyring((OLD,)), secret, email="ops@hem.se")
    rotated = Keyring((NEW, OLD))
    assert totp.unseal(rotated, sealed, email="ops@hem.se") == secret
    assert not rotated.secret_is_current(sealed)
    assert rotated.secret_is_current(totp.seal(rotated, secret, email="ops@hem.se"))
    with pytest.raises(UnableToOpenSecret, match="not configured"):
        totp.unseal(Keyring((NEW,)), sealed, email="ops@hem.se")
    # A master key of the same id but other bytes does not open it.
    with pytest.raises(UnableToOpenSecret):
        totp.unseal(Keyring((MasterKey(OLD.id, bytes(32)),)), sealed, email="ops@hem.se")


def test_no_master_key_no_second_factor() -> None:
    with pytest.raises(NoMasterKey):
        totp.seal(Keyring(()), totp.new_secret(), email="ops@hem.se")


def test_the_window_follows_the_clock() -> None:
    secret = totp.new_secret()
    code = totp.code_at_step(secret, totp.step_at(NOW))
    assert totp.matching_step(secret, code, now=NOW + timedelta(seconds=30), last_step=None)
    assert totp.matching_step(secret, code, now=NOW + timedelta(seconds=90), last_step=None) is None
