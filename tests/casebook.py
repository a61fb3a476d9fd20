"""Cases for the digest, chase, report and publication tests, made by the real
code: ``store.cases`` and the office's actions, at moments set by SUQIU_NOW."""

import os
import random
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from routing.similar import topic_terms
from store import cases, schema
from store.cases import StudentFacts
from store.db import make_engine
from store.models import Case, CaseStatus, Inbound, MailState
from suqiu import clock
from suqiu.actions import Office

SHANGHAI = clock.SHANGHAI
UNITS = ("后勤管理中心", "教务处", "保卫处", "团委", "土木工程学院", "经济管理学院")
CHANNELS = ("学生工作处邮箱", "书记信箱", "校长信箱", "处长接待日")
CATEGORIES = ("教学管理服务", "评优评奖", "师德师风", "思想心理", "困难与建议", None)
# Subjects with a topic each, so that hot words and clusters have something
# to find; the student's details are added to the text.
SUBJECTS = (
    ("食堂饭菜涨价太贵", "二食堂的饭菜最近涨价了，一份荤菜要十几块，吃不起。"),
    ("宿舍热水器坏了", "宿舍热水器坏了一周，洗澡没有热水，报修没人来。"),
    ("校园网断网", "晚上校园网经常断网，网速很慢，影响上网课。"),
    ("补考时间冲突", "两门补考安排在同一时间，希望教务处调整补考时间。"),
    ("奖学金评定不公", "班级奖学金评定程序不透明，综合测评分数没有公示。"),
    ("图书馆开放时间太短", "图书馆晚上九点就关门，希望延长开放时间。"),
)


def migrate(database_url: str) -> None:
    """Bring a test database to the newest schema, and let go of it."""
    engine = make_engine(database_url)
    try:
        schema.upgrade(engine)
    finally:
        engine.dispose()


@contextmanager
def at(moment: str) -> Iterator[None]:
    """Run the block with SUQIU_NOW at *moment* (ISO 8601, with offset)."""
    before = os.environ.get("SUQIU_NOW")
    os.environ["SUQIU_NOW"] = moment
    try:
        yield
    finally:
        if before is None:
            del os.environ["SUQIU_NOW"]
        else:
            os.environ["SUQIU_NOW"] = before


def local(text: str) -> datetime:
    """A college-time moment written "2026-12-01 10:00"."""
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def receive(
    session: Session,
    subject: str,
    *,
    when: str,
    channel: str = "学生工作处邮箱",
    student: StudentFacts | None = None,
) -> Case:
    """受理 at *when* (college time), as the mail flow opens a case."""
    with at(local(when).isoformat()):
        case = cases.open_case(
            session,
            channel=channel,
            dispatcher={"书记信箱": "党委办公室", "校长信箱": "校长办公室"}.get(
                channel, "学生工作处"
            ),
            subject=subject,
            student=student or StudentFacts(email="student@example.com"),
            received_at=clock.now(),
        )
        session.flush()
        return case


def assign(
    session: Session, office: Office, case: Case, unit: str, *, when: str
) -> None:
    """交办 at *when*: the office sends the 办理单 and sets the deadline."""
    with at(local(when).isoformat()):
        office.assign(session, case, unit, actor="cli:test", reason="测试交办")


def answer(
    session: Session,
    case: Case,
    text: str,
    *,
    when: str,
    by: str = "unit@example.edu.cn",
) -> Inbound:
    """The unit's answer arrives at *when*: a stored reply, and the case replied."""
    moment = local(when)
    mail = Inbound(
        mailbox="学生工作处邮箱",
        folder="INBOX",
        location=f"test/{case.number}/{moment.timestamp()}",
        identity=f"sha:{case.number}:{moment.timestamp()}",
        raw=b"",
        size=0,
        sha256="0" * 64,
        from_addr=by,
        subject=f"回复：[{case.number}] {case.subject}",
        read_at=moment,
        text=text,
        state=MailState.DONE,
        kind="unit_reply",
        case_id=case.id,
    )
    session.add(mail)
    with at(moment.isoformat()):
        cases.change_status(
            session,
            case,
            CaseStatus.REPLIED,
            action="answer",
            actor=by,
            reason="单位答复",
        )
        case.replied_at = moment
    return mail


def rate(
    session: Session, office: Office, case: Case, rating: str, *, when: str
) -> None:
    """The student's rating at *when*, through the office."""
    with at(local(when).isoformat()):
        office.rate(session, case, rating, None, actor=case.student_email or "student")


def generate(
    session: Session, count: int, *, start: str, days: int, seed: int = 7
) -> list[Case]:
    """*count* cases received over *days* days from *start*, in every state,
    written straight to the tables (no 办理单 is built for them)."""
    rng = random.Random(seed)
    first = local(start)
    made = []
    for index in range(count):
        received = first + timedelta(minutes=rng.randrange(days * 24 * 60))
        subject, text = rng.choice(SUBJECTS)
        name = f"学生{index:04d}"
        case = receive(
            session,
            f"{subject}（{index}）",
            when=received.replace(tzinfo=None).isoformat(" "),
            channel=rng.choice(CHANNELS),
            student=StudentFacts(name=name, email=f"s{index}@example.com"),
        )
        case.category = rng.choice(CATEGORIES)
        case.topic_terms = sorted(topic_terms(subject, text))
        _advance(case, rng, received)
        made.append(case)
    session.flush()
    return made


def _advance(case: Case, rng: random.Random, received: datetime) -> None:
    """Move a generated case on: assigned, answered (or not), rated (or not)."""
    fate = rng.random()
    if fate < 0.1:
        return  # still waiting for triage
    if fate < 0.15:
        case.status = CaseStatus.DECLINED
        case.closed_at = received + timedelta(hours=5)
        return

    case.unit = rng.choice(UNITS)
    case.assigned_at = received + timedelta(hours=rng.randrange(1, 30))
    due_day = clock.local(case.assigned_at).date() + timedelta(days=7)
    case.due_at = datetime.combine(due_day, datetime.max.time(), SHANGHAI).replace(
        microsecond=0
    )
    case.status = CaseStatus.ASSIGNED
    if rng.random() < 0.08:
        case.major = True
    if rng.random() < 0.2:
        return  # no answer yet

    case.replied_at = case.assigned_at + timedelta(hours=rng.randrange(2, 14 * 24))
    case.status = CaseStatus.REPLIED
    rating: Any = rng.choice(("满意", "满意", "较满意", "不满意", None))
    if rating is None:
        return
    case.rating = rating
    case.rated_at = case.replied_at + timedelta(days=1)
    if rating == "不满意":
        case.status = CaseStatus.ESCALATED
    else:
        case.status = CaseStatus.CLOSED
        case.closed_at = case.rated_at


def write_config(
    path: Path, database_url: str, *, smtp_port: int = 25, extra: str = ""
) -> Path:
    """A suqiu.toml for tests that need no mail server (or a local one)."""
    path.write_text(
        f"""
[database]
url = "{database_url}"

[smtp]
host = "127.0.0.1"
port = {smtp_port}
security = "none"
sender = "学生工作处 <gxgcxgc2017@163.com>"
pace_seconds = 0

[[units]]
name = "后勤管理中心"
emails = ["hqzx@example.edu.cn"]

[[units]]
name = "教务处"
emails = ["jwc@example.edu.cn"]

[admins]
emails = ["staff@example.edu.cn"]

[leading_group]
emails = ["leader@example.edu.cn"]
{extra}
""",
        encoding="utf-8",
    )
    return path
