"""Proof that the test servers are real and behave as the other tests assume."""

import imaplib
import smtplib
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.policy import SMTP as SMTP_POLICY
from email.utils import make_msgid
from pathlib import Path

import pytest
from imapclient import IMAPClient
from sqlalchemy import create_engine, text

from tests.conftest import postgresql_schema
from tests.servers import (
    Dovecot,
    DovecotError,
    ImapUser,
    SmtpServer,
    session_certificate,
)

RAW = (
    b"From: Zhang San <zhangsan@example.edu.cn>\r\n"
    b"To: xgc@example.edu.cn\r\n"
    b"Subject: test\r\n"
    b"Message-ID: <servers-test@example.edu.cn>\r\n"
    b"Date: Thu, 03 Dec 2026 08:00:00 +0800\r\n"
    b"\r\n"
    b"A line.\r\n"
    b".A line that starts with a dot.\r\n"
)

RAW_8BIT = (
    b"From: xs@example.edu.cn\r\n"
    b"Subject: =?UTF-8?B?5aWW5a2m6YeR?=\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: 8bit\r\n"
    b"\r\n" + "老师您好：奖学金评定结果有疑问。\r\n".encode()
)


def _login(account: ImapUser, how: str = "plain") -> IMAPClient:
    context = session_certificate().client_context()
    if how == "ssl":
        client = IMAPClient(
            account.host, account.imaps_port, ssl=True, ssl_context=context, timeout=10
        )
    else:
        client = IMAPClient(account.host, account.imap_port, ssl=False, timeout=10)
        if how == "starttls":
            client.starttls(context)
    client.login(account.user, account.password)
    return client


def _fetch_all(account: ImapUser) -> dict[int, bytes]:
    client = _login(account)
    try:
        client.select_folder("INBOX", readonly=True)
        uids = client.search("ALL")
        fetched = client.fetch(uids, ["BODY.PEEK[]"]) if uids else {}
        return {int(uid): bytes(data[b"BODY[]"]) for uid, data in fetched.items()}
    finally:
        client.logout()


def _processes_mentioning(word: str) -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            line = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if word in line:
            found.append(line)
    return found


@pytest.fixture
def spare_root() -> Iterator[Path]:
    """A traversable folder for a Dovecot of a test's own."""
    with tempfile.TemporaryDirectory(prefix="suqiu-dovecot-") as folder:
        root = Path(folder)
        root.chmod(0o755)
        yield root


# -- IMAP ---------------------------------------------------------------------


@pytest.mark.parametrize("how", ["plain", "starttls", "ssl"])
def test_login_over_each_transport(imap_user: ImapUser, how: str) -> None:
    """A user logs in over plain IMAP, STARTTLS and IMAPS with a verified cert."""
    client = _login(imap_user, how)
    try:
        capabilities = set(client.capabilities())
        assert {b"IDLE", b"MOVE", b"UIDPLUS", b"ID"} <= capabilities
        assert client.select_folder("INBOX")[b"EXISTS"] == 0
    finally:
        client.logout()


def test_plain_port_offers_starttls(dovecot: Dovecot) -> None:
    """The plain IMAP port advertises STARTTLS before login."""
    client = IMAPClient(dovecot.host, dovecot.imap_port, ssl=False, timeout=10)
    try:
        assert b"STARTTLS" in client.capabilities()
    finally:
        client.shutdown()


def test_id_command_answers(dovecot: Dovecot, imap_user: ImapUser) -> None:
    """IMAP ID gets Dovecot's name back, and the server logs what we sent."""
    client = _login(imap_user)
    try:
        answer = client.id_({"name": "suqiu-test", "version": "0"})
    finally:
        client.logout()

    fields = answer[0]
    assert dict(zip(fields[::2], fields[1::2], strict=True))[b"name"] == b"Dovecot"
    assert "ID sent: name=suqiu-test" in dovecot.log_text()


def test_user_added_while_running_logs_in_at_once(dovecot: Dovecot) -> None:
    """Users added back to back can log in at once, with no second's delay."""
    started = time.monotonic()
    for _ in range(5):
        account = dovecot.new_user()
        _login(account).logout()
    assert time.monotonic() - started < 1


@pytest.mark.parametrize("raw", [RAW, RAW_8BIT], ids=["7bit", "8bit"])
def test_lmtp_delivery_keeps_bytes(
    dovecot: Dovecot, imap_user: ImapUser, raw: bytes
) -> None:
    """LMTP delivery stores the exact bytes, below three trace headers."""
    dovecot.deliver(imap_user.user, raw, sender="bounce@example.edu.cn")

    (uid, stored), *rest = _fetch_all(imap_user).items()
    assert not rest
    assert stored.endswith(raw)

    # Dovecot's LMTP puts these three on top, and nothing else.
    added = BytesHeaderParser().parsebytes(stored[: len(stored) - len(raw)])
    assert added.keys() == ["Return-Path", "Delivered-To", "Received"]
    assert added["Return-Path"] == "<bounce@example.edu.cn>"
    assert added["Delivered-To"] == imap_user.user
    assert "with LMTP" in added["Received"]
    assert f"for <{imap_user.user}>" in added["Received"]

    assert dovecot.flags(imap_user.user) == {uid: ()}


def test_deliver_many_writes_mail_unchanged(
    dovecot: Dovecot, imap_user: ImapUser
) -> None:
    """deliver_many puts every mail in INBOX, byte for byte, with UIDs in order."""
    raws = [RAW.replace(b"A line.", f"Mail {n}.".encode()) for n in range(300)]

    dovecot.deliver_many(imap_user.user, raws)

    assert dovecot.message_count(imap_user.user) == 300
    stored = _fetch_all(imap_user)
    assert sorted(stored) == list(range(1, 301))
    assert sorted(stored.values()) == sorted(raws)


def test_append_returns_uid_and_flags(dovecot: Dovecot, imap_user: ImapUser) -> None:
    """APPEND gives back the new UID, and flags() reads the stored flags."""
    first = dovecot.append(imap_user.user, "INBOX", RAW)
    second = dovecot.append(imap_user.user, "INBOX", RAW, flags=[b"\\Seen"])

    assert second == first + 1
    assert dovecot.flags(imap_user.user) == {first: (), second: (b"\\Seen",)}


def test_folders_with_chinese_names(dovecot: Dovecot, imap_user: ImapUser) -> None:
    """Folders are created, renamed and listed by their Chinese names."""
    dovecot.create_folder(imap_user.user, "已处理")
    dovecot.append(imap_user.user, "已处理", RAW)
    dovecot.rename_folder(imap_user.user, "已处理", "归档")

    assert set(dovecot.folders(imap_user.user)) == {"INBOX", "归档"}
    assert dovecot.message_count(imap_user.user, "归档") == 1


def test_change_uidvalidity_keeps_mail(dovecot: Dovecot, imap_user: ImapUser) -> None:
    """A new UIDVALIDITY is reported while every mail stays in the folder."""
    for _ in range(3):
        dovecot.deliver(imap_user.user, RAW)
    before = _fetch_all(imap_user)
    old = dovecot.uidvalidity(imap_user.user)

    new = dovecot.change_uidvalidity(imap_user.user)

    client = _login(imap_user)
    try:
        assert client.select_folder("INBOX", readonly=True)[b"UIDVALIDITY"] == new
    finally:
        client.logout()
    assert new != old
    assert _fetch_all(imap_user) == before


def test_change_uidvalidity_drops_selecting_session(
    dovecot: Dovecot, imap_user: ImapUser
) -> None:
    """A session with the folder selected is disconnected by the change."""
    dovecot.deliver(imap_user.user, RAW)
    client = _login(imap_user)
    client.select_folder("INBOX")

    dovecot.change_uidvalidity(imap_user.user)

    with pytest.raises((imaplib.IMAP4.error, OSError)):
        client.noop()
        client.search("ALL")
    client.shutdown()


def test_kick_cuts_open_connection(dovecot: Dovecot, imap_user: ImapUser) -> None:
    """kick() cuts a logged-in connection, and the user can log in again."""
    client = _login(imap_user)
    client.select_folder("INBOX")

    dovecot.kick(imap_user.user)

    with pytest.raises((imaplib.IMAP4.error, OSError)):
        client.noop()
    client.shutdown()
    _login(imap_user).logout()


def test_noidle_server_lacks_idle(dovecot_noidle: Dovecot) -> None:
    """The second server advertises no IDLE, before or after login."""
    account = dovecot_noidle.new_user()
    client = IMAPClient(account.host, account.imap_port, ssl=False, timeout=10)
    try:
        assert b"IDLE" not in client.capabilities()
        client.login(account.user, account.password)
        capabilities = set(client.capabilities())
    finally:
        client.logout()

    assert b"IDLE" not in capabilities
    assert {b"MOVE", b"UIDPLUS", b"ID"} <= capabilities


def test_stop_leaves_no_process(spare_root: Path) -> None:
    """stop() ends the master and all its children, and frees the ports."""
    server = Dovecot(spare_root)
    server.start()
    assert _processes_mentioning(str(server))

    server.stop()

    assert _processes_mentioning(str(server)) == []
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((server.host, server.imap_port), timeout=2)


def test_restart_comes_back_on_same_ports(spare_root: Path) -> None:
    """After stop() and start() the same user and mail are on the same ports."""
    with Dovecot(spare_root) as server:
        account = server.new_user()
        server.deliver(account.user, RAW)
        ports = (server.imap_port, server.imaps_port, server.lmtp_port)

        server.stop()
        with pytest.raises(ConnectionRefusedError):
            _login(account)
        server.start()

        assert (server.imap_port, server.imaps_port, server.lmtp_port) == ports
        (stored,) = _fetch_all(account).values()
        assert stored.endswith(RAW)


def test_start_refuses_a_private_root(tmp_path: Path) -> None:
    """A root inside pytest's 0700 folders fails at once with the reason."""
    with pytest.raises(DovecotError, match="not traversable"):
        Dovecot(tmp_path).start()


# -- SMTP ---------------------------------------------------------------------


def _send(server: SmtpServer, raw: bytes, to: str = "jwc@example.edu.cn") -> None:
    with smtplib.SMTP(
        server.host, server.port, local_hostname="client.suqiu.test", timeout=10
    ) as client:
        client.sendmail("xgc@example.edu.cn", [to], raw)


def test_smtp_captures_envelope_and_bytes(smtp_server: SmtpServer) -> None:
    """A sent mail is captured with its envelope and its bytes unchanged."""
    _send(smtp_server, RAW)

    (received,) = smtp_server.wait_for(1)
    assert received.mail_from == "xgc@example.edu.cn"
    assert received.rcpt_tos == ["jwc@example.edu.cn"]
    assert received.data == RAW
    assert received.message()["Subject"] == "test"
    assert received.login is None
    assert not received.tls


def test_chinese_mail_survives_smtp(smtp_server: SmtpServer) -> None:
    """A 7-bit MIME mail in Chinese arrives byte for byte and decodes back."""
    message = EmailMessage()
    message["From"] = Address("学生工作处", addr_spec="xgc@example.edu.cn")
    message["To"] = Address("教务处", addr_spec="jwc@example.edu.cn")
    message["Subject"] = "【办理单】关于奖学金评定的诉求"
    message["Message-ID"] = make_msgid(domain="example.edu.cn")
    message.set_content("老师您好：\n请于7日内答复。\n", charset="utf-8", cte="base64")
    raw = message.as_bytes(policy=SMTP_POLICY)
    assert raw.isascii()

    _send(smtp_server, raw)

    (received,) = smtp_server.wait_for(1)
    assert received.data == raw
    parsed = received.message()
    assert parsed["Subject"] == "【办理单】关于奖学金评定的诉求"
    assert parsed["From"].addresses[0].display_name == "学生工作处"
    body = parsed.get_body()
    assert body is not None
    assert isinstance(body, EmailMessage)
    assert body.get_content() == "老师您好：\n请于7日内答复。\n"


def test_8bit_mail_survives_smtp(smtp_server: SmtpServer) -> None:
    """Raw 8-bit UTF-8 also arrives byte for byte, without SMTPUTF8."""
    _send(smtp_server, RAW_8BIT)

    assert smtp_server.wait_for(1)[0].data == RAW_8BIT


def test_refuse_next_at_data(smtp_server: SmtpServer) -> None:
    """A refusal at DATA reaches the client, for that one transaction only."""
    smtp_server.refuse_next(451, "4.7.1 MI:SFQ rate limited")

    with pytest.raises(smtplib.SMTPDataError) as refused:
        _send(smtp_server, RAW)
    assert refused.value.smtp_code == 451
    assert refused.value.smtp_error == b"4.7.1 MI:SFQ rate limited"
    assert smtp_server.messages == []

    _send(smtp_server, RAW)
    assert len(smtp_server.wait_for(1)) == 1


def test_refuse_next_at_rcpt(smtp_server: SmtpServer) -> None:
    """A refusal at RCPT refuses every recipient of the transaction."""
    smtp_server.refuse_next(554, "DT:SPM spam suspected", at="RCPT")

    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        _send(smtp_server, RAW)
    assert refused.value.recipients == {
        "jwc@example.edu.cn": (554, b"DT:SPM spam suspected")
    }
    assert smtp_server.messages == []


def test_refuse_next_at_mail_counts(smtp_server: SmtpServer) -> None:
    """count=2 at MAIL refuses exactly two transactions, then mail flows."""
    smtp_server.refuse_next(451, "4.7.1 try later", count=2, at="MAIL")

    for _ in range(2):
        with pytest.raises(smtplib.SMTPSenderRefused):
            _send(smtp_server, RAW)
    _send(smtp_server, RAW)

    assert len(smtp_server.wait_for(1)) == 1


def test_stop_and_start_on_same_port(smtp_server: SmtpServer) -> None:
    """While stopped the port refuses connections; restarted, it takes mail."""
    port = smtp_server.port
    smtp_server.stop()

    with pytest.raises(ConnectionRefusedError):
        _send(smtp_server, RAW)

    smtp_server.start()
    _send(smtp_server, RAW)
    assert smtp_server.port == port
    assert len(smtp_server.wait_for(1)) == 1


def test_wait_for_times_out(smtp_server: SmtpServer) -> None:
    """wait_for() gives up after its timeout and says how many arrived."""
    with pytest.raises(TimeoutError, match="0 of 1"):
        smtp_server.wait_for(1, timeout=0.1)


def test_smtp_auth(make_smtp_server: Callable[..., SmtpServer]) -> None:
    """With auth set, only the right login may send, over plain loopback."""
    server = make_smtp_server(auth=("xgc@example.edu.cn", "AUTHCODE2017xgc"))

    with smtplib.SMTP(server.host, server.port, timeout=10) as client:
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            client.sendmail("xgc@example.edu.cn", ["jwc@example.edu.cn"], RAW)
        assert refused.value.smtp_code == 530
    with (
        smtplib.SMTP(server.host, server.port, timeout=10) as client,
        pytest.raises(smtplib.SMTPAuthenticationError),
    ):
        client.login("xgc@example.edu.cn", "wrong")
    with smtplib.SMTP(server.host, server.port, timeout=10) as client:
        client.login("xgc@example.edu.cn", "AUTHCODE2017xgc")
        client.sendmail("xgc@example.edu.cn", ["jwc@example.edu.cn"], RAW)

    (received,) = server.wait_for(1)
    assert received.login == "xgc@example.edu.cn"


def test_smtp_starttls(make_smtp_server: Callable[..., SmtpServer]) -> None:
    """STARTTLS upgrades with the session's certificate, verified by the client."""
    server = make_smtp_server(starttls=True)

    with smtplib.SMTP(server.host, server.port, timeout=10) as client:
        client.starttls(context=session_certificate().client_context())
        client.sendmail("xgc@example.edu.cn", ["jwc@example.edu.cn"], RAW)

    assert server.wait_for(1)[0].tls


def test_smtp_implicit_tls(make_smtp_server: Callable[..., SmtpServer]) -> None:
    """implicit_tls serves SMTP over TLS from the first byte, as on port 465."""
    server = make_smtp_server(implicit_tls=True)
    context = session_certificate().client_context()

    with smtplib.SMTP_SSL(server.host, server.port, context=context) as client:
        client.sendmail("xgc@example.edu.cn", ["jwc@example.edu.cn"], RAW)

    assert server.wait_for(1)[0].tls


# -- databases ----------------------------------------------------------------


def test_database_url_connects(database_url: str) -> None:
    """Each database URL connects, and PostgreSQL tables land in the test schema."""
    engine = create_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE probe (id INTEGER PRIMARY KEY)"))
            connection.execute(text("INSERT INTO probe (id) VALUES (1)"))
        with engine.connect() as connection:
            count = connection.execute(text("SELECT count(*) FROM probe"))
            assert count.scalar_one() == 1
            if engine.dialect.name == "postgresql":
                schema = connection.execute(text("SELECT current_schema()"))
                name = schema.scalar_one()
                assert f"search_path%3D{name}" in database_url
                homes = connection.execute(
                    text(
                        "SELECT table_schema FROM information_schema.tables"
                        " WHERE table_name = 'probe'"
                        " AND table_schema IN (:schema, 'public')"
                    ),
                    {"schema": name},
                )
                assert homes.scalars().all() == [name]
    finally:
        engine.dispose()


def test_unreachable_postgresql_fails() -> None:
    """An unreachable PostgreSQL fails the test with the reason, never skips it."""
    with pytest.raises(pytest.fail.Exception, match="unreachable"):
        next(postgresql_schema("postgresql+psycopg://postgres@127.0.0.1:1/test"))
