"""Create and upgrade the schema with Alembic; check it before work starts.

Alembic is imported only to upgrade: every command checks the schema first,
and reading one row is all that check needs (Alembic would add a tenth of a
second to each).
"""

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.exc import SQLAlchemyError

from suqiu.errors import StoreError

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
# The newest migration's revision; a new migration changes it, and a test
# holds it equal to what Alembic finds in MIGRATIONS.
HEAD = "0004"
# Where Alembic records the revision a database is at.
VERSION_TABLE = "alembic_version"


def _alembic_config() -> "Config":
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def scripts_head() -> str | None:
    """The newest revision among the migration scripts, as Alembic reads them."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """Return the revision the database is at, or None for an empty one."""
    try:
        with engine.connect() as connection:
            if not inspect(connection).has_table(VERSION_TABLE):
                return None
            return connection.execute(
                text(f"SELECT version_num FROM {VERSION_TABLE}")
            ).scalar()
    except SQLAlchemyError as exc:
        raise StoreError(f"无法连接数据库：{exc}") from exc


def upgrade(engine: Engine, target: str = "head") -> tuple[str | None, str]:
    """Bring the schema to *target* (the newest revision); return (before, after)."""
    from alembic import command

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
    after = HEAD if target == "head" else target
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
    if current is None:
        raise StoreError("数据库尚未初始化，请先运行 suqiu init。")
    if current != HEAD:
        raise StoreError(
            f"数据库结构版本为 {current}，程序需要 {HEAD}，请先运行 suqiu init 升级。"
        )
