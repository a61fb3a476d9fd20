"""Lookups over stored inbound mail: by place, by identity, due for a retry."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, inspect, or_, select, update
from sqlalchemy.orm import Session

from store.models import Inbound, MailState


def at_location(session: Session, mailbox: str, location: str) -> Inbound | None:
    """Return the mail stored from *location* of *mailbox*, if any."""
    return session.scalars(
        select(Inbound).where(Inbound.mailbox == mailbox, Inbound.location == location)
    ).first()


def original(session: Session, identity: str) -> Inbound | None:
    """Return the first stored copy of the mail with *identity*, if any."""
    return session.scalars(
        select(Inbound).where(Inbound.original_identity == identity)
    ).first()


@dataclass
class Copies:
    """What is already stored of one fetched mail."""

    here: Inbound | None = None  # stored from this very place
    renumbered: Inbound | None = None  # from this mailbox, an older UIDVALIDITY
    original: Inbound | None = None  # the first copy of the mail, anywhere


class Known:
    """What is stored already of one batch of fetched mails, by place and by
    identity: read in one query, and kept current as the batch is stored."""

    def __init__(self, mailbox: str, rows: Sequence[Inbound]) -> None:
        self.mailbox = mailbox
        self._by_location: dict[str, list[Inbound]] = {}
        self._by_identity: dict[str, list[Inbound]] = {}
        for row in rows:
            self.add(row)

    def add(self, row: Inbound) -> None:
        """Count *row*, new or moved, from now on; rows come oldest first."""
        if not inspect(row).persistent:
            return  # its savepoint was rolled back: the database never kept it
        if row.mailbox == self.mailbox:
            _append_once(self._by_location.setdefault(row.location, []), row)
        _append_once(self._by_identity.setdefault(row.identity, []), row)

    def copies(self, location: str, identity: str) -> Copies:
        """Everything stored of the mail at *location* with *identity*."""
        found = Copies()
        uidvalidity = int(location.partition("/")[0])
        for row in self._by_location.get(location, ()):
            if row.mailbox == self.mailbox and row.location == location:
                found.here = row
        for row in self._by_identity.get(identity, ()):
            if row.identity != identity:
                continue
            if (
                found.renumbered is None
                and row.mailbox == self.mailbox
                and row.uidvalidity != uidvalidity
                and row is not found.here
            ):
                found.renumbered = row
            if row.original_identity == identity:
                found.original = row
        return found


def known(session: Session, mailbox: str, places: Sequence[tuple[str, str]]) -> Known:
    """What is stored of the mails at *places* (location, identity) of
    *mailbox*, in one query for the batch."""
    if not places:
        return Known(mailbox, [])
    locations = [location for location, _ in places]
    identities = list(dict.fromkeys(identity for _, identity in places))
    rows = session.scalars(
        select(Inbound)
        .where(
            or_(
                and_(Inbound.mailbox == mailbox, Inbound.location.in_(locations)),
                Inbound.identity.in_(identities),
            )
        )
        .order_by(Inbound.id)
    ).all()
    return Known(mailbox, rows)


def _append_once(rows: list[Inbound], row: Inbound) -> None:
    if not any(other is row for other in rows):
        rows.append(row)


def rehome_candidate(
    session: Session, mailbox: str, identity: str, uidvalidity: int
) -> Inbound | None:
    """Return a copy of *identity* stored from this mailbox under an older
    UIDVALIDITY: the same mail, renumbered by the server, not a new one."""
    return session.scalars(
        select(Inbound)
        .where(
            Inbound.mailbox == mailbox,
            Inbound.identity == identity,
            Inbound.uidvalidity != uidvalidity,
        )
        .order_by(Inbound.id)
        .limit(1)
    ).first()


def unmarked(session: Session, mailbox: str, uidvalidity: int, limit: int) -> list[int]:
    """UIDs of processed mails of *mailbox* never flagged on the server."""
    return list(
        session.scalars(
            select(Inbound.uid)
            .where(
                Inbound.mailbox == mailbox,
                Inbound.uidvalidity == uidvalidity,
                Inbound.state == MailState.DONE,
                Inbound.marked_at.is_(None),
                Inbound.uid.is_not(None),
            )
            .order_by(Inbound.uid)
            .limit(limit)
        )
    )


def due_retries(
    session: Session, mailbox: str, now: datetime, limit: int
) -> Sequence[Inbound]:
    """Return failed mails of *mailbox* whose next attempt is due, oldest first."""
    return session.scalars(
        select(Inbound)
        .where(
            Inbound.mailbox == mailbox,
            Inbound.state == MailState.FAILED,
            Inbound.next_attempt_at <= now,
        )
        .order_by(Inbound.next_attempt_at, Inbound.id)
        .limit(limit)
    ).all()


def adopt_duplicates(session: Session, original_id: int, case_id: int | None) -> None:
    """Point the copies of a mail at the case its original finally got."""
    session.execute(
        update(Inbound)
        .where(Inbound.duplicate_of == original_id)
        .values(case_id=case_id)
    )
