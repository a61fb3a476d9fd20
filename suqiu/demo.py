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
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from store import schema
from store.db import make_engine, transaction
from store.models import Case, Inbound
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
}
ADMIN = "xgc-staff@example.edu.cn"


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

        console.rule("第一步：读取三个信箱中的学生来信")
        app.poll_all()
        app.send()
        _print_mails(console, app)
        _print_sent(console, capture, since=0)
    finally:
        controller.stop()

    console.print(
        f"\n发出的每封邮件都保存在 {sent_folder}，数据库在 {root / 'suqiu.db'}。"
        f"\n可用 suqiu --config {config_path} cases 或 show 编号 继续查看。",
        highlight=False,
    )
    if not keep:
        log.debug("demo folder %s left for inspection", root)


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


def _print_mails(console: Console, app: App) -> None:
    with transaction(app.sessions) as session:
        table = Table(
            "信箱", "发件人", "主题", "结果", "诉求编号", title="每封来信的去向"
        )
        for mail in session.scalars(select(Inbound).order_by(Inbound.id)):
            table.add_row(
                mail.mailbox,
                mail.from_addr or "—",
                mail.subject[:28],
                f"{mail.kind}：{mail.reason or ''}"[:40],
                mail.case.number if mail.case else "—",
            )
        console.print(table)
        count = len(session.scalars(select(Case.id)).all())
        console.print(f"共受理 {count} 件诉求。\n", highlight=False)


def _print_sent(console: Console, capture: Capture, since: int) -> None:
    for message in capture.messages[since:]:
        console.print(
            f"[bold]发出[/bold] {message['X-Suqiu-Kind']} → {message['To']}："
            f"{message['Subject']}",
            highlight=False,
        )
        body = message.get_body(("plain",))
        if body is not None:
            text = body.get_content().strip().splitlines()
            for line in text[:8]:
                console.print(f"    {line}", highlight=False)
            if len(text) > 8:
                console.print("    ……", highlight=False)
        console.print()
