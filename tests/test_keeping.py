"""Keeping the data: online backup while the service writes, and the
retention setting that may clear old raw mail (and nothing else)."""

import json
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import select

from store.db import transaction
from store.models import Inbound
from tests.deployment import Deployment, appeal, database


def test_backup_of_sqlite_is_a_working_copy(
    deployment: Deployment, tmp_path: Path
) -> None:
    """`suqiu backup` writes a consistent copy that opens and holds the cases;
    it refuses to overwrite an earlier backup."""
    if not deployment.database_url.startswith("sqlite"):
        pytest.skip("SQLite's online backup; PostgreSQL is backed up with pg_dump")
    for index in range(3):
        deployment.deliver(
            "xgc", appeal(f"宿舍停电{index}", "停电了。", sender=f"s{index}@qq.com")
        )
    deployment.poll()
    target = tmp_path / "backup.db"
    done = deployment.cli("backup", str(target))
    assert "3 件诉求" in done.stdout
    with sqlite3.connect(target) as copy:
        assert copy.execute("SELECT count(*) FROM inbound").fetchone()[0] == 3
    again = deployment.cli("backup", str(target), check=False)
    assert again.returncode != 0 and "已存在" in again.stderr


def test_backup_on_postgresql_gives_the_pg_dump_line(deployment: Deployment) -> None:
    """On PostgreSQL the command says how to back up with pg_dump instead."""
    if not deployment.database_url.startswith("postgresql"):
        pytest.skip("the pg_dump advice is for PostgreSQL")
    done = deployment.cli("backup", "/tmp/x.dump", check=False)
    assert done.returncode == 1 and "pg_dump --format=custom" in done.stderr


def test_retention_clears_only_old_raw_mail_of_closed_cases(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With keep_raw_days set, raw bytes of mail whose case closed long ago
    are cleared; the record, its text and every open case's mail stay."""
    deployment.extra["ingest"] = {"keep_raw_days": 30}
    deployment.write_config()
    deployment.deliver("xgc", appeal("宿舍停电", "停电了。", sender="a@qq.com"))
    deployment.deliver("xgc", appeal("食堂太贵", "太贵了。", sender="b@qq.com"))
    deployment.poll()
    first = json.loads(deployment.cli("cases", "--json").stdout)[0]["number"]
    deployment.cli("close", first, "--reason", "已解决")

    monkeypatch.setenv("SUQIU_NOW", "2099-01-01T08:00:00+08:00")
    assert "有 1 封" in deployment.cli("purge", "--dry-run").stdout
    assert "已清除 1 封" in deployment.cli("purge").stdout
    with transaction(database(deployment.database_url)) as session:
        rows = session.scalars(select(Inbound).order_by(Inbound.id)).all()
        assert rows[0].raw == b"" and rows[0].size > 0 and rows[0].text
        assert rows[1].raw != b""


def test_without_retention_nothing_is_cleared(deployment: Deployment) -> None:
    """By default raw mail is kept for ever and purge says so."""
    assert "永久保存" in deployment.cli("purge").stdout
