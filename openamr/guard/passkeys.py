"""Passkeys (WebAuthn) for households: ceremony options, verification, and their challenges.

A household's passkey is a discoverable credential with user verification
(the phone's or computer's own unlock), so signing in with it needs nothing
typed and is a second factor in itself. The relying party is the host of
`OPENAMR_PUBLIC_URL` and the origin its scheme, host and port; browsers
allow WebAuthn only on https or on localhost.

The WebAuthn user of a household is its handle (no name: P1). A challenge
is 32 random bytes, valid for `CHALLENGE_LIFETIME` and usable once; the
database keeps only its digest, found again from the challenge the
browser's answer carries (`take_challenge`). Attestation is not asked for:
which make of authenticator a household uses is none of openamr's business.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.options_to_json_dict import options_to_json_dict
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from openamr.settings import Settings
from openamr.store import identities as store
from openamr.store.identities import ChallengeRow

RP_NAME = "openamr"
CHALLENGE_BYTES = 32
CHALLENGE_LIFETIME = timedelta(minutes=5)
REGISTER = "register"
AUTHENTICATE = "authenticate"


class UnableToVerifyPasskey(Exception):
    """A passkey answer that is malformed, stale, for another request, or does not verify."""


@dataclass(frozen=True, slots=True)
class NewPasskey:
    """What is kept of a verified registration."""

    credential_id: bytes
    public_key: bytes
    sign_count: int


def registration_options(
    settings: Settings, *, handle: str, challenge: bytes, exclude: Sequence[bytes] = ()
) -> dict[str, Any]:
    """The options for `navigator.credentials.create()`, as JSON for the browser."""
    options = generate_registration_options(
        rp_id=settings.relying_party_id,
        rp_name=RP_NAME,
        user_id=handle.encode(),
        user_name=handle,
        user_display_name=f"{RP_NAME} {handle}",
        challenge=challenge,
        timeout=int(CHALLENGE_LIFETIME.total_seconds() * 1000),
        attestation=AttestationConveyancePreference.NONE,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=[PublicKeyCredentialDescriptor(id=known) for known in exclude],
    )
    return options_to_json_dict(options)


def authentication_options(settings: Settings, *, challenge: bytes) -> dict[str, Any]:
    """The options for `navigator.credentials.get()`: any of this site's passkeys."""
    options = generate_authentication_options(
        rp_id=settings.relying_party_id,
        challenge=challenge,
        timeout=int(CHALLENGE_LIFETIME.total_seconds() * 1000),
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    return options_to_json_dict(options)


def verify_registration(
    settings: Settings, credential: Mapping[str, Any], *, challenge: bytes
) -> NewPasskey:
    """The passkey a browser's `create()` answer registers. Raises UnableToVerifyPasskey."""
    try:
        verified = verify_registration_response(
            credential=dict(credential),
            expected_challenge=challenge,
            expected_rp_id=settings.relying_party_id,
            expected_origin=settings.origin,
            require_user_verification=True,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
        raise UnableToVerifyPasskey(
            f"the passkey could not be registered: {_reason(exc)}"
        ) from None
    return NewPasskey(
        credential_id=verified.credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
    )


def verify_authentication(
    settings: Settings,
    credential: Mapping[str, Any],
    *,
    challenge: bytes,
    public_key: bytes,
    sign_count: int,
) -> int:
    """The authenticator's new signature counter, if its `get()` answer verifies.

    Raises UnableToVerifyPasskey, also when the counter did not advance (a
    cloned authenticator).
    """
    try:
        verified = verify_authentication_response(
            credential=dict(credential),
            expected_challenge=challenge,
            expected_rp_id=settings.relying_party_id,
            expected_origin=settings.origin,
            credential_public_key=public_key,
            credential_current_sign_count=sign_count,
            require_user_verification=True,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
        raise UnableToVerifyPasskey(f"the passkey did not sign in: {_reason(exc)}") from None
    return int(verified.new_sign_count)


def credential_id_of(credential: Mapping[str, Any]) -> bytes:
    """The credential id of a browser's answer (`rawId`). Raises UnableToVerifyPasskey."""
    return _b64url(credential.get("rawId"), what="rawId")


def user_handle_of(credential: Mapping[str, Any]) -> str | None:
    """The WebAuthn user handle an authentication answer names (a household's handle), if any."""
    response = credential.get("response")
    if not isinstance(response, Mapping) or not response.get("userHandle"):
        return None
    try:
        return _b64url(response.get("userHandle"), what="userHandle").decode()
    except UnicodeDecodeError:
        raise UnableToVerifyPasskey("the passkey's user handle is not one of openamr's") from None


def begin_challenge(
    conn: sa.Connection,
    *,
    purpose: str,
    now: datetime,
    customer_id: int | None = None,
    household_id: int | None = None,
    access_code_id: int | None = None,
) -> bytes:
    """A fresh challenge for one ceremony, stored by its digest for `CHALLENGE_LIFETIME`."""
    challenge = secrets.token_bytes(CHALLENGE_BYTES)
    store.insert_challenge(
        conn,
        challenge_hash=hashlib.sha256(challenge).hexdigest(),
        purpose=purpose,
        customer_id=customer_id,
        household_id=household_id,
        access_code_id=access_code_id,
        now=now,
        expires_at=now + CHALLENGE_LIFETIME,
    )
    return challenge


def take_challenge(
    conn: sa.Connection, credential: Mapping[str, Any], *, purpose: str, now: datetime
) -> tuple[ChallengeRow, bytes]:
    """The stored challenge a browser's answer was made for, used up now; and its bytes.

    Raises UnableToVerifyPasskey when the answer names no challenge of ours,
    one for another ceremony, or one that was used or has expired.
    """
    challenge = _challenge_in(credential)
    row = store.find_challenge(conn, challenge_hash=hashlib.sha256(challenge).hexdigest())
    if row is None or row.purpose != purpose:
        raise UnableToVerifyPasskey(
            "this passkey answer is not for a request openamr made; start again"
        )
    if not store.take_challenge(conn, challenge_id=row.id, now=now):
        raise UnableToVerifyPasskey(
            "this passkey request has expired or was answered already; start again"
        )
    return row, challenge


def _challenge_in(credential: Mapping[str, Any]) -> bytes:
    response = credential.get("response")
    if not isinstance(response, Mapping):
        raise UnableToVerifyPasskey("the passkey answer has no response")
    raw = _b64url(response.get("clientDataJSON"), what="clientDataJSON")
    try:
        client_data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise UnableToVerifyPasskey("the passkey answer's clientDataJSON is not JSON") from None
    if not isinstance(client_data, dict):
        raise UnableToVerifyPasskey("the passkey answer's clientDataJSON is not a JSON object")
    return _b64url(client_data.get("challenge"), what="challenge")


def _b64url(value: object, *, what: str) -> bytes:
    if not isinstance(value, str) or not value or len(value) > 65536:
        raise UnableToVerifyPasskey(f"the passkey answer lacks {what}")
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise UnableToVerifyPasskey(f"the passkey answer's {what} is not base64url") from None


def _reason(exc: Exception) -> str:
    """The library's reason, which describes the answer and never holds a secret, cut short."""
    text = str(exc) or type(exc).__name__
    return text[:200]
