"""The timetable of `suqiu run`: configured times, and a run missed while the
service was down firing once after a restart, not once per missed slot."""

import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from store.db import transaction
from store.models import JobRun, Outbox
from suqiu import clock, config, routine
from suqiu.app import App
from suqiu.errors import ConfigError
from suqiu.schedule import jobs, latest_slot, missed_runs, start_scheduler
from tests import casebook
from tests.deployment import ADMIN, Deployment


def shanghai(text: str) -> datetime:
    return casebook.local(text)


def set_last_runs(app: App, runs: dict[str, str]) -> None:
    with transaction(app.sessions) as session:
        for name, moment in runs.items():
            session.merge(
                JobRun(name=name, last_run_at=shanghai(moment), detail="测试设定")
            )


def last_runs(app: App) -> dict[str, datetime]:
    with transaction(app.sessions) as session:
        return {row.name: row.last_run_at for row in session.scalars(select(JobRun))}


def outbox_kinds(app: App) -> dict[str, int]:
    with transaction(app.sessions) as session:
        rows = session.execute(
            select(Outbox.kind, func.count()).group_by(Outbox.kind)
        ).all()
    return {kind: count for kind, count in rows}


def test_latest_slot_is_the_last_firing_before_now(deployment: Deployment) -> None:
    """The latest slot of a daily 08:00 job is this morning once 08:00 has
    passed and yesterday's before; a quarterly job's is the quarter's 1st."""
    by_name = {job.name: job for job in jobs(deployment.app())}
    digest = by_name[routine.DIGEST].trigger
    quarterly = by_name[routine.QUARTERLY_REPORT].trigger

    assert latest_slot(digest, shanghai("2026-12-10 10:00")) == shanghai(
        "2026-12-10 08:00"
    )
    assert latest_slot(digest, shanghai("2026-12-10 07:59")) == shanghai(
        "2026-12-09 08:00"
    )
    assert latest_slot(quarterly, shanghai("2027-02-15 12:00")) == shanghai(
        "2027-01-01 09:00"
    )


def test_configured_times_drive_the_triggers(
    deployment: Deployment,
) -> None:
    """[reports] digest_at, chase_at and report_at move the jobs' times."""
    deployment.extra = {
        "reports": {"digest_at": "07:30", "chase_at": "08:15", "report_at": "10:00"}
    }
    deployment.write_config()
    by_name = {job.name: job.trigger for job in jobs(deployment.app())}
    after = shanghai("2026-12-10 00:00")
    assert by_name[routine.DIGEST].get_next_fire_time(None, after) == shanghai(
        "2026-12-10 07:30"
    )
    assert by_name[routine.CHASE].get_next_fire_time(None, after) == shanghai(
        "2026-12-10 08:15"
    )
    assert by_name[routine.MONTHLY_REPORT].get_next_fire_time(None, after) == shanghai(
        "2027-01-01 10:00"
    )


def test_missed_runs_fire_once_after_a_restart(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Down since Monday's digest and November's start, the service restarted
    on Thursday sends one digest, one round of chase mails and November's
    report, once each; a second restart sends nothing more, and jobs that
    never ran are not run."""
    app = deployment.app()
    with transaction(app.sessions) as session:
        late = casebook.receive(session, "宿舍热水器坏了", when="2026-11-25 09:00")
        casebook.assign(
            session, app.office, late, "后勤管理中心", when="2026-11-25 10:00"
        )
    set_last_runs(
        app,
        {
            routine.DIGEST: "2026-12-07 08:00",
            routine.CHASE: "2026-12-07 08:00",
            routine.MONTHLY_REPORT: "2026-11-01 09:00",
        },
    )
    before = outbox_kinds(app)
    monkeypatch.setenv("SUQIU_NOW", "2026-12-10T10:00:00+08:00")

    missed = missed_runs(app, clock.now())
    assert sorted((job.name, slot) for job, slot in missed) == sorted(
        [
            (routine.DIGEST, shanghai("2026-12-10 08:00")),
            (routine.CHASE, shanghai("2026-12-10 08:00")),
            (routine.MONTHLY_REPORT, shanghai("2026-12-01 09:00")),
        ]
    )

    scheduler = start_scheduler(app, threading.Event())
    try:
        _wait_until(
            lambda: all(
                last_runs(app)[name] > shanghai("2026-12-09 00:00")
                for name in (routine.DIGEST, routine.CHASE, routine.MONTHLY_REPORT)
            )
        )
    finally:
        scheduler.shutdown(wait=True)

    sent = outbox_kinds(app)
    assert sent.get("digest", 0) - before.get("digest", 0) == 1
    assert sent.get("report", 0) == 1
    # 后勤管理中心 is chased; 8 days late, its case is on the 督办 list too.
    assert sent.get("chase", 0) == 2
    assert set(last_runs(app)) == {
        routine.DIGEST,
        routine.CHASE,
        routine.MONTHLY_REPORT,
    }
    [report] = deployment.wait_for_kind("report", 1)
    assert "2026年11月" in str(report.message()["Subject"])
    assert [m.rcpt_tos for m in deployment.wait_for_kind("digest", 1)] == [[ADMIN]]

    assert missed_runs(app, clock.now()) == []
    scheduler = start_scheduler(app, threading.Event())
    time.sleep(1)
    scheduler.shutdown(wait=True)
    assert outbox_kinds(app) == sent


def test_missed_slot_on_a_holiday_sends_nothing(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A digest slot missed on 国庆节 is caught up as that day's run, which
    sends nothing and leaves the last digest's time as it was."""
    app = deployment.app()
    set_last_runs(app, {routine.DIGEST: "2026-09-30 08:00"})
    monkeypatch.setenv("SUQIU_NOW", "2026-10-02T10:00:00+08:00")

    [(job, slot)] = missed_runs(app, clock.now())
    outcome = job.run(app, clock.local(slot).date())
    assert not outcome.done and "国庆节" in outcome.summary
    assert last_runs(app)[routine.DIGEST] == shanghai("2026-09-30 08:00")
    assert outbox_kinds(app) == {}


def test_a_new_installation_catches_nothing_up(deployment: Deployment) -> None:
    """Jobs that never ran have missed nothing: no report of last month the
    moment a new service starts."""
    assert missed_runs(deployment.app(), clock.now()) == []


def _wait_until(done: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if done():
            return
        time.sleep(0.2)
    raise AssertionError("the missed jobs did not run in time")


# -- [reports] in suqiu.toml -------------------------------------------------


BASE = """
[database]
url = "sqlite:///x.db"
[admins]
emails = ["staff@example.edu.cn"]
"""


def load(tmp_path: Path, extra: str) -> config.Settings:
    path = tmp_path / "suqiu.toml"
    path.write_text(BASE + extra, encoding="utf-8")
    return config.load(path)


def test_reports_table_is_optional_with_defaults(tmp_path: Path) -> None:
    """Without [reports] the digest goes at 08:00, reports at 09:00, "soon"
    is two days, 督办 after three, and reports go to the leading group."""
    reports = load(tmp_path, "").reports
    assert (reports.digest_at.hour, reports.digest_at.minute) == (8, 0)
    assert (reports.report_at.hour, reports.soon_days) == (9, 2)
    assert reports.supervise_after_days == 3 and reports.recipients == ()

    settings = load(
        tmp_path,
        '[leading_group]\nemails = ["Leader@example.edu.cn"]\n'
        '[reports]\ndigest_at = "7:45"\nrecipients = ["Boss@example.edu.cn"]\n',
    )
    assert settings.leading_group == ("leader@example.edu.cn",)
    assert settings.reports.digest_at.strftime("%H:%M") == "07:45"
    assert routine.report_recipients(settings) == ["boss@example.edu.cn"]


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ('[reports]\ndigest_at = "8点"\n', "reports.digest_at"),
        ('[reports]\nchase_at = "25:00"\n', "reports.chase_at"),
        ("[reports]\nsoon_days = 0\n", "reports.soon_days"),
        ('[reports]\nrecipients = ["nobody"]\n', "reports.recipients"),
        ("[reports]\ndigest_hour = 8\n", "reports.digest_hour"),
    ],
)
def test_reports_mistakes_name_key_and_file(
    tmp_path: Path, extra: str, named: str
) -> None:
    """A wrong [reports] value is an error naming the key and the file."""
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, extra)
    assert named in str(caught.value) and str(tmp_path / "suqiu.toml") in str(
        caught.value
    )
