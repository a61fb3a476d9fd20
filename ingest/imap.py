"""One IMAP mailbox over imapclient: login, select, fetch new mail, mark it.

The protocol stages follow RFC 3501: connect (SSL, STARTTLS or plain), LOGIN,
ID (RFC 2971; 163.com refuses SELECT without it), SELECT, UID SEARCH, UID
FETCH BODY.PEEK[] (PEEK leaves \\Seen alone), then STORE or MOVE once our
database holds the mail. Nothing is ever deleted or expunged.
"""

import logging
import ssl
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any

import imapclient
from imapclient.exceptions import IMAPClientError, LoginError

from ingest.source import Fetched, FolderInfo
from ingest.spool import BIG_MAIL, MailFile
from suqiu.config import MailboxSettings
from suqiu.errors import IngestError, MailboxFolderError, MailboxLoginError

log = logging.getLogger(__name__)

CLIENT_ID = {"name": "suqiu", "version": "0.1", "vendor": "suqiu"}
# UID FETCH of many UIDs in one command keeps the round trips few; the
# batches are also cut by size before they reach here.
FETCH_CHUNK = 500
IDLE_TICK = 0.5  # seconds between checks for a stop request while idling
PIECE = 4 * 1024 * 1024

# Mail providers whose accounts need an authorization code (授权码) instead of
# the web password for IMAP and SMTP; a refused login there usually means that.
AUTH_CODE_DOMAINS = ("163.com", "126.com", "yeah.net", "qq.com", "foxmail.com")


def login_hint(host: str | None, server_text: str) -> str:
    """Return advice in Chinese for a refused login, from what we know."""
    hint = "请核对用户名和密码（password_env 指向的环境变量）。"
    if host and any(host.endswith(d) for d in AUTH_CODE_DOMAINS):
        hint = (
            "网易（163/126）和 QQ 邮箱的 IMAP/SMTP 登录需要“客户端授权码”，"
            "不是网页登录密码：请在邮箱网页版“设置 → POP3/SMTP/IMAP”中开启服务"
            "并生成授权码，再把授权码放入 password_env 指向的环境变量。"
        )
    if "unsafe login" in server_text.lower():
        hint += "服务器提示 Unsafe Login：账号可能被判定为不安全登录，请在网页版确认。"
    return hint


def ssl_context(verify: bool = True, ca_file: str | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=ca_file)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class ImapMailbox:
    """A connection to one configured IMAP mailbox folder."""

    def __init__(
        self, settings: MailboxSettings, context: ssl.SSLContext | None = None
    ) -> None:
        self.settings = settings
        self.context = context or ssl_context(settings.tls_verify, settings.ca_file)
        self.client: Any = None
        self.known_sizes: dict[int, int] = {}

    @property
    def name(self) -> str:
        return self.settings.name

    def open(self) -> FolderInfo:
        """Connect, log in, identify ourselves and select the folder."""
        self._connect()
        self._login()
        self._identify()
        return self._select()

    def _connect(self) -> None:
        s = self.settings
        timeout = imapclient.SocketTimeout(connect=15, read=s.timeout)
        try:
            self.client = imapclient.IMAPClient(
                s.host,
                port=s.port,
                ssl=s.security == "ssl",
                ssl_context=self.context,
                timeout=timeout,
            )
            if s.security == "starttls":
                self.client.starttls(self.context)
        except (OSError, IMAPClientError, ssl.SSLError) as exc:
            raise IngestError(
                f"无法连接信箱“{s.name}”的服务器 {s.host}:{s.port}"
                f"（{s.security}）：{exc}"
            ) from exc
        log.debug("mailbox %s: connected to %s:%s", s.name, s.host, s.port)

    def _login(self) -> None:
        s = self.settings
        password = s.password.value() or ""
        try:
            self.client.login(s.username or "", password)
        except LoginError as exc:
            text = str(exc)
            raise MailboxLoginError(
                f"信箱“{s.name}”登录被拒绝（{s.username}@{s.host}）：{text}。"
                + login_hint(s.host, text)
            ) from exc
        except (OSError, IMAPClientError) as exc:
            raise IngestError(f"信箱“{s.name}”登录失败：{exc}") from exc

    def _identify(self) -> None:
        # RFC 2971 ID. Coremail (163/126) answers SELECT with "Unsafe Login"
        # unless the client has identified itself; harmless elsewhere.
        if not self.client.has_capability("ID"):
            return
        try:
            self.client.id_(CLIENT_ID)
        except (OSError, IMAPClientError) as exc:
            log.warning("mailbox %s: ID command refused: %s", self.name, exc)

    def _select(self) -> FolderInfo:
        s = self.settings
        try:
            info = self.client.select_folder(s.folder)
        except IMAPClientError as exc:
            raise MailboxFolderError(
                f"信箱“{s.name}”中找不到文件夹 {s.folder!r}（{exc}）。"
                f"服务器上的文件夹有：{'、'.join(self.folder_names())}"
            ) from exc
        except OSError as exc:
            raise IngestError(f"信箱“{s.name}”选择文件夹失败：{exc}") from exc
        uidvalidity = int(info[b"UIDVALIDITY"])
        exists = int(info.get(b"EXISTS", 0))
        log.debug(
            "mailbox %s: folder %s selected, UIDVALIDITY %s, %s messages",
            self.name,
            s.folder,
            uidvalidity,
            exists,
        )
        return FolderInfo(uidvalidity=uidvalidity, exists=exists)

    def folder_names(self) -> list[str]:
        try:
            return [str(name) for _flags, _delim, name in self.client.list_folders()]
        except (OSError, IMAPClientError):
            return []

    def uids_after(self, last_uid: int) -> list[int]:
        """Return the UIDs above *last_uid*, ascending."""
        try:
            found = self.client.search(["UID", f"{last_uid + 1}:*"])
        except (OSError, IMAPClientError) as exc:
            raise IngestError(f"信箱“{self.name}”搜索新邮件失败：{exc}") from exc
        # "n:*" always matches the highest UID, even when it is below n
        # (RFC 3501 §6.4.8), so filter.
        return sorted(int(uid) for uid in found if int(uid) > last_uid)

    def sizes(self, uids: Sequence[int]) -> dict[int, int]:
        """Return each UID's RFC822.SIZE, so batches can be cut by bytes."""
        sizes: dict[int, int] = {}
        for chunk in _chunks(uids, FETCH_CHUNK * 4):
            try:
                data = self.client.fetch(chunk, ["RFC822.SIZE"])
            except (OSError, IMAPClientError) as exc:
                raise IngestError(f"信箱“{self.name}”读取邮件大小失败：{exc}") from exc
            for uid, item in data.items():
                sizes[int(uid)] = int(item.get(b"RFC822.SIZE", 0))
        self.known_sizes = sizes
        return sizes

    def fetch(self, uids: Sequence[int]) -> list[Fetched]:
        """Fetch the raw bytes of *uids* without setting \\Seen."""
        # The poller asked for the sizes just before, to cut its batches.
        if len(uids) == 1 and self.known_sizes.get(uids[0], 0) > BIG_MAIL:
            return self._fetch_in_pieces(uids[0], self.known_sizes[uids[0]])
        fetched: list[Fetched] = []
        for chunk in _chunks(uids, FETCH_CHUNK):
            try:
                data = self.client.fetch(chunk, ["BODY.PEEK[]"])
            except (OSError, IMAPClientError) as exc:
                raise IngestError(f"信箱“{self.name}”读取邮件失败：{exc}") from exc
            for uid in chunk:
                item = data.pop(uid, None)
                raw = item.get(b"BODY[]") if item else None
                if raw is None:
                    # Expunged by someone else between SEARCH and FETCH.
                    log.warning(
                        "mailbox %s: UID %s vanished before it could be fetched",
                        self.name,
                        uid,
                    )
                    continue
                fetched.append(Fetched(uid=uid, raw=bytes(raw)))
        return fetched

    def _fetch_in_pieces(self, uid: int, size: int) -> list[Fetched]:
        """Fetch one large mail piece by piece (BODY.PEEK[]<offset.length>)
        into a MailFile, so that the process never holds the whole of it.

        imaplib and imapclient hold a fetched literal three times over while
        parsing the response; in pieces, only a piece is held that way.
        """
        spool = MailFile.spool()
        try:
            while True:
                piece = self._piece(uid, spool.written)
                if piece is None:
                    if not spool.written:
                        log.warning("mailbox %s: UID %s vanished", self.name, uid)
                        spool.discard()
                        return []
                    break
                spool.write(piece)
                if len(piece) < PIECE:
                    break
        except BaseException:
            spool.discard()
            raise
        log.debug(
            "mailbox %s: UID %s fetched in pieces, %d bytes", self.name, uid, size
        )
        return [Fetched(uid=uid, raw=spool.finish())]

    def _piece(self, uid: int, offset: int) -> bytes | None:
        item = f"BODY.PEEK[]<{offset}.{PIECE}>"
        try:
            data = self.client.fetch([uid], [item])
        except (OSError, IMAPClientError) as exc:
            raise IngestError(f"信箱“{self.name}”读取大邮件失败：{exc}") from exc
        found = data.get(uid, {})
        piece = next((v for k, v in found.items() if k.startswith(b"BODY[]")), None)
        return bytes(piece) if piece is not None else None

    def mark(self, uids: Sequence[int]) -> None:
        """Flag or move mails whose processing is committed, as configured."""
        s = self.settings
        if not uids or s.after == "none":
            return
        try:
            if s.after == "seen":
                self.client.add_flags(uids, [imapclient.SEEN], silent=True)
            elif self.client.has_capability("MOVE"):
                self._ensure_folder(s.move_to or "")
                self.client.move(uids, s.move_to)
            else:
                # Without MOVE, a move is COPY + \Deleted + EXPUNGE, and we
                # never delete: copy, and flag the original as read.
                self._ensure_folder(s.move_to or "")
                self.client.copy(uids, s.move_to)
                self.client.add_flags(uids, [imapclient.SEEN], silent=True)
        except (OSError, IMAPClientError) as exc:
            raise IngestError(f"信箱“{self.name}”标记邮件失败：{exc}") from exc

    def _ensure_folder(self, folder: str) -> None:
        if not self.client.folder_exists(folder):
            self.client.create_folder(folder)
            log.info("mailbox %s: created folder %s", self.name, folder)

    def supports_idle(self) -> bool:
        return bool(self.client.has_capability("IDLE"))

    def wait(self, seconds: float, stop: threading.Event) -> bool:
        """IDLE (RFC 2177) up to *seconds*, or until *stop* is set; True when
        new mail may be there."""
        if self._exists_reported():
            return True
        deadline = time.monotonic() + seconds
        empty_returns = 0
        try:
            self.client.idle()
            if self._already_buffered():
                self.client.idle_done()
                return True
            try:
                # Short checks, so that a stopping service is not held up
                # for the whole IDLE period.
                while not stop.is_set() and time.monotonic() < deadline:
                    started = time.monotonic()
                    responses = self.client.idle_check(timeout=IDLE_TICK)
                    if any(r[:1] == (b"BYE",) for r in responses):
                        raise IngestError(f"信箱“{self.name}”的服务器关闭了连接")
                    if any(_is_new_mail(r) for r in responses):
                        return True
                    # After the server hangs up without a BYE, imapclient's
                    # idle_check returns at once, empty, forever.
                    quick = (
                        not responses and time.monotonic() - started < IDLE_TICK / 10
                    )
                    empty_returns = empty_returns + 1 if quick else 0
                    if empty_returns >= 3:
                        raise IngestError(f"信箱“{self.name}”的连接已断开")
            finally:
                self.client.idle_done()
        except (OSError, IMAPClientError) as exc:
            raise IngestError(f"信箱“{self.name}”IDLE 中断：{exc}") from exc
        return False

    def _exists_reported(self) -> bool:
        """True when the server reported new mail during our last commands.

        A mail that arrives while UID SEARCH runs is announced by an untagged
        EXISTS within that command's response, which imaplib keeps aside
        and IDLE will not repeat: without this check it would wait unseen
        until the next IDLE period.
        """
        pending = self.client._imap.untagged_responses
        return bool(pending.pop("EXISTS", None) or pending.pop("RECENT", None))

    def _already_buffered(self) -> bool:
        """True when a response came in the same packet as IDLE's "+ idling".

        imaplib reads through a buffered file; a line already in its buffer
        never makes the socket readable again, so idle_check would not see
        it until the next packet.
        """
        sock = self.client.socket()
        previous = sock.gettimeout()
        sock.setblocking(False)
        try:
            return bool(self.client._imap.file.peek(1))
        except OSError:
            return False
        finally:
            sock.settimeout(previous)

    def noop(self) -> None:
        try:
            self.client.noop()
        except (OSError, IMAPClientError) as exc:
            raise IngestError(f"信箱“{self.name}”连接中断：{exc}") from exc

    def close(self) -> None:
        if self.client is None:
            return
        try:
            self.client.logout()
        except (OSError, IMAPClientError):
            pass
        finally:
            self.client = None


def _is_new_mail(response: Any) -> bool:
    # Untagged "* n EXISTS" or "* n RECENT" means mail arrived.
    return (
        isinstance(response, tuple)
        and len(response) >= 2
        and response[1] in (b"EXISTS", b"RECENT")
    )


def _chunks(items: Sequence[int], size: int) -> Iterable[list[int]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])
