"""Prices: what a customer charges per unit of a medium, from a local day until the next price.

A price holds from its `valid_from` (a day in the time zone of the property
where it is applied, i.e. from that day's local midnight) until the next
price's `valid_from` of the same customer and medium: half-open periods, so
one customer and medium has one price per day at most and no gaps once the
first is set. Money is never a float: the price is an integer number of
millionths of a krona per unit (1.25 SEK/kWh is 1 250 000), so every cost
is exact and rounded to whole öre only when it is shown.
"""

from __future__ import annotations

import sqlalchemy as sa

from openamr.db import UTCDateTime, metadata

price = sa.Table(
    "price",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("customer_id", sa.ForeignKey("customer.id"), nullable=False, index=True),
    sa.Column("medium", sa.String(32), nullable=False),
    sa.Column("valid_from", sa.Date, nullable=False),  # a local day: from its midnight
    # Millionths of the currency per `unit` (kWh, m3 or units), exact.
    sa.Column("micro_per_unit", sa.BigInteger, nullable=False),
    sa.Column("unit", sa.String(8), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False, server_default="SEK"),
    sa.Column("set_by", sa.String(100), nullable=False),  # the actor, such as staff:12
    sa.Column("set_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("customer_id", "medium", "valid_from"),
    sa.CheckConstraint("micro_per_unit >= 0", name="not_negative"),
    sa.CheckConstraint("currency = 'SEK'", name="currency_is_sek"),
)
