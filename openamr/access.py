"""Who is asking: the access context every read and write of customer data takes.

Queries filter by `customer_ids` in SQL. Until identities and roles arrive
(the access-control issue), the web API and the command line run as the
trusted operator of the installation, which sees every customer; this class
is the one place that later change replaces.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AccessContext:
    """The caller, as queries need it: which customers it may touch, and who it is for the audit."""

    actor: str
    customer_ids: frozenset[int] | None  # None: every customer (the installation's operator)

    @classmethod
    def operator(cls, actor: str) -> AccessContext:
        """The installation's own operator (command line, trusted local API)."""
        return cls(actor=actor, customer_ids=None)

    def may_see(self, customer_id: int) -> bool:
        return self.customer_ids is None or customer_id in self.customer_ids
