"""Seeded generator of realistic Chinese student appeals, as raw mail bytes.

``python -m bench.generate --count 20 --out DIR`` writes a sample to look at.
"""

import argparse
import base64
import html
import quopri
import random
import sys
import tomllib
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path
from typing import Any

CHINA = timezone(timedelta(hours=8))
# A fixed end date keeps a seed's mails byte-identical from run to run.
DEFAULT_END = datetime(2026, 12, 1, 9, 0, tzinfo=CHINA)
DEFAULT_SPAN_DAYS = 3 * 365
TOPICS_FILE = Path(__file__).with_name("topics.toml")

# The college's three mailboxes (DESIGN.md); the address only shows in To.
CHANNELS = (
    ("书记信箱", "shuji@gxgc.edu.cn"),
    ("校长信箱", "xiaozhang@gxgc.edu.cn"),
    ("学生工作处", "gxgcxgc2017@163.com"),
)

# Shares of the mail stream; the rest are fresh appeals.
FOLLOW_UP_SHARE = 0.04
AUTO_REPLY_SHARE = 0.02
DUPLICATE_SHARE = 0.01
# Students write again now and then, never so often that the cap of five
# acknowledgements a day per sender would spare suqiu the cost of an ack.
MAX_MAILS_PER_STUDENT = 3

# Client mix of a Guangxi college: QQ Mail first, then NetEase and phones.
CLIENT_WEIGHTS = {
    "qq": 30,
    "netease": 25,
    "iphone": 18,
    "foxmail": 12,
    "outlook": 10,
    "sina": 5,
}
# How often each client's appeal carries a photo or a document.
ATTACHMENT_SHARE = {"qq": 0.2, "iphone": 0.15, "foxmail": 0.2, "netease": 0.05}
PREAMBLE = b"This is a multi-part message in MIME format.\r\n\r\n"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@dataclass(frozen=True)
class Topic:
    """One kind of appeal: its subjects, the facts told, what is asked."""

    name: str
    weight: int
    subjects: tuple[str, ...]
    facts: tuple[str, ...]
    asks: tuple[str, ...]
    unit: str = ""  # where the shipped rules send it; "" for triage
    category: str = ""


@dataclass
class Student:
    """Who writes: the same person keeps a name, class, address and client."""

    name: str
    display: str
    college: str
    cls: str
    sid: str
    phone: str
    address: str
    client: str
    sent: int = 1


@dataclass(frozen=True)
class Generated:
    """One mail: its bytes and what it is meant to be."""

    raw: bytes
    message_id: str
    kind: str  # appeal | follow_up | auto_reply | duplicate
    client: str
    sender: str
    subject: str
    attachments: int = 0
    topic: str = ""  # the Topic's name, for appeals


@dataclass
class Draft:
    """A mail before one client's habits turn it into bytes."""

    student: Student
    subject: str
    text: str
    to: tuple[str, str]
    date: datetime
    message_id: str
    in_reply_to: str | None = None
    headers: list[str] = field(default_factory=list)
    attachment: tuple[str, str, bytes] | None = None  # name, type, data


# -- MIME by hand: each client's own header order and encodings ---------------


def _crlf(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _transfer(data: bytes, encoding: str) -> bytes:
    if encoding == "base64":
        return _crlf(base64.encodebytes(data))
    return _crlf(quopri.encodestring(data.replace(b"\r\n", b"\n")))


def encoded_words(text: str, label: str, codec: str) -> str:
    """RFC 2047 B-words of at most 75 characters, split between characters."""
    room = (75 - len(label) - 7) * 3 // 4  # bytes that fit one word
    chunks: list[str] = []
    chunk = ""
    for char in text:
        if chunk and len((chunk + char).encode(codec)) > room:
            chunks.append(chunk)
            chunk = ""
        chunk += char
    chunks.append(chunk)
    return "\r\n ".join(
        f"=?{label}?B?{base64.b64encode(c.encode(codec)).decode()}?=" for c in chunks
    )


def _entity(headers: list[str], body: bytes) -> bytes:
    return "\r\n".join(headers).encode("ascii") + b"\r\n\r\n" + body


def _multipart(boundary: str, parts: list[bytes], preamble: str = "") -> bytes:
    out = [preamble.encode("ascii")] if preamble else []
    for part in parts:
        out.append(f"--{boundary}\r\n".encode() + part + b"\r\n")
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out)


def _text(kind: str, label: str, codec: str, encoding: str, text: str) -> bytes:
    return _entity(
        [
            f'Content-Type: {kind};\r\n\tcharset="{label}"',
            f"Content-Transfer-Encoding: {encoding}",
        ],
        _transfer(text.encode(codec), encoding),
    )


def _lines(text: str, template: str, blank: str) -> str:
    return "".join(
        template.format(html.escape(line) if line else blank)
        for line in text.split("\n")
    )


def _html(style: str, text: str) -> str:
    """The HTML alternative as each client writes it."""
    if style == "qq":
        meta = '<meta http-equiv="Content-Type" content="text/html; charset=GB18030">'
        return meta + _lines(text, "<div>{}</div>", "<br>")
    if style == "netease":
        return (
            '<div style="line-height:1.7;color:#000000;font-size:14px;'
            'font-family:Arial">'
            + _lines(text, '<div style="margin:0;">{}</div>', "<br>")
            + "</div>"
        )
    if style == "outlook":
        body = _lines(
            text,
            '<p class="MsoNormal"><span lang="ZH-CN">{}</span><o:p></o:p></p>',
            "<o:p>&nbsp;</o:p>",
        )
        return (
            '<html xmlns:o="urn:schemas-microsoft-com:office:office">'
            '<head><meta http-equiv="Content-Type" '
            'content="text/html; charset=gb2312">'
            "<style><!-- p.MsoNormal {margin:0cm; font-size:10.5pt;} --></style>"
            '</head><body lang="ZH-CN"><div class="WordSection1">'
            + body
            + "</div></body></html>"
        )
    if style == "foxmail":
        return (
            '<html><head><meta http-equiv="content-type" '
            'content="text/html; charset=GB2312">'
            "<style>body { line-height: 1.5; }</style></head><body>"
            + _lines(text, "<div>{}</div>", "&nbsp;")
            + '<div><br></div><hr style="width: 210px; height: 1px;" align="left">'
            "</body></html>"
        )
    return (
        '<html><head><meta charset="utf-8"><style>p{margin:0}</style></head><body>'
        + _lines(text, "<p>{}</p>", "&nbsp;")
        + "<br><br></body></html>"
    )


# -- the generator --------------------------------------------------------------


class MailFactory:
    """Writes a reproducible stream of appeals and the mail around them."""

    def __init__(
        self,
        seed: int = 1,
        *,
        end: datetime = DEFAULT_END,
        span_days: float = DEFAULT_SPAN_DAYS,
        topics: Path = TOPICS_FILE,
    ) -> None:
        self.rng = random.Random(seed)
        self.end = end
        self.span = timedelta(days=span_days)
        with topics.open("rb") as handle:
            self.words: dict[str, Any] = tomllib.load(handle)
        self.topics = [
            Topic(
                t["name"],
                t["weight"],
                tuple(t["subjects"]),
                tuple(t["facts"]),
                tuple(t["asks"]),
                t.get("unit", ""),
                t.get("category", ""),
            )
            for t in self.words["topic"]
        ]
        self.students: list[Student] = []
        # Follow-ups and duplicates pick among the recent appeals.
        self.appeals: deque[Generated] = deque(maxlen=300)
        self.serial = 0
        self.renderers: dict[str, Callable[[Draft], bytes]] = {
            "qq": self._qq,
            "netease": self._netease,
            "outlook": self._outlook,
            "iphone": self._iphone,
            "foxmail": self._foxmail,
            "sina": self._sina,
        }

    def mails(self, count: int) -> Iterator[Generated]:
        """Yield *count* mails: appeals, and some follow-ups, auto-replies and
        duplicates of recent appeals."""
        for _ in range(count):
            roll = self.rng.random()
            recent = list(self.appeals)
            if (
                not recent
                or roll >= DUPLICATE_SHARE + AUTO_REPLY_SHARE + FOLLOW_UP_SHARE
            ):
                mail = self.appeal()
                self.appeals.append(mail)
                yield mail
            elif roll < DUPLICATE_SHARE:
                # The same bytes again, as a client that retried sends them.
                original = self.rng.choice(recent)
                yield Generated(
                    original.raw,
                    original.message_id,
                    "duplicate",
                    original.client,
                    original.sender,
                    original.subject,
                    original.attachments,
                )
            elif roll < DUPLICATE_SHARE + AUTO_REPLY_SHARE:
                yield self.auto_reply()
            else:
                yield self.follow_up(self.rng.choice(recent))

    def appeal(self, *, date: datetime | None = None) -> Generated:
        """One new appeal from a student, in that student's mail client."""
        student = self._student()
        weights = [t.weight for t in self.topics]
        topic = self.rng.choices(self.topics, weights)[0]
        slots = self._slots(student)
        draft = Draft(
            student=student,
            subject=self.rng.choice(topic.subjects).format(**slots),
            text=self._letter(student, topic, slots),
            to=self.rng.choice(CHANNELS),
            date=date or self._moment(),
            message_id=self._message_id(student),
            attachment=self._attachment(student.client),
        )
        return self._render(draft, "appeal", topic.name)

    def follow_up(self, original: Generated) -> Generated:
        """The same student writes again, in reply to their own appeal."""
        student = next(s for s in self.students if s.address == original.sender)
        slots = self._slots(student)
        text = self.rng.choice(self.words["follow_ups"]).format(**slots)
        prefix = self.rng.choice(("回复：", "Re: ", "答复: ", "补充："))
        draft = Draft(
            student=student,
            subject=prefix + original.subject,
            text=f"{text}\n\n{student.name}",
            to=self.rng.choice(CHANNELS),
            date=self._moment(),
            message_id=self._message_id(student),
            in_reply_to=original.message_id,
        )
        return self._render(draft, "follow_up")

    def auto_reply(self) -> Generated:
        """A vacation responder answering the acknowledgement it was sent."""
        student = self.rng.choice(self.students)
        subject, headers = self.rng.choice(
            (
                ("自动回复: 您好，您的邮件已收到", ["X-Autoreply: yes"]),
                (
                    "自动答复: 学生诉求受理回执",
                    ["Auto-Submitted: auto-replied", "X-Auto-Response-Suppress: All"],
                ),
                (
                    "这是来自QQ邮箱的假期自动回复邮件。",
                    ["X-QQ-AutoReply: yes", "Auto-Submitted: auto-replied"],
                ),
            )
        )
        draft = Draft(
            student=student,
            subject=subject,
            text="您好，我最近不在学校，邮件已收到，会尽快给您回复。",
            to=CHANNELS[2],
            date=self._moment(),
            message_id=self._message_id(student),
            headers=headers,
        )
        return self._render(draft, "auto_reply")

    # -- content ----------------------------------------------------------------

    def _student(self) -> Student:
        rng = self.rng
        willing = [s for s in self.students[-200:] if s.sent < MAX_MAILS_PER_STUDENT]
        if willing and rng.random() < 0.2:
            student = rng.choice(willing)
            student.sent += 1
            return student

        words = self.words
        name = rng.choice(words["surnames"]) + "".join(
            rng.choice(words["given"]) for _ in range(rng.choice((1, 2, 2)))
        )
        college = rng.choice(list(words["colleges"]))
        year = rng.choice((22, 23, 24, 25))
        major = rng.choice(words["colleges"][college])
        client = rng.choices(list(CLIENT_WEIGHTS), list(CLIENT_WEIGHTS.values()))[0]
        if client == "qq":
            local = str(rng.randint(10**8, 4 * 10**9))
        else:
            syllables = "".join(rng.choices(words["syllables"], k=2))
            local = f"{syllables}{rng.randint(1, 99999)}"
        domain = {
            "qq": "qq.com",
            "netease": rng.choice(("163.com", "126.com")),
            "outlook": rng.choice(("outlook.com", "hotmail.com")),
            "iphone": "icloud.com",
            "foxmail": "foxmail.com",
            "sina": "sina.com",
        }[client]
        student = Student(
            name=name,
            # Some students sign with a nickname rather than their name.
            display=name if rng.random() < 0.8 else rng.choice(words["nicknames"]),
            college=college,
            cls=f"{major}{year}{rng.randint(1, 4):02d}班",
            sid=f"20{year}{rng.randint(1, 9):02d}{rng.randint(100, 4545):04d}",
            phone=f"1{rng.choice('3578')}{rng.randint(0, 10**9 - 1):09d}",
            address=f"{local}@{domain}",
            client=client,
        )
        self.students.append(student)
        return student

    def _slots(self, student: Student) -> dict[str, str]:
        rng = self.rng
        words = self.words
        old = rng.randint(6, 12)
        course, course2 = rng.sample(words["courses"], 2)
        return {
            "canteen": rng.choice(words["canteens"]),
            "building": str(rng.randint(1, 18)),
            "room": f"{rng.randint(1, 6)}{rng.randint(1, 30):02d}",
            "price_old": str(old),
            "price_new": str(old + rng.randint(1, 4)),
            "amount": str(rng.choice((20, 30, 50, 88, 100, 200, 500, 1200))),
            "days": str(rng.randint(2, 20)),
            "n": str(rng.randint(3, 9)),
            "month": str(rng.randint(1, 12)),
            "day": str(rng.randint(1, 28)),
            "teacher": rng.choice(words["surnames"]) + "老师",
            "course": course,
            "course2": course2,
            "place": rng.choice(words["places"]),
            "club": rng.choice(words["clubs"]),
            "item": rng.choice(words["items"]),
            "name": student.name,
            "college": student.college,
            "cls": student.cls,
            "sid": student.sid,
            "phone": student.phone,
            "date": f"{rng.randint(2024, 2026)}年{rng.randint(1, 12)}月"
            f"{rng.randint(1, 28)}日",
        }

    def _letter(self, student: Student, topic: Topic, slots: dict[str, str]) -> str:
        rng = self.rng
        words = self.words
        count = rng.randint(1, min(3, len(topic.facts)))
        facts = [f.format(**slots) for f in rng.sample(topic.facts, count)]
        if rng.random() < 0.15:
            return facts[0]  # the one-liner sent from a phone

        lines = [rng.choice(words["greetings"])]
        if rng.random() < 0.7:
            lines.append(rng.choice(words["intros"]).format(**slots))
        lines += facts
        lines.append(rng.choice(topic.asks))
        if rng.random() < 0.03:
            lines.append("请对我的身份保密。")
        lines.append(rng.choice(words["closings"]))
        if rng.random() < 0.6:
            lines.append("\n" + rng.choice(words["signatures"]).format(**slots))
        if student.client == "iphone":
            lines.append("\n发自我的iPhone")
        elif student.client == "netease" and rng.random() < 0.3:
            lines.append("\n发自网易邮箱大师")
        return "\n".join(line for line in lines if line)

    def _moment(self) -> datetime:
        return self.end - self.span * self.rng.random()

    def _message_id(self, student: Student) -> str:
        self.serial += 1
        token = f"{self.rng.getrandbits(64):016x}{self.serial:06d}"
        up = token.upper()
        return {
            "qq": f"tencent_{up}@qq.com",
            "netease": f"{token[:8]}.{token[8:12]}.{token[12:]}.Coremail."
            f"{student.address}",
            "outlook": f"TYZPR06MB{up}@TYZPR06MB6123.apcprd06.prod.outlook.com",
            "iphone": f"{up[:8]}-{up[8:12]}-{up[12:16]}-{up[16:]}@icloud.com",
            "foxmail": f"20261{self.rng.randint(10**12, 10**13)}{self.serial}"
            "@foxmail.com",
            "sina": f"{token}@sina.com",
        }[student.client]

    def _attachment(self, client: str) -> tuple[str, str, bytes] | None:
        rng = self.rng
        if rng.random() >= ATTACHMENT_SHARE.get(client, 0.0):
            return None
        size = rng.randint(8, 60) * 1024
        if client == "foxmail":
            name = rng.choice(("情况说明.docx", "申请材料.docx", "证明材料.docx"))
            return name, DOCX, b"PK\x03\x04" + rng.randbytes(size)
        if client == "netease":
            return (
                "成绩单截图.pdf",
                "application/pdf",
                b"%PDF-1.4\n" + rng.randbytes(size),
            )
        if client == "iphone":
            name = f"IMG_{rng.randint(1000, 9999)}.jpeg"
        else:
            name = rng.choice(("宿舍照片.jpg", "现场照片.jpg", "微信图片.jpg"))
        return name, "image/jpeg", b"\xff\xd8\xff\xe0" + rng.randbytes(size)

    def _boundary(self, client: str) -> str:
        rng = self.rng
        if client == "qq":
            return "----=_NextPart_" + "_".join(
                f"{rng.getrandbits(32):08X}" for _ in range(3)
            )
        if client == "netease":
            return (
                f"----=_Part_{rng.randint(10**5, 10**6)}_"
                f"{rng.randint(10**9, 2 * 10**9)}.{rng.randint(10**12, 2 * 10**12)}"
            )
        if client == "outlook":
            return f"_000_TYZPR06MB{rng.getrandbits(80):020X}apcp_"
        if client == "foxmail":
            return f"----=_001_NextPart{rng.randint(10**11, 10**12)}_=----"
        return f"Apple-Mail={rng.getrandbits(128):032X}"

    def _render(self, draft: Draft, kind: str, topic: str = "") -> Generated:
        return Generated(
            raw=self.renderers[draft.student.client](draft),
            message_id=draft.message_id,
            kind=kind,
            client=draft.student.client,
            sender=draft.student.address,
            subject=draft.subject,
            attachments=1 if draft.attachment else 0,
            topic=topic,
        )

    # -- clients ----------------------------------------------------------------

    def _threading(self, draft: Draft) -> list[str]:
        thread = []
        if draft.in_reply_to:
            thread = [
                f"In-Reply-To: <{draft.in_reply_to}>",
                f"References: <{draft.in_reply_to}>",
            ]
        return thread + draft.headers

    def _body(
        self, draft: Draft, label: str, codec: str, plain: str
    ) -> tuple[list[str], bytes]:
        """The Content-Type header and the body: alternative, inside mixed
        when a file is attached. *plain* is the text part's encoding."""
        client = draft.student.client
        html_encoding = (
            "quoted-printable" if client in ("outlook", "foxmail") else plain
        )
        inner = self._boundary(client)
        alternative = _multipart(
            inner,
            [
                _text("text/plain", label, codec, plain, draft.text),
                _text(
                    "text/html", label, codec, html_encoding, _html(client, draft.text)
                ),
            ],
        )
        inner_type = f'multipart/alternative;\r\n\tboundary="{inner}"'
        if draft.attachment is None:
            return [f"Content-Type: {inner_type}"], alternative

        outer = self._boundary(client)
        name, kind, data = draft.attachment
        encoded = encoded_words(name, label, codec)
        attached = _entity(
            [
                f'Content-Type: {kind};\r\n\tname="{encoded}"',
                "Content-Transfer-Encoding: base64",
                f'Content-Disposition: attachment;\r\n\tfilename="{encoded}"',
            ],
            _transfer(data, "base64"),
        )
        mixed = _multipart(
            outer, [_entity([f"Content-Type: {inner_type}"], alternative), attached]
        )
        return [f'Content-Type: multipart/mixed;\r\n\tboundary="{outer}"'], mixed

    def _qq(self, draft: Draft) -> bytes:
        """QQ Mail: gb18030 everywhere, base64, names in quoted words."""
        s = draft.student
        rng = self.rng
        content_type, content = self._body(draft, "gb18030", "gb18030", "base64")
        head = [
            f"Received: from qq.com (unknown [183.3.226.{rng.randint(1, 254)}])",
            "\tby smtp.qq.com (ESMTP) with SMTP id 0",
            f"\tfor <{draft.to[1]}>; {format_datetime(draft.date)} (CST)",
            f"X-QQ-mid: xmsezb{rng.getrandbits(64):x}",
            "X-QQ-SSF: 00000000000000F0000000000000",
            f'From: "{encoded_words(s.display, "gb18030", "gb18030")}" <{s.address}>',
            f'To: "{encoded_words(draft.to[0], "gb18030", "gb18030")}" <{draft.to[1]}>',
            f"Subject: {encoded_words(draft.subject, 'gb18030', 'gb18030')}",
            "Mime-Version: 1.0",
            *content_type,
            "Content-Transfer-Encoding: 8Bit",
            f"Date: {format_datetime(draft.date)}",
            *self._threading(draft),
            "X-Priority: 3",
            f"Message-ID: <{draft.message_id}>",
            "X-QQ-MIME: TCMime 1.0 by Tencent",
            "X-Mailer: QQMail 2.x",
        ]
        return _entity(head, PREAMBLE + content)

    def _netease(self, draft: Draft) -> bytes:
        """163/126 webmail (Coremail): UTF-8, base64, folded trace headers."""
        s = draft.student
        rng = self.rng
        ip = f"117.{rng.randint(1, 254)}.{rng.randint(1, 254)}.{rng.randint(1, 254)}"
        local, domain = s.address.split("@")
        stamp = format_datetime(draft.date)
        content_type, content = self._body(draft, "UTF-8", "utf-8", "base64")
        head = [
            f"Received: from {local}${domain} ( [{ip}] ) by",
            f" ajax-webmail-wmsvr-40-{rng.randint(100, 140)} (Coremail) ; {stamp}",
            " (CST)",
            f"X-Originating-IP: [{ip}]",
            f"Date: {stamp} (CST)",
            f'From: "{encoded_words(s.display, "UTF-8", "utf-8")}" <{s.address}>',
            f"To: {draft.to[1]}",
            f"Subject: {encoded_words(draft.subject, 'UTF-8', 'utf-8')}",
            *self._threading(draft),
            "X-Priority: 3",
            "X-Mailer: Coremail Webmail Server Version XT5.0.14 build 20240801",
            " Copyright (c) 2002-2026 www.mailtech.cn 163com",
            f"X-NTES-SC: AL_{base64.b64encode(rng.randbytes(57)).decode()}",
            *content_type,
            "MIME-Version: 1.0",
            f"Message-ID: <{draft.message_id}>",
            "X-Coremail-Locale: zh_CN",
            f"X-CM-TRANSID:_____wD{base64.b64encode(rng.randbytes(18)).decode()}",
        ]
        return _entity(head, content)

    def _outlook(self, draft: Draft) -> bytes:
        """Outlook (zh-CN): labels say gb2312, the bytes are GBK, QP bodies."""
        s = draft.student
        topic = encoded_words(draft.subject, "gb2312", "gbk")
        content_type, content = self._body(draft, "gb2312", "gbk", "quoted-printable")
        head = [
            f"From: {encoded_words(s.display, 'gb2312', 'gbk')} <{s.address}>",
            f"To: {encoded_words(draft.to[0], 'gb2312', 'gbk')} <{draft.to[1]}>",
            f"Subject: {topic}",
            f"Thread-Topic: {topic}",
            f"Thread-Index: {base64.b64encode(self.rng.randbytes(22)).decode()}",
            f"Date: {format_datetime(draft.date.astimezone(UTC))}",
            f"Message-ID: <{draft.message_id}>",
            *self._threading(draft),
            "Accept-Language: zh-CN, en-US",
            "Content-Language: zh-CN",
            "X-MS-Has-Attach: " + ("yes" if draft.attachment else ""),
            "X-MS-TNEF-Correlator:",
            *content_type,
            "MIME-Version: 1.0",
        ]
        return _entity(head, content)

    def _iphone(self, draft: Draft) -> bytes:
        """iPhone Mail: one UTF-8 base64 text part, or mixed with a photo."""
        s = draft.student
        text = _transfer(draft.text.encode("utf-8"), "base64")
        common = [
            f"From: {encoded_words(s.display, 'utf-8', 'utf-8')} <{s.address}>",
            "Mime-Version: 1.0 (1.0)",
            f"Date: {format_datetime(draft.date)}",
            f"Subject: {encoded_words(draft.subject, 'utf-8', 'utf-8')}",
            f"Message-Id: <{draft.message_id}>",
            *self._threading(draft),
            f"To: {encoded_words(draft.to[0], 'utf-8', 'utf-8')} <{draft.to[1]}>",
            "X-Mailer: iPhone Mail (23B85)",
        ]
        if draft.attachment is None:
            head = [
                "Content-Type: text/plain;\r\n\tcharset=utf-8",
                "Content-Transfer-Encoding: base64",
                *common,
            ]
            return _entity(head, text)

        boundary = self._boundary("iphone")
        name, kind, data = draft.attachment
        parts = [
            _entity(
                [
                    "Content-Type: text/plain;\r\n\tcharset=utf-8",
                    "Content-Transfer-Encoding: base64",
                ],
                text,
            ),
            _entity(
                [
                    f"Content-Type: {kind};\r\n\tname={name}",
                    f"Content-Disposition: inline;\r\n\tfilename={name}",
                    "Content-Transfer-Encoding: base64",
                ],
                _transfer(data, "base64"),
            ),
        ]
        head = [f"Content-Type: multipart/mixed; boundary={boundary}", *common]
        return _entity(head, b"\r\n" + _multipart(boundary, parts))

    def _foxmail(self, draft: Draft) -> bytes:
        """Foxmail: GB2312 labels, plain in base64, HTML in quoted-printable."""
        s = draft.student
        content_type, content = self._body(draft, "GB2312", "gbk", "base64")
        head = [
            f"Date: {format_datetime(draft.date)}",
            f'From: "{encoded_words(s.display, "gb2312", "gbk")}" <{s.address}>',
            f'To: "{draft.to[1].split("@")[0]}" <{draft.to[1]}>',
            f"Subject: {encoded_words(draft.subject, 'gb2312', 'gbk')}",
            *self._threading(draft),
            "X-Priority: 3",
            f"X-GUID: {self.rng.getrandbits(128):032X}",
            "X-Has-Attach: " + ("yes" if draft.attachment else "no"),
            "X-Mailer: Foxmail 7.2.25.228[cn]",
            "Mime-Version: 1.0",
            f"Message-ID: <{draft.message_id}>",
            *content_type,
        ]
        return _entity(head, PREAMBLE + content)

    def _sina(self, draft: Draft) -> bytes:
        """Sina webmail: HTML only, UTF-8, quoted-printable."""
        s = draft.student
        head = [
            f"Date: {format_datetime(draft.date)}",
            f"From: {encoded_words(s.display, 'UTF-8', 'utf-8')} <{s.address}>",
            f"To: <{draft.to[1]}>",
            f"Subject: {encoded_words(draft.subject, 'UTF-8', 'utf-8')}",
            f"Message-ID: <{draft.message_id}>",
            *self._threading(draft),
            "X-Mailer: SinaMail 3.0",
            "MIME-Version: 1.0",
            'Content-Type: text/html; charset="UTF-8"',
            "Content-Transfer-Encoding: quoted-printable",
        ]
        page = _html("sina", draft.text).encode("utf-8")
        return _entity(head, _transfer(page, "quoted-printable"))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=20, help="how many mails")
    parser.add_argument("--seed", type=int, default=1, help="same seed, same mails")
    parser.add_argument("--out", type=Path, help="write each mail as NNNNN.eml here")
    args = parser.parse_args(argv)

    kinds: Counter[str] = Counter()
    clients: Counter[str] = Counter()
    size = attached = 0
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
    for number, mail in enumerate(MailFactory(args.seed).mails(args.count), 1):
        kinds[mail.kind] += 1
        clients[mail.client] += 1
        size += len(mail.raw)
        attached += mail.attachments
        if args.out:
            (args.out / f"{number:05d}.eml").write_bytes(mail.raw)
    print(f"{args.count} mails, {size / 1e6:.1f} MB, {attached} with an attachment")
    print("kinds:  ", ", ".join(f"{k} {n}" for k, n in kinds.most_common()))
    print("clients:", ", ".join(f"{k} {n}" for k, n in clients.most_common()))


if __name__ == "__main__":
    main(sys.argv[1:])
