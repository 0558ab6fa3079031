"""The household page's periods, units and messages, without a browser."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from openamr.present.pages.i18n import LANGUAGES, catalogue
from openamr.present.pages.periods import View, display_unit, format_number, in_unit, span_of

MOVE_IN = date(2026, 6, 1)
TODAY = date(2026, 7, 2)


def test_both_languages_have_every_message() -> None:
    keys = [set(catalogue(language)) for language in LANGUAGES]
    assert keys[0] == keys[1]


def test_a_view_never_reaches_before_the_move_in_nor_past_today() -> None:
    before = span_of(View.DAY, date(2026, 5, 20), move_in=MOVE_IN, today=TODAY)
    assert (before.first_day, before.previous) == (MOVE_IN, None)
    june = span_of(View.MONTH, date(2026, 6, 15), move_in=MOVE_IN, today=TODAY)
    assert (june.first_day, june.end_day, june.previous, june.next) == (
        MOVE_IN,
        date(2026, 7, 1),
        None,
        date(2026, 7, 1),
    )
    july = span_of(View.MONTH, date(2026, 8, 9), move_in=MOVE_IN, today=TODAY)
    assert (july.first_day, july.previous, july.next) == (date(2026, 7, 1), MOVE_IN, None)
    year = span_of(View.YEAR, TODAY, move_in=MOVE_IN, today=TODAY)
    assert (year.first_day, year.previous, year.next) == (date(2026, 1, 1), None, None)


def test_litres_for_days_cubic_metres_for_months_and_kwh_as_each_language_writes_it() -> None:
    assert display_unit("L", View.MONTH).symbol == "l"
    assert in_unit(123_456, display_unit("L", View.YEAR)) == Decimal("123.5")
    assert format_number(in_unit(1_234_567, display_unit("Wh", View.MONTH)), "sv") == "1\u00a0234,6"
    assert format_number(in_unit(1_234_567, display_unit("Wh", View.MONTH)), "en") == "1,234.6"
