"""`suqiu demo`: the whole pipeline on bundled sample mail, with no servers.

Mail comes from local Maildirs (one per channel), the database is SQLite in
a temporary folder, and outbound mail goes over real SMTP to a server
(aiosmtpd) that this command starts on 127.0.0.1 and that keeps every mail
it receives as an .eml file, for anyone to open.
"""

import logging
import shutil
import socket
import tempfile
import threading
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any
from uuid import uuid4
from zoneinfo import ZoneInfo

from aiosmtpd.controller import Controller
from rich.console import Console
from sqlalchemy import select

from store import schema
from store.cases import STATUS_NAMES
from store.db import make_engine, transaction
from store.models import Case, CaseStatus, Inbound
from suqiu import clock
from suqiu import config as config_module
from suqiu.app import App

log = logging.getLogger(__name__)

SAMPLES = Path(__file__).parent / "samples"
CHANNELS = {
    "shuji": ("书记信箱", "shuji@example.edu.cn"),
    "xiaozhang": ("校长信箱", "xiaozhang@example.edu.cn"),
    "xgc": ("学生工作处邮箱", "gxgcxgc2017@163.com"),
}
UNITS = {
    "后勤管理中心": "hqzx@example.edu.cn",
    "教务处": "jwc@example.edu.cn",
    "学生工作处": "xgc-office@example.edu.cn",
    "大学生心理健康教育与咨询中心": "xlzx@example.edu.cn",
    "保卫处": "bwc@example.edu.cn",
    "团委": "tw@example.edu.cn",
    "汽车与机电学院": "qcjd@example.edu.cn",
    "艺术设计学院": "ysxy@example.edu.cn",
    "经济管理学院": "jgxy@example.edu.cn",
    "土木工程学院": "tmxy@example.edu.cn",
}
ADMIN = "xgc-staff@example.edu.cn"
UNIT_ANSWER = (
    "您好！后勤管理中心已于今天上午派维修人员到7栋312宿舍，更换了损坏的热水器，"
    "经测试已恢复正常。给同学们带来不便，深表歉意。\n后勤管理中心 维修科"
)
KINDS = {
    "appeal": "新诉求",
    "follow_up": "补充来信",
    "unit_reply": "单位答复",
    "rating": "满意度评价",
    "command": "管理指令",
    "auto_reply": "自动回复，不予回复",
    "bounce": "退信",
    "spam": "垃圾邮件",
    "duplicate": "重复邮件",
    "unmatched": "待人工处理",
}
SENT_KINDS = {
    "ack": "受理回执",
    "form": "办理单",
    "forward": "答复转达",
    "alert": "预警",
    "rating_request": "评价提醒",
    "decline": "不予受理说明",
    "chase": "催办",
    "digest": "日报",
}


class Capture:
    """An aiosmtpd handler keeping every message as a file and in memory."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.messages: list[EmailMessage] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        data: bytes = envelope.original_content or envelope.content
        with self.lock:
            number = len(self.messages) + 1
            (self.folder / f"{number:03d}.eml").write_bytes(data)
            message = message_from_bytes(data, policy=policy.default)
            assert isinstance(message, EmailMessage)
            self.messages.append(message)
        return "250 OK"


def run_demo(console: Console, keep: str | None) -> None:
    """Run the demo, printing what happened to each mail."""
    root = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="suqiu-demo-"))
    root.mkdir(parents=True, exist_ok=True)
    sent_folder = root / "sent"
    sent_folder.mkdir(exist_ok=True)

    capture = Capture(sent_folder)
    port = _free_port()
    controller = Controller(capture, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        config_path = _prepare(root, port)
        console.print(f"演示目录：{root}\n", highlight=False)
        app = App(config_module.load(config_path), show_progress=False)
        schema.upgrade(make_engine(app.settings.database_url))

        console.rule("第一步：读取三个信箱中的学生来信（受理、分派、交办）")
        _round(console, app, capture)

        console.rule("第二步：后勤管理中心回复办理单，答复转给学生")
        form = _sent_to(capture, "form", UNITS["后勤管理中心"])
        _drop(root, "xgc", _reply(form, UNIT_ANSWER, UNITS["后勤管理中心"]))
        _round(console, app, capture)

        console.rule("第三步：学生回复“满意”，诉求销号")
        answer = _sent_to(capture, "forward", "1234567890@qq.com")
        _drop(root, "xgc", _reply(answer, "满意，谢谢老师！", "1234567890@qq.com"))
        _round(console, app, capture)

        console.rule("各件诉求的状态")
        _print_cases(console, app)
    finally:
        controller.stop()

    console.print(
        f"\n发出的每封邮件都保存在 {sent_folder}（.eml，可用邮件客户端打开），"
        f"数据库在 {root / 'suqiu.db'}。"
        f"\n继续查看：suqiu --config {config_path} show SQ{_year()}-0003",
        highlight=False,
    )


def _round(console: Console, app: App, capture: Capture) -> None:
    """One poll and one delivery, then what happened to each new mail."""
    before_mail = _count_mail(app)
    before_sent = len(capture.messages)
    app.poll_all()
    app.send()
    _print_mails(console, app, since=before_mail)
    _print_sent(console, capture, since=before_sent)


def _sent_to(capture: Capture, kind: str, address: str) -> EmailMessage:
    for message in capture.messages:
        to = [a.addr_spec for a in message["To"].addresses]
        if message["X-Suqiu-Kind"] == kind and address in to:
            return message
    raise LookupError(f"no {kind} mail to {address}")


def _reply(original: EmailMessage, text: str, sender: str) -> bytes:
    """A reply as QQ Mail writes it: the answer on top, the original quoted."""
    reply = EmailMessage()
    reply["From"] = sender
    reply["To"] = original["From"]
    reply["Subject"] = "回复：" + str(original["Subject"])
    reply["Date"] = format_datetime(datetime.now(ZoneInfo("Asia/Shanghai")))
    reply["Message-ID"] = make_msgid(domain=sender.partition("@")[2])
    reply["In-Reply-To"] = original["Message-ID"]
    reply["References"] = original["Message-ID"]
    body = original.get_body(("plain",))
    quoted = body.get_content() if body is not None else ""
    reply.set_content(
        f"{text}\n\n------------------ 原始邮件 ------------------\n"
        f"发件人: {original['From']}\n主题: {original['Subject']}\n\n{quoted}"
    )
    return reply.as_bytes()


def _drop(root: Path, box: str, raw: bytes) -> None:
    """Deliver *raw* into a demo Maildir, as a local MTA would."""
    name = f"{datetime.now(ZoneInfo('Asia/Shanghai')):%s}.{uuid4().hex}.demo"
    (root / "maildir" / box / "new" / name).write_bytes(raw)


def _year() -> int:
    return clock.local(clock.now()).year


def _free_port() -> int:
    # aiosmtpd's Controller cannot take port 0: it connects to its own port
    # to check that it started. Ask the system for a free one first.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _prepare(root: Path, smtp_port: int) -> Path:
    """Write the Maildirs with the sample mail, and the configuration."""
    mailboxes = []
    for key, (channel, address) in CHANNELS.items():
        maildir = root / "maildir" / key
        if maildir.exists():
            shutil.rmtree(maildir)
        for sub in ("new", "cur", "tmp"):
            (maildir / sub).mkdir(parents=True)
        for sample in sorted(SAMPLES.glob(f"{key}-*.eml")):
            shutil.copy(sample, maildir / "new" / f"{sample.stem}.demo")
        mailboxes.append(
            f'[[mailboxes]]\nname = "{channel}"\nchannel = "{channel}"\n'
            f'type = "maildir"\npath = "maildir/{key}"\nusername = "{address}"\n'
        )
    units = "".join(
        f'[[units]]\nname = "{name}"\nemails = ["{address}"]\n'
        for name, address in UNITS.items()
    )
    config = (
        '[database]\nurl = "sqlite:///suqiu.db"\n\n'
        f'[smtp]\nhost = "127.0.0.1"\nport = {smtp_port}\nsecurity = "none"\n'
        'sender = "学生工作处 <gxgcxgc2017@163.com>"\npace_seconds = 0\n\n'
        + "\n".join(mailboxes)
        + "\n"
        + units
        + f'\n[admins]\nemails = ["{ADMIN}"]\n'
    )
    path = root / "suqiu.toml"
    path.write_text(config, encoding="utf-8")
    return path


def _count_mail(app: App) -> int:
    with transaction(app.readers) as session:
        return len(session.scalars(select(Inbound.id)).all())


def _print_mails(console: Console, app: App, since: int) -> None:
    with transaction(app.readers) as session:
        mails = session.scalars(select(Inbound).order_by(Inbound.id).offset(since))
        for mail in mails:
            console.print(
                f"[bold]收[/bold] {mail.mailbox}｜{mail.from_addr or '无发件人'}｜"
                f"{mail.subject}\n    → {_outcome(mail)}",
                highlight=False,
            )


def _outcome(mail: Inbound) -> str:
    """What became of one mail, in a line."""
    kind = KINDS.get(mail.kind or "", mail.kind or "处理失败")
    case = mail.case
    if case is None:
        return f"{kind}：{mail.reason or ''}"
    if mail.kind != "appeal":
        return f"{kind}（{case.number}）：{mail.reason or ''}"
    status = STATUS_NAMES[CaseStatus(case.status)]
    where = f"交由{case.unit}办理" if case.unit else "留待学生工作处分派"
    flags = [
        label
        for flag, label in (
            (case.confidential, "对单位保密"),
            (case.crisis, "心理危机预警"),
            (case.major, "重大问题"),
        )
        if flag
    ]
    extra = f"，{'、'.join(flags)}" if flags else ""
    category = case.category or "类别待定"
    return f"{kind} {case.number}，{category}，{status}：{where}{extra}"


def _print_sent(console: Console, capture: Capture, since: int) -> None:
    for message in capture.messages[since:]:
        kind = str(message["X-Suqiu-Kind"])
        to = "、".join(a.addr_spec for a in message["To"].addresses)
        files = [str(p.get_filename()) for p in message.iter_attachments()]
        console.print(
            f"[bold]发[/bold] {SENT_KINDS.get(kind, kind)} → {to}：{message['Subject']}"
            + (f"（附件：{'、'.join(files)}）" if files else ""),
            highlight=False,
        )
        body = message.get_body(("plain",))
        if body is not None and kind in ("ack", "forward", "alert"):
            lines = [line for line in body.get_content().splitlines() if line.strip()]
            for line in lines[:4]:
                console.print(f"    {line}", highlight=False)
            console.print("    ……", highlight=False)
    console.print()


def _print_cases(console: Console, app: App) -> None:
    with transaction(app.readers) as session:
        for case in session.scalars(select(Case).order_by(Case.id)):
            flags = "、".join(
                label
                for flag, label in (
                    (case.confidential, "保密"),
                    (case.crisis, "心理危机"),
                    (case.major, "重大"),
                )
                if flag
            )
            console.print(
                f"{case.number}  {STATUS_NAMES[CaseStatus(case.status)]}  "
                f"{case.channel} → {case.unit or '学生工作处分拣'}  {case.subject}"
                + (f"（{flags}）" if flags else ""),
                highlight=False,
            )
