"""Big mails kept on disk: a MailFile reads as the bytes it holds, the MIME
walk and the hashes give what they give in memory, the database receives
the bytes in pieces, and the poller fetches and stores such a mail whole
while holding only a window of it."""

import base64
import hashlib
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from ingest import imap, maildir, parse, stored
from ingest.identity import content_hash
from ingest.parse import extract_attachment, parse_mail
from ingest.spool import MailFile
from ingest.stored import stored_mail
from store import rawmail
from store.db import make_engine, make_sessions, transaction
from store.models import Inbound, MailState
from suqiu import actions, clock
from suqiu.app import App
from tests import casebook
from tests.deployment import Deployment, database
from tests.test_fuzz import maildir_app  # noqa: F401  (a fixture)
from tests.test_parse import OURS, attachment_mail, corpus_files, with_peak_memory

REPLIES = sorted((Path(__file__).parent / "data" / "replies").glob("*.eml"))
# Bytes that make line ends, header ends and boundaries when strung together.
PIECES = [b"\r", b"\n", b" ", b"\t", b"a", b"b", b":", b"\r\n", b"--x", b"\x00"]
mail_like = st.lists(st.sampled_from(PIECES), max_size=80).map(b"".join)


@settings(max_examples=300, deadline=None)
@given(data=mail_like, window=st.integers(1, 16), start=st.integers(-3, 90))
def test_a_mail_file_reads_as_its_bytes(data: bytes, window: int, start: int) -> None:
    """Length, indexing, slicing, find, count and startswith agree with bytes,
    whatever the window size and wherever a match straddles two windows."""
    with MailFile.of(data, window=window) as file:
        assert len(file) == len(data)
        assert b"".join(file.chunks()) == data
        assert file.sha256() == hashlib.sha256(data).hexdigest()
        for index in (0, start, -1, len(data) - 1):
            if -len(data) <= index < len(data):
                assert file[index] == data[index]
        assert file[start : start + 7] == data[start : start + 7]
        for sub in (b"\n", b"\r\n", b"--x", b"\n\r\n", b"ab", b"zz", b""):
            for end in (None, start + 5, len(data) - 1, len(data) + 4):
                assert file.find(sub, start, end) == data.find(sub, start, end)
            assert file.startswith(sub, max(start, 0)) == data.startswith(
                sub, max(start, 0)
            )
        assert file.count(b"\n", start, start + 30) == data.count(
            b"\n", start, start + 30
        )


def test_a_mail_file_refuses_what_it_does_not_do() -> None:
    with MailFile.of(b"abc\n") as file:
        with pytest.raises(IndexError):
            file[4]
        with pytest.raises(ValueError):
            file.count(b"bc")
        with pytest.raises(ValueError):
            file[::2]


@settings(max_examples=300, deadline=None)
@given(data=mail_like, window=st.integers(1, 16))
def test_content_hash_is_the_same_in_memory_and_on_disk(
    data: bytes, window: int
) -> None:
    """The dedupe hash of a mail without Message-ID does not depend on how
    big the mail was when it was fetched (CRLF split across windows,
    trailing blanks spread over several)."""
    mail = b"From: a@b.c\r\nReceived: x\r\n" + data
    with MailFile.of(mail, window=window) as file:
        assert content_hash(file) == content_hash(mail)
    with MailFile.of(data, window=window) as file:
        assert content_hash(file) == content_hash(data)


@pytest.mark.parametrize("window", [64, 1024 * 1024])
@pytest.mark.parametrize("path", OURS + REPLIES, ids=lambda p: p.name)
def test_the_mime_walk_reads_a_file_as_it_reads_bytes(
    path: Path, window: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Our client samples parse the same from a MailFile as from the bytes by
    the same walker, defects included, and every attachment extracts alike."""
    raw = path.read_bytes()
    monkeypatch.setattr(parse, "LEAN_THRESHOLD", 0)
    in_memory = parse_mail(raw)
    with MailFile.of(raw, window=window) as file:
        on_disk = parse_mail(file)
        assert on_disk == in_memory
        for attachment in in_memory.attachments:
            assert extract_attachment(file, attachment.index) == extract_attachment(
                raw, attachment.index
            )


def test_every_corpus_mail_reads_alike_from_a_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The shared corpora (broken mail included) walk alike from a file with
    a small window and from bytes."""
    monkeypatch.setattr(parse, "LEAN_THRESHOLD", 0)
    differing = []
    for path in corpus_files():
        raw = path.read_bytes()
        with MailFile.of(raw, window=256) as file:
            if parse_mail(file) != parse_mail(raw):
                differing.append(path.name)
    assert differing == []
    assert len(corpus_files()) > 100


def test_walking_a_big_mail_file_holds_a_window_not_the_mail() -> None:
    """A 50 MB attachment on disk is walked, capped and its text read while
    Python allocates a few windows' worth, not the mail."""
    raw = attachment_mail(50 * 1024 * 1024)
    with MailFile.of(raw) as file:
        del raw
        mail, peak = with_peak_memory(lambda: parse_mail(file))
        size = len(file)
    assert peak < 4 * 1024 * 1024 < size
    [big] = mail.attachments
    assert big.oversized and big.filename == "中国视频.zip"
    assert "班级推荐名单报到学院后被改掉了" in mail.text


def _row(size: int) -> Inbound:
    return Inbound(
        mailbox="学生工作处邮箱",
        folder="INBOX",
        location="1/1",
        identity="mid:<big@example.com>",
        size=size,
        sha256="0" * 64,
        read_at=clock.now(),
        state=MailState.DONE,
    )


def _spooled_files_open() -> int:
    fds = Path("/proc/self/fd")
    return sum("suqiu-mail-" in os.readlink(fd) for fd in fds.iterdir() if _link(fd))


def _link(fd: Path) -> bool:
    try:
        os.readlink(fd)
    except OSError:
        return False
    return True


def test_a_big_mail_is_fetched_in_pieces_and_kept_whole(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over real IMAP, a mail above the big-mail size is fetched piece by
    piece into a file, becomes a case, is stored byte for byte, passes its
    attachment on with the 办理单, and its file is closed afterwards."""
    monkeypatch.setattr(imap, "BIG_MAIL", 2_000)
    monkeypatch.setattr(imap, "PIECE", 1_000)
    data = (
        Path(__file__).parent / "data" / "mail" / "foxmail_gb2312_docx.eml"
    ).read_bytes()
    assert len(data) > 5 * imap.PIECE
    deployment.dovecot.deliver_many(deployment.boxes["xgc"].user, [data])
    open_before = _spooled_files_open()

    deployment.poll()

    assert _spooled_files_open() == open_before
    with transaction(database(deployment.database_url)) as session:
        row = session.scalars(select(Inbound)).one()
        assert row.kind == "appeal" and row.error is None
        assert row.raw == data and row.size == len(data)
        assert row.sha256 == hashlib.sha256(data).hexdigest()
        [attachment] = row.attachments
    [form] = deployment.wait_for_kind("form", 1)
    names = [part.get_filename() for part in form.message().iter_attachments()]
    assert attachment["filename"] in names


def test_a_big_maildir_mail_is_read_from_its_file(
    maildir_app: App,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A Maildir message above the big-mail size is read in place."""
    monkeypatch.setattr(maildir, "BIG_MAIL", 2_000)
    data = attachment_mail(20_000)
    mailbox = maildir_app.settings.mailboxes[0]
    assert mailbox.path is not None
    (mailbox.path / "new" / "1.big.eml").write_bytes(data)

    [report] = maildir_app.poll_all()

    assert report.error is None and report.stored == 1
    with transaction(maildir_app.readers) as session:
        row = session.scalars(select(Inbound)).one()
        assert row.raw == data and row.kind == "appeal"


def test_a_big_mail_is_stored_and_read_back_in_pieces(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite's blob I/O and PostgreSQL's binary COPY store every byte (NULs
    and all); it comes back piece by piece into a file, without the ORM
    loading it, or whole through the ORM; a mail retention cleared, empty."""
    casebook.migrate(database_url)
    data = os.urandom(300_000) + b"\x00\r\n" * 1000
    monkeypatch.setattr(stored, "BIG_MAIL", 100_000)
    engine = make_engine(database_url)
    try:
        sessions = make_sessions(engine)
        with MailFile.of(data, window=4096) as file, transaction(sessions) as session:
            row = _row(len(data))
            session.add(row)
            rawmail.write(session, row, len(file), file.chunks())
            cleared = _row(len(data))
            cleared.location = "1/2"
            session.add(cleared)
            session.flush()
            ids = row.id, cleared.id
        with transaction(sessions) as session:
            big = session.get(Inbound, ids[0])
            gone = session.get(Inbound, ids[1])
            assert big is not None and gone is not None
            pieces = list(rawmail.read(session, big, piece=70_000))
            assert b"".join(pieces) == data
            assert {len(p) for p in pieces[:-1]} == {70_000}
            with stored_mail(session, big) as raw:
                assert isinstance(raw, MailFile) and raw[0 : len(raw)] == data
            assert "raw_mail" not in inspect(big).dict
            assert list(rawmail.read(session, gone)) == []
            with stored_mail(session, gone) as raw:
                assert len(raw) == 0
            assert big.raw == data
    finally:
        engine.dispose()


def _with_attachments(data: bytes, sizes: list[int]) -> bytes:
    """The Foxmail appeal with attachments of random bytes added at its end."""
    end = b"------=_001_NextPart413870221584_=------"
    parts = b"".join(
        b"------=_001_NextPart413870221584_=----\r\n"
        b"Content-Type: application/octet-stream\r\n"
        b"Content-Transfer-Encoding: base64\r\n"
        + f'Content-Disposition: attachment; filename="photo-{n}.jpg"\r\n\r\n'.encode()
        + base64.encodebytes(os.urandom(size)).replace(b"\n", b"\r\n")
        + b"\r\n"
        for n, size in enumerate(sizes, 1)
    )
    cut = data.rindex(end)
    return data[:cut] + parts + data[cut:]


def test_a_big_mails_attachments_reach_the_unit_up_to_a_limit(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The attachments of a big appeal are read back from the database in
    pieces and go to the unit with the 办理单 while their sum fits in one
    mail; those that do not are named in it."""
    monkeypatch.setattr(imap, "BIG_MAIL", 2_000)
    monkeypatch.setattr(imap, "PIECE", 1_000)
    monkeypatch.setattr(stored, "BIG_MAIL", 2_000)
    streamed: list[int] = []
    read = rawmail.read

    def reading(session: Session, row: Inbound, piece: int = rawmail.PIECE) -> Any:
        streamed.append(row.id)
        return read(session, row, piece)

    monkeypatch.setattr(rawmail, "read", reading)
    sample = (
        Path(__file__).parent / "data" / "mail" / "foxmail_gb2312_docx.eml"
    ).read_bytes()
    docx = parse_mail(sample).attachments[0]
    monkeypatch.setattr(actions, "PASSED_ON_LIMIT", docx.size + 3_000 + 1_000)
    data = _with_attachments(sample, [3_000, 3_000, 500_000])
    deployment.dovecot.deliver_many(deployment.boxes["xgc"].user, [data])

    deployment.poll()

    with transaction(database(deployment.database_url)) as session:
        row = session.scalars(select(Inbound)).one()
        assert row.kind == "appeal" and row.raw == data
    assert streamed == [row.id]
    [form] = deployment.wait_for_kind("form", 1)
    message = form.message()
    names = [part.get_filename() for part in message.iter_attachments()]
    assert names[1:] == [docx.filename, "photo-1.jpg"]
    body = message.get_body(("plain",))
    assert body is not None
    held = "以下附件过大未随办理单转发：photo-2.jpg、photo-3.jpg。"
    assert held in body.get_content()
