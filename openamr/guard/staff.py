"""Staff accounts: created with a generated passphrase, a TOTP secret where due, and audited.

A new account gets a random passphrase (shown once, to be changed by its
holder with `openamr staff passphrase`) and, for platform roles always and
for customer roles on request, a TOTP secret shown once as a provisioning
URI. A platform account cannot exist without one (the schema's CHECK says
so too). Changing a passphrase or a second factor, or disabling an account,
ends all of its sessions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from openamr.access import CUSTOMER_ROLES, PLATFORM_ROLES, STAFF_ROLES, AccessContext, Role
from openamr.guard import totp
from openamr.guard.audit import Target, record_access
from openamr.guard.keyring import Keyring
from openamr.guard.passwords import check_new_passphrase, generate_passphrase, hash_passphrase
from openamr.guard.sessions import end_sessions
from openamr.guard.signin import MAX_EMAIL_LENGTH, normalise_email
from openamr.store import identities as store
from openamr.store.identities import StaffAccountRow

# Deliberately loose: one @, something before it, a dot in the domain. The
# real check is that the holder receives the account's passphrase.
EMAIL = re.compile(r"^[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+$")
MANAGERS = frozenset({Role.OPERATOR, Role.PLATFORM_ADMIN, Role.CUSTOMER_ADMIN})


class UnableToManageStaff(ValueError):
    """A staff account that cannot be created or changed as asked."""


@dataclass(frozen=True, slots=True)
class NewStaffAccount:
    """A new account and its secrets, shown once."""

    id: int
    email: str
    role: Role
    customer_id: int | None
    passphrase: str
    totp_uri: str | None


def create_staff_account(
    engine: Engine,
    *,
    access: AccessContext,
    email: str,
    role: Role,
    customer: str | None,
    keyring: Keyring,
    now: datetime,
    with_totp: bool = False,
) -> NewStaffAccount:
    """A staff account of `role` (for `customer`'s staff, or the platform's).

    Raises UnableToManageStaff, and NoMasterKey when a TOTP secret is due and
    no master key is configured to seal it.
    """
    email = normalise_email(email)
    if len(email) > MAX_EMAIL_LENGTH or not EMAIL.match(email):
        raise UnableToManageStaff("the e-mail address must be of the form name@example.se")
    if role not in STAFF_ROLES:
        raise UnableToManageStaff(f"{role.value} is not a staff role")
    if role in PLATFORM_ROLES and customer is not None:
        raise UnableToManageStaff(f"{role.value} is a platform role: it belongs to no customer")
    if role in CUSTOMER_ROLES and customer is None:
        raise UnableToManageStaff(f"{role.value} is a customer's role: name the customer")
    if access.role not in MANAGERS or (
        role in PLATFORM_ROLES and access.role is Role.CUSTOMER_ADMIN
    ):
        raise UnableToManageStaff("your role may not create this account")
    with_totp = with_totp or role in PLATFORM_ROLES
    passphrase = generate_passphrase()
    passphrase_hash = hash_passphrase(passphrase)
    secret = totp.new_secret() if with_totp else None
    sealed = None if secret is None else totp.seal(keyring, secret, email=email)
    with engine.begin() as conn:
        customer_id = None
        if customer is not None:
            customer_id = store.find_customer_id(conn, name=customer, access=access)
            if customer_id is None:
                raise UnableToManageStaff(f"no customer {customer!r}")
        if store.find_staff_by_email(conn, email) is not None:
            raise UnableToManageStaff("a staff account with that e-mail address exists already")
        account_id = store.insert_staff_account(
            conn,
            customer_id=customer_id,
            role=role.value,
            email=email,
            passphrase_hash=passphrase_hash,
            totp_secret=sealed,
            now=now,
        )
        record_access(
            conn, access, action="staff.create", now=now, target=Target(customer_id=customer_id)
        )
    uri = None if secret is None else totp.provisioning_uri(secret, email=email)
    return NewStaffAccount(account_id, email, role, customer_id, passphrase, uri)


def set_staff_passphrase(
    engine: Engine, *, access: AccessContext, email: str, passphrase: str | None, now: datetime
) -> str:
    """Give the account `passphrase` (or a generated one, returned); its sessions end.

    Raises UnableToManageStaff, UnableToSetPassphrase.
    """
    new = generate_passphrase() if passphrase is None else check_new_passphrase(passphrase)
    new_hash = hash_passphrase(new)
    with engine.begin() as conn:
        account = _managed(conn, access, email)
        store.set_staff_passphrase_hash(conn, staff_account_id=account.id, passphrase_hash=new_hash)
        end_sessions(conn, now=now, staff_account_id=account.id)
        _event(conn, access, account, "staff.passphrase_set", now)
    return new


def renew_staff_totp(
    engine: Engine, *, access: AccessContext, email: str, keyring: Keyring, now: datetime
) -> str:
    """A new TOTP secret for the account (its provisioning URI, shown once); its sessions end.

    Raises UnableToManageStaff, NoMasterKey.
    """
    with engine.begin() as conn:
        account = _managed(conn, access, email)
        secret = totp.new_secret()
        store.set_staff_totp_secret(
            conn,
            staff_account_id=account.id,
            sealed=totp.seal(keyring, secret, email=account.email),
            new_secret=True,
        )
        end_sessions(conn, now=now, staff_account_id=account.id)
        _event(conn, access, account, "staff.totp_set", now)
    return totp.provisioning_uri(secret, email=account.email)


def disable_staff_account(
    engine: Engine, *, access: AccessContext, email: str, now: datetime
) -> None:
    """Disable the account: it signs in no more; its sessions end. Raises UnableToManageStaff."""
    with engine.begin() as conn:
        account = _managed(conn, access, email)
        store.disable_staff_account(conn, staff_account_id=account.id, now=now)
        end_sessions(conn, now=now, staff_account_id=account.id)
        _event(conn, access, account, "staff.disable", now)


def _managed(conn: sa.Connection, access: AccessContext, email: str) -> StaffAccountRow:
    """The account of `email`, if `access` may manage it."""
    account = store.find_staff_by_email(conn, normalise_email(email))
    allowed = account is not None and access.role in MANAGERS
    if account is not None and account.customer_id is None:
        allowed = allowed and access.role in (Role.OPERATOR, Role.PLATFORM_ADMIN)
    elif account is not None and account.customer_id is not None:
        allowed = allowed and access.may_see(account.customer_id)
    if account is None or not allowed:
        raise UnableToManageStaff("no staff account with that e-mail address")
    return account


def _event(
    conn: sa.Connection, access: AccessContext, account: StaffAccountRow, action: str, now: datetime
) -> None:
    record_access(
        conn, access, action=action, now=now, target=Target(customer_id=account.customer_id)
    )
