"""The topic words of cases, indexed, to find similar recent appeals fast."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from store.models import Case, CaseTerm

# Enough to find the similar ones among those sharing the most words; the
# rule needs only a handful of them.
CANDIDATES = 500


@dataclass(frozen=True)
class Neighbour:
    number: str
    terms: frozenset[str]
    major: bool


def index(
    session: Session, case: Case, terms: Iterable[str], appealed_at: datetime
) -> None:
    """Record *case*'s topic words for later lookups."""
    # Cut to the column's width first, then drop repeats: two long words
    # may share their first 100 characters.
    rows = [
        {"case_id": case.id, "term": term, "appealed_at": appealed_at}
        for term in dict.fromkeys(t[:100] for t in terms)
    ]
    if rows:
        # On the connection: the session's bulk path would add the ORM's
        # bookkeeping, every case, for rows that no session loads.
        session.connection().execute(insert(CaseTerm), rows)


def neighbours(
    session: Session,
    terms: Iterable[str],
    since: datetime,
    until: datetime,
    exclude: int,
) -> list[Neighbour]:
    """Cases appealed in [since, until] that share words with *terms*, the
    ones sharing the most first."""
    wanted = list(dict.fromkeys(t[:100] for t in terms))
    if not wanted:
        return []
    shared = (
        select(CaseTerm.case_id, func.count().label("shared"))
        .where(
            CaseTerm.term.in_(wanted),
            CaseTerm.appealed_at >= since,
            CaseTerm.appealed_at <= until,
            CaseTerm.case_id != exclude,
        )
        .group_by(CaseTerm.case_id)
        .order_by(func.count().desc())
        .limit(CANDIDATES)
        .subquery()
    )
    rows = session.execute(
        select(Case.number, Case.topic_terms, Case.major).join(
            shared, shared.c.case_id == Case.id
        )
    ).all()
    return [
        Neighbour(number, frozenset(stored or ()), major)
        for number, stored, major in rows
    ]
