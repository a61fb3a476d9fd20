"""Create and upgrade the schema with Alembic; check it before work starts."""

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from suqiu.errors import StoreError

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    """Return the newest revision this code knows."""
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    if head is None:
        raise StoreError("no migrations found")
    return head


def current_revision(engine: Engine) -> str | None:
    """Return the revision the database is at, or None for an empty one."""
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    except SQLAlchemyError as exc:
        raise StoreError(f"无法连接数据库：{exc}") from exc


def upgrade(engine: Engine, target: str = "head") -> tuple[str | None, str]:
    """Bring the schema to *target* (the newest revision); return (before, after)."""
    before = current_revision(engine)
    config = _alembic_config()
    sqlite = engine.dialect.name == "sqlite"
    try:
        with engine.connect() as connection:
            if sqlite:
                # SQLite alters a table by copying and dropping it, which a
                # foreign key to it forbids; checked again afterwards. The
                # pragma only works outside a transaction.
                _pragma(connection, "foreign_keys=OFF")
            with connection.begin():
                config.attributes["connection"] = connection
                command.upgrade(config, target)
                if sqlite:
                    broken = connection.exec_driver_sql(
                        "PRAGMA foreign_key_check"
                    ).fetchall()
                    if broken:
                        raise StoreError(f"数据库升级后外键不一致：{broken[:5]}")
            if sqlite:
                _pragma(connection, "foreign_keys=ON")
    except SQLAlchemyError as exc:
        raise StoreError(f"数据库升级失败：{exc}") from exc
    after = head_revision() if target == "head" else target
    if before != after:
        log.info("schema upgraded from %s to %s", before or "empty", after)
    return before, after


def _pragma(connection: Connection, setting: str) -> None:
    """Run a SQLite PRAGMA on the driver's connection, outside any transaction
    (SQLAlchemy would begin one first, and inside one it does nothing)."""
    driver = connection.connection.driver_connection
    assert driver is not None
    driver.execute(f"PRAGMA {setting}")


def require_current(engine: Engine) -> None:
    """Refuse to work on a database whose schema is missing or outdated."""
    current = current_revision(engine)
    head = head_revision()
    if current is None:
        raise StoreError("数据库尚未初始化，请先运行 suqiu init。")
    if current != head:
        raise StoreError(
            f"数据库结构版本为 {current}，程序需要 {head}，请先运行 suqiu init 升级。"
        )
