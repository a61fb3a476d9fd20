"""Crash safety: the poller killed with SIGKILL at random moments, twenty
times, while it ingests and sends; afterwards nothing is lost or doubled."""

import json
import random
import signal
import subprocess
import time
from collections import Counter
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import pytest
from sqlalchemy import func, select

from store.db import transaction
from store.models import Case, Inbound, Outbox, OutboxState
from tests.deployment import SUQIU, Deployment, database

TOPICS = [
    ("宿舍热水器坏了", "7栋{n}宿舍热水器坏了一周，报修没人来。"),
    ("食堂饭菜太贵", "二食堂的菜价又涨了，第{n}次反映了。"),
    ("补考时间冲突", "补考安排和专业课冲突，学号2023{n:06d}。"),
    ("校园网经常断线", "宿舍区校园网晚上经常断线，{n}号楼尤其严重。"),
    ("奖学金评定不公开", "班级综合测评和奖学金评定过程不公开，第{n}条意见。"),
    ("图书馆开放时间", "希望图书馆周末延长开放时间到22点（建议{n}）。"),
]
MAILS = 600
KILLS = 20


def generated_mails(seed: int, first: int = 0) -> list[bytes]:
    """Appeals, some delivered twice and some automatic, like a real inbox;
    numbered from *first*, so that two calls never write the same appeal."""
    rng = random.Random(seed)
    mails: list[bytes] = []
    for n in range(first, first + MAILS):
        if mails and rng.random() < 0.05:
            mails.append(rng.choice(mails))  # the same mail delivered again
            continue
        subject, body = rng.choice(TOPICS)
        message = EmailMessage()
        message["From"] = f"学生{n} <student{n % 400}@example.com>"
        message["To"] = "gxgcxgc2017@163.com"
        message["Subject"] = f"{subject}（{n}）"
        message["Message-ID"] = make_msgid(domain="example.com")
        message["Date"] = "Thu, 03 Dec 2026 10:00:00 +0800"
        if rng.random() < 0.05:
            message["Auto-Submitted"] = "auto-replied"
            message.replace_header("Subject", f"自动回复：{subject}")
        message.set_content(body.format(n=n))
        mails.append(message.as_bytes())
    return mails


def stored(sessions: Any) -> int:
    with transaction(sessions) as session:
        return int(
            session.execute(select(func.count()).select_from(Inbound)).scalar_one()
        )


@pytest.mark.slow
def test_random_kills_lose_nothing_and_double_nothing(deployment: Deployment) -> None:
    """After 20 SIGKILLs at random moments of `suqiu poll --once` over a
    mailbox never less than 600 mails behind, every mail is listed once,
    every appeal is one case, no case got two acknowledgements, and every
    queued mail was sent or is kept."""
    deployment.write_config(poll_seconds=1)
    # Small batches: many commits, so that kills land between and inside them.
    deployment.extra["ingest"] = {"batch_size": 10}
    deployment.write_config()
    mails = generated_mails(seed=20261203)
    user = deployment.boxes["xgc"].user
    deployment.dovecot.deliver_many(user, mails)

    sessions = database(deployment.database_url)
    rng = random.Random(7)
    stored_after_kill: list[tuple[int, int]] = []
    for kill in range(KILLS):
        before = stored(sessions)
        # More mail whenever fewer than 600 wait, however fast this machine
        # reads them: a run must never find the mailbox read to the end.
        if len(mails) - before < MAILS:
            wave = generated_mails(seed=20261203 + len(mails), first=len(mails))
            deployment.dovecot.deliver_many(user, wave)
            mails += wave
        process = subprocess.Popen(
            [SUQIU, "--config", str(deployment.config_path), "poll", "--once"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if kill % 2:
            # Odd runs die at any moment, start-up included.
            time.sleep(rng.uniform(0.1, 2.0))
        else:
            # Even runs die once they have committed work, mid-ingest.
            deadline = time.monotonic() + 30
            while stored(sessions) == before and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(rng.uniform(0.0, 0.4))
        process.send_signal(signal.SIGKILL)
        process.wait()
        stored_after_kill.append((stored(sessions), len(mails)))
    # The kills must have hit work in progress, not finished runs.
    interrupted = sum(1 for done, there in stored_after_kill if done < there)
    assert interrupted == KILLS, stored_after_kill
    assert stored_after_kill[-1][0] > 0

    deployment.cli("poll", "--once")
    deployment.cli("send")

    listed = json.loads(deployment.cli("messages", "--json").stdout)
    assert len(listed) == len(mails)
    assert all(m["error"] is None and m["kind"] for m in listed)
    kinds = Counter(m["kind"] for m in listed)
    unique = len(set(mails))
    assert kinds["duplicate"] == len(mails) - unique

    with transaction(sessions) as session:
        cases = session.execute(select(func.count()).select_from(Case)).scalar_one()
        assert cases == kinds["appeal"]
        locations = session.execute(select(Inbound.uid)).scalars().all()
        assert len(locations) == len(set(locations)) == len(mails)
        rows = session.scalars(select(Outbox)).all()
        acks_per_case = Counter(r.case_id for r in rows if r.kind == "ack")
        assert max(acks_per_case.values()) == 1
        states = Counter(r.state for r in rows)
        assert set(states) <= {OutboxState.SENT, OutboxState.UNCERTAIN}
        uncertain = states.get(OutboxState.UNCERTAIN, 0)

    # What reached the SMTP server: never the same mail twice, never two
    # acknowledgements for one case; every row not marked uncertain arrived.
    received = deployment.smtp.messages
    ids = Counter(r.message()["Message-ID"] for r in received)
    assert max(ids.values()) == 1
    ack_cases = Counter(
        r.message()["X-Suqiu-Case"]
        for r in received
        if r.message()["X-Suqiu-Kind"] == "ack"
    )
    assert max(ack_cases.values()) == 1
    assert len(received) >= len(rows) - uncertain
    user_flags = deployment.dovecot.flags(user)
    assert all(b"\\Seen" in flags for flags in user_flags.values())
