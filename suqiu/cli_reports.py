"""`suqiu digest`, `suqiu report monthly|quarterly` and `suqiu publish`.

The work happens in ``suqiu.routine``, imported only when a command runs:
its templates, charts and mail would slow every other command down.
"""

import gc
import logging
from collections.abc import Callable
from pathlib import Path

import click

from notify.reports import Period
from suqiu.cli import Context, console, failing_clearly, main, pass_context

log = logging.getLogger(__name__)


@main.command()
@click.option("--dry-run", is_flag=True, help="只显示今天的日报和催办邮件，不发送")
@click.option("--force", is_flag=True, help="节假日或今天已经发送过也照样发送")
@pass_context
def digest(ctx: Context, dry_run: bool, force: bool) -> None:
    """发送今天的日报和催办、督办邮件。"""
    from suqiu import routine

    _freeze_imports()
    with failing_clearly():
        app = ctx.app
        if not dry_run:
            app.check_secrets()
        day = routine.today()
        for job in (routine.send_digest, routine.send_chase):
            outcome = job(app, day, dry_run=dry_run, force=force)
            if dry_run:
                for to, mail in outcome.mails:
                    _print_mail(to, mail.subject, mail.text)
            console.print(outcome.summary, highlight=False)


@main.group()
def report() -> None:
    """月度汇总和季度分析（含图表和明细表）。"""


@report.command()
@click.option("--month", metavar="YYYY-MM", help="统计的月份，默认为上个月")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="把报告写入此目录（网页、文本、图表和 Excel），不发邮件",
)
@pass_context
def monthly(ctx: Context, month: str | None, out: Path | None) -> None:
    """每月汇总：发给领导小组，或用 --out 写成文件。"""
    from suqiu import routine

    period = _period(Period.month, month, "--month") or Period.month_before(
        routine.today()
    )
    _report(ctx, period, out)


@report.command()
@click.option("--quarter", metavar="YYYYQN", help="统计的季度，默认为上个季度")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="把报告写入此目录（网页、文本、图表和 Excel），不发邮件",
)
@pass_context
def quarterly(ctx: Context, quarter: str | None, out: Path | None) -> None:
    """季度分析：发给领导小组，或用 --out 写成文件。"""
    from suqiu import routine

    period = _period(Period.quarter, quarter, "--quarter") or Period.quarter_before(
        routine.today()
    )
    _report(ctx, period, out)


@main.command()
@click.option(
    "--quarter", metavar="YYYYQN", required=True, help="公开哪个季度办结的诉求"
)
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="网页写入此目录",
)
@pass_context
def publish(ctx: Context, quarter: str, out: Path) -> None:
    """定期公开：把标记为公开的已办结诉求写成静态网页（已去除个人信息）。"""
    from notify import publish as publication
    from store.db import transaction
    from suqiu import clock

    _freeze_imports()
    period = _period(Period.quarter, quarter, "--quarter")
    assert period is not None  # the option is required
    with failing_clearly():
        with transaction(ctx.app.sessions) as session:
            page = publication.publish(session, period, now=clock.now())
        path = publication.write(page, out)
    console.print(
        f"已写入 {path}：公开{period.label}办结的诉求 {len(page.cases)} 件。",
        highlight=False,
    )
    if page.unanswered:
        console.print(
            f"以下标记为公开的诉求没有书面答复，未列入：{'、'.join(page.unanswered)}。",
            highlight=False,
        )
    console.print("发布前请再通读一遍，确认没有遗漏的个人信息。", highlight=False)


def _report(ctx: Context, period: Period, out: Path | None) -> None:
    from suqiu import routine

    _freeze_imports()
    with failing_clearly():
        app = ctx.app
        report = routine.make_report(app, period)
        if out is not None:
            for path in routine.write_report(report, out):
                console.print(f"已写入 {path}", highlight=False)
            return
        app.check_secrets()
        outcome = routine.mail_report(app, report)
        console.print(outcome.summary, highlight=False)


def _freeze_imports() -> None:
    """Move what is loaded by now out of the cycle collector's sight.

    Modules, classes and functions live as long as the command does; the
    collector need not walk them again at each collection, nor once more
    at exit, which took a tenth of a second here.
    """
    gc.freeze()


def _period(
    parse: Callable[[str], Period], text: str | None, option: str
) -> Period | None:
    """Read an option's period; a mistake is click's usage error, in Chinese."""
    if text is None:
        return None
    try:
        return parse(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from exc


def _print_mail(to: list[str], subject: str, text: str) -> None:
    # Plain echo, not rich: a chase list of thousands of lines is printed as
    # it is, without rich's line wrapping, which costs seconds there.
    rule = "─" * 60
    click.echo(rule)
    click.echo(f"收件人：{'、'.join(to) or '（未配置）'}")
    click.echo(f"主题：{subject}")
    click.echo(rule)
    click.echo(text)
