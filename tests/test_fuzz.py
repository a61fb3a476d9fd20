"""Hostile and broken mail through the whole ingest: a fuzz set of mutated
real messages, and one mail with a 50 MB attachment."""

import base64
import json
import os
import random
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from ingest.poller import Poller
from store import schema
from store.db import make_engine, make_sessions, transaction
from store.models import Inbound
from suqiu import config as config_module
from suqiu.app import App
from tests import casebook
from tests.deployment import Deployment, database

DATA = Path(__file__).parent / "data"
SEEDS = sorted((DATA / "mail").glob("*.eml")) + sorted((DATA / "replies").glob("*.eml"))
CHARSETS = ["utf-8", "gbk", "gb2312", "big5", "iso-2022-jp", "x-unknown", "utf-16", ""]


def mutate(raw: bytes, rng: random.Random) -> bytes:
    """Break *raw* the way real mail breaks, one or a few ways at a time."""
    for _ in range(rng.randint(1, 3)):
        how = rng.randrange(8)
        if how == 0:  # truncated anywhere, mid-MIME included
            raw = raw[: rng.randrange(len(raw) + 1)]
        elif how == 1:  # a boundary that does not match its parts
            raw = raw.replace(
                b"boundary=", b"boundary=X" + bytes([rng.randrange(65, 90)])
            )
        elif how == 2:  # a charset label that lies about the bytes
            old = rng.choice([b"utf-8", b"UTF-8", b"gb2312", b"GBK", b"gb18030"])
            raw = raw.replace(old, rng.choice(CHARSETS).encode(), 1)
        elif how == 3:  # a huge header
            raw = b"X-Huge: " + b"A" * rng.randrange(1000, 200_000) + b"\r\n" + raw
        elif how == 4:  # deep nesting
            depth = rng.randrange(10, 400)
            head = b"".join(
                b'Content-Type: multipart/mixed; boundary="n%d"\r\n\r\n--n%d\r\n'
                % (i, i)
                for i in range(depth)
            )
            raw = b"MIME-Version: 1.0\r\n" + head + raw
        elif how == 5:  # random bytes flipped
            data = bytearray(raw)
            for _ in range(rng.randrange(1, 50)):
                if data:
                    data[rng.randrange(len(data))] = rng.randrange(256)
            raw = bytes(data)
        elif how == 6:  # no blank line between headers and body
            raw = raw.replace(b"\r\n\r\n", b"\r\n", 1).replace(b"\n\n", b"\n", 1)
        else:  # headers repeated and reordered
            lines: list[bytes] = raw.split(b"\n")
            cut = min(len(lines), 12)
            top = lines[:cut]
            rng.shuffle(top)
            raw = b"\n".join([*top, *top[: rng.randrange(cut + 1)], *lines[cut:]])
    return raw


@pytest.fixture
def maildir_app(tmp_path: Path, database_url: str) -> App:
    """suqiu reading a local Maildir into a fresh database, sending nothing."""
    maildir = tmp_path / "maildir"
    for sub in ("new", "cur", "tmp"):
        (maildir / sub).mkdir(parents=True)
    (tmp_path / "suqiu.toml").write_text(
        f'[database]\nurl = "{database_url}"\n\n'
        '[smtp]\nhost = "127.0.0.1"\nport = 9\nsecurity = "none"\n'
        'sender = "学生工作处 <gxgcxgc2017@163.com>"\n\n'
        '[[mailboxes]]\nname = "学生工作处邮箱"\nchannel = "学生工作处邮箱"\n'
        'type = "maildir"\npath = "maildir"\n\n'
        '[[units]]\nname = "后勤管理中心"\nemails = ["hqzx@example.edu.cn"]\n\n'
        '[admins]\nemails = ["staff@example.edu.cn"]\n',
        encoding="utf-8",
    )
    casebook.migrate(database_url)
    return App(config_module.load(tmp_path / "suqiu.toml"), show_progress=False)


@settings(
    max_examples=int(os.environ.get("SUQIU_FUZZ_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(seed=st.integers(0, 2**32 - 1))
def test_mutated_mail_is_always_stored_and_classified(
    maildir_app: App, seed: int
) -> None:
    """Any mutation of a real message is stored once, raw bytes unchanged,
    and comes out with a kind and no error: never a crash, never lost."""
    rng = random.Random(seed)
    raw = mutate(rng.choice(SEEDS).read_bytes(), rng)
    mailbox = maildir_app.settings.mailboxes[0]
    assert mailbox.path is not None
    # Hypothesis replays a seed when it shrinks: each delivery needs its own
    # file name, or the replay would overwrite the earlier file.
    name = f"{seed}.{uuid.uuid4().hex}.fuzz"
    (mailbox.path / "new" / name).write_bytes(raw)

    poller: Poller = maildir_app.poller
    [report] = maildir_app.poll_all()
    assert report.error is None and report.stored == 1 and report.failed == 0

    with transaction(maildir_app.readers) as session:
        row = session.scalars(
            select(Inbound).order_by(Inbound.id.desc()).limit(1)
        ).one()
        assert row.raw == raw
        assert row.kind is not None and row.error is None
    assert poller is maildir_app.poller


def big_mail(size: int) -> bytes:
    # CRLF throughout, as it travels: IMAP servers hand mail out that way.
    payload = base64.encodebytes(os.urandom(size)).replace(b"\n", b"\r\n")
    return (
        b"From: =?utf-8?B?5byg5LiJ?= <zhangsan@qq.com>\r\n"
        b"To: gxgcxgc2017@163.com\r\n"
        b"Subject: =?utf-8?B?5a6/6IiN5ryP5rC05ouN55qE6KeG6aKR?=\r\n"
        b"Message-ID: <big-mail-1@qq.com>\r\n"
        b"Date: Thu, 03 Dec 2026 10:00:00 +0800\r\n"
        b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
        b"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        + "宿舍漏水，视频在附件里。\r\n".encode()
        + b"--b1\r\nContent-Type: video/mp4\r\n"
        b'Content-Disposition: attachment; filename="video.mp4"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n" + payload + b"\r\n--b1--\r\n"
    )


@pytest.mark.slow
def test_fifty_megabyte_attachment_is_ingested_and_capped(
    deployment: Deployment,
) -> None:
    """A mail with a 50 MB attachment becomes a case; the attachment is listed
    as oversized (a defect says so, staff see it), the raw mail is kept
    whole, and the unit's 办理单 notes that it was not passed on."""
    raw = big_mail(50 * 1024 * 1024)
    deployment.dovecot.deliver_many(deployment.boxes["xgc"].user, [raw])
    deployment.poll()

    [mail] = json.loads(deployment.cli("messages", "--json").stdout)
    assert mail["kind"] == "appeal" and mail["error"] is None
    with transaction(database(deployment.database_url)) as session:
        row = session.scalars(select(Inbound)).one()
        assert row.size == len(raw) and row.raw == raw
        [attachment] = row.attachments
        assert attachment["filename"] == "video.mp4" and attachment["oversized"]
        assert any("cap" in defect for defect in row.defects)
    [case] = json.loads(deployment.cli("cases", "--json").stdout)
    shown = json.loads(deployment.cli("show", case["number"], "--json").stdout)
    events = [e for e in shown["events"] if e["action"] == "attachment_oversized"]
    assert events and "video.mp4" in events[0]["reason"]
    [form] = deployment.wait_for_kind("form", 1)
    text = form.message().get_body(("plain",))
    assert text is not None and "video.mp4" in text.get_content()
    assert "过大" in text.get_content()


def test_sessions_for_reading_do_not_block(database_url: str) -> None:
    """A read-only session works while a writer holds its transaction open."""
    engine = make_engine(database_url)
    schema.upgrade(engine)
    writer = make_sessions(engine)
    reader = make_sessions(engine, read_only=True)
    with transaction(writer) as busy:
        busy.execute(select(Inbound.id)).all()
        with transaction(reader) as looking:
            assert looking.execute(select(Inbound.id)).all() == []
