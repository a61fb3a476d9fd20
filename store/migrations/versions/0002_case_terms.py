"""When the student wrote, and an index of topic words for similar appeals

Revision ID: 0002
Revises: 0001
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch_op:
        batch_op.add_column(
            sa.Column("appealed_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.create_index("ix_cases_appealed_at", ["appealed_at"], unique=False)
    op.execute("UPDATE cases SET appealed_at = received_at")

    op.create_table(
        "case_terms",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("term", sa.String(length=100), nullable=False),
        sa.Column("appealed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("case_id", "term"),
    )
    op.create_index(
        "ix_case_terms_term_appealed", "case_terms", ["term", "appealed_at"]
    )
    # Cases from before this revision keep their words in cases.topic_terms;
    # `suqiu init` indexes them here once.
    connection = op.get_bind()
    rows = connection.execute(
        sa.text("SELECT id, topic_terms, received_at FROM cases")
    ).yield_per(2000)
    # Untyped columns: the values go back exactly as the database gave them
    # (SQLite returns its stored text for a raw SELECT, PostgreSQL a datetime).
    terms = sa.table(
        "case_terms",
        sa.column("case_id"),
        sa.column("term"),
        sa.column("appealed_at"),
    )
    for chunk in rows.partitions():
        batch = []
        for case_id, stored, received_at in chunk:
            words = json.loads(stored) if isinstance(stored, str) else stored or []
            batch += [
                {"case_id": case_id, "term": word, "appealed_at": received_at}
                for word in dict.fromkeys(w[:100] for w in words)
            ]
        if batch:
            op.bulk_insert(terms, batch)


def downgrade() -> None:
    op.drop_index("ix_case_terms_term_appealed", table_name="case_terms")
    op.drop_table("case_terms")
    with op.batch_alter_table("cases") as batch_op:
        batch_op.drop_index("ix_cases_appealed_at")
        batch_op.drop_column("appealed_at")
