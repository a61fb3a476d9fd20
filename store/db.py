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


def make_engine(url: str) -> Engine:
    """Return an engine for *url*, with SQLite tuned for a mail service."""
    try:
        engine = create_engine(url, pool_pre_ping=True)
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
    # BEGIN IMMEDIATE takes the write lock up front. With pysqlite's default
    # deferred BEGIN, two writers can both read and then deadlock on upgrade,
    # which SQLite reports at once as "database is locked".
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def rowcount(result: Any) -> int:
    """Rows touched by an UPDATE, typed (Result hides CursorResult's count)."""
    return int(result.rowcount)


def make_sessions(engine: Engine) -> sessionmaker[Session]:
    """Return the session factory every part of suqiu uses."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """Run a block in one transaction, translating database errors."""
    try:
        with sessions.begin() as session:
            yield session
    except SQLAlchemyError as exc:
        raise StoreError(f"数据库操作失败：{exc}") from exc
