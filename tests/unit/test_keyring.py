"""Meter keys open only with their master key and on their own meter's row, and never show."""

from __future__ import annotations

import base64
import dataclasses
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openamr.guard.keyring import (
    Keyring,
    NoMasterKey,
    UnableToOpenKey,
    UnableToSealKey,
    parse_meter_key,
)
from openamr.settings import InvalidSettings, MasterKey, Settings

METER_KEY = bytes.fromhex("0F1E2D3C4B5A69788796A5B4C3D2E1F0")
OLD = MasterKey("2025-01", bytes(range(32)))
NEW = MasterKey("2026-06", bytes(range(100, 132)))


def _traces(key: bytes) -> list[bytes]:
    """The ways a key could show up in bytes or text."""
    return [key, key.hex().encode(), key.hex().upper().encode(), base64.b64encode(key)]


def test_a_sealed_key_opens_to_the_same_key_on_its_own_meter() -> None:
    keyring = Keyring((NEW, OLD))
    sealed = keyring.seal(METER_KEY, meter_id=7, customer_id=3)
    assert sealed.master_key_id == "2026-06"
    assert keyring.unseal(sealed, meter_id=7, customer_id=3) == METER_KEY


def test_the_sealed_bytes_do_not_contain_the_key_and_each_seal_is_fresh() -> None:
    keyring = Keyring((NEW,))
    first = keyring.seal(METER_KEY, meter_id=7, customer_id=3)
    second = keyring.seal(METER_KEY, meter_id=7, customer_id=3)
    for blob in (first.sealed_key, first.wrapped_data_key):
        for trace in _traces(METER_KEY):
            assert trace not in blob
    # A fresh data key and nonce every time: equal keys do not give equal rows.
    assert first.sealed_key != second.sealed_key
    assert first.wrapped_data_key != second.wrapped_data_key
    assert "wrapped_data_key" not in repr(first)
    assert "sealed_key" not in repr(first)


@given(
    key=st.binary(min_size=16, max_size=16),
    meter_id=st.integers(1, 2**31),
    customer_id=st.integers(1, 2**31),
    other_meter=st.integers(1, 2**31),
    other_customer=st.integers(1, 2**31),
)
def test_a_sealed_key_opens_only_for_the_meter_and_customer_it_was_sealed_for(
    key: bytes, meter_id: int, customer_id: int, other_meter: int, other_customer: int
) -> None:
    keyring = Keyring((NEW,))
    sealed = keyring.seal(key, meter_id=meter_id, customer_id=customer_id)
    assert keyring.unseal(sealed, meter_id=meter_id, customer_id=customer_id) == key
    if (other_meter, other_customer) != (meter_id, customer_id):
        with pytest.raises(UnableToOpenKey, match=f"meter {other_meter}"):
            keyring.unseal(sealed, meter_id=other_meter, customer_id=other_customer)


def test_a_wrong_master_key_under_the_same_name_does_not_open_it() -> None:
    sealed = Keyring((NEW,)).seal(METER_KEY, meter_id=7, customer_id=3)
    impostor = Keyring((MasterKey(NEW.id, bytes(32)),))
    with pytest.raises(UnableToOpenKey, match="does not open with master key '2026-06'") as info:
        impostor.unseal(sealed, meter_id=7, customer_id=3)
    for trace in _traces(METER_KEY):
        assert trace.decode("latin-1") not in str(info.value)


def test_a_key_under_a_master_key_that_is_not_configured_says_which() -> None:
    sealed = Keyring((OLD,)).seal(METER_KEY, meter_id=7, customer_id=3)
    with pytest.raises(UnableToOpenKey, match="master key '2025-01', which is not configured"):
        Keyring((NEW,)).unseal(sealed, meter_id=7, customer_id=3)


def test_an_altered_sealed_key_does_not_open() -> None:
    keyring = Keyring((NEW,))
    sealed = keyring.seal(METER_KEY, meter_id=7, customer_id=3)
    flipped = bytearray(sealed.sealed_key)
    flipped[-1] ^= 1
    with pytest.raises(UnableToOpenKey, match="altered"):
        keyring.unseal(
            dataclasses.replace(sealed, sealed_key=bytes(flipped)), meter_id=7, customer_id=3
        )
    with pytest.raises(UnableToOpenKey):
        keyring.unseal(
            dataclasses.replace(sealed, wrapped_data_key=sealed.wrapped_data_key[:-1]),
            meter_id=7,
            customer_id=3,
        )


def test_after_rotation_and_rewrap_the_old_master_key_is_not_needed() -> None:
    sealed = Keyring((OLD,)).seal(METER_KEY, meter_id=7, customer_id=3)
    rotating = Keyring((NEW, OLD))
    assert not rotating.is_current(sealed)
    rewrapped = rotating.rewrap(sealed, meter_id=7, customer_id=3)
    assert rewrapped.master_key_id == NEW.id
    assert rotating.is_current(rewrapped)
    assert rewrapped.sealed_key == sealed.sealed_key  # only the data key's wrapping changes
    assert Keyring((NEW,)).unseal(rewrapped, meter_id=7, customer_id=3) == METER_KEY
    with pytest.raises(UnableToOpenKey):
        Keyring((OLD,)).unseal(rewrapped, meter_id=7, customer_id=3)


def test_without_a_master_key_nothing_is_sealed_or_rewrapped() -> None:
    keyring = Keyring(())
    assert not keyring.can_seal
    with pytest.raises(NoMasterKey, match="OPENAMR_MASTER_KEYS or OPENAMR_MASTER_KEY_FILE"):
        keyring.seal(METER_KEY, meter_id=7, customer_id=3)
    sealed = Keyring((OLD,)).seal(METER_KEY, meter_id=7, customer_id=3)
    with pytest.raises(NoMasterKey):
        keyring.rewrap(sealed, meter_id=7, customer_id=3)


def test_only_sixteen_byte_keys_are_sealed() -> None:
    with pytest.raises(UnableToSealKey, match="16 bytes \\(AES-128\\), not 15"):
        Keyring((NEW,)).seal(METER_KEY[:15], meter_id=7, customer_id=3)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("0F1E2D3C4B5A69788796A5B4C3D2E1F", "32 hexadecimal digits (an AES-128 key), not 31"),
        ("0F1E2D3C4B5A69788796A5B4C3D2E1F0AA", "not 34 characters"),
        ("0G1E2D3C4B5A69788796A5B4C3D2E1F0", "this one has other characters"),
        ("", "not 0 characters"),
    ],
)
def test_a_bad_key_is_described_and_never_quoted(text: str, reason: str) -> None:
    with pytest.raises(UnableToSealKey, match=re.escape(reason)) as info:
        parse_meter_key(text)
    assert text not in str(info.value) or not text


def test_a_hex_key_reads_in_either_case_and_with_surrounding_space() -> None:
    assert parse_meter_key(" 0f1e2d3c4b5a69788796a5b4c3d2e1f0\n") == METER_KEY


def test_keyring_repr_names_master_keys_but_never_shows_them() -> None:
    text = repr(Keyring((NEW, OLD)))
    assert "2026-06" in text
    assert "2025-01" in text
    for master in (NEW, OLD):
        for trace in _traces(master.key):
            assert trace.decode("latin-1") not in text


# -- settings --------------------------------------------------------------------------


def test_master_keys_from_the_environment_in_hex_or_base64_first_current() -> None:
    settings = Settings.from_env(
        {
            "OPENAMR_MASTER_KEYS": (
                f"2026-06:{base64.b64encode(NEW.key).decode()}, 2025-01:{OLD.key.hex()}"
            )
        }
    )
    assert settings.master_keys == (NEW, OLD)
    assert Keyring.from_settings(settings).current_id == "2026-06"
    assert Settings.from_env({}).master_keys == ()


def test_url_safe_base64_without_padding_is_taken() -> None:
    material = base64.urlsafe_b64encode(b"\xfb\xff" * 16).decode().rstrip("=")
    settings = Settings.from_env({"OPENAMR_MASTER_KEYS": f"k1:{material}"})
    assert settings.master_keys == (MasterKey("k1", b"\xfb\xff" * 16),)


def test_master_keys_from_a_file_come_after_the_variable(tmp_path: Path) -> None:
    secret = tmp_path / "master-keys"
    secret.write_text(f"# mounted secret\n2025-01:{OLD.key.hex()}\n", encoding="utf-8")
    only_file = Settings.from_env({"OPENAMR_MASTER_KEY_FILE": str(secret)})
    assert only_file.master_keys == (OLD,)
    both = Settings.from_env(
        {"OPENAMR_MASTER_KEYS": f"2026-06:{NEW.key.hex()}", "OPENAMR_MASTER_KEY_FILE": str(secret)}
    )
    assert both.master_keys == (NEW, OLD)


def test_settings_repr_and_str_never_show_master_key_material() -> None:
    settings = Settings(master_keys=(NEW, OLD))
    for text in (repr(settings), str(settings), repr(NEW)):
        for master in (NEW, OLD):
            for trace in _traces(master.key):
                assert trace.decode("latin-1") not in text
            assert repr(master.key) not in text
    assert "2026-06" in repr(settings)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("nocolon", "entry 1 must be id:key"),
        (f"k1:{NEW.key.hex()},bad id:{OLD.key.hex()}", "entry 2 must be id:key"),
        (f"k1:{NEW.key.hex()[:-2]}", "the key of entry 1 \\('k1'\\) must be 32 bytes"),
        (f"k1:{base64.b64encode(NEW.key[:16]).decode()}", "must be 32 bytes"),
        ("k1:not*base64*at*all", "must be 32 bytes"),
        (f"k1:{NEW.key.hex()},k1:{OLD.key.hex()}", "master key id 'k1' is given twice"),
    ],
)
def test_bad_master_key_entries_are_refused_without_showing_material(
    value: str, reason: str
) -> None:
    with pytest.raises(InvalidSettings, match=reason) as info:
        Settings.from_env({"OPENAMR_MASTER_KEYS": value})
    assert "OPENAMR_MASTER_KEYS" in str(info.value)
    for material in (NEW.key.hex(), NEW.key.hex()[:-2], OLD.key.hex(), "not*base64*at*all"):
        assert material not in str(info.value)


def test_an_unreadable_key_file_or_one_repeating_an_id_is_refused(tmp_path: Path) -> None:
    missing = tmp_path / "absent"
    with pytest.raises(InvalidSettings, match=r"OPENAMR_MASTER_KEY_FILE=.*absent.* cannot be read"):
        Settings.from_env({"OPENAMR_MASTER_KEY_FILE": str(missing)})
    secret = tmp_path / "keys"
    secret.write_text(f"k1:{OLD.key.hex()}", encoding="utf-8")
    with pytest.raises(InvalidSettings, match="'k1' is in both") as info:
        Settings.from_env(
            {"OPENAMR_MASTER_KEYS": f"k1:{NEW.key.hex()}", "OPENAMR_MASTER_KEY_FILE": str(secret)}
        )
    assert OLD.key.hex() not in str(info.value)
    assert NEW.key.hex() not in str(info.value)
