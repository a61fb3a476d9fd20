"""Commands that keep the data: `suqiu backup` and `suqiu purge`."""

import sys
from pathlib import Path

import click

from store import backup as backup_store
from store import retention
from store.db import transaction
from suqiu import clock
from suqiu.cli import Context, console, errors, failing_clearly, main, pass_context


@main.command()
@click.argument("path", type=click.Path(dir_okay=False))
@pass_context
def backup(ctx: Context, path: str) -> None:
    """备份数据库到 PATH（SQLite 在线备份，服务运行时也可执行）。"""
    with failing_clearly():
        url = ctx.app.settings.database_url
        source = backup_store.sqlite_path(url)
        if source is None:
            errors.print(
                "PostgreSQL 数据库请用 pg_dump 备份，例如：\n"
                + backup_store.pg_dump_line(url, Path(path)),
                highlight=False,
            )
            sys.exit(1)
        count = backup_store.backup_sqlite(source, Path(path))
        console.print(f"已备份到 {path}（{count} 件诉求），备份文件校验通过。")


@main.command()
@click.option("--dry-run", is_flag=True, help="只统计，不清除")
@pass_context
def purge(ctx: Context, dry_run: bool) -> None:
    """按保存期限（[ingest] keep_raw_days）清除旧邮件的原始内容。"""
    keep = ctx.app.settings.ingest.keep_raw_days
    if keep <= 0:
        console.print(
            "未设置保存期限（keep_raw_days = 0）：原始邮件永久保存，无需清除。"
        )
        return
    with failing_clearly(), transaction(ctx.app.sessions) as session:
        if dry_run:
            count = retention.count_purgeable(session, clock.now(), keep)
            console.print(
                f"有 {count} 封邮件的原始内容超过 {keep} 天保存期限，可以清除。"
            )
            return
        count = retention.purge_raw(session, clock.now(), keep)
    console.print(f"已清除 {count} 封邮件的原始内容（邮件记录、正文和事件仍保留）。")
