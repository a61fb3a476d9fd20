"""One big mail: an appeal with a 50 MB attachment, and the peak RSS of
`suqiu poll --once` reading it, beside the mail's own size.

With `--parts N` the same bytes come as N attachments: each under the size
cap is decoded and passed on to the unit with the 办理单, so that run also
measures reading a big mail back from the database."""

import argparse
import base64
import random
import sys
import time
from datetime import datetime
from email.utils import format_datetime
from pathlib import Path

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from bench import harness
from bench.generate import CHINA, encoded_words
from bench.harness import Row
from store.models import Inbound, Outbox

TARGET_FACTOR = 3.0
MIB = 1024 * 1024


def big_mail(attachment_bytes: int, seed: int, parts: int = 1) -> tuple[bytes, str]:
    """An appeal as QQ Mail sends it, with archives of random bytes.

    Random bytes do not compress, as photos and videos hardly do. The
    *attachment_bytes* are shared between *parts* attachments. Returns the
    mail and its Message-ID.
    """
    rng = random.Random(seed)
    message_id = f"tencent_BIG{rng.getrandbits(64):016X}@qq.com"
    boundary = f"----=_NextPart_{rng.getrandbits(96):024X}"
    text = "老师您好：\n附件是宿舍漏水的全部照片和视频，文件比较大，请查收。\n韦同学"
    subject = "宿舍漏水的照片和视频（附件较大）"
    head = [
        f'From: "{encoded_words("韦同学", "gb18030", "gb18030")}" <2690458813@qq.com>',
        "To: <gxgcxgc2017@163.com>",
        f"Subject: {encoded_words(subject, 'gb18030', 'gb18030')}",
        "Mime-Version: 1.0",
        f'Content-Type: multipart/mixed;\r\n\tboundary="{boundary}"',
        f"Date: {format_datetime(datetime.now(CHINA))}",
        f"Message-ID: <{message_id}>",
        "X-Mailer: QQMail 2.x",
    ]
    pieces = [
        "\r\n".join(head).encode("ascii"),
        f"\r\n\r\n--{boundary}\r\n".encode(),
        b'Content-Type: text/plain;\r\n\tcharset="gb18030"\r\n',
        b"Content-Transfer-Encoding: base64\r\n\r\n",
        base64.encodebytes(text.encode("gb18030")).replace(b"\n", b"\r\n"),
    ]
    for n in range(parts):
        name = "photos.zip" if parts == 1 else f"photos-{n + 1}.zip"
        size = attachment_bytes // parts
        pieces += [
            f"\r\n--{boundary}\r\n".encode(),
            f'Content-Type: application/octet-stream;\r\n\tname="{name}"\r\n'.encode(),
            f'Content-Disposition: attachment; filename="{name}"\r\n'.encode(),
            b"Content-Transfer-Encoding: base64\r\n\r\n",
            base64.encodebytes(rng.randbytes(size)).replace(b"\n", b"\r\n"),
        ]
    pieces.append(f"\r\n--{boundary}--\r\n".encode())
    return b"".join(pieces), message_id


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--size", type=float, default=50, help="attachment size in MiB (default 50)"
    )
    parser.add_argument(
        "--parts", type=int, default=1, help="attachments sharing that size"
    )
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument(
        "--maildir",
        action="store_true",
        help="write the mail into Maildir directly instead of delivering by LMTP",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args(argv)

    attachment = int(args.size * MIB)
    raw, message_id = big_mail(attachment, args.seed, args.parts)
    size = len(raw)
    print(
        f"big mail: attachments {harness.mb(attachment)} in {args.parts}, "
        f"mail {harness.mb(size)}"
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
        config = root / "suqiu.toml"
        env = harness.write_config(
            config, database_url=url, smtp=smtp, mailboxes=[("学生工作处邮箱", user)]
        )
        harness.check(harness.run(harness.suqiu(config, "init"), env=env), "init")
        poll = harness.suqiu(config, "poll", "--once", "--no-send")
        empty = harness.run(poll, env=env)
        harness.check(empty, "suqiu poll on an empty mailbox")

        started = time.perf_counter()
        if args.maildir:
            dovecot.deliver_many(user.user, [raw])
        else:
            dovecot.deliver(user.user, raw)
        delivered = time.perf_counter() - started
        del raw

        big = harness.run(poll, env=env, log=root / "poll.log")
        harness.check(big, "suqiu poll --once --no-send")
        facts = _facts(url, message_id)
        send = harness.run(harness.suqiu(config, "send"), env=env)
        harness.check(send, "suqiu send")
        database_size = _database_size(url, root)

    how = "Maildir" if args.maildir else "LMTP"
    rows = [
        Row(f"delivery ({how})", f"{delivered:.1f} s"),
        Row(
            "peak RSS of suqiu poll --once",
            harness.mb(big.peak_rss),
            floor=f"mail {harness.mb(size)}",
            ratio=f"{big.peak_rss / size:.2f}x",
            target=f"< {TARGET_FACTOR:.0f}x the mail",
            met=big.peak_rss < TARGET_FACTOR * size,
        ),
        Row(
            "  the same poll on an empty mailbox",
            harness.mb(empty.peak_rss),
        ),
        Row(
            "  growth for the big mail",
            harness.mb(big.peak_rss - empty.peak_rss),
            ratio=f"{(big.peak_rss - empty.peak_rss) / size:.2f}x",
        ),
        Row("wall time of the poll", f"{big.seconds:.1f} s"),
        Row("peak RSS of suqiu send after it", harness.mb(send.peak_rss)),
        Row(f"database after it ({args.db})", harness.mb(database_size)),
    ]
    print()
    print(harness.table(rows))
    print()
    for line in facts:
        print(line)
    print(f"machine at end: {harness.machine()}")


def _database_size(url: str, root: Path) -> int:
    if url.startswith("sqlite"):
        return sum(p.stat().st_size for p in root.glob("suqiu.db*"))
    # The tables of this run's schema, TOAST and indexes included.
    query = text(
        "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = current_schema() AND c.relkind = 'r'"
    )
    with harness.engine(url).connect() as connection:
        return int(connection.execute(query).scalar_one())


def _facts(url: str, message_id: str) -> list[str]:
    """Whether the mail became a case with its attachment listed as oversized."""
    engine = harness.engine(url)
    with Session(engine) as session:
        mail = session.scalars(
            select(Inbound).where(Inbound.message_id == message_id)
        ).first()
        if mail is None:
            return ["the big mail was NOT stored"]
        listed = [
            f"{a.get('filename')} ({harness.mb(a.get('size') or 0)}"
            f"{', oversized' if a.get('oversized') else ''})"
            for a in mail.attachments
        ]
        noted = [d for d in mail.defects if "cap" in d]
        forms = session.execute(
            select(Outbox.text, func.length(Outbox.raw), Outbox.attachments).where(
                Outbox.case_id == mail.case_id, Outbox.kind == "form"
            )
        ).all()
        held = any("过大" in text for text, _, _ in forms)
        sizes = ", ".join(
            f"{harness.mb(size)} with {len(files)} files" for _, size, files in forms
        )
        lines = [
            f"stored as {mail.kind} (case id {mail.case_id}), "
            f"size {harness.mb(mail.size)}",
            "attachments listed: " + (", ".join(listed) or "none"),
            "defect noted: " + (noted[0] if noted else "none"),
            f"办理单 mails: {len(forms)} ({sizes}); one says an attachment was "
            f"held back as too large: {'yes' if held else 'no'}",
        ]
    engine.dispose()
    return lines


if __name__ == "__main__":
    main(sys.argv[1:])
