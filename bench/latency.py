"""IDLE latency: `suqiu run` watches a Dovecot mailbox; appeals arrive one at
a time by LMTP; how long until each acknowledgement reaches the SMTP server."""

import argparse
import random
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from email.parser import BytesParser
from email.policy import compat32
from pathlib import Path

from imapclient import IMAPClient

from bench import harness
from bench.generate import CHINA, MailFactory
from bench.harness import Row
from tests.servers import Dovecot, SmtpServer

TARGET_P95 = 2.0
TARGET_MAX = 5.0
WAIT_AFTER_LAST = 60.0


@dataclass
class Sent:
    """One appeal delivered by LMTP, and when its acknowledgement came."""

    message_id: str
    started: float  # time.time() when the LMTP transaction began
    delivered: float  # ... and when Dovecot had stored the mail
    acked: float | None = None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", "--count", type=int, default=200, help="appeals")
    parser.add_argument("--seed", type=int, default=2)
    parser.add_argument("--min-gap", type=float, default=0.2, help="seconds")
    parser.add_argument("--max-gap", type=float, default=1.5, help="seconds")
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args(argv)

    print(
        f"latency: {args.count} appeals by LMTP, {args.min_gap}–{args.max_gap} s "
        f"apart, {args.db}"
    )
    print(harness.revision())
    print(f"machine at start: {harness.machine()}")
    with (
        harness.workdir(args.keep) as root,
        harness.dovecot(root, idle=True) as dovecot,
        harness.smtp_server() as smtp,
        harness.database(args.db, root) as url,
    ):
        floor = _idle_floor(dovecot, MailFactory(args.seed + 1))
        user = dovecot.new_user("xgc")
        config = root / "suqiu.toml"
        env = harness.write_config(
            config, database_url=url, smtp=smtp, mailboxes=[("学生工作处邮箱", user)]
        )
        harness.check(harness.run(harness.suqiu(config, "init"), env=env), "init")

        log = (root / "run.log").open("wb")
        service = subprocess.Popen(
            harness.suqiu(config, "run"),
            env=env,
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
        )
        try:
            factory = MailFactory(args.seed)
            # The first appeal is not counted: it waits for start-up (the
            # segmenter's dictionary, the first IDLE) as no later one does.
            warm = _deliver(dovecot, user.user, factory)
            _wait_for_acks(smtp, [warm], time.time() + 120)
            if warm.acked is None:
                raise SystemExit(
                    f"no acknowledgement of the first appeal\n{_tail(root)}"
                )

            rng = random.Random(args.seed)
            sent = []
            for _ in range(args.count):
                time.sleep(rng.uniform(args.min_gap, args.max_gap))
                sent.append(_deliver(dovecot, user.user, factory))
                if service.poll() is not None:
                    raise SystemExit(f"suqiu run exited\n{_tail(root)}")
            _wait_for_acks(smtp, sent, time.time() + WAIT_AFTER_LAST)
        finally:
            rss = _stop(service)
            log.close()

    _print(sent, rss, floor)
    print(f"machine at end: {harness.machine()}")


def _idle_floor(dovecot: Dovecot, factory: MailFactory, count: int = 20) -> float:
    """Median time from LMTP delivery to the EXISTS that IDLE reports, with
    a bare client: what no IMAP client can beat on this server."""
    user = dovecot.new_user("floor")
    client = IMAPClient(user.host, port=user.imap_port, ssl=False, timeout=30)
    client.login(user.user, user.password)
    client.select_folder("INBOX")
    waits = []
    try:
        for _ in range(count):
            client.idle()
            dovecot.deliver(user.user, factory.appeal().raw)
            delivered = time.time()
            while not any(
                r[1:2] == (b"EXISTS",) for r in client.idle_check(timeout=10)
            ):
                pass
            waits.append(time.time() - delivered)
            client.idle_done()
    finally:
        client.logout()
    return statistics.median(waits)


def _deliver(dovecot: Dovecot, user: str, factory: MailFactory) -> Sent:
    mail = factory.appeal(date=datetime.now(CHINA))
    started = time.time()
    dovecot.deliver(user, mail.raw, sender=mail.sender)
    return Sent(mail.message_id, started, time.time())


def _wait_for_acks(smtp: SmtpServer, sent: list[Sent], deadline: float) -> None:
    """Match acknowledgements to appeals by In-Reply-To, until all or deadline."""
    waiting = {s.message_id: s for s in sent if s.acked is None}
    seen = 0
    while waiting and time.time() < deadline:
        received = smtp.messages
        for mail in received[seen:]:
            headers = BytesParser(policy=compat32).parsebytes(
                mail.data, headersonly=True
            )
            if headers.get("X-Suqiu-Kind") != "ack":
                continue
            answered = str(headers.get("In-Reply-To", "")).strip().strip("<>")
            if answered in waiting:
                waiting.pop(answered).acked = mail.at
        seen = len(received)
        time.sleep(0.02)


def _stop(service: subprocess.Popen[bytes]) -> int:
    """SIGTERM the service and wait for it; return its peak RSS in bytes
    (VmHWM, read before it goes: see harness.run)."""
    peak = harness.peak_rss(service.pid) or 0
    if service.poll() is None:
        service.send_signal(signal.SIGTERM)
    try:
        service.wait(40)
    except subprocess.TimeoutExpired:
        service.kill()
        service.wait()
    return peak


def _tail(root: Path) -> str:
    text = (root / "run.log").read_text(errors="replace")
    return "\n".join(text.splitlines()[-30:])


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _print(sent: list[Sent], rss: int, floor: float) -> None:
    latencies = [s.acked - s.delivered for s in sent if s.acked is not None]
    missing = len(sent) - len(latencies)
    lmtp = [s.delivered - s.started for s in sent]
    if not latencies:
        print(f"no acknowledgement arrived for any of {len(sent)} appeals")
        return
    p95 = _quantile(latencies, 0.95)
    worst = max(latencies) if not missing else float("inf")
    rows = [
        Row(
            "Dovecot alone: delivery → EXISTS in IDLE, p50",
            f"{floor:.2f} s",
        ),
        Row("appeals delivered / acknowledged", f"{len(sent)} / {len(latencies)}"),
        Row(
            "delivery → ack, p50",
            f"{_quantile(latencies, 0.5):.2f} s",
            floor=f"{floor:.2f} s",
            ratio=f"+{_quantile(latencies, 0.5) - floor:.2f} s",
        ),
        Row(
            "delivery → ack, p95",
            f"{p95:.2f} s",
            target=f"< {TARGET_P95:.0f} s",
            met=p95 < TARGET_P95,
        ),
        Row(
            "delivery → ack, max",
            f"{worst:.2f} s" if not missing else f"{missing} never acknowledged",
            target=f"< {TARGET_MAX:.0f} s",
            met=worst < TARGET_MAX,
        ),
        Row("delivery → ack, min", f"{min(latencies):.2f} s"),
        Row("LMTP delivery itself, p50", f"{_quantile(lmtp, 0.5) * 1000:.0f} ms"),
        Row("peak RSS of suqiu run", harness.mb(rss)),
    ]
    print()
    print(harness.table(rows))


if __name__ == "__main__":
    main(sys.argv[1:])
