"""/static: the pages' CSS, scripts and the vendored chart library, from the package.

One route rather than a mounted directory, so that it has its line in the
authorisation matrix like every route; it serves only the files that exist
under `openamr/present/static` when the application starts (a path that
names anything else, `..` included, is 404).
"""

from __future__ import annotations

import mimetypes
from functools import cache
from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

from openamr import __version__

STATIC = Path(__file__).parent.parent / "static"
PREFIX = "/static"

router = APIRouter(include_in_schema=False)


@cache
def static_files() -> dict[str, Path]:
    """Every file under the static directory, by its path relative to it."""
    return {
        path.relative_to(STATIC).as_posix(): path
        for path in sorted(STATIC.rglob("*"))
        if path.is_file() and not path.name.startswith(".")
    }


def static_url(name: str) -> str:
    """The link to a static file; the version in the query makes a new release fetch it anew."""
    if name not in static_files():
        raise ValueError(f"no static file {name!r}")
    return f"{PREFIX}/{name}?v={__version__}"


@router.get(PREFIX + "/{name:path}")
def get_static(name: str) -> FileResponse:
    """One static file, cacheable for a day (links carry the version)."""
    path = static_files().get(name)
    if path is None:
        raise HTTPException(404, "no such file")
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if media_type.startswith("text/") or media_type.endswith("javascript"):
        media_type += "; charset=utf-8"
    return FileResponse(
        path, media_type=media_type, headers={"Cache-Control": "public, max-age=86400"}
    )
