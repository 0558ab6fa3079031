"""Gateways: registering one gives it a token, shown once, of which only a digest is kept.

A gateway's token is its only credential (`Authorization: Bearer`), scoped to
that gateway and its customer. It can be rotated (`issue_gateway_token`: a
new one, the old one stops working at once) and revoked
(`revoke_gateway_token`: none until one is issued again). Each is an audit
event.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy.engine import Engine

from openamr.access import AccessContext
from openamr.guard.audit import Target, record_access
from openamr.guard.sessions import token_digest as token_hash
from openamr.store import identities as identity_store
from openamr.store import telegrams as store


class UnableToRegisterGateway(ValueError):
    """A gateway that cannot be registered as asked (unknown customer or property)."""


def register_gateway(
    engine: Engine,
    *,
    customer: str,
    identity: str,
    property_designation: str | None,
    access: AccessContext,
    now: datetime,
) -> tuple[store.Gateway, str]:
    """Register a gateway (or give a registered one a new token); returns it and its token."""
    identity = identity.strip()
    if not identity or len(identity) > 64 or "/" in identity or "+" in identity:
        raise UnableToRegisterGateway(
            "a gateway identity is 1 to 64 characters without '/' or '+' "
            "(it is a level of an MQTT topic)"
        )
    token = secrets.token_urlsafe(32)
    with engine.begin() as conn:
        customer_id = store.find_customer_id(conn, customer, access=access)
        if customer_id is None:
            raise UnableToRegisterGateway(
                f"no customer {customer!r}; "
                "load its portfolio with `openamr import portfolio` first"
            )
        property_id = None
        if property_designation:
            property_id = store.find_property_id(conn, customer_id, property_designation)
            if property_id is None:
                raise UnableToRegisterGateway(
                    f"customer {customer!r} has no property {property_designation!r}"
                )
        try:
            gateway = store.add_gateway(
                conn,
                customer_id=customer_id,
                identity=identity,
                property_id=property_id,
                token_hash=token_hash(token),
                now=now,
            )
        except ValueError as exc:
            raise UnableToRegisterGateway(str(exc)) from None
        record_access(
            conn, access, action="gateway.register", now=now, target=_target(gateway.customer_id)
        )
    return gateway, token


def issue_gateway_token(
    engine: Engine, *, identity: str, access: AccessContext, now: datetime
) -> str:
    """A new token for the gateway, returned once; its previous token stops working.

    Raises UnableToRegisterGateway when `access` sees no gateway of that identity.
    """
    token = secrets.token_urlsafe(32)
    with engine.begin() as conn:
        found = identity_store.set_gateway_token(
            conn, identity=identity.strip(), token_hash=token_hash(token), access=access
        )
        if found is None:
            raise UnableToRegisterGateway(f"no gateway {identity.strip()!r}")
        record_access(
            conn, access, action="gateway.token_issue", now=now, target=_target(found.customer_id)
        )
    return token


def revoke_gateway_token(
    engine: Engine, *, identity: str, access: AccessContext, now: datetime
) -> None:
    """Take the gateway's token away: its requests are refused until a new one is issued.

    Raises UnableToRegisterGateway when `access` sees no gateway of that identity.
    """
    with engine.begin() as conn:
        found = identity_store.set_gateway_token(
            conn, identity=identity.strip(), token_hash=None, access=access
        )
        if found is None:
            raise UnableToRegisterGateway(f"no gateway {identity.strip()!r}")
        record_access(
            conn, access, action="gateway.token_revoke", now=now, target=_target(found.customer_id)
        )


def _target(customer_id: int) -> Target:
    return Target(customer_id=customer_id)
