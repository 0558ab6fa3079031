"""The sign-in settings: where browsers reach openamr, and the key of the attempt digests."""

from __future__ import annotations

import pytest

from openamr.settings import InvalidSettings, Settings

MASTER = "2026-06:" + "ab" * 32


def test_the_public_url_gives_the_passkeys_relying_party_and_origin() -> None:
    default = Settings.from_env({})
    assert (default.relying_party_id, default.origin) == ("localhost", "http://localhost:8000")
    mine = Settings.from_env({"OPENAMR_PUBLIC_URL": " https://amr.hem.se:8443/ "})
    assert (mine.relying_party_id, mine.origin) == ("amr.hem.se", "https://amr.hem.se:8443")


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://amr.hem.se", "must be https"),
        ("amr.hem.se", "https:// URL"),
        ("ftp://amr.hem.se", "https:// URL"),
        ("https://amr.hem.se/openamr", "without a path"),
        ("https://user:pw@amr.hem.se", "without a path"),
    ],
)
def test_a_public_url_browsers_would_not_trust_is_refused(url: str, why: str) -> None:
    with pytest.raises(InvalidSettings, match=why):
        Settings.from_env({"OPENAMR_PUBLIC_URL": url})


def test_the_sign_in_secret_is_shared_by_processes_with_the_same_keys() -> None:
    # Two processes (two workers, or the API and a later restart) must count the
    # same attempts under the same digests.
    first = Settings.from_env({"OPENAMR_MASTER_KEYS": MASTER})
    second = Settings.from_env({"OPENAMR_MASTER_KEYS": MASTER})
    assert first.sign_in_secret == second.sign_in_secret
    assert first.sign_in_secret != bytes.fromhex("ab" * 32)  # derived, not the master key itself
    explicit = Settings.from_env({"OPENAMR_SIGN_IN_SECRET": "cd" * 32})
    assert explicit.sign_in_secret == bytes.fromhex("cd" * 32)
    assert Settings.from_env({}).sign_in_secret != Settings.from_env({}).sign_in_secret
    with pytest.raises(InvalidSettings, match="OPENAMR_SIGN_IN_SECRET") as refused:
        Settings.from_env({"OPENAMR_SIGN_IN_SECRET": "too short"})
    assert "too short" not in str(refused.value)
    assert "sign_in_secret" not in repr(first)


def test_access_codes_last_90_days_unless_set() -> None:
    assert Settings.from_env({}).access_code_days == 90
    assert Settings.from_env({"OPENAMR_ACCESS_CODE_DAYS": "30"}).access_code_days == 30
    with pytest.raises(InvalidSettings, match="OPENAMR_ACCESS_CODE_DAYS"):
        Settings.from_env({"OPENAMR_ACCESS_CODE_DAYS": "0"})
