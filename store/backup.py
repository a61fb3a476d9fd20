"""Online backup of the embedded SQLite database (PostgreSQL: pg_dump)."""

import sqlite3
from pathlib import Path

from sqlalchemy.engine import make_url

from suqiu.errors import StoreError


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL, or None for another database."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    return Path(parsed.database)


def backup_sqlite(source: Path, target: Path) -> int:
    """Copy a live SQLite database consistently (the SQLite backup API, which
    works while the service writes); return the number of cases copied."""
    if target.exists():
        raise StoreError(f"{target} 已存在，请换一个文件名，以免覆盖旧的备份。")
    try:
        with sqlite3.connect(source) as live, sqlite3.connect(target) as copy:
            live.backup(copy)
            check = copy.execute("PRAGMA integrity_check").fetchone()[0]
            if check != "ok":
                raise StoreError(f"备份文件 {target} 校验失败：{check}")
            return int(copy.execute("SELECT count(*) FROM cases").fetchone()[0])
    except sqlite3.Error as exc:
        raise StoreError(f"备份失败：{exc}") from exc


def pg_dump_line(url: str, target: Path) -> str:
    """The command an operator runs to back up a PostgreSQL database."""
    parsed = make_url(url).set(drivername="postgresql")
    address = parsed.render_as_string(hide_password=True)
    return f'pg_dump --format=custom --file="{target}" "{address}"'
