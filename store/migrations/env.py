"""Alembic's entry point: runs migrations on the connection suqiu hands it."""

from alembic import context
from sqlalchemy import Connection

from store.models import Base

config = context.config


def run_migrations(connection: Connection) -> None:
    """Apply migrations on *connection* (batch mode lets SQLite alter tables)."""
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through store.schema, not the alembic CLI")
run_migrations(connection)
