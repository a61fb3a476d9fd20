"""Keeping data: the raw bytes of old mail may be cleared, nothing else.

By default raw mail is kept for ever. With ``keep_raw_days`` set, the bytes
of a mail whose case closed (or, for a mail without a case, that was read)
more than that many days ago are cleared; the row, what was read from it,
its kind and its events stay. A cleared mail keeps its ``size``, so
``size > 0`` with empty ``raw`` means "purged".
"""

import logging
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.orm import Session

from store import cases
from store.db import rowcount
from store.models import Case, Inbound, MailState, RawMail

log = logging.getLogger(__name__)


def purgeable(now: datetime, keep_days: int) -> ColumnElement[bool]:
    """The condition a mail meets when its raw bytes may be cleared."""
    cutoff = now - timedelta(days=keep_days)
    closed = select(Case.id).where(Case.closed_at.is_not(None), Case.closed_at < cutoff)
    old = select(Inbound.id).where(
        Inbound.state == MailState.DONE,
        or_(
            Inbound.case_id.in_(closed),
            and_(Inbound.case_id.is_(None), Inbound.read_at < cutoff),
        ),
    )
    return and_(RawMail.inbound_id.in_(old), func.length(RawMail.data) > 0)


def count_purgeable(session: Session, now: datetime, keep_days: int) -> int:
    query = select(func.count()).select_from(RawMail).where(purgeable(now, keep_days))
    return int(session.execute(query).scalar_one())


def purge_raw(session: Session, now: datetime, keep_days: int) -> int:
    """Clear the raw bytes that the retention setting no longer keeps."""
    if keep_days <= 0:
        return 0
    result = session.execute(
        update(RawMail)
        .where(purgeable(now, keep_days))
        .values(data=b"")
        .execution_options(synchronize_session=False)
    )
    count = rowcount(result)
    if count:
        cases.record(
            session,
            None,
            "raw_purged",
            reason=f"按保存期限（{keep_days} 天）清除了 {count} 封旧邮件的原始内容",
        )
        log.info(
            "retention: raw bytes of %d mails cleared (older than %d days)",
            count,
            keep_days,
        )
    return count
