"""Identities: staff accounts, households, passkeys, access codes, sessions, sign-in attempts.

And the passkey ceremonies' challenges, kept for a few minutes each.

And the customer's choice whether its operations staff see hourly values.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 12:08:33.200518
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from openamr.db import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sign_in_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("account_digest", sa.String(length=64), nullable=False),
        sa.Column("address_digest", sa.String(length=64), nullable=False),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_attempt")),
    )
    with op.batch_alter_table("sign_in_attempt", schema=None) as batch_op:
        batch_op.create_index("ix_sign_in_attempt_account", ["account_digest", "at"], unique=False)
        batch_op.create_index("ix_sign_in_attempt_address", ["address_digest", "at"], unique=False)

    op.create_table(
        "staff_account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("passphrase_hash", sa.String(length=200), nullable=False),
        sa.Column("totp_secret", sa.LargeBinary(), nullable=True),
        sa.Column("totp_last_step", sa.BigInteger(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("disabled_at", UTCDateTime(), nullable=True),
        sa.CheckConstraint(
            "role IN ('customer_admin', 'operations', 'support', 'platform_staff', 'platform_admin')",
            name=op.f("ck_staff_account_staff_role"),
        ),
        sa.CheckConstraint(
            "(customer_id IS NULL) = (role IN ('support', 'platform_staff', 'platform_admin'))",
            name=op.f("ck_staff_account_customer_staff_have_a_customer"),
        ),
        sa.CheckConstraint(
            "role NOT IN ('support', 'platform_staff', 'platform_admin') OR totp_secret IS NOT NULL",
            name=op.f("ck_staff_account_platform_staff_have_totp"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_staff_account_customer_id_customer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_account")),
        sa.UniqueConstraint("email", name=op.f("uq_staff_account_email")),
    )
    with op.batch_alter_table("staff_account", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_staff_account_customer_id"), ["customer_id"], unique=False
        )

    op.create_table(
        "access_code",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("tenancy_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("issued_by", sa.String(length=64), nullable=False),
        sa.Column("issued_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=True),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('letter', 'device')", name=op.f("ck_access_code_access_code_kind")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_access_code_customer_id_customer")
        ),
        sa.ForeignKeyConstraint(
            ["tenancy_id"], ["tenancy.id"], name=op.f("fk_access_code_tenancy_id_tenancy")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_code")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_access_code_code_hash")),
    )
    with op.batch_alter_table("access_code", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_access_code_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_access_code_tenancy_id"), ["tenancy_id"], unique=False)

    op.create_table(
        "household",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("tenancy_id", sa.Integer(), nullable=False),
        sa.Column("handle", sa.String(length=32), nullable=False),
        sa.Column("passphrase_hash", sa.String(length=200), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_household_customer_id_customer")
        ),
        sa.ForeignKeyConstraint(
            ["tenancy_id"], ["tenancy.id"], name=op.f("fk_household_tenancy_id_tenancy")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_household")),
        sa.UniqueConstraint("handle", name=op.f("uq_household_handle")),
        sa.UniqueConstraint("tenancy_id", name=op.f("uq_household_tenancy_id")),
    )
    with op.batch_alter_table("household", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_household_customer_id"), ["customer_id"], unique=False)

    op.create_table(
        "auth_session",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("staff_account_id", sa.Integer(), nullable=True),
        sa.Column("household_id", sa.Integer(), nullable=True),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("second_factor_at", UTCDateTime(), nullable=True),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.CheckConstraint(
            "(staff_account_id IS NULL) <> (household_id IS NULL)",
            name=op.f("ck_auth_session_one_principal"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_auth_session_customer_id_customer")
        ),
        sa.ForeignKeyConstraint(
            ["household_id"], ["household.id"], name=op.f("fk_auth_session_household_id_household")
        ),
        sa.ForeignKeyConstraint(
            ["staff_account_id"],
            ["staff_account.id"],
            name=op.f("fk_auth_session_staff_account_id_staff_account"),
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_auth_session")),
    )
    with op.batch_alter_table("auth_session", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_auth_session_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_auth_session_household_id"), ["household_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_auth_session_staff_account_id"), ["staff_account_id"], unique=False
        )

    op.create_table(
        "passkey",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("credential_id", sa.LargeBinary(), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("sign_count", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_used_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_passkey_customer_id_customer")
        ),
        sa.ForeignKeyConstraint(
            ["household_id"], ["household.id"], name=op.f("fk_passkey_household_id_household")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_passkey")),
        sa.UniqueConstraint("credential_id", name=op.f("uq_passkey_credential_id")),
    )
    with op.batch_alter_table("passkey", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_passkey_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_passkey_household_id"), ["household_id"], unique=False)

    op.create_table(
        "webauthn_challenge",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("challenge_hash", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("household_id", sa.Integer(), nullable=True),
        sa.Column("access_code_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=True),
        sa.CheckConstraint(
            "purpose IN ('register', 'authenticate')",
            name=op.f("ck_webauthn_challenge_webauthn_challenge_purpose"),
        ),
        sa.CheckConstraint(
            "purpose = 'authenticate' OR household_id IS NOT NULL",
            name=op.f("ck_webauthn_challenge_registration_has_household"),
        ),
        sa.ForeignKeyConstraint(
            ["access_code_id"],
            ["access_code.id"],
            name=op.f("fk_webauthn_challenge_access_code_id_access_code"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
            name=op.f("fk_webauthn_challenge_customer_id_customer"),
        ),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["household.id"],
            name=op.f("fk_webauthn_challenge_household_id_household"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webauthn_challenge")),
        sa.UniqueConstraint("challenge_hash", name=op.f("uq_webauthn_challenge_challenge_hash")),
    )
    with op.batch_alter_table("webauthn_challenge", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_webauthn_challenge_access_code_id"), ["access_code_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_webauthn_challenge_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_webauthn_challenge_household_id"), ["household_id"], unique=False
        )

    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("operations_hourly", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.drop_column("operations_hourly")

    with op.batch_alter_table("webauthn_challenge", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webauthn_challenge_household_id"))
        batch_op.drop_index(batch_op.f("ix_webauthn_challenge_customer_id"))
        batch_op.drop_index(batch_op.f("ix_webauthn_challenge_access_code_id"))

    op.drop_table("webauthn_challenge")

    with op.batch_alter_table("passkey", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_passkey_household_id"))
        batch_op.drop_index(batch_op.f("ix_passkey_customer_id"))

    op.drop_table("passkey")
    with op.batch_alter_table("auth_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_auth_session_staff_account_id"))
        batch_op.drop_index(batch_op.f("ix_auth_session_household_id"))
        batch_op.drop_index(batch_op.f("ix_auth_session_customer_id"))

    op.drop_table("auth_session")
    with op.batch_alter_table("household", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_household_customer_id"))

    op.drop_table("household")
    with op.batch_alter_table("access_code", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_access_code_tenancy_id"))
        batch_op.drop_index(batch_op.f("ix_access_code_customer_id"))

    op.drop_table("access_code")
    with op.batch_alter_table("staff_account", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_account_customer_id"))

    op.drop_table("staff_account")
    with op.batch_alter_table("sign_in_attempt", schema=None) as batch_op:
        batch_op.drop_index("ix_sign_in_attempt_address")
        batch_op.drop_index("ix_sign_in_attempt_account")

    op.drop_table("sign_in_attempt")
