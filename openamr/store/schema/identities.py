"""Who can sign in: staff accounts, households and their credentials, access codes, sessions.

A household has no name, no e-mail and no account in the usual sense (P1):
it is a tenancy's holder of a generated handle, with a passphrase or passkeys.
It comes into being when the household redeems the access code a customer
administrator issued for the tenancy, and everything it holds stops working
when the tenancy ends. Staff are business users with a business e-mail.

Secrets are never stored as they are: passphrases as argon2id hashes,
session tokens and access codes as SHA-256 digests (they are long random
strings, so a plain digest is enough), TOTP secrets sealed under the master
key (`openamr.guard.keyring`), passkey challenges as digests too.
"""

from __future__ import annotations

import sqlalchemy as sa

from openamr.db import UTCDateTime, metadata

staff_account = sa.Table(
    "staff_account",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    # The customer whose staff this is; None for platform staff.
    sa.Column("customer_id", sa.ForeignKey("customer.id"), nullable=True, index=True),
    sa.Column("role", sa.String(32), nullable=False),  # an openamr.access.Role of STAFF_ROLES
    sa.Column("email", sa.String(254), nullable=False, unique=True),  # business, lower-cased
    sa.Column("passphrase_hash", sa.String(200), nullable=False),  # argon2id, PHC string
    sa.Column("totp_secret", sa.LargeBinary, nullable=True),  # sealed; None: no second factor
    sa.Column("totp_last_step", sa.BigInteger, nullable=True),  # a code is accepted once
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("disabled_at", UTCDateTime, nullable=True),
    sa.CheckConstraint(
        "role IN ('customer_admin', 'operations', 'support', 'platform_staff', 'platform_admin')",
        name="staff_role",
    ),
    # Customer staff belong to their customer; platform staff to none.
    sa.CheckConstraint(
        "(customer_id IS NULL) = (role IN ('support', 'platform_staff', 'platform_admin'))",
        name="customer_staff_have_a_customer",
    ),
    # A platform account cannot exist without its second factor (P9).
    sa.CheckConstraint(
        "role NOT IN ('support', 'platform_staff', 'platform_admin') OR totp_secret IS NOT NULL",
        name="platform_staff_have_totp",
    ),
)

household = sa.Table(
    "household",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("customer_id", sa.ForeignKey("customer.id"), nullable=False, index=True),
    sa.Column("tenancy_id", sa.ForeignKey("tenancy.id"), nullable=False, unique=True),
    sa.Column("handle", sa.String(32), nullable=False, unique=True),  # generated, never chosen
    sa.Column("passphrase_hash", sa.String(200), nullable=True),  # argon2id; None: passkeys only
    sa.Column("created_at", UTCDateTime, nullable=False),
)

passkey = sa.Table(
    "passkey",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("customer_id", sa.ForeignKey("customer.id"), nullable=False, index=True),
    sa.Column("household_id", sa.ForeignKey("household.id"), nullable=False, index=True),
    sa.Column("credential_id", sa.LargeBinary, nullable=False, unique=True),
    sa.Column("public_key", sa.LargeBinary, nullable=False),  # COSE
    sa.Column("sign_count", sa.BigInteger, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("last_used_at", UTCDateTime, nullable=True),
)

# An access code opens one tenancy once: the first (issued by a customer
# administrator, printed as a letter for the apartment) or a further device's
# (made by the household from its own page).
access_code = sa.Table(
    "access_code",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("customer_id", sa.ForeignKey("customer.id"), nullable=False, index=True),
    sa.Column("tenancy_id", sa.ForeignKey("tenancy.id"), nullable=False, index=True),
    sa.Column("kind", sa.String(16), nullable=False),  # "letter" or "device"
    sa.Column("code_hash", sa.String(64), nullable=False, unique=True),  # SHA-256 hex
    sa.Column("issued_by", sa.String(64), nullable=False),  # actor, e.g. staff:3
    sa.Column("issued_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Column("used_at", UTCDateTime, nullable=True),
    sa.Column("revoked_at", UTCDateTime, nullable=True),
    sa.CheckConstraint("kind IN ('letter', 'device')", name="access_code_kind"),
)

# Server-side sessions; the cookie holds the token, the table its digest.
auth_session = sa.Table(
    "auth_session",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("customer_id", sa.ForeignKey("customer.id"), nullable=True, index=True),
    sa.Column("staff_account_id", sa.ForeignKey("staff_account.id"), nullable=True, index=True),
    sa.Column("household_id", sa.ForeignKey("household.id"), nullable=True, index=True),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("last_seen_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),  # absolute end (12 hours for staff)
    sa.Column("second_factor_at", UTCDateTime, nullable=True),  # None: TOTP still due
    sa.Column("ended_at", UTCDateTime, nullable=True),
    sa.CheckConstraint(
        "(staff_account_id IS NULL) <> (household_id IS NULL)", name="one_principal"
    ),
)

# Sign-in attempts, for the limits per account and per address. Both are kept
# as keyed digests, so the table names neither a person nor an address.
sign_in_attempt = sa.Table(
    "sign_in_attempt",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("account_digest", sa.String(64), nullable=False),
    sa.Column("address_digest", sa.String(64), nullable=False),
    sa.Column("succeeded", sa.Boolean, nullable=False),
    sa.Index("ix_sign_in_attempt_account", "account_digest", "at"),
    sa.Index("ix_sign_in_attempt_address", "address_digest", "at"),
)

# A passkey ceremony's challenge, kept for a few minutes between the options
# and the browser's answer, and taken once. Only its digest is stored: the
# browser's answer carries the challenge, and the digest finds the row. A
# registration is bound to the household it adds a passkey to and, at the
# redemption of an access code, to that code, which is used up only when the
# passkey is verified.
webauthn_challenge = sa.Table(
    "webauthn_challenge",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("challenge_hash", sa.String(64), nullable=False, unique=True),  # SHA-256 hex
    sa.Column("purpose", sa.String(16), nullable=False),  # "register" or "authenticate"
    sa.Column("customer_id", sa.ForeignKey("customer.id"), nullable=True, index=True),
    sa.Column("household_id", sa.ForeignKey("household.id"), nullable=True, index=True),
    sa.Column("access_code_id", sa.ForeignKey("access_code.id"), nullable=True, index=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Column("used_at", UTCDateTime, nullable=True),
    sa.CheckConstraint(
        "purpose IN ('register', 'authenticate')", name="webauthn_challenge_purpose"
    ),
    sa.CheckConstraint(
        "purpose = 'authenticate' OR household_id IS NOT NULL", name="registration_has_household"
    ),
)
