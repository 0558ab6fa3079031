"""Gateways: registering one gives it a token, shown once, of which only a digest is kept."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy.engine import Engine

from openamr.access import AccessContext
from openamr.guard.http import token_hash
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
    return gateway, token
