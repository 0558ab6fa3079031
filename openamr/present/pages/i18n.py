"""Languages of the pages: Swedish by default, English by choice, remembered in a cookie.

Messages are keyed by short English names. Each language has a folder of
JSON files, one per area of the pages (`messages/sv/pages.json`,
`messages/en/pages.json`, ...), merged into one catalogue; a key defined by
two files of a language is an error, and both languages must hold the same
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
    messages: dict[str, str] = {}
    for path in sorted((_MESSAGES / language).glob("*.json")):
        area: dict[str, str] = json.loads(path.read_text("utf-8"))
        twice = messages.keys() & area.keys()
        if twice:
            raise ValueError(
                f"{path.name} repeats keys of another {language} file: {sorted(twice)}"
            )
        messages.update(area)
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
