"""The public page (定期公开): closed cases marked public, without personal data.

办法 三（三）2: non-confidential cases of general interest are published
periodically. Only subject, category, unit and answer appear, each scrubbed
of the names the case and the roster know, phones, 学号, e-mail addresses,
QQ and ID-card numbers.
"""

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from notify.render import render_page
from notify.reports import Period
from notify.scrub import scrub
from store.models import Case, CaseStatus, Inbound, Student
from suqiu import clock
from suqiu.errors import NotifyError

log = logging.getLogger(__name__)

PAGE_TEMPLATE = "pages/public_cases.html.j2"


@dataclass(frozen=True)
class PublicCase:
    """One published case: what a reader sees, nothing more."""

    subject: str
    category: str | None
    unit: str | None
    closed_on: date
    answer: str


@dataclass(frozen=True)
class Publication:
    """A period's page and what went into it."""

    period: Period
    cases: tuple[PublicCase, ...]
    unanswered: tuple[str, ...]  # numbers of public cases with no answer to show
    html: str


def gather(session: Session, period: Period) -> tuple[list[PublicCase], list[str]]:
    """The period's public cases (closed in it) and the numbers left out."""
    start, end = period.bounds()
    found = session.scalars(
        select(Case)
        .where(
            Case.status == CaseStatus.CLOSED,
            Case.public.is_(True),
            # A confidential case is never published, whatever its mark.
            Case.confidential.is_(False),
            Case.closed_at >= start,
            Case.closed_at < end,
        )
        .order_by(Case.closed_at, Case.id)
    ).all()
    if not found:
        return [], []

    answers = _answers(session, [case.id for case in found])
    roster = _roster_names(session)
    published: list[PublicCase] = []
    unanswered: list[str] = []
    for case in found:
        answer = answers.get(case.id)
        if not answer:
            # Closed by staff without a written answer: nothing to publish.
            unanswered.append(case.number)
            continue
        # TODO: a name neither the case nor the roster knows (a classmate
        # named in the text, a teacher without a roster entry) is not
        # recognised; staff should read the page before putting it online.
        names = [
            case.student_name,
            case.student_counselor,
            case.student_class,
            *roster,
        ]
        assert case.closed_at is not None
        published.append(
            PublicCase(
                subject=scrub(case.subject, names),
                category=case.category,
                unit=case.unit,
                closed_on=clock.local(case.closed_at).date(),
                answer=scrub(answer, names),
            )
        )
    return published, unanswered


def publish(session: Session, period: Period, *, now: datetime) -> Publication:
    """Gather and render the period's page."""
    cases, unanswered = gather(session, period)
    html = render_page(
        PAGE_TEMPLATE,
        period=period,
        cases=cases,
        generated_on=clock.local(now).date(),
    )
    log.info(
        "publication %s: %d cases, %d without an answer left out",
        period.key,
        len(cases),
        len(unanswered),
    )
    return Publication(period, tuple(cases), tuple(unanswered), html)


def write(publication: Publication, directory: Path) -> Path:
    """Write the page as DIRECTORY/<period>.html; return its path."""
    path = directory / f"{publication.period.key}.html"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        path.write_text(publication.html, encoding="utf-8")
    except OSError as exc:
        raise NotifyError(f"无法写入 {path}：{exc}") from exc
    return path


def _answers(session: Session, case_ids: Iterable[int]) -> dict[int, str]:
    """Each case's answers (the units' replies), oldest first, joined."""
    rows = session.execute(
        select(Inbound.case_id, Inbound.text)
        .where(Inbound.kind == "unit_reply", Inbound.case_id.in_(list(case_ids)))
        .order_by(Inbound.id)
    )
    answers: dict[int, list[str]] = {}
    for case_id, text in rows:
        if case_id is not None and text.strip():
            answers.setdefault(case_id, []).append(text.strip())
    return {case_id: "\n\n".join(texts) for case_id, texts in answers.items()}


def _roster_names(session: Session) -> list[str]:
    """Every student's and counselor's name the roster knows."""
    rows = session.execute(select(Student.name, Student.counselor))
    return sorted({name for row in rows for name in row if name})
