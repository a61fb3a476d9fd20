"""The timetable of `suqiu run`: which job runs when, with APScheduler.

A job missed while the service was down runs once after a restart
(coalesce, with a day's grace), never once per missed slot.
"""

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

from suqiu.app import App

log = logging.getLogger(__name__)

GRACE_SECONDS = 24 * 3600


@dataclass(frozen=True)
class Job:
    name: str
    trigger: CronTrigger
    run: Callable[[App], object]


def jobs(app: App) -> list[Job]:
    """The scheduled jobs for this configuration."""
    zone = app.settings.timezone
    return [
        Job(
            "rating reminders",
            CronTrigger(hour=9, minute=0, timezone=zone),
            lambda a: a.remind_ratings(),
        ),
    ]


def start_scheduler(app: App, stopping: threading.Event) -> BackgroundScheduler:
    """Start every job of ``jobs(app)`` in a background scheduler."""
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
    scheduler.start()
    for job in scheduler.get_jobs():
        log.info("scheduled %s, next at %s", job.name, job.next_run_time)
    return scheduler


def _guarded(job: Job, app: App) -> Callable[[], None]:
    def run() -> None:
        try:
            log.info("job %s starting", job.name)
            job.run(app)
        except Exception:  # one failed run must not end the schedule
            log.exception("job %s failed", job.name)

    return run
