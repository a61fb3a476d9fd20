"""A whole suqiu installation for tests: three Dovecot mailboxes, an SMTP
server, a database and a configuration file, driven in-process or by the CLI.
"""

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import pytest

from ingest.poller import PollReport
from notify.smtp import DeliveryReport
from store.db import make_engine, make_sessions
from suqiu import config as config_module
from suqiu.app import App
from suqiu.config import Settings
from tests import casebook
from tests.servers import Dovecot, ImapUser, SmtpServer
from tests.servers.smtp import Received

SUQIU = str(Path(sys.executable).with_name("suqiu"))
BOXES = {
    "shuji": "书记信箱",
    "xiaozhang": "校长信箱",
    "xgc": "学生工作处邮箱",
}
SENDER_ADDRESS = "gxgcxgc2017@163.com"
UNITS = {
    "后勤管理中心": ["hqzx@example.edu.cn", "hq-office@example.edu.cn"],
    "教务处": ["jwc@example.edu.cn"],
    "学生工作处": ["xgc-office@example.edu.cn"],
    "大学生心理健康教育与咨询中心": ["xlzx@example.edu.cn"],
    "保卫处": ["bwc@example.edu.cn"],
    "团委": ["tw@example.edu.cn"],
    "土木工程学院": ["tm@example.edu.cn"],
    "汽车与机电学院": ["qcjd@example.edu.cn"],
    "经济管理学院": ["jg@example.edu.cn"],
}
ADMIN = "staff@example.edu.cn"


@dataclass
class Deployment:
    root: Path
    dovecot: Dovecot
    smtp: SmtpServer
    database_url: str
    boxes: dict[str, ImapUser] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def config_path(self) -> Path:
        return self.root / "suqiu.toml"

    def write_config(self, **mailbox_options: Any) -> None:
        """Write suqiu.toml; *mailbox_options* go into every [[mailboxes]]."""
        lines = [
            f'[database]\nurl = "{self.database_url}"\n',
            "[smtp]",
            f'host = "{self.smtp.host}"',
            f"port = {self.smtp.port}",
            'security = "none"',
            f'sender = "学生工作处 <{SENDER_ADDRESS}>"',
            "pace_seconds = 0",
            "",
        ]
        for key, user in self.boxes.items():
            lines += [
                "[[mailboxes]]",
                f'name = "{BOXES[key]}"',
                f'channel = "{BOXES[key]}"',
                f'host = "{user.host}"',
                f"port = {user.imap_port}",
                'security = "none"',
                f'username = "{user.user}"',
                f'password_env = "PW_{key.upper()}"',
            ]
            for name, value in {"poll_seconds": 1, **mailbox_options}.items():
                lines.append(f"{name} = {_toml(value)}")
            lines.append("")
        for unit, emails in UNITS.items():
            lines += ["[[units]]", f'name = "{unit}"', f"emails = {_toml(emails)}", ""]
        lines += ["[admins]", f'emails = ["{ADMIN}"]', ""]
        for section, values in self.extra.items():
            lines.append(f"[{section}]")
            lines += [f"{k} = {_toml(v)}" for k, v in values.items()]
            lines.append("")
        self.config_path.write_text("\n".join(lines), encoding="utf-8")
        for key, user in self.boxes.items():
            os.environ[f"PW_{key.upper()}"] = user.password

    def settings(self) -> Settings:
        return config_module.load(self.config_path)

    def app(self) -> App:
        return App(self.settings(), show_progress=False)

    def deliver(self, box: str, raw: bytes) -> None:
        self.dovecot.deliver(self.boxes[box].user, raw)

    def poll(self, *, send: bool = True) -> list[PollReport]:
        """What `suqiu poll --once` does, in this process."""
        app = self.app()
        reports = app.poll_all()
        if send:
            app.send()
        return reports

    def send(self) -> DeliveryReport:
        return self.app().send()

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run the real `suqiu` command with this deployment's configuration."""
        env = dict(os.environ)
        done = subprocess.run(
            [SUQIU, "--config", str(self.config_path), *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
        if check and done.returncode != 0:
            raise AssertionError(
                f"suqiu {' '.join(args)} exited {done.returncode}\n"
                f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
            )
        return done

    def sent(self, count: int, timeout: float = 10) -> list[Received]:
        return self.smtp.wait_for(count, timeout)

    def sent_of_kind(self, kind: str) -> list[Received]:
        """Mails of one kind (X-Suqiu-Kind) that reached the SMTP server."""
        return [m for m in self.smtp.messages if m.message()["X-Suqiu-Kind"] == kind]

    def wait_for_kind(
        self, kind: str, count: int, timeout: float = 10
    ) -> list[Received]:
        """Wait until *count* mails of *kind* arrived; return them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.sent_of_kind(kind)
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise TimeoutError(f"{len(self.sent_of_kind(kind))} of {count} {kind} mails")


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return str(value)


@pytest.fixture
def deployment(
    tmp_path: Path, dovecot: Dovecot, smtp_server: SmtpServer, database_url: str
) -> Iterator[Deployment]:
    """A configured, initialised suqiu with empty mailboxes."""
    site = Deployment(tmp_path, dovecot, smtp_server, database_url)
    for key in BOXES:
        site.boxes[key] = dovecot.new_user(key)
    site.write_config()
    casebook.migrate(database_url)
    yield site


def appeal(
    subject: str,
    body: str,
    *,
    sender: str = "student@example.com",
    name: str = "张同学",
    to: str = SENDER_ADDRESS,
    headers: dict[str, str] | None = None,
    message_id: str | None = None,
) -> bytes:
    """A plain UTF-8 mail as a student's client would send it."""
    message = EmailMessage()
    message["From"] = f"{name} <{sender}>"
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = "Thu, 03 Dec 2026 10:00:00 +0800"
    message["Message-ID"] = message_id or make_msgid(domain="example.com")
    for key, value in (headers or {}).items():
        message[key] = value
    message.set_content(body)
    return message.as_bytes()


def reply_to(
    original: EmailMessage,
    body: str,
    *,
    sender: str,
    name: str = "",
    quote: bool = True,
) -> bytes:
    """A reply to *original*, threaded the way mail clients thread it."""
    message = EmailMessage()
    message["From"] = f"{name} <{sender}>" if name else sender
    message["To"] = original["From"]
    message["Subject"] = "回复：" + str(original["Subject"])
    message["Date"] = "Thu, 03 Dec 2026 15:00:00 +0800"
    message["Message-ID"] = make_msgid(domain="example.com")
    message["In-Reply-To"] = original["Message-ID"]
    message["References"] = original["Message-ID"]
    text = body
    if quote:
        original_body = original.get_body(("plain",))
        quoted = original_body.get_content() if original_body is not None else ""
        text += (
            "\n\n------------------ 原始邮件 ------------------\n"
            f"发件人: {original['From']}\n主题: {original['Subject']}\n\n{quoted}"
        )
    message.set_content(text)
    return message.as_bytes()


def database(url: str) -> Any:
    """A session factory on *url*, for assertions straight on the tables."""
    return make_sessions(make_engine(url), read_only=True)
