"""Raw mail bytes in a table of their own

Revision ID: 0004
Revises: 0003

SQLite rewrote a mail's whole row, megabytes of blob included, whenever its
kind or server flag changed, and read through the blob to reach the columns
after it; the bytes now live in raw_mails, one row per inbound mail.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "raw_mails",
        sa.Column("inbound_id", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["inbound_id"], ["inbound.id"]),
        sa.PrimaryKeyConstraint("inbound_id"),
    )
    op.execute("INSERT INTO raw_mails (inbound_id, data) SELECT id, raw FROM inbound")
    with op.batch_alter_table("inbound") as batch_op:
        batch_op.drop_column("raw")


def downgrade() -> None:
    with op.batch_alter_table("inbound") as batch_op:
        batch_op.add_column(sa.Column("raw", sa.LargeBinary(), nullable=True))
    op.execute(
        "UPDATE inbound SET raw = "
        "(SELECT data FROM raw_mails WHERE raw_mails.inbound_id = inbound.id)"
    )
    op.drop_table("raw_mails")
