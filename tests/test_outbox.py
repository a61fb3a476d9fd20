"""The outbox against a real SMTP server: outages, refusals, retries, and
never the same row twice."""

import json
import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from notify.smtp import Sender
from store.db import transaction
from store.models import Outbox, OutboxState
from tests.deployment import Deployment, appeal, database

SHANGHAI = ZoneInfo("Asia/Shanghai")
CANTEEN = ("二食堂饭菜涨价", "二食堂的青菜涨到5元一份了。")


def at(minutes: float) -> str:
    """SUQIU_NOW *minutes* after now, so retries come due without waiting."""
    moment = datetime.now(SHANGHAI) + timedelta(minutes=minutes)
    return moment.isoformat()


def rows(site: Deployment) -> list[Outbox]:
    with transaction(database(site.database_url)) as session:
        return list(session.scalars(select(Outbox).order_by(Outbox.id)).all())


def test_smtp_outage_waits_then_delivers(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the SMTP server down, mail stays queued and is retried later
    without spending its retries; when the server is back it is delivered."""
    deployment.deliver("xgc", appeal(*CANTEEN))
    deployment.poll(send=False)
    deployment.smtp.stop()
    try:
        report = deployment.send()
        assert report.sent == 0 and report.error is not None
        assert "无法连接 SMTP 服务器" in report.error
        assert {r.state for r in rows(deployment)} == {OutboxState.QUEUED}
        assert {r.attempts for r in rows(deployment)} == {0}

        monkeypatch.setenv("SUQIU_NOW", at(2))
        assert deployment.send().sent == 0
    finally:
        deployment.smtp.start()

    monkeypatch.setenv("SUQIU_NOW", at(4))
    report = deployment.send()
    assert report.sent == 2 and report.error is None
    assert {r.state for r in rows(deployment)} == {OutboxState.SENT}
    assert len(deployment.smtp.messages) == 2


def test_temporary_refusal_backs_off_then_delivers(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 451 (163.com's rate limit) puts the mail back with a growing delay;
    it is delivered once the delay has passed."""
    deployment.deliver("xgc", appeal(*CANTEEN))
    deployment.poll(send=False)
    deployment.smtp.refuse_next(451, "4.7.1 MI:SFQ rate limited", count=2)

    first = deployment.send()
    assert first.deferred >= 1
    deferred = [r for r in rows(deployment) if r.state == OutboxState.QUEUED]
    assert deferred and all("限流" in (r.last_error or "") for r in deferred)
    assert all(r.next_attempt_at is not None for r in deferred)

    assert deployment.send().sent == 0  # not due yet: the delay is respected
    monkeypatch.setenv("SUQIU_NOW", at(10))
    deployment.send()
    assert {r.state for r in rows(deployment)} == {OutboxState.SENT}


def test_permanent_refusal_is_recorded_and_shown(deployment: Deployment) -> None:
    """A 554 refusal fails the mail for good, records it on the case with the
    provider's meaning, and doctor shows it to staff."""
    deployment.deliver("xgc", appeal(*CANTEEN))
    deployment.poll(send=False)
    deployment.smtp.refuse_next(554, "DT:SPM 163 smtp14, spam suspected", count=5)
    report = deployment.send()
    assert report.failed >= 1

    failed = [r for r in rows(deployment) if r.state == OutboxState.FAILED]
    assert failed and "垃圾邮件" in (failed[0].last_error or "")
    [case] = json.loads(deployment.cli("cases", "--json").stdout)
    shown = json.loads(deployment.cli("show", case["number"], "--json").stdout)
    events = [e for e in shown["events"] if e["action"] == "mail_failed"]
    assert events and "DT:SPM" in events[0]["reason"]
    doctor = deployment.cli("doctor", check=False)
    assert doctor.returncode == 1 and "被拒收或放弃" in doctor.stdout


def test_two_senders_never_send_a_row_twice(deployment: Deployment) -> None:
    """Two senders working the same outbox at once deliver each row once."""
    for index in range(12):
        deployment.deliver(
            "xgc", appeal(f"{CANTEEN[0]}{index}", CANTEEN[1], sender=f"s{index}@qq.com")
        )
    deployment.poll(send=False)
    settings = deployment.settings()
    assert settings.smtp is not None
    sessions = deployment.app().sessions
    senders = [Sender(sessions, settings.smtp, f"test:{n}") for n in range(2)]
    threads = [threading.Thread(target=s.deliver) for s in senders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    queued = rows(deployment)
    assert {r.state for r in queued} == {OutboxState.SENT}
    ids = [m.message()["Message-ID"] for m in deployment.smtp.messages]
    assert len(ids) == len(set(ids)) == len(queued)
