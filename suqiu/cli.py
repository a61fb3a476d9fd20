"""The `suqiu` command: CONTRACT.md's commands, for IT staff and the office."""

import getpass
import importlib
import json
import logging
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from store import schema
from store.cases import STATUS_NAMES, get_case
from store.db import make_engine, transaction
from store.models import Case, CaseStatus, Inbound
from suqiu import config as config_module
from suqiu.app import App
from suqiu.errors import SuqiuError
from suqiu.views import case_json, iso, message_json

log = logging.getLogger(__name__)

# soft_wrap: long lines stay whole when the output goes to a file or a pipe.
console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)

KIND_NAMES = {
    "appeal": "新诉求",
    "follow_up": "补充来信",
    "unit_reply": "单位答复",
    "rating": "满意度评价",
    "command": "管理指令",
    "auto_reply": "自动回复",
    "bounce": "退信",
    "spam": "垃圾邮件",
    "duplicate": "重复邮件",
    "unmatched": "待人工处理",
}


def setup_logging(verbose: int, quiet: bool) -> None:
    level = logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO
    logging.basicConfig(
        level=level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # jieba and the IMAP protocol log are noisy below WARNING unless asked.
    if verbose < 2:
        for noisy in ("imapclient", "alembic", "apscheduler"):
            logging.getLogger(noisy).setLevel(logging.WARNING)


@contextmanager
def failing_clearly() -> Iterator[None]:
    """Turn our errors into one Chinese line on stderr and exit status 1."""
    try:
        yield
    except SuqiuError as exc:
        errors.print(f"[red]错误：[/red]{exc}", highlight=False)
        sys.exit(1)


class Context:
    def __init__(self, config_path: str | None) -> None:
        self.config_path = config_path
        self._app: App | None = None

    @property
    def app(self) -> App:
        if self._app is None:
            settings = config_module.load(self.config_path)
            self._app = App(settings, show_progress=sys.stderr.isatty())
        return self._app


pass_context = click.make_pass_decorator(Context)


@click.group()
@click.option("--config", "config_path", metavar="PATH", help="配置文件路径")
@click.option("-v", "--verbose", count=True, help="输出调试日志（-vv 含协议细节）")
@click.option("-q", "--quiet", is_flag=True, help="只输出警告和错误")
@click.pass_context
def main(
    ctx: click.Context, config_path: str | None, verbose: int, quiet: bool
) -> None:
    """suqiu：广西工程职业学院学生诉求邮件办理系统。"""
    setup_logging(verbose, quiet)
    ctx.obj = Context(config_path)


@main.command()
@pass_context
def init(ctx: Context) -> None:
    """创建或升级数据库结构。"""
    with failing_clearly():
        settings = config_module.load(ctx.config_path)
        engine = make_engine(settings.database_url)
        before, after = schema.upgrade(engine)
        if before == after:
            console.print(f"数据库已是最新结构（{after}）。")
        else:
            console.print(f"数据库结构已{'升级' if before else '创建'}：{after}。")


@main.command()
@click.option("--once", is_flag=True, required=True, help="读取一次后退出")
@click.option("--no-send", is_flag=True, help="只收信，发件箱中的邮件留待发送")
@pass_context
def poll(ctx: Context, once: bool, no_send: bool) -> None:
    """读取每个信箱的新邮件并处理，然后发送发件箱。"""
    with failing_clearly():
        app = ctx.app
        app.check_secrets()
        reports = app.poll_all()
        failed = [r for r in reports if r.error]
        for report in reports:
            kinds = "，".join(
                f"{KIND_NAMES.get(k, k)} {n}" for k, n in sorted(report.kinds.items())
            )
            line = f"{report.mailbox}：新邮件 {report.stored} 封"
            if kinds:
                line += f"（{kinds}）"
            if report.failed:
                line += f"，处理失败 {report.failed} 封（已保存，稍后重试）"
            if report.recovered:
                line += f"，重试成功 {report.recovered} 封"
            if report.error:
                line += f"；读取失败：{report.error}"
            console.print(line, highlight=False)
        if not no_send:
            _print_delivery(app)
        if failed:
            sys.exit(2)


def _print_delivery(app: App) -> bool:
    delivery = app.send()
    console.print(
        f"发信：成功 {delivery.sent} 封，稍后重试 {delivery.deferred} 封，"
        f"被拒收 {delivery.failed} 封。",
        highlight=False,
    )
    if delivery.uncertain:
        console.print(
            f"[yellow]注意：[/yellow]{delivery.uncertain} 封邮件在上次发送时中断，"
            "无法确定是否已送出；确认后可用 suqiu send --retry-uncertain 重发。",
            highlight=False,
        )
    if delivery.error:
        errors.print(f"[red]发信失败：[/red]{delivery.error}", highlight=False)
        return False
    return True


@main.command()
@click.option(
    "--retry-uncertain", is_flag=True, help="重新发送上次发送中断、状态不明的邮件"
)
@pass_context
def send(ctx: Context, retry_uncertain: bool) -> None:
    """发送发件箱中等待的邮件。"""
    with failing_clearly():
        app = ctx.app
        app.check_secrets()
        if retry_uncertain:
            from store import outbox

            with transaction(app.sessions) as session:
                count = outbox.requeue_uncertain(session)
            console.print(f"已将 {count} 封状态不明的邮件重新排队。")
        if not _print_delivery(app):
            sys.exit(2)


@main.command()
@pass_context
def run(ctx: Context) -> None:
    """作为服务运行：监视信箱、发送邮件、按时发送日报和报表。"""
    from suqiu.service import Service

    with failing_clearly():
        app = ctx.app
        app.check_secrets()
        Service(app).run_forever()


@main.command(name="cases")
@click.option(
    "--status", type=click.Choice([s.value for s in CaseStatus]), help="按状态筛选"
)
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
@pass_context
def list_cases(ctx: Context, status: str | None, as_json: bool) -> None:
    """列出诉求。"""
    with failing_clearly(), transaction(ctx.app.readers) as session:
        query = select(Case).order_by(Case.id)
        if status:
            query = query.where(Case.status == status)
        if as_json:
            # Streamed, a thousand cases at a time: a year of cases would
            # otherwise sit in memory whole, twice (objects and JSON).
            _stream_json(
                case_json(session, c, messages=False)
                for c in session.scalars(query.execution_options(yield_per=1000))
            )
            return
        found = session.scalars(query).all()
        table = Table(
            "编号", "状态", "渠道", "类别", "责任单位", "主题", "受理时间", "期限"
        )
        for case in found:
            table.add_row(
                case.number,
                STATUS_NAMES[CaseStatus(case.status)],
                case.channel,
                case.category or "—",
                case.unit or "—",
                _short(case.subject, 30),
                (iso(case.received_at) or "")[:16].replace("T", " "),
                (iso(case.due_at) or "—")[:10],
            )
        console.print(table)
        console.print(f"共 {len(found)} 件。")


@main.command()
@click.argument("number")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
@pass_context
def show(ctx: Context, number: str, as_json: bool) -> None:
    """显示一件诉求及其全部邮件和事件。"""
    with failing_clearly(), transaction(ctx.app.readers) as session:
        case = get_case(session, number)
        data = case_json(session, case)
        if as_json:
            _print_json(data)
            return
        _print_case(data)


def _print_case(data: dict[str, Any]) -> None:
    student = data["student"]
    console.print(f"[bold]{data['number']}[/bold]  {data['subject']}", highlight=False)
    rows = [
        ("状态", STATUS_NAMES[CaseStatus(data["status"])]),
        ("渠道 / 分派", f"{data['channel']} / {data['dispatcher']}"),
        ("类别 / 责任单位", f"{data['category'] or '—'} / {data['unit'] or '—'}"),
        (
            "学生",
            "，".join(
                str(v)
                for v in (
                    student["name"],
                    student["class"],
                    student["student_id"],
                    student["email"],
                    student["phone"],
                )
                if v
            )
            or "—",
        ),
        ("标记", _flags(data)),
        ("受理 / 交办", f"{data['received_at'] or '—'} / {data['assigned_at'] or '—'}"),
        ("期限 / 答复", f"{data['due_at'] or '—'} / {data['replied_at'] or '—'}"),
        ("评价 / 办结", f"{data['rating'] or '—'} / {data['closed_at'] or '—'}"),
    ]
    for label, value in rows:
        console.print(f"  {label}：{_moments(value)}", highlight=False)
    console.print("\n[bold]邮件[/bold]")
    for mail in data["messages"]:
        arrow = "收" if mail["direction"] == "in" else "发"
        who = mail["from"] if mail["direction"] == "in" else "，".join(mail["to"])
        console.print(
            f"  {arrow} {mail['at'][:16].replace('T', ' ')} {mail['kind']} {who}："
            f"{_short(mail['subject'], 40)}",
            highlight=False,
        )
    console.print("\n[bold]事件[/bold]")
    for event in data["events"]:
        change = (
            f" {event['from_status'] or ''}→{event['to_status']}"
            if event["to_status"]
            else ""
        )
        console.print(
            f"  {event['at'][:16].replace('T', ' ')} {event['action']}{change}"
            f"（{event['actor']}）{event['reason'] or ''}",
            highlight=False,
        )


_ISO_MOMENT = re.compile(r"(\d{4}-\d\d-\d\d)T(\d\d:\d\d)[\d:.]*(?:[+-]\d\d:\d\d)?")


def _moments(text: str) -> str:
    """ISO times as people read them: 2026-12-04 01:49."""
    return _ISO_MOMENT.sub(r"\1 \2", text)


def _flags(data: dict[str, Any]) -> str:
    names = {
        "confidential": "保密",
        "major": "重大",
        "crisis": "心理危机",
        "public": "公开",
    }
    return "、".join(label for key, label in names.items() if data.get(key)) or "—"


@main.command()
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
@click.option("--failed", is_flag=True, help="只列出处理失败的邮件")
@pass_context
def messages(ctx: Context, as_json: bool, failed: bool) -> None:
    """列出读取过的每一封邮件及其去向。"""
    with failing_clearly(), transaction(ctx.app.readers) as session:
        query = select(Inbound).order_by(Inbound.id)
        if failed:
            query = query.where(Inbound.error.is_not(None))
        found = session.scalars(query).all()
        if as_json:
            _print_json([message_json(m) for m in found])
            return
        table = Table("#", "信箱", "发件人", "主题", "类型", "诉求", "错误")
        for mail in found:
            table.add_row(
                str(mail.id),
                mail.mailbox,
                mail.from_addr or "—",
                _short(mail.subject, 30),
                KIND_NAMES.get(mail.kind or "", mail.kind or "—"),
                mail.case.number if mail.case is not None else "—",
                _short(mail.error or "", 40),
            )
        console.print(table)
        console.print(f"共 {len(found)} 封。")


@main.command()
@click.argument("mail_id", type=int)
@pass_context
def retry(ctx: Context, mail_id: int) -> None:
    """立即重新处理一封处理失败的邮件。"""
    with failing_clearly(), transaction(ctx.app.sessions) as session:
        mail = session.get(Inbound, mail_id)
        if mail is None or mail.error is None:
            errors.print(f"没有处理失败的邮件 #{mail_id}。")
            sys.exit(1)
        if ctx.app.poller.retry(session, mail):
            console.print(
                f"邮件 #{mail_id} 已处理：{KIND_NAMES.get(mail.kind or '')}。"
            )
        else:
            errors.print(f"邮件 #{mail_id} 仍然处理失败：{mail.error}")
            sys.exit(1)


def _act(ctx: Context, number: str, action: Callable[..., str], *args: Any) -> None:
    """Apply one office action to case *number* as the CLI user, then send."""
    app = ctx.app
    actor = f"cli:{getpass.getuser()}"
    with failing_clearly():
        with transaction(app.sessions) as session:
            case = get_case(session, number)
            result = action(session, case, *args, actor=actor)
        console.print(f"{case.number}：{result}", highlight=False)
        if app.settings.smtp is not None:
            app.send()


@main.command()
@click.argument("number")
@click.argument("unit")
@click.option("--reason", help="转交的说明（随办理单告知单位）")
@pass_context
def assign(ctx: Context, number: str, unit: str, reason: str | None) -> None:
    """转交：把诉求交给另一个责任单位（发送办理单）。"""
    _act(
        ctx,
        number,
        lambda session, case, actor: ctx.app.office.assign(
            session, case, unit, actor=actor, reason=reason or "学生工作处转交"
        ),
    )


@main.command()
@click.argument("number")
@click.option("--due", type=click.DateTime(["%Y-%m-%d"]), help="领导小组规定的办结日期")
@click.option("--reason", default="学生工作处认定为重大问题", show_default=True)
@pass_context
def escalate(ctx: Context, number: str, due: datetime | None, reason: str) -> None:
    """重大：提请领导小组研判。"""
    _act(
        ctx,
        number,
        lambda session, case, actor: ctx.app.office.escalate(
            session,
            case,
            actor=actor,
            why=reason,
            due=due.date() if due else None,
            major=True,
        ),
    )


@main.command()
@click.argument("number")
@click.option("--reason", required=True, help="不予受理的理由（会告知学生）")
@pass_context
def decline(ctx: Context, number: str, reason: str) -> None:
    """不予受理：把理由告知学生。"""
    _act(ctx, number, ctx.app.office.decline, reason)


@main.command()
@click.argument("number")
@click.option("--reason", required=True, help="办结说明（会告知学生）")
@pass_context
def close(ctx: Context, number: str, reason: str) -> None:
    """办结：由学生工作处办结诉求。"""
    _act(ctx, number, ctx.app.office.close, reason)


@main.command()
@click.argument("number")
@click.option("--off", is_flag=True, help="取消公开")
@pass_context
def public(ctx: Context, number: str, off: bool) -> None:
    """公开：允许在定期公开中发布（去除个人信息后）。"""
    _act(ctx, number, ctx.app.office.mark, "public", not off)


@main.command()
@click.argument("number")
@click.option("--off", is_flag=True, help="取消保密")
@pass_context
def confidential(ctx: Context, number: str, off: bool) -> None:
    """保密：对责任单位隐去学生身份。"""
    _act(ctx, number, ctx.app.office.mark, "confidential", not off)


OFFLINE_CHANNELS = (
    "处长接待日",
    "座谈会",
    "辅导员",
    "热线电话",
    "提案",
    "学生会权益维护部",
    "意见箱",
)


@main.command()
@click.option("--channel", required=True, type=click.Choice(OFFLINE_CHANNELS))
@click.option("--subject", required=True, help="诉求主题")
@click.option("--content", required=True, help="诉求内容（以 @文件名 读取文件）")
@click.option("--name", help="学生姓名")
@click.option("--class", "class_name", help="学生班级")
@click.option("--student-id", help="学号")
@click.option("--phone", help="联系电话")
@click.option("--email", help="学生邮箱（受理回执和答复发往此处）")
@click.option("--counselor", help="辅导员姓名")
@click.option("--receiver", help="受理方（个人或部门）")
@click.option("--opinion", default="", help="受理方意见")
@click.option(
    "--form", "form_path", type=click.Path(), help="把交报单（.docx）存到此处"
)
@pass_context
def register(
    ctx: Context,
    channel: str,
    subject: str,
    content: str,
    name: str | None,
    class_name: str | None,
    student_id: str | None,
    phone: str | None,
    email: str | None,
    counselor: str | None,
    receiver: str | None,
    opinion: str,
    form_path: str | None,
) -> None:
    """登记线下渠道的诉求（交报单），之后与邮件诉求同样办理。"""
    from notify.forms import IntakeForm, intake_form_docx
    from store.cases import StudentFacts
    from suqiu import clock
    from suqiu.actions import AppealFacts

    if content.startswith("@"):
        content = Path(content[1:]).read_text(encoding="utf-8")
    app = ctx.app
    actor = f"cli:{getpass.getuser()}"
    student = StudentFacts(
        name=name,
        class_name=class_name,
        student_id=student_id,
        email=email.lower() if email else None,
        phone=phone,
        counselor=counselor,
    )
    facts = AppealFacts(
        channel=channel,
        subject=subject,
        text=content,
        received_at=clock.now(),
        sender=student.email,
        student=student,
    )
    with failing_clearly():
        with transaction(app.sessions) as session:
            case = app.office.receive(session, facts, actor=actor)
            app.office.acknowledge(session, case, facts)
            number, status = case.number, STATUS_NAMES[CaseStatus(case.status)]
            unit = case.unit
        console.print(
            f"已登记 {number}（{channel}），当前状态：{status}"
            + (f"，已交由{unit}办理。" if unit else "。"),
            highlight=False,
        )
        if form_path:
            form = IntakeForm(
                subject=subject,
                date=clock.local(clock.now()).date(),
                student_class=class_name or "",
                student_name=name or "",
                counselor=counselor or "",
                contact=phone or email or "",
                content=content,
                receiver_opinion=opinion,
                receiver=receiver or actor,
            )
            Path(form_path).write_bytes(intake_form_docx(form))
            console.print(f"交报单已保存到 {form_path}。", highlight=False)
        if app.settings.smtp is not None:
            app.send()


@main.group()
def roster() -> None:
    """学生花名册（可选）：用于补全办理单和抄送辅导员。"""


@roster.command(name="import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@pass_context
def roster_import(ctx: Context, path: str) -> None:
    """导入花名册（CSV 或 XLSX）。

    列：学号、姓名、班级、学院、邮箱、辅导员、辅导员邮箱。
    """
    from store import roster as roster_store

    with failing_clearly():
        rows = roster_store.read_rows(Path(path))
        with transaction(ctx.app.sessions) as session:
            report = roster_store.import_rows(session, rows, path)
    console.print(f"花名册导入完成：新增 {report.added} 人，更新 {report.updated} 人。")
    for problem in report.skipped or []:
        errors.print(f"跳过：{problem}", highlight=False)


@main.command()
@pass_context
def doctor(ctx: Context) -> None:
    """检查配置、数据库、各信箱和 SMTP 服务器，说明哪里有问题。"""
    from suqiu.doctor import run_checks

    ok = run_checks(ctx.config_path, console)
    sys.exit(0 if ok else 1)


@main.command()
@click.option("--keep", type=click.Path(), help="把演示的数据库和邮件保留在此目录")
def demo(keep: str | None) -> None:
    """用自带的示例邮件演示整个流程（无需任何服务器）。"""
    from suqiu.demo import run_demo

    # The demo prints what happened to each mail itself; the per-mail log
    # lines would only repeat it, so they show only with -v.
    if logging.getLogger().level > logging.DEBUG:
        logging.getLogger().setLevel(logging.WARNING)
        logging.getLogger("mail.log").setLevel(logging.WARNING)
    with failing_clearly():
        run_demo(console, keep)


def _short(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _stream_json(items: Iterator[Any]) -> None:
    """Print a JSON list item by item, as the items come."""
    out = sys.stdout
    out.write("[")
    written = False
    for item in items:
        out.write(",\n" if written else "\n")
        out.write(json.dumps(item, ensure_ascii=False, indent=2))
        written = True
    out.write("\n]\n" if written else "]\n")


def _print_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


def _register_command_modules() -> None:
    """Import the modules that add their own commands to ``main``."""
    for module in EXTRA_COMMANDS:
        importlib.import_module(module)


# Modules that define further sub-commands with ``@main.command()``.
EXTRA_COMMANDS: tuple[str, ...] = ("suqiu.cli_reports", "suqiu.cli_maintenance")
_register_command_modules()
