"""Outbox rows: queue a rendered mail, claim it for sending, record the result.

A row is claimed with a conditional UPDATE (state queued → sending) that only
one process can win, so a row is handed to SMTP at most once.
"""

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from store import owners
from store.db import rowcount
from store.models import Case, Outbox, OutboxState
from suqiu import clock

log = logging.getLogger(__name__)


def add(
    session: Session,
    *,
    case: Case | None,
    kind: str,
    message_id: str,
    sender: str,
    recipients: Sequence[str],
    subject: str,
    text: str,
    raw: bytes,
    attachments: Sequence[str] = (),
) -> int:
    """Queue one rendered mail for delivery as soon as possible; its row's id."""
    moment = clock.now()
    # Written at once, on the connection, in the same transaction: nothing
    # reads the row back as an object in the session that queues it, and as
    # an ORM object it cost the flush its bookkeeping, a mail at a time.
    queued = session.connection().execute(
        _INSERT_ROW,
        {
            "case_id": case.id if case is not None else None,
            "kind": kind,
            "message_id": message_id,
            "sender": sender,
            "recipients": list(recipients),
            "subject": subject,
            "text": text,
            "attachments": list(attachments),
            "raw": raw,
            "created_at": moment,
            "state": OutboxState.QUEUED,
            "attempts": 0,
            "next_attempt_at": moment,
        },
    )
    log.info(
        "queued %s mail %s to %s (case %s)",
        kind,
        message_id,
        ", ".join(recipients),
        case.number if case is not None else "-",
    )
    return int(queued.scalar_one())


_INSERT_ROW = insert(Outbox).returning(Outbox.id)


def due_ids(session: Session, now: datetime, limit: int) -> list[int]:
    """Return ids of queued rows whose next attempt is due, oldest first."""
    query = (
        select(Outbox.id)
        .where(Outbox.state == OutboxState.QUEUED, Outbox.next_attempt_at <= now)
        .order_by(Outbox.next_attempt_at, Outbox.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def claim(session: Session, row_id: int, owner: str) -> bool:
    """Take row *row_id* for sending; False when someone else has it."""
    claimed = session.execute(
        update(Outbox)
        .where(Outbox.id == row_id, Outbox.state == OutboxState.QUEUED)
        .values(state=OutboxState.SENDING, claimed_by=owner, claimed_at=clock.now())
    )
    return rowcount(claimed) == 1


def mark_sent(row: Outbox) -> None:
    row.state = OutboxState.SENT
    row.sent_at = clock.now()
    row.attempts += 1
    row.last_error = None


def mark_retry(row: Outbox, error: str, delay: timedelta) -> None:
    row.state = OutboxState.QUEUED
    row.attempts += 1
    row.last_error = error
    row.next_attempt_at = clock.now() + delay
    row.claimed_by = None


def hand_back(row: Outbox, error: str, delay: timedelta) -> None:
    """Requeue a claimed row that was never tried; its retries stay unspent."""
    row.state = OutboxState.QUEUED
    row.last_error = error
    row.next_attempt_at = clock.now() + delay
    row.claimed_by = None


def mark_failed(row: Outbox, error: str) -> None:
    row.state = OutboxState.FAILED
    row.attempts += 1
    row.last_error = error
    row.next_attempt_at = None


def release_stale(session: Session, owner: str, older_than: timedelta) -> list[Outbox]:
    """Mark rows left in sending by a dead sender as uncertain; return them.

    Whether the server accepted such a mail is unknown: sending it again
    could deliver it twice, so staff decide (``suqiu send --retry-uncertain``).
    """
    cutoff = clock.now() - older_than
    claimed = session.scalars(
        select(Outbox).where(
            Outbox.state == OutboxState.SENDING, Outbox.claimed_by != owner
        )
    ).all()
    rows = [
        row
        for row in claimed
        if owners.is_dead(row.claimed_by)
        or (row.claimed_at is not None and row.claimed_at < cutoff)
    ]
    for row in rows:
        row.state = OutboxState.UNCERTAIN
        row.last_error = (
            f"发送进程 {row.claimed_by} 在发送过程中中断，无法确定邮件是否已送出"
        )
        log.warning(
            "outbox row %s (%s) left in sending by %s: marked uncertain",
            row.id,
            row.message_id,
            row.claimed_by,
        )
    return list(rows)


def requeue_uncertain(session: Session) -> int:
    """Put every uncertain row back in the queue (staff accepted the risk)."""
    result = session.execute(
        update(Outbox)
        .where(Outbox.state == OutboxState.UNCERTAIN)
        .values(state=OutboxState.QUEUED, next_attempt_at=clock.now())
    )
    return rowcount(result)


def counts(session: Session) -> dict[str, int]:
    """Return the number of outbox rows in each state."""
    query = select(Outbox.state, func.count()).group_by(Outbox.state)
    return {state: number for state, number in session.execute(query).tuples()}


# Built once: asked for every appeal, and building and keying a statement
# costs more than running it.
_ACKS_SINCE = (
    select(func.count())
    .select_from(Outbox)
    .join(Case, Outbox.case_id == Case.id)
    .where(
        Case.student_email == bindparam("address"),
        Outbox.kind == "ack",
        Outbox.created_at >= bindparam("since"),
    )
)


def acks_to_student_since(session: Session, address: str, since: datetime) -> int:
    """Count acknowledgements queued for cases of student *address* since *since*."""
    found = session.execute(_ACKS_SINCE, {"address": address, "since": since})
    return int(found.scalar_one())
