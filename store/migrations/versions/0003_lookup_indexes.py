"""Indexes for the lookups a large database made slow

Revision ID: 0003
Revises: 0002

A case's first appeal (for every 办理单 and forward), mail never flagged on
the server (every poll), and events by time (the digest) scanned whole
tables once there were 100,000 cases.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNMARKED = sa.text("marked_at IS NULL")


def upgrade() -> None:
    op.create_index("ix_inbound_case_kind", "inbound", ["case_id", "kind", "id"])
    op.create_index(
        "ix_inbound_unmarked",
        "inbound",
        ["mailbox", "uidvalidity", "uid"],
        sqlite_where=UNMARKED,
        postgresql_where=UNMARKED,
    )
    op.create_index("ix_events_at", "events", ["at"])


def downgrade() -> None:
    op.drop_index("ix_events_at", table_name="events")
    op.drop_index("ix_inbound_unmarked", table_name="inbound")
    op.drop_index("ix_inbound_case_kind", table_name="inbound")
