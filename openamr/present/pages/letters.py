"""Access code letters: what one printed page for an apartment says, with its QR code as SVG.

A letter names the apartment (property, entrance, lägenhetsnummer), never
the people who live there (P1). It carries the code, the day it stops
working, the sign-in address, and a QR code of that address with the code
in its fragment (`/household#code=...`): a browser never sends a fragment to
a server, so the code stays out of every request line, log and Referer even
when a phone opens the link. The QR code is drawn here, server-side, as
inline SVG (`segno`), so the letter needs no script and no image request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote
from zoneinfo import ZoneInfo

import segno
from markupsafe import Markup

from openamr.guard.households import IssuedCode
from openamr.store.buildings import ApartmentRow, PropertyRow

SIGN_IN_PATH = "/household"  # the household's sign-in page, where a code is redeemed


@dataclass(frozen=True, slots=True)
class Letter:
    """One apartment's letter, as its printed page shows it."""

    customer: str  # the property owner, a company
    designation: str
    property_name: str
    entrance: str
    number: str
    code: str
    valid_until: str  # the last local day the code works
    address: str  # the sign-in page, to type
    qr: Markup  # the sign-in link with the code, as an SVG element


def sign_in_link(public_url: str, code: str) -> str:
    """The address a letter's QR code opens: the sign-in page, the code in the fragment."""
    return f"{public_url.rstrip('/')}{SIGN_IN_PATH}#code={quote(code, safe='-')}"


def qr_svg(link: str, *, title: str) -> Markup:
    """`link` as a QR code: an inline <svg> that scales to its box (sized by the stylesheet)."""
    code = segno.make(link, error="m", micro=False)
    svg = code.svg_inline(
        scale=1, border=4, omitsize=True, svgclass="qr", lineclass=None, title=title
    )
    # segno writes the SVG from the link's modules and the escaped title: no markup of ours.
    return Markup(svg)  # noqa: S704  # nosec B704: made by segno, its title escaped by segno


def letter(
    *,
    customer: str,
    prop: PropertyRow,
    flat: ApartmentRow,
    issued: IssuedCode,
    public_url: str,
    qr_title: str,
) -> Letter:
    """The letter for a code just issued for the apartment `flat` of `prop`."""
    zone = ZoneInfo(prop.time_zone)
    last_moment = issued.expires_at.astimezone(zone)
    return Letter(
        customer=customer,
        designation=prop.designation,
        property_name=prop.name,
        entrance=flat.entrance,
        number=flat.number,
        code=issued.code,
        valid_until=_last_day(last_moment),
        address=f"{public_url.rstrip('/')}{SIGN_IN_PATH}",
        qr=qr_svg(sign_in_link(public_url, issued.code), title=qr_title),
    )


def _last_day(expires: datetime) -> str:
    """The last day a code works: the day it expires, or the one before when at midnight."""
    day = expires.date()
    if expires.time() == datetime.min.time():
        day = day.fromordinal(day.toordinal() - 1)
    return day.isoformat()
