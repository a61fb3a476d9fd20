"""Catching up a backlog: N mails in a Dovecot mailbox, `suqiu poll --once`
timed as a whole process against the fetch-only and parse-only floors."""

import argparse
import contextlib
import platform
import sys
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bench import harness, sampler
from bench.floors import combined, fetch_only, parse_only
from bench.generate import MailFactory
from bench.harness import Row
from store.models import Case, Inbound, MailState, Outbox

ROOT = Path(__file__).resolve().parent.parent
# notes/peers.md: django-helpdesk 2.6.1's get_email on 10,000 such mails.
PEER_RATE = 16.0
TARGET_RATE = 200.0
TARGET_SHARE_OF_FLOOR = 0.5
TARGET_RSS = 200e6
FORM_NAME = "学生诉求办理单"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", "--count", type=int, default=10_000, help="mails")
    parser.add_argument("--seed", type=int, default=1, help="seed of the mails")
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="FILE",
        help="sample the poll (bench.sampler) and write folded stacks to FILE",
    )
    parser.add_argument(
        "--py-spy",
        metavar="EXE",
        help="with --profile, sample with this py-spy instead (safer on 3.11)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args(argv)

    print(
        f"backlog: {args.count} mails, seed {args.seed}, {args.db}, "
        f"Python {platform.python_version()}"
    )
    print(harness.revision())
    print(f"machine at start: {harness.machine()}")
    with (
        harness.workdir(args.keep) as root,
        harness.dovecot(root) as dovecot,
        harness.smtp_server() as smtp,
        harness.database(args.db, root) as url,
    ):
        user = dovecot.new_user("xgc")
        mails = list(MailFactory(args.seed).mails(args.count))
        size = sum(len(m.raw) for m in mails)
        started = time.perf_counter()
        dovecot.deliver_many(user.user, (m.raw for m in mails))
        loaded = time.perf_counter() - started
        kinds = Counter(m.kind for m in mails)
        print(
            f"loaded {len(mails)} mails ({harness.mb(size)}) into Maildir in "
            f"{loaded:.1f} s: " + ", ".join(f"{k} {n}" for k, n in kinds.most_common())
        )
        del mails

        fetch, raws = fetch_only(user)
        parses = parse_only(raws)
        del raws
        print("floors measured")

        config = root / "suqiu.toml"
        env = harness.write_config(
            config,
            database_url=url,
            smtp=smtp,
            mailboxes=[("学生工作处邮箱", user)],
        )
        harness.check(harness.run(harness.suqiu(config, "init"), env=env), "suqiu init")

        poll_args = ["--config", str(config), "poll", "--once", "--no-send"]
        if args.profile and args.py_spy:
            command = [args.py_spy, "record", "--format", "raw", "--rate", "250"]
            command += ["--output", str(args.profile), "--", harness.SUQIU]
            command += poll_args
        elif args.profile:
            env["PYTHONPATH"] = str(ROOT)
            command = [sys.executable, "-m", "bench.sampler"]
            command += ["--out", str(args.profile), "--", *poll_args]
        else:
            command = [harness.SUQIU, *poll_args]
        poll = harness.run(command, env=env, log=root / "poll.log")
        harness.check(poll, "suqiu poll --once --no-send")
        print(poll.stdout.strip())

        pace = _pace(root / "poll.log", args.count)
        outcome = _outcome(url)
        sent, send_seconds, send_rss, runs = _send_all(config, env)
        received = len(smtp.messages)

    rate = harness.rate(args.count, poll.seconds)
    floor = combined(fetch, parses[0])
    rows = [
        Row(
            "backlog into cases (suqiu poll --once --no-send)",
            f"{rate:.0f} mails/s ({args.count} in {poll.seconds:.1f} s)",
            target=f">= {TARGET_RATE:.0f} mails/s",
            met=rate >= TARGET_RATE,
        ),
        Row(
            "  against the fetch + parse floor",
            f"{rate:.0f} mails/s",
            floor=f"{floor:.0f} mails/s",
            ratio=f"{rate / floor:.2f}",
            target=f">= {TARGET_SHARE_OF_FLOOR}",
            met=rate / floor >= TARGET_SHARE_OF_FLOOR,
        ),
        Row(
            "  against django-helpdesk 2.6.1 (notes/peers.md)",
            f"{rate:.0f} mails/s",
            floor=f"{PEER_RATE:.0f} mails/s",
            ratio=f"{rate / PEER_RATE:.1f}x",
            target="> 10x",
            met=rate > 10 * PEER_RATE,
        ),
        Row(
            "peak RSS of the poll",
            harness.mb(poll.peak_rss)
            if not args.py_spy
            else "(py-spy's, not measured)",
            target=f"< {harness.mb(TARGET_RSS)}",
            met=poll.peak_rss < TARGET_RSS if not args.py_spy else None,
        ),
        Row(fetch.name, f"{fetch.rate:.0f} mails/s"),
        *(Row(p.name, f"{p.rate:.0f} mails/s") for p in parses),
        Row(
            "  fetch + parse (suqiu's parser), sequential",
            f"{floor:.0f} mails/s",
        ),
        Row(
            "  fetch + parse (mail-parser alone), sequential",
            f"{combined(fetch, parses[1]):.0f} mails/s",
        ),
        Row(
            "outbox delivery (suqiu send, until empty)",
            f"{harness.rate(sent, send_seconds):.0f} mails/s "
            f"({sent} in {send_seconds:.1f} s, {runs} runs)",
        ),
        Row("peak RSS of one send", harness.mb(send_rss)),
    ]
    if args.profile:
        rows[0] = Row(
            rows[0].figure + " [sampled]",
            rows[0].value,
            target=rows[0].target,
            met=rows[0].met,
        )
    print()
    print(harness.table(rows))
    print()
    print("what the poll did:")
    for line in outcome:
        print(f"  {line}")
    print(f"  SMTP server received {received} mails")
    if pace:
        print("pace through the run (from the per-mail log lines):")
        print("  " + ", ".join(pace))
    if args.profile:
        stacks = sampler.read(args.profile)
        print()
        print(f"where the poll's time went ({args.profile}):")
        print(sampler.report(stacks, poll.seconds, args.count))
    print(f"machine at end: {harness.machine()}")


def _pace(log: Path, count: int) -> list[str]:
    """Mails per second over each tenth of the run: a rate that falls as
    the mailbox empties means work that grows with the mail already read."""
    stamps = []
    for line in log.read_text(errors="replace").splitlines():
        if " INFO ingest.poller: mailbox " in line and " uid " in line:
            with contextlib.suppress(ValueError):
                # Only differences are used: the log's zone does not matter.
                stamps.append(
                    datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").replace(
                        tzinfo=UTC
                    )
                )
    step = max(1, count // 10)
    pace = []
    for start in range(0, len(stamps) - step + 1, step):
        seconds = (stamps[start + step - 1] - stamps[start]).total_seconds()
        rate = (step - 1) / seconds if seconds > 0 else float("inf")
        pace.append(f"{start + 1}–{start + step}: {rate:.0f}/s")
    return pace


def _outcome(url: str) -> list[str]:
    """What the database holds after the poll, in a few lines."""
    engine = harness.engine(url)
    with Session(engine) as session:
        kinds = session.execute(
            select(Inbound.kind, func.count()).group_by(Inbound.kind)
        ).all()
        failed = session.scalar(
            select(func.count()).where(Inbound.state == MailState.FAILED)
        )
        statuses = session.execute(
            select(Case.status, func.count()).group_by(Case.status)
        ).all()
        queued = session.execute(
            select(Outbox.kind, func.count()).group_by(Outbox.kind)
        ).all()
        forms = sum(
            1
            for names in session.scalars(
                select(Outbox.attachments).where(Outbox.kind == "form")
            )
            if any(str(n).startswith(FORM_NAME) for n in names)
        )
    engine.dispose()
    return [
        "mails: " + _pairs(kinds) + f"; failed {failed}",
        "cases: " + _pairs(statuses),
        "outbox: " + _pairs(queued) + f"; of the forms, {forms} carry a 办理单 .docx",
    ]


def _pairs(rows: Iterable[Sequence[Any]]) -> str:
    pairs = sorted(((str(k), int(n)) for k, n in rows), key=lambda p: -p[1])
    return ", ".join(f"{k} {n}" for k, n in pairs)


def _send_all(config: Path, env: dict[str, str]) -> tuple[int, float, int, int]:
    """Run `suqiu send` until the outbox is empty: sent, seconds, RSS, runs.

    One run delivers at most 10,000 mails (App.send's limit), so a large
    backlog takes several.
    """
    sent = runs = peak = 0
    seconds = 0.0
    while True:
        result = harness.run(harness.suqiu(config, "send"), env=env)
        harness.check(result, "suqiu send")
        runs += 1
        seconds += result.seconds
        peak = max(peak, result.peak_rss)
        count = _sent_count(result.stdout)
        sent += count
        if count == 0:
            return sent, seconds, peak, runs


def _sent_count(stdout: str) -> int:
    # "发信：成功 945 封，…": the first number is the mails sent.
    head = stdout.split("成功", 1)[-1]
    digits = "".join(ch for ch in head.split("封", 1)[0] if ch.isdigit())
    return int(digits or 0)


if __name__ == "__main__":
    main(sys.argv[1:])
