"""Languages of the pages: Swedish by default, English by choice, remembered in a cookie.

Messages are keyed by short English names in one JSON catalogue per
language (`messages/sv.json`, `messages/en.json`); both must hold the same
keys (a unit test checks). A key missing at run time shows as itself, so a
forgotten message is visible rather than an error page.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import Request

LANGUAGES = ("sv", "en")
DEFAULT_LANGUAGE = "sv"
LANGUAGE_COOKIE = "openamr-lang"
_MESSAGES = Path(__file__).parent / "messages"

Translate = Callable[..., str]


@cache
def catalogue(language: str) -> Mapping[str, str]:
    """The messages of one language, read once."""
    if language not in LANGUAGES:
        raise ValueError(f"no catalogue for {language!r}")
    messages: dict[str, str] = json.loads((_MESSAGES / f"{language}.json").read_text("utf-8"))
    return messages


def language_of(request: Request) -> str:
    """The language the browser chose (its cookie), else Swedish."""
    chosen = request.cookies.get(LANGUAGE_COOKIE, "")
    return chosen if chosen in LANGUAGES else DEFAULT_LANGUAGE


def translator(language: str) -> Translate:
    """`t(key, **values)`: the message in `language`, with `{name}` fields filled in."""
    messages = catalogue(language)

    def translate(key: str, **values: Any) -> str:
        text = messages.get(key, key)
        return text.format(**values) if values else text

    return translate
