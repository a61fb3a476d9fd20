"""Each step a new appeal costs, timed alone in this process: no servers, no
database. Quick to rerun after a change to one of them.

``python -m bench.components [-n 1000]`` prints milliseconds per call.
"""

import argparse
import datetime as dt
import gc
import hashlib
import logging
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from bench import harness
from bench.generate import MailFactory
from ingest.identity import identity
from ingest.mail import ParsedMail
from ingest.parse import extract_attachment, parse_mail
from ingest.signals import auto_reply_reason, bounce_info, spam_reason
from ingest.statements import extract_statements
from notify.compose import Attachment, build
from notify.forms import HandlingForm, handling_form_docx
from notify.render import Rendered, render_mail
from routing.crisis import crisis_signs
from routing.decide import route
from routing.rules import load_rules
from routing.similar import similar_to, topic_terms
from suqiu import clock

SENDER = "学生工作处 <gxgcxgc2017@163.com>"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@dataclass(frozen=True)
class Step:
    """One step: a name and a function of the i-th mail."""

    name: str
    run: Callable[[int], object]
    calls: int = 0  # how many times; 0 means once per mail


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", "--count", type=int, default=1000, help="mails")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument(
        "--window",
        type=int,
        default=2000,
        help="cases the similar-case scan compares against (a week's worth)",
    )
    args = parser.parse_args(argv)
    logging.getLogger("mailparser").setLevel(logging.CRITICAL)
    clock.use_zone(ZoneInfo("Asia/Shanghai"))

    print(f"components: {args.count} generated appeals, each step alone")
    print(harness.revision())
    print(f"machine at start: {harness.machine()}")
    mails = [
        m for m in MailFactory(args.seed).mails(args.count * 2) if m.kind == "appeal"
    ]
    mails = mails[: args.count]
    raws = [m.raw for m in mails]

    started = time.perf_counter()
    rules = load_rules(None)
    route("预热", "食堂", rules)  # loads jieba's dictionary
    warmup = time.perf_counter() - started

    parsed = [parse_mail(raw) for raw in raws]
    terms = [topic_terms(p.subject, p.text) for p in parsed]
    window = [terms[i % len(terms)] for i in range(args.window)]
    with_files = [(i, a.index) for i, p in enumerate(parsed) for a in p.attachments[:1]]
    steps = _steps(raws, parsed, terms, window, with_files, rules)

    rows = [harness.Row("once: rules and jieba dictionary", f"{warmup * 1000:.0f} ms")]
    for step in steps:
        calls = step.calls or len(raws)
        per_call = _time(step.run, calls)
        rows.append(
            harness.Row(step.name, f"{per_call * 1000:.3f} ms", ratio=f"{calls} calls")
        )
    print()
    print(harness.table(rows, head=("step", "per call", "", "calls", "", "")))
    print(f"machine at end: {harness.machine()}")


def _steps(
    raws: Sequence[bytes],
    parsed: Sequence[ParsedMail],
    terms: Sequence[frozenset[str]],
    window: Sequence[frozenset[str]],
    with_files: Sequence[tuple[int, int]],
    rules: Any,
) -> list[Step]:
    today = dt.date(2026, 12, 3)
    forms = [
        HandlingForm(
            number=f"SQ2026-{i + 1:04d}",
            subject=p.subject,
            date=today,
            student_class="土木2301班",
            student_name="韦同学",
            summary=p.text[:3000],
            office_opinion="请于2026年12月10日前将办理结果反馈至学生工作处。",
            unit="后勤管理中心",
            due=today + dt.timedelta(days=7),
        )
        for i, p in enumerate(parsed)
    ]
    docx = handling_form_docx(forms[0])

    def ack(i: int) -> Rendered:
        return render_mail(
            "student_ack",
            case=_Case(i),
            crisis=False,
            counselling_phones="0776-5825962",
            dispatcher_step="学生工作处将把您的诉求交由相关责任单位办理。",
            deadline_days=7,
        )

    rendered = ack(0)

    def mime_ack(i: int) -> object:
        return build(
            rendered,
            sender=SENDER,
            to=["s@qq.com"],
            kind="ack",
            case_number="SQ2026-0001",
        )

    def mime_form(i: int) -> object:
        return build(
            rendered,
            sender=SENDER,
            to=["hqzx@gxgc.edu.cn"],
            kind="form",
            case_number="SQ2026-0001",
            attachments=[Attachment("学生诉求办理单SQ2026-0001.docx", DOCX, docx)],
        )

    return [
        Step("parse (ingest.parse.parse_mail)", lambda i: parse_mail(raws[i])),
        Step(
            "identity + sha256 of raw",
            lambda i: (
                identity(parsed[i], raws[i]),
                hashlib.sha256(raws[i]).hexdigest(),
            ),
        ),
        Step(
            "signals: bounce, auto-reply, spam",
            lambda i: (
                bounce_info(parsed[i]),
                auto_reply_reason(parsed[i]),
                spam_reason(parsed[i]),
            ),
        ),
        Step("student statements", lambda i: extract_statements(parsed[i].text, None)),
        Step(
            "topic terms (jieba cut)",
            lambda i: topic_terms(parsed[i].subject, parsed[i].text),
        ),
        Step(
            "routing rules (jieba cut_for_search)",
            lambda i: route(parsed[i].subject, parsed[i].text, rules),
        ),
        Step(
            "crisis words",
            lambda i: crisis_signs(f"{parsed[i].subject}\n{parsed[i].text}"),
        ),
        Step(
            f"similar-case compare against {len(window)} cases",
            lambda i: similar_to(terms[i], window),
        ),
        Step("template: student_ack (Jinja2)", ack),
        Step("MIME build: ack (text + HTML)", mime_ack),
        Step("办理单 .docx (python-docx)", lambda i: handling_form_docx(forms[i])),
        Step("MIME build: form with the .docx", mime_form),
        Step(
            "re-parse to extract an attachment",
            lambda i: extract_attachment(raws[with_files[i][0]], with_files[i][1]),
            calls=len(with_files),
        ),
    ]


class _Case:
    """What the acknowledgement template reads of a case."""

    def __init__(self, index: int) -> None:
        self.number = f"SQ2026-{index + 1:04d}"
        self.subject = "食堂饭菜涨价问题"
        self.received_at = dt.datetime(2026, 12, 3, 10, tzinfo=dt.UTC)
        self.channel = "学生工作处邮箱"
        self.dispatcher = "学生工作处"
        self.crisis = False
        self.confidential = False
        self.student_name = "韦同学"
        self.unit = "后勤管理中心"
        self.due_at = None


def _time(run: Callable[[int], object], calls: int) -> float:
    gc.collect()
    started = time.perf_counter()
    for i in range(calls):
        run(i)
    return (time.perf_counter() - started) / max(calls, 1)


if __name__ == "__main__":
    main(sys.argv[1:])
