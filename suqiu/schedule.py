"""The timetable of `suqiu run`: which job runs when, with APScheduler.

A job missed while the service was down runs once after a restart, never
once per missed slot: at start each job's last run (JobRun) is compared
with its latest slot, and a missed one runs once at once; after that
APScheduler keeps time (coalesce, with a day's grace).
"""

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

from store import jobruns
from store.db import transaction
from suqiu import clock, routine
from suqiu.app import App

log = logging.getLogger(__name__)

GRACE_SECONDS = 24 * 3600
# How far back to look for a job's latest slot: more than a quarter.
LOOKBACK = timedelta(days=100)


@dataclass(frozen=True)
class Job:
    """A scheduled job; *name* is also its row in JobRun."""

    name: str
    trigger: CronTrigger
    run: Callable[[App, date], routine.Outcome]  # for a day, in college time


def jobs(app: App) -> list[Job]:
    """The scheduled jobs for this configuration."""
    zone = app.settings.timezone
    times = app.settings.reports

    def at(moment: time, **fields: str) -> CronTrigger:
        return CronTrigger(
            hour=moment.hour, minute=moment.minute, timezone=zone, **fields
        )

    return [
        # Digest and chase fire every day and send nothing on days off.
        Job(routine.DIGEST, at(times.digest_at), routine.send_digest),
        Job(routine.CHASE, at(times.chase_at), routine.send_chase),
        Job(routine.RATING_REMINDERS, at(time(9, 0)), routine.remind_ratings),
        Job(
            routine.MONTHLY_REPORT,
            at(times.report_at, day="1"),
            routine.send_monthly_report,
        ),
        Job(
            routine.QUARTERLY_REPORT,
            at(times.report_at, month="1,4,7,10", day="1"),
            routine.send_quarterly_report,
        ),
    ]


def latest_slot(trigger: CronTrigger, now: datetime) -> datetime | None:
    """The last time at or before *now* that *trigger* fires."""
    slot = None
    moment = trigger.get_next_fire_time(None, now - LOOKBACK)
    while moment is not None and moment <= now:
        slot = moment
        moment = trigger.get_next_fire_time(moment, moment + timedelta(seconds=1))
    return slot


def missed_runs(app: App, now: datetime) -> list[tuple[Job, datetime]]:
    """Jobs whose latest slot passed since their last run, with that slot.

    A job that never ran has missed nothing: a new installation does not
    send last month's report the moment it starts.
    """
    with transaction(app.sessions) as session:
        last = jobruns.last_runs(session)
    missed = []
    for job in jobs(app):
        slot = latest_slot(job.trigger, now)
        previous = last.get(job.name)
        if slot is not None and previous is not None and previous < slot:
            missed.append((job, slot))
    return missed


def start_scheduler(app: App, stopping: threading.Event) -> BackgroundScheduler:
    """Start every job of ``jobs(app)`` in a background scheduler, after
    running once each job that missed its latest slot."""
    scheduler = BackgroundScheduler(timezone=app.settings.timezone)
    for job in jobs(app):
        scheduler.add_job(
            _guarded(job, app),
            job.trigger,
            id=job.name,
            name=job.name,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=GRACE_SECONDS,
        )
    try:
        missed = missed_runs(app, clock.now())
    except Exception:  # the service must start even if this check fails
        log.exception("could not check for missed jobs")
        missed = []
    for job, slot in missed:
        log.info("job %s missed its run at %s: running it once now", job.name, slot)
        # No trigger: APScheduler runs it at once, in its own thread.
        scheduler.add_job(
            _guarded(job, app, clock.local(slot).date()),
            id=f"{job.name} (missed)",
            name=f"{job.name} (missed {slot:%Y-%m-%d %H:%M})",
            max_instances=1,
            misfire_grace_time=GRACE_SECONDS,
        )
    scheduler.start()
    for job in scheduler.get_jobs():
        log.info("scheduled %s, next at %s", job.name, job.next_run_time)
    return scheduler


def _guarded(job: Job, app: App, day: date | None = None) -> Callable[[], None]:
    """Run *job* for *day* (default: today when it fires), logging failures."""

    def run() -> None:
        try:
            log.info("job %s starting", job.name)
            outcome = job.run(app, day or routine.today())
            log.info("job %s done: %s", job.name, outcome.summary)
        except Exception:  # one failed run must not end the schedule
            log.exception("job %s failed", job.name)

    return run
