"""The daily digest's facts: what needs 学生工作处 this morning, read from the store.

Pure queries returning dataclasses; rendering and sending live elsewhere.
"""

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from store.models import (
    OPEN_STATUSES,
    Case,
    CaseStatus,
    Event,
    Inbound,
    MailState,
    Outbox,
    OutboxState,
)
from suqiu import clock

log = logging.getLogger(__name__)

# A digest read on a phone stays short: each list shows this many cases and
# says how many more there are (`suqiu cases` lists them all).
LIST_LIMIT = 50
# Without a previous digest, "new" means the last day.
FIRST_WINDOW = timedelta(days=1)
# A case waits for its unit's answer only in these states; a replied case
# waits for the student, an escalated one for the leading group.
AWAITING_UNIT = (CaseStatus.ASSIGNED,)


@dataclass(frozen=True)
class CaseLine:
    """One case as a digest or a chase mail lists it."""

    number: str
    subject: str
    channel: str
    category: str | None
    unit: str | None
    status: str
    received_at: datetime
    assigned_at: datetime | None
    due_at: datetime | None
    replied_at: datetime | None
    major: bool
    crisis: bool
    confidential: bool
    days_late: int  # whole days past the deadline's day; 0 when not late
    days_left: int | None  # days until the deadline's day; None without one
    note: str | None = None  # why it waits: the triage or escalation reason


@dataclass(frozen=True)
class Section:
    """A list in the digest: the first cases and how many there are in all."""

    total: int
    lines: tuple[CaseLine, ...]

    @property
    def more(self) -> int:
        return self.total - len(self.lines)


@dataclass(frozen=True)
class UnitLate:
    """How late one unit is: its overdue cases and the worst of them."""

    unit: str
    count: int
    most_days_late: int


@dataclass(frozen=True)
class MailProblem:
    """A mail that needs a person: failed processing, bounced, or unsent."""

    kind: str  # 处理失败 | 退信 | 待人工处理 | 发送失败 | 发送状态不明
    at: datetime | None
    ref: str  # "来信 #12" or "发件 #34", what `suqiu messages`/`show` call it
    party: str  # who wrote it, or to whom it went
    subject: str
    detail: str
    case_number: str | None


@dataclass(frozen=True)
class Counts:
    """What happened since the previous digest, and what is open now."""

    received: int
    assigned: int
    answered: int
    closed: int
    declined: int
    escalated: int
    open_by_status: dict[str, int]

    @property
    def open_total(self) -> int:
        return sum(self.open_by_status.values())


@dataclass(frozen=True)
class Digest:
    """Everything one digest mail says, as of ``now``."""

    day: date
    now: datetime
    since: datetime
    channel: str | None  # None: the whole office's digest
    soon_days: int
    new: Section
    triage: Section
    due_soon: Section
    overdue: Section
    overdue_units: tuple[UnitLate, ...]
    escalated: Section
    awaiting_rating: Section
    mail_problems: tuple[MailProblem, ...]
    counts: Counts

    @property
    def overdue_by_unit(self) -> list[tuple[str, list[CaseLine]]]:
        """The listed overdue cases grouped by unit, latest unit first."""
        groups: dict[str, list[CaseLine]] = {}
        for line in self.overdue.lines:
            groups.setdefault(line.unit or "（未定单位）", []).append(line)
        return sorted(groups.items(), key=lambda item: (-item[1][0].days_late, item[0]))

    @property
    def is_empty(self) -> bool:
        """True when there is nothing at all to tell."""
        sections = (
            self.new,
            self.triage,
            self.due_soon,
            self.overdue,
            self.escalated,
            self.awaiting_rating,
        )
        return not self.mail_problems and all(s.total == 0 for s in sections)


def gather(
    session: Session,
    *,
    now: datetime,
    since: datetime | None,
    soon_days: int,
    channel: str | None = None,
) -> Digest:
    """Read the digest's facts as of *now*; *since* is the previous digest."""
    since = since if since is not None else now - FIRST_WINDOW
    today = clock.local(now).date()
    soon_until = now + timedelta(days=soon_days)
    scope = [Case.channel == channel] if channel is not None else []

    new = _section(
        session,
        [*scope, Case.received_at > since, Case.received_at <= now],
        Case.received_at,
        today,
    )
    triage = _section(
        session,
        [*scope, Case.status == CaseStatus.RECEIVED],
        Case.received_at,
        today,
        notes="triage",
    )
    due_soon = _section(
        session,
        [*scope, *_awaiting_unit(), Case.due_at >= now, Case.due_at < soon_until],
        Case.due_at,
        today,
    )
    overdue_filter = [*scope, *_awaiting_unit(), Case.due_at < now]
    overdue = _section(session, overdue_filter, Case.due_at, today)
    escalated = _section(
        session,
        [*scope, Case.status == CaseStatus.ESCALATED],
        Case.received_at,
        today,
        notes="escalate",
    )
    awaiting_rating = _section(
        session,
        [*scope, Case.status == CaseStatus.REPLIED],
        Case.replied_at,
        today,
    )

    return Digest(
        day=today,
        now=now,
        since=since,
        channel=channel,
        soon_days=soon_days,
        new=new,
        triage=triage,
        due_soon=due_soon,
        overdue=overdue,
        overdue_units=_units_late(session, overdue_filter, today),
        escalated=escalated,
        awaiting_rating=awaiting_rating,
        mail_problems=()
        if channel is not None
        else tuple(_mail_problems(session, since, now)),
        counts=_counts(session, scope, since, now),
    )


def case_line(case: Case, today: date, note: str | None = None) -> CaseLine:
    """Describe *case* for a list, counting lateness in the college's days."""
    days_late = 0
    days_left = None
    if case.due_at is not None:
        due_day = clock.local(case.due_at).date()
        days_left = (due_day - today).days
        days_late = max(0, -days_left)
    return CaseLine(
        number=case.number,
        subject=case.subject,
        channel=case.channel,
        category=case.category,
        unit=case.unit,
        status=case.status,
        received_at=case.received_at,
        assigned_at=case.assigned_at,
        due_at=case.due_at,
        replied_at=case.replied_at,
        major=case.major,
        crisis=case.crisis,
        confidential=case.confidential,
        days_late=days_late,
        days_left=days_left,
        note=note,
    )


def _awaiting_unit() -> list[ColumnElement[bool]]:
    return [Case.status.in_(AWAITING_UNIT), Case.due_at.is_not(None)]


def _section(
    session: Session,
    where: Sequence[ColumnElement[bool]],
    order: Any,
    today: date,
    *,
    notes: str | None = None,
    limit: int = LIST_LIMIT,
) -> Section:
    """Count the cases matching *where*, and list the first *limit* of them,
    each with the reason of its latest event of action *notes*."""
    total = session.scalar(select(func.count(Case.id)).where(*where)) or 0
    if total == 0:
        return Section(0, ())
    found = session.scalars(
        select(Case).where(*where).order_by(order, Case.id).limit(limit)
    ).all()
    reasons: dict[int, str | None] = {}
    if notes is not None and found:
        reasons = _latest_reasons(session, notes, [case.id for case in found])
    return Section(total, tuple(case_line(c, today, reasons.get(c.id)) for c in found))


def _latest_reasons(
    session: Session, action: str, case_ids: Sequence[int]
) -> dict[int, str | None]:
    """The reason of each case's latest event of *action*, by case id."""
    latest = (
        select(func.max(Event.id))
        .where(Event.action == action, Event.case_id.in_(case_ids))
        .group_by(Event.case_id)
        .scalar_subquery()
    )
    rows = session.execute(
        select(Event.case_id, Event.reason).where(Event.id.in_(latest))
    )
    return {case_id: reason for case_id, reason in rows if case_id is not None}


def _units_late(
    session: Session, where: Sequence[ColumnElement[bool]], today: date
) -> tuple[UnitLate, ...]:
    """Every unit with overdue cases: how many, and the worst lateness."""
    rows = session.execute(
        select(Case.unit, func.count(Case.id), func.min(Case.due_at))
        .where(*where)
        .group_by(Case.unit)
    )
    units = [
        UnitLate(
            unit=unit or "（未定单位）",
            count=count,
            most_days_late=(today - clock.local(earliest).date()).days,
        )
        for unit, count, earliest in rows
        if earliest is not None
    ]
    return tuple(sorted(units, key=lambda u: (-u.most_days_late, -u.count, u.unit)))


def _counts(
    session: Session,
    scope: Sequence[ColumnElement[bool]],
    since: datetime,
    now: datetime,
) -> Counts:
    """Changes of state between the two digests, and the open cases by state."""
    changes = select(Event.to_status, func.count(Event.id)).where(
        Event.at > since, Event.at <= now, Event.to_status.is_not(None)
    )
    if scope:
        changes = changes.join(Case, Case.id == Event.case_id).where(*scope)
    changed = dict(session.execute(changes.group_by(Event.to_status)).all())
    open_by_status = dict(
        session.execute(
            select(Case.status, func.count(Case.id))
            .where(*scope, Case.status.in_(OPEN_STATUSES))
            .group_by(Case.status)
        ).all()
    )
    return Counts(
        received=changed.get(CaseStatus.RECEIVED, 0),
        assigned=changed.get(CaseStatus.ASSIGNED, 0),
        answered=changed.get(CaseStatus.REPLIED, 0),
        closed=changed.get(CaseStatus.CLOSED, 0),
        declined=changed.get(CaseStatus.DECLINED, 0),
        escalated=changed.get(CaseStatus.ESCALATED, 0),
        open_by_status={s: open_by_status.get(s, 0) for s in OPEN_STATUSES},
    )


def _mail_problems(
    session: Session, since: datetime, now: datetime
) -> Iterable[MailProblem]:
    """Mail that needs a person: still failing; bounced, held for staff or
    refused since *since*; and any whose delivery is uncertain."""
    failed = session.scalars(
        select(Inbound)
        .where(Inbound.state == MailState.FAILED)
        .order_by(Inbound.id)
        .limit(LIST_LIMIT)
    )
    for mail in failed:
        yield MailProblem(
            kind="处理失败",
            at=mail.read_at,
            ref=f"来信 #{mail.id}",
            party=mail.from_addr or "未知发件人",
            subject=mail.subject,
            detail=_first_line(mail.error or ""),
            case_number=None,
        )

    bounces = session.execute(
        select(Inbound, Outbox)
        .outerjoin(Outbox, Outbox.id == Inbound.outbox_id)
        .where(Inbound.kind == "bounce", Inbound.read_at > since)
        .where(Inbound.read_at <= now)
        .order_by(Inbound.id)
        .limit(LIST_LIMIT)
    )
    for mail, bounced in bounces:
        yield MailProblem(
            kind="退信",
            at=mail.read_at,
            ref=f"来信 #{mail.id}",
            party="、".join(bounced.recipients) if bounced else "（未能确定）",
            subject=bounced.subject if bounced else mail.subject,
            detail=_first_line(mail.reason or ""),
            case_number=mail.case.number if mail.case is not None else None,
        )

    # Kept for staff (a reply from an address not allowed to answer, a
    # unit's mail with no case number): nobody else will look at them.
    held = session.scalars(
        select(Inbound)
        .where(Inbound.kind == "unmatched", Inbound.read_at > since)
        .where(Inbound.read_at <= now)
        .order_by(Inbound.id)
        .limit(LIST_LIMIT)
    )
    for mail in held:
        yield MailProblem(
            kind="待人工处理",
            at=mail.read_at,
            ref=f"来信 #{mail.id}",
            party=mail.from_addr or "未知发件人",
            subject=mail.subject,
            detail=_first_line(mail.reason or ""),
            case_number=mail.case.number if mail.case is not None else None,
        )

    unsent = session.scalars(
        select(Outbox)
        .where(
            or_(
                and_(
                    Outbox.state == OutboxState.FAILED,
                    Outbox.claimed_at > since,
                ),
                Outbox.state == OutboxState.UNCERTAIN,
            )
        )
        .order_by(Outbox.id)
        .limit(LIST_LIMIT)
    )
    for row in unsent:
        uncertain = row.state == OutboxState.UNCERTAIN
        yield MailProblem(
            kind="发送状态不明" if uncertain else "发送失败",
            at=row.claimed_at,
            ref=f"发件 #{row.id}",
            party="、".join(row.recipients),
            subject=row.subject,
            detail=(
                "发送中断，无法确定是否已送达；确认后可用 "
                "suqiu send --retry-uncertain 重发"
                if uncertain
                else _first_line(row.last_error or "")
            ),
            case_number=row.case.number if row.case is not None else None,
        )


def _first_line(text: str, width: int = 120) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= width else line[: width - 1] + "…"
