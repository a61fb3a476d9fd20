"""`suqiu run`: IDLE where the server offers it, polling where not, and a
watcher that survives its server going away."""

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests import casebook
from tests.deployment import SUQIU, Deployment, appeal
from tests.servers import Dovecot, SmtpServer


@contextmanager
def service(site: Deployment) -> Iterator[subprocess.Popen[str]]:
    """`suqiu run` as a separate process, stopped with SIGTERM afterwards."""
    log = (site.root / "run.log").open("w")
    process = subprocess.Popen(
        [SUQIU, "--config", str(site.config_path), "run"],
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        env=dict(os.environ),
    )
    try:
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
            log.close()


def run_log(site: Deployment) -> str:
    return (site.root / "run.log").read_text(encoding="utf-8")


def wait_for_log(site: Deployment, text: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in run_log(site):
            return
        time.sleep(0.05)
    raise AssertionError(f"{text!r} not in the log:\n{run_log(site)}")


@pytest.fixture
def noidle_deployment(
    tmp_path: Path, dovecot_noidle: Dovecot, smtp_server: SmtpServer, database_url: str
) -> Deployment:
    """A deployment whose mailboxes sit on a server without IDLE (like 163.com)."""
    site = Deployment(tmp_path, dovecot_noidle, smtp_server, database_url)
    site.boxes["xgc"] = dovecot_noidle.new_user("xgc")
    site.write_config()
    casebook.migrate(database_url)
    return site


def test_idle_mailbox_is_acknowledged_within_seconds(deployment: Deployment) -> None:
    """With IDLE, a mail delivered while the service waits is acknowledged
    within a few seconds, long before any polling interval."""
    deployment.write_config(poll_seconds=600)
    with service(deployment) as process:
        wait_for_log(deployment, "学生工作处邮箱: connected, waiting with IDLE")
        started = time.monotonic()
        deployment.deliver("xgc", appeal("宿舍停电", "7栋昨晚停电到现在。"))
        deployment.wait_for_kind("ack", 1, timeout=10)
        assert time.monotonic() - started < 5
        assert process.poll() is None
    assert "suqiu stopped" in run_log(deployment)


def test_mailbox_without_idle_is_polled(noidle_deployment: Deployment) -> None:
    """A server that does not offer IDLE is polled on the configured interval."""
    site = noidle_deployment
    with service(site):
        wait_for_log(site, "no IDLE, polling every 1 s")
        site.deliver("xgc", appeal("宿舍停电", "7栋昨晚停电到现在。"))
        site.wait_for_kind("ack", 1, timeout=15)


def test_watcher_reconnects_after_the_connection_is_cut(deployment: Deployment) -> None:
    """When the server drops the connection the watcher reconnects and the
    next mail is still processed; the outage is logged once."""
    with service(deployment):
        wait_for_log(deployment, "学生工作处邮箱: connected, waiting with IDLE")
        deployment.dovecot.kick(deployment.boxes["xgc"].user)
        wait_for_log(deployment, "学生工作处邮箱 unavailable")
        deployment.deliver("xgc", appeal("宿舍停电", "7栋昨晚停电到现在。"))
        deployment.wait_for_kind("ack", 1, timeout=20)
    assert run_log(deployment).count("学生工作处邮箱 unavailable") == 1


def test_service_survives_a_server_outage(deployment: Deployment) -> None:
    """With the IMAP server down for a while, the service keeps running,
    says so once, and reads the mail that arrived once the server is back."""
    dovecot = deployment.dovecot
    with service(deployment) as process:
        wait_for_log(deployment, "学生工作处邮箱: connected, waiting with IDLE")
        dovecot.stop()
        try:
            wait_for_log(deployment, "unavailable")
            time.sleep(2)
            assert process.poll() is None
        finally:
            dovecot.start()
        deployment.deliver("xgc", appeal("宿舍停电", "7栋昨晚停电到现在。"))
        deployment.wait_for_kind("ack", 1, timeout=60)
    text = run_log(deployment)
    assert text.count("学生工作处邮箱 unavailable") == 1


def test_two_services_share_one_database(deployment: Deployment) -> None:
    """Two `suqiu run` on the same mailboxes and the same database read each
    mail once and send each outbox row once."""
    if not deployment.database_url.startswith("postgresql"):
        pytest.skip("two services share a database in production on PostgreSQL")
    first_log = deployment.root / "run.log"
    with service(deployment):
        wait_for_log(deployment, "学生工作处邮箱: connected, waiting with IDLE")
        first_log.rename(deployment.root / "first.log")
        with service(deployment):
            wait_for_log(deployment, "学生工作处邮箱: connected, waiting with IDLE")
            for index in range(30):
                box = ("xgc", "shuji", "xiaozhang")[index % 3]
                deployment.deliver(
                    box,
                    appeal(
                        f"宿舍停电（{index}）", "停电了。", sender=f"s{index}@qq.com"
                    ),
                )
                time.sleep(0.1)
            deployment.wait_for_kind("ack", 30, timeout=60)
            time.sleep(2)  # anything sent twice would arrive by now

    listed = json.loads(deployment.cli("messages", "--json").stdout)
    assert len(listed) == 30 and {m["kind"] for m in listed} == {"appeal"}
    ids = [m.message()["Message-ID"] for m in deployment.smtp.messages]
    assert len(ids) == len(set(ids))
    assert len(deployment.sent_of_kind("ack")) == 30
