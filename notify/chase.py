"""催办 and 督办: which unit is late or nearly late with which of its own cases.

办法 四 1: late items are chased and, past a limit, supervised by the
leading group. Pure queries returning dataclasses.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from notify.digest import AWAITING_UNIT, CaseLine, case_line
from store.models import Case
from suqiu import clock

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class UnitChase:
    """One unit's own cases that are late or due soon: its chase mail."""

    unit: str
    overdue: tuple[CaseLine, ...]  # most late first
    due_soon: tuple[CaseLine, ...]  # soonest first


@dataclass(frozen=True)
class Supervision:
    """The 督办 list: cases more than ``after_days`` days late."""

    after_days: int
    lines: tuple[CaseLine, ...]  # by unit, most late first within a unit

    def by_unit(self) -> list[tuple[str, list[CaseLine]]]:
        groups: dict[str, list[CaseLine]] = {}
        for line in self.lines:
            groups.setdefault(line.unit or "（未定单位）", []).append(line)
        return sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))


def gather(
    session: Session,
    *,
    now: datetime,
    soon_days: int,
    supervise_after_days: int,
) -> tuple[list[UnitChase], Supervision]:
    """Return each unit's chase and the 督办 list, as of *now*."""
    today = clock.local(now).date()
    found = session.scalars(
        select(Case)
        .where(
            Case.status.in_(AWAITING_UNIT),
            Case.due_at.is_not(None),
            Case.due_at < now + timedelta(days=soon_days),
        )
        .order_by(Case.unit, Case.due_at, Case.id)
    ).all()

    overdue: dict[str, list[CaseLine]] = {}
    soon: dict[str, list[CaseLine]] = {}
    for case in found:
        if case.unit is None:
            log.warning("case %s awaits a unit but has none", case.number)
            continue
        assert case.due_at is not None
        target = overdue if case.due_at < now else soon
        target.setdefault(case.unit, []).append(case_line(case, today))

    chases = [
        UnitChase(
            unit=unit,
            overdue=tuple(overdue.get(unit, ())),
            due_soon=tuple(soon.get(unit, ())),
        )
        for unit in sorted({*overdue, *soon})
    ]
    supervised = [
        line
        for unit in sorted(overdue)
        for line in overdue[unit]
        if line.days_late > supervise_after_days
    ]
    return chases, Supervision(supervise_after_days, tuple(supervised))
