"""Sign-in details for the demo: a household, customer staff and platform support.

Every run of `openamr demo` makes them anew (passphrases, the access code,
the TOTP secret), since only digests and sealed secrets are stored: what is
printed is the only copy, and the previous run's details stop working. The
accounts are made through the same functions the command line and the API
use, so the demo signs in exactly as a real installation does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Engine

from openamr.access import AccessContext, Role
from openamr.guard.households import issue_access_code, redeem_with_passphrase
from openamr.guard.keyring import Keyring
from openamr.guard.passwords import generate_passphrase
from openamr.guard.staff import create_staff_account, renew_staff_totp, set_staff_passphrase
from openamr.settings import Settings
from openamr.store import identities, queries
from openamr.store.schema import staff_account

ADMIN = ("admin@demo.example.se", Role.CUSTOMER_ADMIN)
OPERATIONS = ("drift@demo.example.se", Role.OPERATIONS)
SUPPORT = ("support@openamr.example.se", Role.SUPPORT)
PLATFORM_ADMIN = ("plattform@openamr.example.se", Role.PLATFORM_ADMIN)


@dataclass(frozen=True, slots=True)
class DemoSignIns:
    """What the demo prints: who can sign in, and with what."""

    lines: tuple[str, ...]


def make_demo_sign_ins(
    engine: Engine, *, access: AccessContext, settings: Settings, now: datetime
) -> DemoSignIns:
    """Fresh credentials for the demo's first customer, a household of it, and support."""
    keyring = Keyring.from_settings(settings)
    with engine.connect() as conn:
        properties = queries.list_properties(conn, access=access)
    first = properties[0]
    lines = [f"customer {first.customer!r}, property {first.designation}"]
    for email, role in (ADMIN, OPERATIONS, SUPPORT, PLATFORM_ADMIN):
        customer = first.customer if role in (Role.CUSTOMER_ADMIN, Role.OPERATIONS) else None
        passphrase, totp_uri = _staff(engine, access, email, role, customer, keyring, now)
        lines.append(f"{role.value}: e-mail {email}, passphrase {passphrase}")
        if totp_uri is not None:
            lines.append(f"  its TOTP secret (add to an authenticator app): {totp_uri}")
    letter, signed_in = _households(engine, access, settings, first.id, now)
    lines.extend(letter)
    lines.extend(signed_in)
    return DemoSignIns(tuple(lines))


def _staff(
    engine: Engine,
    access: AccessContext,
    email: str,
    role: Role,
    customer: str | None,
    keyring: Keyring,
    now: datetime,
) -> tuple[str, str | None]:
    """The account's new passphrase, and its new TOTP secret's URI where it has one."""
    with engine.connect() as conn:
        exists = conn.execute(staff_account.select().where(staff_account.c.email == email)).first()
    if exists is None:
        account = create_staff_account(
            engine,
            access=access,
            email=email,
            role=role,
            customer=customer,
            keyring=keyring,
            now=now,
        )
        return account.passphrase, account.totp_uri
    passphrase = set_staff_passphrase(engine, access=access, email=email, passphrase=None, now=now)
    uri = None
    if exists.totp_secret is not None:
        uri = renew_staff_totp(engine, access=access, email=email, keyring=keyring, now=now)
    return passphrase, uri


def _households(
    engine: Engine, access: AccessContext, settings: Settings, property_id: int, now: datetime
) -> tuple[list[str], list[str]]:
    """An access code for one apartment, and a household already signed up in another."""
    with engine.connect() as conn:
        flats = queries.list_apartments(conn, access=access, property_id=property_id)
        tenancies = []
        for flat in flats:
            tenancy = identities.current_tenancy(conn, apartment_id=flat.id, now=now, access=access)
            if tenancy is not None and tenancy.start_at < now:
                tenancies.append((flat, tenancy))
            if len(tenancies) == 2:
                break
    (letter_flat, letter_tenancy), (own_flat, own_tenancy) = tenancies
    with engine.begin() as conn:
        letter = issue_access_code(
            conn, tenancy_id=letter_tenancy.id, issued_by=access, now=now, kind="letter"
        )
        own = issue_access_code(
            conn, tenancy_id=own_tenancy.id, issued_by=access, now=now, kind="letter"
        )
    passphrase = generate_passphrase()
    redeemed = redeem_with_passphrase(
        engine, settings=settings, code=own.code, passphrase=passphrase, address="demo", now=now
    )
    return (
        [
            f"household of {letter_flat.entrance} {letter_flat.number}: access code {letter.code} "
            "(redeem it to choose a passphrase or a passkey)"
        ],
        [
            f"household of {own_flat.entrance} {own_flat.number}: handle {redeemed.handle}, "
            f"passphrase {passphrase}"
        ],
    )
