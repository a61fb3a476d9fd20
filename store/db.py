"""Engines and sessions: one place that knows SQLite from PostgreSQL."""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from suqiu.errors import StoreError

log = logging.getLogger(__name__)

READ_ONLY = "suqiu_read_only"  # execution option of sessions that only read


def make_engine(url: str) -> Engine:
    """Return an engine for *url*, with SQLite tuned for a mail service."""
    try:
        # hide_parameters: a failed statement's message must not carry the
        # mail's text into logs and error columns.
        engine = create_engine(url, pool_pre_ping=True, hide_parameters=True)
    except (SQLAlchemyError, ValueError, ImportError) as exc:
        raise StoreError(f"无法使用数据库地址 {url!r}：{exc}") from exc

    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets `suqiu cases` read while the service writes; the busy timeout
    # makes a second process wait for the write lock instead of failing.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
    # Let SQLAlchemy emit BEGIN itself (see _sqlite_on_begin).
    dbapi_connection.isolation_level = None


def _sqlite_on_begin(connection: Any) -> None:
    # A writer takes the write lock up front (BEGIN IMMEDIATE): with a
    # deferred BEGIN two writers can both read, then deadlock on upgrading,
    # which SQLite reports at once as "database is locked". A reader begins
    # deferred, so that with WAL it never waits for a writer.
    if connection.get_execution_options().get(READ_ONLY):
        connection.exec_driver_sql("BEGIN")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def rowcount(result: Any) -> int:
    """Rows touched by an UPDATE, typed (Result hides CursorResult's count)."""
    return int(result.rowcount)


def make_sessions(engine: Engine, *, read_only: bool = False) -> sessionmaker[Session]:
    """Return a session factory; *read_only* ones never wait for a writer."""
    bind = engine.execution_options(**{READ_ONLY: True}) if read_only else engine
    return sessionmaker(bind, expire_on_commit=False)


@contextmanager
def transaction(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """Run a block in one transaction, translating database errors."""
    try:
        with sessions.begin() as session:
            yield session
    except SQLAlchemyError as exc:
        raise StoreError(f"数据库操作失败：{exc}") from exc
