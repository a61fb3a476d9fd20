"""A year of cases written straight into the tables, fast, with Core inserts.

The cases follow a college year: fewer in the holidays, most closed after a
month, some late; each has its mails in and out and its events, as suqiu
itself would have left them.
"""

import base64
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, insert, text

import store.models as models
from bench.generate import MailFactory
from ingest.parse import parse_mail
from routing.similar import topic_terms
from store.models import (
    Assignment,
    Case,
    CaseCounter,
    Event,
    Inbound,
    Outbox,
)
from store.numbers import format_number

# Newer schemas date an appeal by when the student wrote and index its topic
# words in a table of their own; a year written for them fills both.
CASE_TERM: Any = getattr(models, "CaseTerm", None)

CHUNK = 5000
# Mails per month relative to the mean: the winter and summer holidays
# (Feb, Jul, Aug) are quiet, the start of each term busy.
MONTH_WEIGHT = {
    1: 0.6, 2: 0.3, 3: 1.3, 4: 1.1, 5: 1.1, 6: 1.0,
    7: 0.3, 8: 0.2, 9: 1.6, 10: 1.2, 11: 1.2, 12: 1.0,
}  # fmt: skip
CHANNELS = (
    ("学生工作处邮箱", "学生工作处", 50),
    ("校长信箱", "校长办公室", 25),
    ("书记信箱", "党委办公室", 20),
    ("座谈会", "学生工作处", 3),
    ("热线电话", "学生工作处", 2),
)
SYSTEM = "system"
UIDVALIDITY = 1700000000
# Typical sizes of what suqiu sends; the 办理单's .docx is left out of the
# form's raw (it would add 50 KB a case) since no digest or report reads raw.
OUTBOX_BYTES = {"ack": 3500, "form": 5500, "forward": 4500, "alert": 4000}
REPLY_BYTES = 3000


@dataclass(frozen=True)
class Appeal:
    """One generated appeal, read as suqiu reads it."""

    raw: bytes
    subject: str
    text: str
    terms: tuple[str, ...]
    unit: str | None
    category: str | None
    sender: str
    name: str | None


def appeal_pool(size: int, seed: int) -> list[Appeal]:
    """Generate and read *size* appeals; the year's cases reuse them."""
    factory = MailFactory(seed)
    topics = {t.name: t for t in factory.topics}
    pool = []
    for _ in range(size):
        mail = factory.appeal()
        parsed = parse_mail(mail.raw)
        topic = topics[mail.topic]
        pool.append(
            Appeal(
                raw=mail.raw,
                subject=parsed.subject,
                text=parsed.text,
                terms=tuple(sorted(topic_terms(parsed.subject, parsed.text))),
                unit=topic.unit or None,
                category=topic.category or None,
                sender=mail.sender,
                name=parsed.sender.name if parsed.sender else None,
            )
        )
    return pool


@dataclass
class Written:
    """How many rows of each table were written."""

    rows: Counter[str]
    seconds: float = 0.0


class YearWriter:
    """Builds a year of rows in memory chunk by chunk and inserts them."""

    def __init__(self, engine: Engine, pool: list[Appeal], now: datetime, seed: int):
        self.engine = engine
        self.pool = pool
        self.now = now
        self.rng = random.Random(seed)
        self.ids: Counter[str] = Counter()
        # Filler for the raw column of mails whose content no query reads.
        self.filler = base64.encodebytes(self.rng.randbytes(48_000))

    def write(self, count: int) -> Counter[str]:
        """Insert *count* cases with their rows; return rows per table."""
        moments = sorted(self._moments(count))
        seq: Counter[int] = Counter()
        written: Counter[str] = Counter()
        for start in range(0, count, CHUNK):
            rows: dict[str, list[dict[str, Any]]] = {}
            for received in moments[start : start + CHUNK]:
                year = received.astimezone(self.now.tzinfo).year
                seq[year] += 1
                self._case(rows, received, year, seq[year])
            self._insert(rows, written)
        self._insert(
            {
                CaseCounter.__tablename__: [
                    {"year": year, "last": last} for year, last in seq.items()
                ]
            },
            written,
        )
        self._fix_sequences()
        return written

    # -- one case ---------------------------------------------------------------

    def _moments(self, count: int) -> Iterator[datetime]:
        rng = self.rng
        start = self.now - timedelta(days=365)
        produced = 0
        while produced < count:
            moment = start + timedelta(seconds=rng.uniform(0, 365 * 86400))
            local = moment.astimezone(self.now.tzinfo)
            # Students write from morning to late night, rarely before 7.
            if local.hour < 7 and rng.random() < 0.85:
                continue
            if rng.random() * 1.6 > MONTH_WEIGHT[local.month]:
                continue
            produced += 1
            yield moment

    def _case(
        self,
        rows: dict[str, list[dict[str, Any]]],
        received: datetime,
        year: int,
        seq: int,
    ) -> None:
        rng = self.rng
        appeal = rng.choice(self.pool)
        case_id = self._next("cases")
        channel, dispatcher, _ = rng.choices(CHANNELS, [c[2] for c in CHANNELS])[0]
        age = (self.now - received).days
        status, times = self._life(received, age, appeal.unit is None)
        rating = times.pop("rating", None)
        confidential = appeal.category == "师德师风" or rng.random() < 0.03
        mailbox = channel if channel.endswith(("信箱", "邮箱")) else None
        case = {
            "id": case_id,
            "number": format_number(year, seq),
            "year": year,
            "seq": seq,
            "status": status,
            "channel": channel,
            "dispatcher": dispatcher,
            "category": appeal.category,
            "unit": appeal.unit if status != "received" else None,
            "subject": appeal.subject[:500],
            "student_name": appeal.name,
            "student_class": None,
            "student_id": None,
            "student_email": appeal.sender if mailbox else None,
            "student_phone": None,
            "student_counselor": None,
            "counselor_email": None,
            "confidential": confidential,
            "major": status == "escalated" or rng.random() < 0.005,
            "crisis": appeal.category == "思想心理" and rng.random() < 0.05,
            "public": rng.random() < 0.05,
            "received_at": received,
            "assigned_at": times.get("assigned"),
            "due_at": times.get("due"),
            "replied_at": times.get("replied"),
            "closed_at": times.get("closed"),
            "rating": rating,
            "rated_at": times.get("rated"),
            "rating_reminded_at": times.get("reminded"),
            "updated_at": max(times.values(), default=received),
            "topic_terms": list(appeal.terms),
        }
        if "appealed_at" in Case.__table__.c:
            case["appealed_at"] = received
        rows.setdefault(Case.__tablename__, []).append(case)
        if CASE_TERM is not None:
            rows.setdefault(CASE_TERM.__tablename__, []).extend(
                {"case_id": case_id, "term": term[:100], "appealed_at": received}
                for term in appeal.terms
            )
        self._events(rows, case, times, status, rating)
        self._mails(rows, case, appeal, mailbox, times)

    def _life(
        self, received: datetime, age: int, unroutable: bool
    ) -> tuple[str, dict[str, Any]]:
        """The case's status now and the moments of its steps so far."""
        rng = self.rng
        times: dict[str, Any] = {}
        roll = rng.random()
        if unroutable and roll < (0.5 if age < 3 else 0.05):
            return "received", times
        if roll < 0.03:
            times["closed"] = received + timedelta(hours=rng.uniform(2, 72))
            return "declined", times

        assigned = received + timedelta(minutes=rng.uniform(1, 600))
        times["assigned"] = assigned
        times["due"] = assigned + timedelta(days=7)
        if roll < 0.04 + (0.02 if age < 60 else 0.0):
            return "escalated", times
        # Most units answer within the week, a tail of them late.
        answer_days = rng.lognormvariate(1.2, 0.6)
        replied = assigned + timedelta(days=answer_days)
        if replied > self.now or (age > 10 and rng.random() < 0.01):
            return "assigned", times
        times["replied"] = replied
        # The student rates within a week, or is reminded and the case is
        # closed unrated a week later (未评价).
        wait = rng.uniform(0.1, 14)
        rated = wait <= 7
        closing = replied + timedelta(days=wait if rated else 14)
        if not rated and replied + timedelta(days=7) <= self.now:
            times["reminded"] = replied + timedelta(days=7)
        if closing > self.now:
            return "replied", times
        if not rated:
            times["closed"] = closing
            return "closed", times
        times["rated"] = closing
        times["rating"] = rng.choices(("满意", "较满意", "不满意"), (65, 28, 7))[0]
        if times["rating"] == "不满意":
            return "escalated", times
        times["closed"] = closing
        return "closed", times

    def _events(
        self,
        rows: dict[str, list[dict[str, Any]]],
        case: dict[str, Any],
        times: dict[str, Any],
        status: str,
        rating: str | None,
    ) -> None:
        received = case["received_at"]
        steps: list[tuple[datetime, str, str | None, str | None, str]] = [
            (received, "received", None, "received", f"经{case['channel']}受理")
        ]
        if status == "received":
            steps.append((received, "triage", None, None, "规则未能确定责任单位"))
        if status == "declined":
            steps.append(
                (times["closed"], "decline", "received", "declined", "不属于受理范围")
            )
        if "assigned" in times:
            steps.append(
                (
                    times["assigned"],
                    "assign",
                    "received",
                    "assigned",
                    f"交由{case['unit']}办理：规则命中",
                )
            )
        if "replied" in times:
            steps.append(
                (
                    times["replied"],
                    "answer",
                    "assigned",
                    "replied",
                    f"{case['unit']}答复",
                )
            )
        if "reminded" in times:
            steps.append((times["reminded"], "rating_reminded", None, None, "已提醒"))
        if status == "closed":
            action = "rate" if rating else "close_unrated"
            steps.append((times["closed"], action, "replied", "closed", "销号"))
        if status == "escalated":
            at = times.get("rated") or times["assigned"]
            steps.append((at, "escalate", None, "escalated", "需要领导小组研判"))
        events = rows.setdefault(Event.__tablename__, [])
        for at, action, before, after, reason in steps:
            events.append(
                {
                    "id": self._next("events"),
                    "case_id": case["id"],
                    "at": at,
                    "actor": SYSTEM,
                    "action": action,
                    "from_status": before,
                    "to_status": after,
                    "reason": reason,
                    "data": {"rule": "bench", "score": 3.0}
                    if action == "assign"
                    else None,
                }
            )
        if "assigned" in times:
            rows.setdefault(Assignment.__tablename__, []).append(
                {
                    "id": self._next("assignments"),
                    "case_id": case["id"],
                    "unit": case["unit"],
                    "category": case["category"],
                    "rule": "bench",
                    "score": 3.0,
                    "explanation": "规则命中",
                    "decided_by": SYSTEM,
                    "at": times["assigned"],
                    "due_at": times["due"],
                    "active": True,
                }
            )

    def _mails(
        self,
        rows: dict[str, list[dict[str, Any]]],
        case: dict[str, Any],
        appeal: Appeal,
        mailbox: str | None,
        times: dict[str, Any],
    ) -> None:
        number = case["number"]
        if mailbox is not None:
            self._inbound(rows, case, mailbox, "appeal", appeal.raw, appeal.text)
        self._outbox(rows, case, "ack", case["received_at"])
        if "assigned" in times:
            self._outbox(rows, case, "form", times["assigned"])
        if "replied" in times:
            reply = f"关于诉求 {number} 的答复：已安排处理。".encode()
            self._inbound(
                rows, case, mailbox or "学生工作处邮箱", "unit_reply", reply, ""
            )
            self._outbox(rows, case, "forward", times["replied"])
        if case["rating"]:
            self._inbound(rows, case, mailbox or "学生工作处邮箱", "rating", b"", "")
        if case["status"] == "escalated":
            self._outbox(rows, case, "alert", times["assigned"])

    def _inbound(
        self,
        rows: dict[str, list[dict[str, Any]]],
        case: dict[str, Any],
        mailbox: str,
        kind: str,
        raw: bytes,
        body: str,
    ) -> None:
        mail_id = self._next("inbound")
        if kind != "appeal":
            raw = raw + self._filler(REPLY_BYTES)
        at = case["received_at"] if kind == "appeal" else case["replied_at"]
        at = at or case["received_at"]
        identity = f"mid:bench-{mail_id}@gxgc.bench"
        rows.setdefault(Inbound.__tablename__, []).append(
            {
                "id": mail_id,
                "mailbox": mailbox,
                "folder": "INBOX",
                "uidvalidity": UIDVALIDITY,
                "uid": mail_id,
                "location": f"{UIDVALIDITY}/{mail_id}",
                "identity": identity,
                "original_identity": identity,
                "message_id": identity[4:],
                "raw": raw,
                "size": len(raw),
                "sha256": "0" * 64,
                "from_addr": case["student_email"],
                "from_name": case["student_name"],
                "to_addrs": [],
                "subject": case["subject"],
                "sent_at": at,
                "read_at": at,
                "in_reply_to": [],
                "references": [],
                "text": body,
                "attachments": [],
                "defects": [],
                "state": "done",
                "kind": kind,
                "reason": None,
                "case_id": case["id"],
                "attempts": 1,
                "marked_at": at,
            }
        )

    def _outbox(
        self,
        rows: dict[str, list[dict[str, Any]]],
        case: dict[str, Any],
        kind: str,
        at: datetime,
    ) -> None:
        row_id = self._next("outbox")
        recent = at > self.now - timedelta(minutes=10)
        rows.setdefault(Outbox.__tablename__, []).append(
            {
                "id": row_id,
                "case_id": case["id"],
                "kind": kind,
                "message_id": f"suqiu.{case['number']}.{row_id:012x}@163.com",
                "sender": "gxgcxgc2017@163.com",
                "recipients": [case["student_email"] or "xgc-office@gxgc.edu.cn"],
                "subject": f"【{case['number']}】{case['subject'][:60]}",
                "text": f"诉求 {case['number']} 的{kind}邮件正文。",
                "attachments": [f"学生诉求办理单{case['number']}.docx"]
                if kind == "form"
                else [],
                "raw": self._filler(OUTBOX_BYTES[kind]),
                "created_at": at,
                "state": "queued" if recent else "sent",
                "attempts": 0 if recent else 1,
                "next_attempt_at": at if recent else None,
                "sent_at": None if recent else at + timedelta(seconds=2),
            }
        )

    # -- plumbing -------------------------------------------------------------

    def _next(self, table: str) -> int:
        self.ids[table] += 1
        return self.ids[table]

    def _filler(self, size: int) -> bytes:
        start = self.rng.randrange(0, len(self.filler) - size)
        return self.filler[start : start + size]

    def _insert(
        self, rows: dict[str, list[dict[str, Any]]], written: Counter[str]
    ) -> None:
        # Parents first: the foreign keys are checked on SQLite.
        order = (
            "cases",
            "case_terms",
            "case_counter",
            "events",
            "assignments",
            "outbox",
            "inbound",
        )
        written_by_us = [Case, CaseCounter, Event, Assignment, Outbox, Inbound]
        if CASE_TERM is not None:
            written_by_us.append(CASE_TERM)
        tables = {m.__tablename__: m for m in written_by_us}
        with self.engine.begin() as connection:
            for name in order:
                if rows.get(name):
                    connection.execute(insert(tables[name]), rows[name])
                    written[name] += len(rows[name])

    def _fix_sequences(self) -> None:
        """Move PostgreSQL's id sequences past the ids written by hand."""
        if self.engine.dialect.name != "postgresql":
            return
        with self.engine.begin() as connection:
            for table in self.ids:
                connection.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT max(id) FROM {table}))"
                    )
                )
