"""Access code letters: the QR code's link keeps the code in the fragment; the last valid day."""

from __future__ import annotations

from datetime import UTC, datetime

from openamr.guard.households import IssuedCode
from openamr.present.pages.letters import letter, sign_in_link
from openamr.store.buildings import ApartmentRow, PropertyRow

PROPERTY = PropertyRow(1, 1, "Uppsala Kåbo 1:23", "Kåbo", "Europe/Stockholm", 1, 1)
FLAT = ApartmentRow(2, 1, 1, 3, "Kåbovägen 12A", "1102", "Europe/Stockholm")


def _letter(expires_at: datetime) -> str:
    issued = IssuedCode("7K3Q-DM9X-0000-1111-2222-3333", "letter", 5, expires_at)
    made = letter(
        customer="Hem AB",
        prop=PROPERTY,
        flat=FLAT,
        issued=issued,
        public_url="https://amr.example.se/",
        qr_title="<QR>",
    )
    assert made.address == "https://amr.example.se/household"
    assert made.qr.startswith('<svg viewBox="0 0 ')
    assert "<title>&lt;QR&gt;</title>" in made.qr  # the title escaped, the SVG kept as markup
    return made.valid_until


def test_the_code_travels_in_the_fragment_which_browsers_never_send() -> None:
    link = sign_in_link("https://amr.example.se/", "7K3Q-DM9X")
    assert link == "https://amr.example.se/household#code=7K3Q-DM9X"


def test_a_code_expiring_at_local_midnight_is_valid_until_the_day_before() -> None:
    assert _letter(datetime(2026, 8, 31, 22, tzinfo=UTC)) == "2026-08-31"  # 1 Sep 00:00 local
    assert _letter(datetime(2026, 9, 1, 12, tzinfo=UTC)) == "2026-09-01"  # 14:00 local
