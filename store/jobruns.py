"""When each scheduled job last ran (JobRun), and claiming a day's run.

A claim is taken in the transaction that queues the job's mail, so the
service, a restart and `suqiu digest` never send one day's mail twice.
"""

import logging
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store.models import JobRun
from suqiu import clock

log = logging.getLogger(__name__)


@dataclass
class Claim:
    """A job's run, taken: the row to note the outcome on, the previous run."""

    row: JobRun
    previous: datetime | None  # when it last ran before this claim

    def note(self, detail: str) -> None:
        self.row.detail = detail


def last_runs(session: Session) -> dict[str, datetime]:
    """Every job's last run, by name."""
    rows = session.execute(select(JobRun.name, JobRun.last_run_at))
    return dict(rows.all())


def last_run(session: Session, name: str) -> JobRun | None:
    return session.get(JobRun, name)


def ran_on(session: Session, name: str, day: date) -> bool:
    """Whether *name* ran on *day* (college time) or later."""
    row = session.get(JobRun, name)
    return row is not None and clock.local(row.last_run_at).date() >= day


def claim(
    session: Session, name: str, *, day: date, now: datetime, force: bool = False
) -> Claim | None:
    """Take *name*'s run for *day*; None when it already ran that day or later.

    *force* takes it all the same (a second digest asked for by hand).
    """
    row = session.get(JobRun, name, with_for_update=True)
    if row is None:
        try:
            # A savepoint: a service and a command claiming the very first
            # run at once must not lose the surrounding transaction.
            with session.begin_nested():
                row = JobRun(name=name, last_run_at=now, detail=None)
                session.add(row)
        except IntegrityError:
            row = session.get(
                JobRun, name, with_for_update=True, populate_existing=True
            )
            if row is None:
                raise
        else:
            log.info("job %s claimed %s (first run)", name, day)
            return Claim(row, None)

    if not force and clock.local(row.last_run_at).date() >= day:
        return None
    previous = row.last_run_at
    row.last_run_at = now
    log.info("job %s claimed %s (last run %s)", name, day, previous.isoformat())
    return Claim(row, previous)
