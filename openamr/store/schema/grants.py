"""Access grants to a household's presentation (P5) and disclosures to authorities (P7).

A grant is the customer-lockbox pattern: platform staff ask for one
tenancy's presentation with a ticket, a reason and a scope (the media), the
household decides, and the grant's status follows from the times recorded
here and the clock (`openamr.guard.grants.grant_status`). Nothing is
updated when a request lapses or a grant runs out; `closed_as` only notes
that the audit log has been told.

A disclosure is the record that must exist before any export to an
authority is produced: its legal basis, the authority and the scope.

Neither table holds a household's name: a grant points at a tenancy, and the
free texts (reason, legal basis, authority) are written by staff, who are
told not to name people in them.
"""

from __future__ import annotations

import sqlalchemy as sa

from openamr.db import UTCDateTime, metadata

access_grant = sa.Table(
    "access_grant",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("customer_id", sa.ForeignKey("customer.id"), nullable=False, index=True),
    sa.Column("apartment_id", sa.ForeignKey("apartment.id"), nullable=False),
    # The tenancy current when the request was made; the grant ends with it.
    sa.Column("tenancy_id", sa.ForeignKey("tenancy.id"), nullable=False, index=True),
    sa.Column("requested_by", sa.ForeignKey("staff_account.id"), nullable=False, index=True),
    sa.Column("requester_role", sa.String(32), nullable=False),  # support | platform_staff
    sa.Column("ticket", sa.String(64), nullable=False),
    sa.Column("reason", sa.String(500), nullable=False),
    sa.Column("duration_s", sa.Integer, nullable=False),  # asked for; at most 8 hours
    sa.Column("requested_at", UTCDateTime, nullable=False),
    # The household's answer: "approved" or "denied"; None while it has not answered.
    sa.Column("decision", sa.String(16), nullable=True),
    sa.Column("decided_at", UTCDateTime, nullable=True),
    # For other platform staff: the platform administrator who approved as well.
    sa.Column("second_approver", sa.ForeignKey("staff_account.id"), nullable=True),
    sa.Column("second_approved_at", UTCDateTime, nullable=True),
    sa.Column("ended_at", UTCDateTime, nullable=True),  # the household ended it early
    # The terminal status once the audit log has an event for it (lapsed, expired, ...).
    sa.Column("closed_as", sa.String(16), nullable=True),
    sa.Column("closed_at", UTCDateTime, nullable=True),
    sa.CheckConstraint("duration_s > 0 AND duration_s <= 28800", name="at_most_eight_hours"),
)

# The scope of a grant: the media of the apartment it opens.
access_grant_medium = sa.Table(
    "access_grant_medium",
    metadata,
    sa.Column("grant_id", sa.ForeignKey("access_grant.id"), primary_key=True),
    sa.Column("medium", sa.String(32), primary_key=True),
    sa.Column("customer_id", sa.ForeignKey("customer.id"), nullable=False, index=True),
)

disclosure = sa.Table(
    "disclosure",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("customer_id", sa.ForeignKey("customer.id"), nullable=False, index=True),
    # None: every apartment of the customer; a tenancy narrows it to one household's period.
    sa.Column("apartment_id", sa.ForeignKey("apartment.id"), nullable=True),
    sa.Column("tenancy_id", sa.ForeignKey("tenancy.id"), nullable=True),
    sa.Column("period_start_at", UTCDateTime, nullable=False),
    sa.Column("period_end_at", UTCDateTime, nullable=False),  # exclusive
    sa.Column("media", sa.String(200), nullable=False),  # media, comma-separated, sorted
    sa.Column("legal_basis", sa.String(300), nullable=False),  # the law's or order's reference
    sa.Column("authority", sa.String(200), nullable=False),
    sa.Column("recorded_by", sa.ForeignKey("staff_account.id"), nullable=False),
    sa.Column("recorded_at", UTCDateTime, nullable=False),
    sa.CheckConstraint("period_end_at > period_start_at", name="period_not_empty"),
)
