"""POST /language: the browser's choice of language, remembered in a cookie for a year."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form
from fastapi.responses import RedirectResponse

from openamr.present.pages.errors import safe_next
from openamr.present.pages.forms import read_form_csrf
from openamr.present.pages.i18n import LANGUAGE_COOKIE, LANGUAGES

router = APIRouter(include_in_schema=False, dependencies=[Depends(read_form_csrf)])

YEAR_S = 365 * 24 * 3600


@router.post("/language")
def choose_language(
    lang: Annotated[str, Form(max_length=8)], next: Annotated[str, Form(max_length=2000)] = "/"
) -> RedirectResponse:
    """Remember the language and go back to the page the choice was made on.

    Open to anyone (a choice of language is no one's data), and safe from
    other sites: the web surface refuses a cross-site post.
    """
    answer = RedirectResponse(safe_next(next, "/"), status_code=303)
    if lang in LANGUAGES:
        answer.set_cookie(
            LANGUAGE_COOKIE,
            lang,
            max_age=YEAR_S,
            path="/",
            secure=True,
            httponly=True,
            samesite="lax",
        )
    return answer
