"""Case numbers (编号): SQ2026-0001, one sequence per year, never reused.

The counter row is bumped with UPDATE … RETURNING, so two processes that open
cases at the same moment are serialised by the database and never share a
number; the unique index on ``cases.number`` is the final guard.
"""

import re

from sqlalchemy import bindparam, insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store.models import CaseCounter

PREFIX = "SQ"

# Students retype numbers by hand: accept a space, a full-width or long dash,
# and lower case, but insist on the prefix so that dates never match. The
# ends are digit tests, not \b: CJK characters count as word characters, so
# "关于SQ2026-0001的补充" has no word boundary after the number.
NUMBER_PATTERN = re.compile(
    r"(?<![A-Za-z0-9])[Ss][Qq]\s*(\d{4})\s*[-－—–]\s*(\d{4,6})(?!\d)"
)


def format_number(year: int, seq: int) -> str:
    """Return the printed number for the *seq*-th case of *year*."""
    return f"{PREFIX}{year}-{seq:04d}"


def find_numbers(text: str) -> list[str]:
    """Return every case number written in *text*, normalised, in order."""
    return [format_number(int(y), int(s)) for y, s in NUMBER_PATTERN.findall(text)]


# Built once: building and keying a statement costs ten times running it.
_BUMP = (
    update(CaseCounter)
    .where(CaseCounter.year == bindparam("of_year"))
    .values(last=CaseCounter.last + 1)
    .returning(CaseCounter.last)
)


def next_seq(session: Session, year: int) -> int:
    """Reserve and return the next sequence number of *year*."""
    # On the connection: no session holds counter rows, and the session's
    # synchronising of an UPDATE would cost time for every case.
    counter = session.connection()
    seq = counter.execute(_BUMP, {"of_year": year}).scalar_one_or_none()
    if seq is not None:
        return int(seq)

    # First case of the year. Another process may create the row at the same
    # moment: then our insert fails and the bump above works the second time.
    # Pending rows are written first, so that a failure of theirs is not
    # taken for that race.
    session.flush()
    try:
        with session.begin_nested():
            session.execute(insert(CaseCounter).values(year=year, last=1))
        return 1
    except IntegrityError:
        return int(counter.execute(_BUMP, {"of_year": year}).scalar_one())
