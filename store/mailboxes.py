"""Per-mailbox reading state (UIDVALIDITY, last UID) and the lease on it.

The lease is a conditional UPDATE, portable to SQLite and PostgreSQL: only
one service reads a mailbox at a time, and a crashed one's lease runs out.
"""

import logging
from datetime import timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store import owners
from store.db import rowcount
from store.models import MailboxState
from suqiu import clock

log = logging.getLogger(__name__)


def state_of(session: Session, name: str, folder: str) -> MailboxState:
    """Return the state row of mailbox *name*, creating it on first use."""
    state = session.scalars(
        select(MailboxState).where(MailboxState.name == name)
    ).first()
    if state is not None:
        return state
    try:
        with session.begin_nested():
            state = MailboxState(name=name, folder=folder, last_uid=0)
            session.add(state)
        return state
    except IntegrityError:
        return session.scalars(
            select(MailboxState).where(MailboxState.name == name)
        ).one()


def acquire(session: Session, name: str, owner: str, ttl: timedelta) -> bool:
    """Take or renew the lease on mailbox *name*; False if another holds it."""
    moment = clock.now()
    holder = session.scalars(
        select(MailboxState.lease_owner).where(MailboxState.name == name)
    ).first()
    free = or_(
        MailboxState.lease_owner.is_(None),
        MailboxState.lease_owner == owner,
        MailboxState.lease_until < moment,
    )
    if holder is not None and holder != owner and owners.is_dead(holder):
        log.warning("mailbox %s: lease of dead process %s taken over", name, holder)
        free = or_(free, MailboxState.lease_owner == holder)
    taken = session.execute(
        update(MailboxState)
        .where(MailboxState.name == name, free)
        .values(lease_owner=owner, lease_until=moment + ttl)
    )
    return rowcount(taken) == 1


def release(session: Session, name: str, owner: str) -> None:
    session.execute(
        update(MailboxState)
        .where(MailboxState.name == name, MailboxState.lease_owner == owner)
        .values(lease_owner=None, lease_until=None)
    )
