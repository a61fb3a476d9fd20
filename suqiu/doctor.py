"""`suqiu doctor`: check every part a running suqiu needs, and say what is wrong.

Each check prints one line, ✓ or ✗, and for a ✗ what to do about it. No mail
is read or sent: mailboxes are logged in to and their folder selected, the
SMTP server is greeted and logged in to, and that is all.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import partial

from rich.console import Console
from rich.markup import escape
from sqlalchemy import func, select

from ingest.imap import ImapMailbox
from ingest.maildir import MaildirMailbox
from notify.smtp import SmtpConnection
from routing.deadline import WorkCalendar, holidays_notice, published
from routing.rules import load_rules
from store import outbox, schema
from store.db import make_engine, make_sessions
from store.models import Inbound, MailboxState, MailState
from suqiu import clock
from suqiu import config as config_module
from suqiu.config import MailboxSettings, Settings
from suqiu.errors import SuqiuError

log = logging.getLogger(__name__)


@dataclass
class Check:
    ok: bool
    what: str
    detail: str = ""


class Doctor:
    def __init__(self, console: Console) -> None:
        self.console = console
        self.problems = 0

    def report(self, check: Check) -> None:
        mark = "[green]✓[/green]" if check.ok else "[red]✗[/red]"
        # Details quote files and servers: [calendar] is text, not markup.
        self.console.print(f"{mark} {escape(check.what)}", highlight=False)
        if check.detail:
            self.console.print(f"    {escape(check.detail)}", highlight=False)
        if not check.ok:
            self.problems += 1

    def attempt(self, what: str, action: Callable[[], str]) -> bool:
        try:
            detail = action()
        except SuqiuError as exc:
            self.report(Check(False, what, str(exc)))
            return False
        self.report(Check(True, what, detail))
        return True


def run_checks(config_path: str | None, console: Console) -> bool:
    """Run every check; True when nothing is wrong."""
    doctor = Doctor(console)
    settings: Settings | None = None

    def load() -> str:
        nonlocal settings
        settings = config_module.load(config_path)
        return (
            f"{settings.path}：{len(settings.mailboxes)} 个信箱，"
            f"{len(settings.units)} 个责任单位，{len(settings.admins)} 位管理员"
        )

    if not doctor.attempt("配置文件", load) or settings is None:
        return False

    doctor.attempt("数据库", lambda: _check_database(settings))
    _check_calendar(doctor, settings, clock.local(clock.now()).date())
    for mailbox in settings.mailboxes:
        doctor.attempt(f"信箱“{mailbox.name}”", partial(_check_mailbox, mailbox))
    if settings.smtp is None:
        doctor.report(
            Check(False, "SMTP 发信", "配置文件中没有 [smtp]，无法发出任何邮件")
        )
    else:
        doctor.attempt(
            f"SMTP 发信（{settings.smtp.host}）", lambda: _check_smtp(settings)
        )
    doctor.attempt("待处理事项", lambda: _check_backlog(settings))
    missing = _units_without_addresses(settings)
    if missing:
        console.print(
            "[yellow]![/yellow] 分派规则中的这些责任单位没有配置邮箱："
            f"{'、'.join(missing)}。分派给它们的诉求会留给学生工作处处理（不算错误）。",
            highlight=False,
        )

    if doctor.problems:
        console.print(f"\n发现 {doctor.problems} 个问题，请按上面的提示处理。")
    else:
        console.print("\n一切正常。")
    return doctor.problems == 0


def _check_calendar(doctor: Doctor, settings: Settings, today: date) -> None:
    """This year's holidays must be known; next year's from November on.

    Without them working days are counted Monday to Friday: the digest would
    go out during the Spring Festival and deadlines would run through it.
    """
    calendar = settings.calendar
    notice = holidays_notice(calendar, today)
    if not calendar.knows(today.year):
        doctor.report(Check(False, "节假日安排", notice or ""))
        return
    doctor.report(Check(True, "节假日安排", _calendar_source(calendar, today.year)))
    if notice:
        doctor.console.print(f"[yellow]![/yellow] {escape(notice)}", highlight=False)


def _calendar_source(calendar: WorkCalendar, year: int) -> str:
    days = len(calendar.configured(year))
    if not days:
        return f"{year} 年的放假安排取自 chinese_calendar"
    if published(year):
        return f"{year} 年的放假安排取自 chinese_calendar，配置文件另行指定了 {days} 天"
    return f"{year} 年的放假安排取自配置文件 [calendar]（{days} 天）"


def _check_database(settings: Settings) -> str:
    engine = make_engine(settings.database_url)
    schema.require_current(engine)
    return f"{engine.dialect.name}，结构版本 {schema.HEAD}"


def _check_mailbox(mailbox: MailboxSettings) -> str:
    source = (
        MaildirMailbox(mailbox) if mailbox.type == "maildir" else ImapMailbox(mailbox)
    )
    try:
        folder = source.open()
        idle = source.supports_idle()
    finally:
        source.close()
    mode = (
        "支持 IDLE，新邮件即时处理"
        if idle
        else f"不支持 IDLE，每 {mailbox.poll_seconds:.0f} 秒轮询"
    )
    return f"文件夹 {mailbox.folder} 共 {folder.exists} 封邮件；{mode}"


def _check_smtp(settings: Settings) -> str:
    assert settings.smtp is not None
    connection = SmtpConnection(settings.smtp)
    try:
        connection.open()
    finally:
        connection.close()
    login = (
        f"以 {settings.smtp.username} 登录成功"
        if settings.smtp.username
        else "无需登录"
    )
    smtp = settings.smtp
    return f"{smtp.host}:{smtp.port}（{smtp.security}），{login}"


def _units_without_addresses(settings: Settings) -> list[str]:
    """Units the routing rules may choose that have no [[units]] entry."""
    try:
        rules = load_rules(settings.routing.rules)
    except SuqiuError:
        return []
    named = {unit for rule in rules.rules for unit in rule.units}
    named |= set(rules.colleges)
    return sorted(unit for unit in named if settings.unit(unit) is None)


def _check_backlog(settings: Settings) -> str:
    engine = make_engine(settings.database_url)
    sessions = make_sessions(engine)
    with sessions() as session:
        counts = outbox.counts(session)
        failed_mail = session.execute(
            select(func.count())
            .select_from(Inbound)
            .where(Inbound.state == MailState.FAILED)
        ).scalar_one()
        broken = session.scalars(
            select(MailboxState).where(MailboxState.last_error.is_not(None))
        ).all()
    parts = [
        f"发件箱待发 {counts.get('queued', 0)} 封",
        f"发送中 {counts.get('sending', 0)} 封",
        f"被拒收或放弃 {counts.get('failed', 0)} 封",
        f"状态不明 {counts.get('uncertain', 0)} 封",
        f"处理失败的来信 {failed_mail} 封",
    ]
    summary = "，".join(parts)
    problems = failed_mail + counts.get("failed", 0) + counts.get("uncertain", 0)
    if broken:
        summary += "；上次读取出错的信箱：" + "、".join(
            f"{state.name}（{state.last_error}）" for state in broken
        )
    if problems or broken:
        raise SuqiuError(
            summary + "。可用 suqiu messages --failed 查看处理失败的来信。"
        )
    return summary
