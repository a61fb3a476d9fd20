"""Opening cases and changing their state, each change recorded as an event."""

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from store.models import Assignment, Case, CaseStatus, Event, Inbound
from store.numbers import format_number, next_seq
from suqiu import clock
from suqiu.errors import NoSuchCase, TransitionError

log = logging.getLogger(__name__)

SYSTEM = "system"

# Which state may follow which (DESIGN.md, "The process as states"). An
# assigned case may be assigned again: that is 转交 to another unit.
ALLOWED: dict[CaseStatus, frozenset[CaseStatus]] = {
    CaseStatus.RECEIVED: frozenset(
        {
            CaseStatus.ASSIGNED,
            CaseStatus.ESCALATED,
            CaseStatus.DECLINED,
            CaseStatus.CLOSED,
        }
    ),
    CaseStatus.ASSIGNED: frozenset(
        {
            CaseStatus.ASSIGNED,
            CaseStatus.ESCALATED,
            CaseStatus.REPLIED,
            CaseStatus.DECLINED,
            CaseStatus.CLOSED,
        }
    ),
    CaseStatus.ESCALATED: frozenset(
        {
            CaseStatus.ASSIGNED,
            CaseStatus.REPLIED,
            CaseStatus.DECLINED,
            CaseStatus.CLOSED,
        }
    ),
    CaseStatus.REPLIED: frozenset(
        {CaseStatus.ASSIGNED, CaseStatus.ESCALATED, CaseStatus.CLOSED}
    ),
    CaseStatus.CLOSED: frozenset(),
    CaseStatus.DECLINED: frozenset(),
}

STATUS_NAMES = {
    CaseStatus.RECEIVED: "已受理",
    CaseStatus.ASSIGNED: "已交办",
    CaseStatus.ESCALATED: "领导小组研判",
    CaseStatus.REPLIED: "已答复",
    CaseStatus.CLOSED: "已销号",
    CaseStatus.DECLINED: "不予受理",
}


@dataclass(frozen=True)
class StudentFacts:
    """Who the student is, as far as the mail (or the roster) tells."""

    name: str | None = None
    class_name: str | None = None
    student_id: str | None = None
    email: str | None = None
    phone: str | None = None
    counselor: str | None = None
    counselor_email: str | None = None


def open_case(
    session: Session,
    *,
    channel: str,
    dispatcher: str,
    subject: str,
    student: StudentFacts,
    received_at: datetime,
    actor: str = SYSTEM,
    reason: str | None = None,
    mail: Inbound | None = None,
) -> Case:
    """Create a case in state received (受理) under a fresh number.

    *mail*, the appeal it came in, is linked to the case and written with it.
    """
    year = clock.local(received_at).year
    seq = next_seq(session, year)
    case = Case(
        number=format_number(year, seq),
        year=year,
        seq=seq,
        status=CaseStatus.RECEIVED,
        channel=channel,
        dispatcher=dispatcher,
        subject=subject,
        student_name=student.name,
        student_class=student.class_name,
        student_id=student.student_id,
        student_email=student.email,
        student_phone=student.phone,
        student_counselor=student.counselor,
        counselor_email=student.counselor_email,
        confidential=False,
        major=False,
        crisis=False,
        public=False,
        received_at=received_at,
        updated_at=clock.now(),
        topic_terms=[],
    )
    session.add(case)
    if mail is not None:
        # One flush writes both, the mail already pointing at its case.
        mail.case = case
    session.flush()
    if mail is not None:
        reason = reason or f"来信 #{mail.id}（{mail.mailbox}）"
    record(
        session,
        case,
        "received",
        actor=actor,
        reason=reason or f"经{channel}受理",
        to_status=CaseStatus.RECEIVED,
    )
    log.info("case %s opened from %s", case.number, channel)
    return case


def change_status(
    session: Session,
    case: Case,
    to_status: CaseStatus,
    *,
    action: str,
    actor: str,
    reason: str | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    """Move *case* to *to_status* if the rules allow it, and record why."""
    current = CaseStatus(case.status)
    if to_status not in ALLOWED[current]:
        raise TransitionError(
            f"诉求 {case.number} 当前状态为“{STATUS_NAMES[current]}”，"
            f"不能改为“{STATUS_NAMES[to_status]}”。"
        )

    moment = clock.now()
    case.status = to_status
    case.updated_at = moment
    if to_status in (CaseStatus.CLOSED, CaseStatus.DECLINED):
        case.closed_at = moment
    record(
        session,
        case,
        action,
        actor=actor,
        reason=reason,
        data=data,
        from_status=current,
        to_status=to_status,
    )
    log.info(
        "case %s %s -> %s (%s) by %s", case.number, current, to_status, action, actor
    )


def record(
    session: Session,
    case: Case | None,
    action: str,
    *,
    actor: str = SYSTEM,
    reason: str | None = None,
    data: dict[str, Any] | None = None,
    from_status: str | None = None,
    to_status: str | None = None,
) -> None:
    """Append one event to the audit trail (of *case*, or of no case)."""
    if case is not None and case.id is None:
        session.flush()  # a case still pending gets its id first
    values = {
        "case_id": case.id if case is not None else None,
        "at": clock.now(),
        "actor": actor,
        "action": action,
        "from_status": from_status,
        "to_status": to_status,
        "reason": reason,
        "data": data,
    }
    # Written at once, on the connection: nothing reads an event back in
    # the session that wrote it, and as ORM objects each cost the flush an
    # INSERT … RETURNING of its own (SQLite cannot return ids for many).
    session.connection().execute(_INSERT_EVENT, values)


_INSERT_EVENT = insert(Event)


def record_assignment(
    session: Session,
    case: Case,
    *,
    unit: str,
    rule: str | None,
    score: float | None,
    explanation: str | None,
    decided_by: str,
    at: datetime,
) -> None:
    """Record that *case* is now *unit*'s (交办), under the case's deadline."""
    if case.id is None:
        session.flush()  # a case still pending gets its id first
    # Written at once, on the connection, as events are: the case's loaded
    # assignments, if any, are ended by the caller before this one is added.
    session.connection().execute(
        _INSERT_ASSIGNMENT,
        {
            "case_id": case.id,
            "unit": unit,
            "category": case.category,
            "rule": rule,
            "score": score,
            "explanation": explanation,
            "decided_by": decided_by,
            "at": at,
            "due_at": case.due_at,
            "active": True,
        },
    )


_INSERT_ASSIGNMENT = insert(Assignment)


def get_case(session: Session, number: str) -> Case:
    """Return the case numbered *number*, or raise NoSuchCase."""
    case = session.scalars(select(Case).where(Case.number == number.upper())).first()
    if case is None:
        raise NoSuchCase(f"没有编号为 {number} 的诉求。")
    return case
