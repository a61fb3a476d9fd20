"""A private Dovecot 2.3 for the tests: IMAP, IMAPS and LMTP on loopback ports.

Each instance has its own folder, sockets and log, so several can run at once.
"""

from __future__ import annotations

import atexit
import contextlib
import imaplib
import itertools
import logging
import os
import pwd
import re
import secrets
import shutil
import signal
import smtplib
import socket
import subprocess
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from imapclient import IMAPClient

from tests.servers.certs import Certificate, session_certificate

log = logging.getLogger(__name__)

HOST = "127.0.0.1"

# What Dovecot 2.3.19 advertises after login by default, less IDLE: like
# 163.com, a server that a client must poll. Dovecot would still answer an
# IDLE command sent regardless; only the advertisement changes.
CAPABILITY_WITHOUT_IDLE = (
    "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE SORT SORT=DISPLAY "
    "THREAD=REFERENCES THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND "
    "URL-PARTIAL CATENATE UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED "
    "I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH ESORT SEARCHRES WITHIN "
    "CONTEXT=SEARCH LIST-STATUS BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY "
    "PREVIEW STATUS=SIZE SAVEDATE LITERAL+ NOTIFY SPECIAL-USE"
)

_START_ATTEMPTS = 3
_START_TIMEOUT = 15.0
_STOP_TIMEOUT = 10.0
_APPENDUID = re.compile(rb"\[APPENDUID (\d+) (\d+)\]")
_UNSAFE_NAME = re.compile(r"[:/\s]|^\.")


class DovecotError(RuntimeError):
    """The test Dovecot could not start, or refused what a test asked of it."""


@dataclass(frozen=True)
class ImapUser:
    """One mail account on a test Dovecot, with everything a client needs."""

    user: str
    password: str = field(repr=False)
    host: str
    imap_port: int
    imaps_port: int
    lmtp_port: int
    server: Dovecot


class Dovecot:
    """A Dovecot master started with ``dovecot -F -c FILE`` in ``root``.

    Every folder from ``root`` up must be traversable by others (mode 755):
    Dovecot drops privileges to the ``dovecot``, ``dovenull`` and ``mail``
    users, which must reach the sockets, the passwd-file and the mail.
    """

    host = HOST

    def __init__(
        self,
        root: Path,
        *,
        idle: bool = True,
        certificate: Certificate | None = None,
    ) -> None:
        self.root = root
        self.idle = idle
        self.imap_port = 0
        self.imaps_port = 0
        self.lmtp_port = 0
        self._certificate = certificate
        self._config = root / "dovecot.conf"
        self._passwd_dir = root / "passwd"
        self._homes = root / "home"
        self._log = root / "dovecot.log"
        self._stderr = root / "dovecot.stderr"
        self._instance = f"suqiu-test-{os.getpid()}-{secrets.token_hex(3)}"
        self._passwords: dict[str, str] = {}
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._file_numbers = itertools.count()

        account = pwd.getpwnam("mail")
        self._mail_uid = account.pw_uid
        self._mail_gid = account.pw_gid

    # -- lifetime -----------------------------------------------------------

    def start(self) -> None:
        """Start the server and return once IMAP and LMTP answer.

        After stop(), start() brings the same users and mail back on the same
        ports, unless another process took one of them meanwhile.
        """
        if self._process is not None:
            raise DovecotError("this Dovecot is already running")
        # Dovecot run by anyone else cannot switch to its service users, and
        # every socket it makes would need its owner set by hand.
        if os.geteuid() != 0:
            raise DovecotError("the test Dovecot must be started as root")
        _check_traversable(self.root)
        started = time.monotonic()

        for folder in (self._run_dir, self._state_dir, self._homes, self._passwd_dir):
            folder.mkdir(mode=0o755, parents=True, exist_ok=True)
            folder.chmod(0o755)

        # Free ports are chosen by asking the kernel, then released for
        # Dovecot to bind: another process may take one in between, so a
        # start that fails on a taken port is tried again with new ones.
        # A restart first tries the old ports, so that clients find the
        # server where it was before its outage.
        for attempt in range(1, _START_ATTEMPTS + 1):
            if attempt > 1 or not self.imap_port:
                self.imap_port, self.imaps_port, self.lmtp_port = _free_ports(3)
            self._config.write_text(self._render_config())
            self._spawn()
            try:
                self._wait_until_ready()
            except DovecotError:
                self._terminate()
                if attempt < _START_ATTEMPTS and self._port_was_taken():
                    log.warning("Dovecot %s: a port was taken, retrying", self)
                    continue
                raise
            break

        atexit.register(self.stop)
        log.info(
            "Dovecot %s up in %.2fs: imap %d, imaps %d, lmtp %d",
            self._instance,
            time.monotonic() - started,
            self.imap_port,
            self.imaps_port,
            self.lmtp_port,
        )

    def stop(self) -> None:
        """Stop the master and every process it started; safe to call twice."""
        if self._process is None:
            return
        self._terminate()
        atexit.unregister(self.stop)
        log.info("Dovecot %s stopped", self._instance)

    def __enter__(self) -> Dovecot:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def __str__(self) -> str:
        return self._instance

    def __repr__(self) -> str:
        return f"<Dovecot {self._instance} imap={self.imap_port} lmtp={self.lmtp_port}>"

    # -- accounts -----------------------------------------------------------

    def add_user(self, user: str, password: str) -> None:
        """Create a mail account with an empty home; works while running."""
        if not user or _UNSAFE_NAME.search(user) or ":" in password:
            raise ValueError(f"unusable user name or password for {user!r}")
        if "\n" in password:
            raise ValueError(f"unusable password for {user!r}")

        with self._lock:
            if user in self._passwords:
                raise ValueError(f"user {user!r} exists already")
            home = self._homes / user
            home.mkdir(mode=0o700, parents=True)
            os.chown(home, self._mail_uid, self._mail_gid)
            self._passwords[user] = password
            self._write_passwd(user, password)

    def new_user(self, prefix: str = "box") -> ImapUser:
        """Create an account with a unique name and a random password."""
        user = f"{prefix}-{secrets.token_hex(4)}@suqiu.test"
        password = secrets.token_urlsafe(12)
        self.add_user(user, password)
        return ImapUser(
            user=user,
            password=password,
            host=self.host,
            imap_port=self.imap_port,
            imaps_port=self.imaps_port,
            lmtp_port=self.lmtp_port,
            server=self,
        )

    # -- putting mail in ----------------------------------------------------

    def deliver(
        self, user: str, raw: bytes, *, sender: str = "sender@example.com"
    ) -> None:
        """Deliver one mail to the user's INBOX over LMTP, as an MTA would.

        Dovecot stores the bytes unchanged below three header fields of its
        own: ``Return-Path: <sender>``, ``Delivered-To: user`` and a folded
        ``Received: from mx.suqiu.test ([127.0.0.1]) by mail.suqiu.test with
        LMTP id ... (envelope-from <sender>) for <user>; date``. Line ends
        read back over IMAP are CRLF whatever was sent.
        """
        try:
            with smtplib.LMTP(
                self.host, self.lmtp_port, local_hostname="mx.suqiu.test"
            ) as lmtp:
                lmtp.sendmail(sender, [user], raw)
        except smtplib.SMTPException as exc:
            raise DovecotError(
                f"LMTP delivery to {user} failed: {exc}\n{self._log_tail()}"
            ) from exc

    def deliver_many(self, user: str, raws: Iterable[bytes]) -> None:
        """Write mails straight into the user's Maildir as unread, then index them.

        Far faster than LMTP for benchmark mailboxes, but nothing is added
        to the mail: no Return-Path, Delivered-To or Received header.
        """
        maildir = self._homes / user / "Maildir"
        for sub in ("", "cur", "new", "tmp"):
            folder = maildir / sub
            if not folder.exists():
                folder.mkdir(mode=0o700)
                os.chown(folder, self._mail_uid, self._mail_gid)

        # Maildir's own protocol: write under tmp/, then rename, so that
        # Dovecot never sees half a file. The rename goes to cur/ with no
        # flags (":2,"), where Dovecot's LMTP puts mail too: from new/, the
        # first read-write SELECT would move every file (0.19 s for 20,000
        # mails, against 0.03 s). ",S=" is the exact size, which saves
        # Dovecot a stat() per mail.
        stamp = int(time.time())
        pid = os.getpid()
        for raw in raws:
            name = f"{stamp}.P{pid}Q{next(self._file_numbers)}.suqiu,S={len(raw)}"
            path = maildir / "tmp" / name
            with open(path, "xb") as file:
                file.write(raw)
            os.chown(path, self._mail_uid, self._mail_gid)
            os.rename(path, maildir / "cur" / f"{name}:2,")

        # EXAMINE makes Dovecot give every new file its UID now, so that
        # the cost of indexing is not charged to the first client; being
        # read-only, it takes no \Recent flag away from the next session.
        with self._imap(user) as client:
            client.select_folder("INBOX", readonly=True)

    def append(
        self, user: str, folder: str, raw: bytes, flags: Iterable[bytes] = ()
    ) -> int:
        """Add one mail to a folder with IMAP APPEND; return its UID."""
        with self._imap(user) as client:
            answer = client.append(folder, raw, flags=tuple(flags))
        found = _APPENDUID.search(answer)
        if found is None:
            raise DovecotError(f"APPEND answered without APPENDUID: {answer!r}")
        return int(found.group(2))

    # -- changing the mailbox under a client --------------------------------

    def create_folder(self, user: str, folder: str) -> None:
        """Create a folder (Chinese names welcome: imapclient encodes them)."""
        with self._imap(user) as client:
            client.create_folder(folder)

    def rename_folder(self, user: str, old: str, new: str) -> None:
        """Rename a folder, as another mail client of the user might."""
        with self._imap(user) as client:
            client.rename_folder(old, new)

    def change_uidvalidity(self, user: str, folder: str = "INBOX") -> int:
        """Give the folder a new UIDVALIDITY, keeping its mail; return it.

        Sessions that have the folder selected are disconnected by Dovecot
        ("IMAP session state is inconsistent, please relogin").
        """
        old = self.uidvalidity(user, folder)
        new = old + 1 if old < 0xFFFFFFFF else 1
        self._doveadm(
            "mailbox", "update", "-u", user, "--uid-validity", str(new), folder
        )

        now = self.uidvalidity(user, folder)
        if now != new:
            raise DovecotError(f"UIDVALIDITY of {folder} is {now}, not {new}")
        return new

    def kick(self, user: str) -> None:
        """Cut every IMAP connection of the user, and wait until they are gone."""
        # doveadm exits with 68 (EX_NOUSER) when the user had no connection.
        self._doveadm("kick", user, accept=(0, 68))

        deadline = time.monotonic() + 5
        while user in self._doveadm("who", "-1", user, accept=(0, 68)):
            if time.monotonic() > deadline:
                raise DovecotError(f"{user} is still connected after a kick")
            time.sleep(0.01)

    # -- looking without touching -------------------------------------------

    def uidvalidity(self, user: str, folder: str = "INBOX") -> int:
        """The folder's UIDVALIDITY, as a client logging in now would see it."""
        with self._imap(user) as client:
            status = client.folder_status(folder, [b"UIDVALIDITY"])
        return int(status[b"UIDVALIDITY"])

    def message_count(self, user: str, folder: str = "INBOX") -> int:
        """How many mails the folder holds (IMAP STATUS, which marks nothing)."""
        with self._imap(user) as client:
            status = client.folder_status(folder, [b"MESSAGES"])
        return int(status[b"MESSAGES"])

    def flags(self, user: str, folder: str = "INBOX") -> dict[int, tuple[bytes, ...]]:
        """UID to stored flags, read through EXAMINE so that nothing is marked.

        \\Recent is left out: it belongs to a session, not to the mail.
        """
        with self._imap(user) as client:
            client.select_folder(folder, readonly=True)
            uids = client.search("ALL")
            fetched = client.fetch(uids, ["FLAGS"]) if uids else {}
        return {
            int(uid): tuple(flag for flag in data[b"FLAGS"] if flag != b"\\Recent")
            for uid, data in fetched.items()
        }

    def folders(self, user: str) -> list[str]:
        """Every folder of the user, decoded from modified UTF-7."""
        with self._imap(user) as client:
            return [str(name) for _flags, _sep, name in client.list_folders()]

    def log_text(self) -> str:
        """Everything Dovecot has logged so far."""
        if not self._log.exists():
            return ""
        return self._log.read_text(errors="replace")

    # -- inside -------------------------------------------------------------

    @property
    def _run_dir(self) -> Path:
        return self.root / "run"

    @property
    def _state_dir(self) -> Path:
        return self.root / "state"

    def _render_config(self) -> str:
        certificate = self._certificate or session_certificate()
        if self.idle:
            capability = ""
        else:
            capability = f"imap_capability = {CAPABILITY_WITHOUT_IDLE}\n"

        return f"""\
# Written by tests/servers/dovecot.py for one test session; not for production.
instance_name = {self._instance}
base_dir = {self._run_dir}
state_dir = {self._state_dir}
log_path = {self._log}
log_timestamp = "%Y-%m-%d %H:%M:%S "
hostname = mail.suqiu.test
listen = {HOST}
protocols = imap lmtp
verbose_proctitle = yes
shutdown_clients = yes
ssl = yes
ssl_cert = <{certificate.cert}
ssl_key = <{certificate.key}
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_verbose = yes

passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self._passwd_dir}/%u
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {self._passwd_dir}/%u
}}

mail_location = maildir:~/Maildir
first_valid_uid = {self._mail_uid}
first_valid_gid = {self._mail_gid}
mail_fsync = never
imap_id_log = *
{capability}
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Drafts {{
    special_use = \\Drafts
  }}
  mailbox Sent {{
    special_use = \\Sent
  }}
  mailbox Junk {{
    special_use = \\Junk
  }}
  mailbox Trash {{
    special_use = \\Trash
  }}
}}

protocol imap {{
  mail_max_userip_connections = 1000
}}

# One long-lived login process serves every connection: forking one per
# connection (Dovecot's default) costs a few milliseconds each time.
service imap-login {{
  service_count = 0
  process_min_avail = 1
  inet_listener imap {{
    address = {HOST}
    port = {self.imap_port}
  }}
  inet_listener imaps {{
    address = {HOST}
    port = {self.imaps_port}
    ssl = yes
  }}
}}

service lmtp {{
  inet_listener lmtp {{
    address = {HOST}
    port = {self.lmtp_port}
  }}
}}
"""

    def _write_passwd(self, user: str, password: str) -> None:
        # One passwd-file per user: Dovecot 2.3's auth stats a passwd-file at
        # most once a second, so a user added to a shared file could stay
        # "unknown" for up to a second. A file it has never looked at is read
        # on first use. It is renamed into place, never seen half written.
        line = (
            f"{user}:{{PLAIN}}{password}:{self._mail_uid}:{self._mail_gid}"
            f"::{self._homes / user}::\n"
        )
        partial = self._passwd_dir / f".{user}.new"
        partial.write_text(line)
        partial.chmod(0o644)
        os.replace(partial, self._passwd_dir / user)

    def _spawn(self) -> None:
        dovecot = _program("dovecot")
        command = [dovecot, "-F", "-c", str(self._config)]

        # PR_SET_PDEATHSIG: if the test process dies without cleaning up
        # (SIGKILL, a crash), the master gets SIGTERM and takes its children
        # down, instead of lingering on its ports. It is tied to the thread
        # that starts Dovecot, so start it from a thread that lives on.
        setpriv = shutil.which("setpriv")
        if setpriv is not None:
            command = [setpriv, "--pdeathsig", "TERM", "--", *command]

        with open(self._stderr, "wb") as stderr:
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=stderr,
                stderr=stderr,
                start_new_session=True,
            )

    def _wait_until_ready(self) -> None:
        # The master binds every listener before it forks a service, but the
        # greeting only comes once imap-login and auth (or lmtp) are up.
        deadline = time.monotonic() + _START_TIMEOUT
        for port, greeting, goodbye in (
            (self.imap_port, b"* OK", b"a LOGOUT\r\n"),
            (self.lmtp_port, b"220 ", b"QUIT\r\n"),
        ):
            while not self._greets(port, greeting, goodbye):
                process = self._process
                if process is None or process.poll() is not None:
                    raise DovecotError(f"Dovecot exited at start\n{self._why()}")
                if time.monotonic() > deadline:
                    raise DovecotError(f"Dovecot did not answer\n{self._why()}")
                time.sleep(0.01)

    def _greets(self, port: int, greeting: bytes, goodbye: bytes) -> bool:
        try:
            with socket.create_connection((self.host, port), timeout=2) as sock:
                line = sock.makefile("rb").readline()
                sock.sendall(goodbye)
        except OSError:
            return False
        return line.startswith(greeting)

    def _terminate(self) -> None:
        process = self._process
        if process is None:
            return
        self._process = None

        # SIGTERM to the master alone stops everything too, but the master
        # then waits a second for its children; sent to the whole process
        # group, the same signal ends them all within a tenth of a second.
        group = process.pid
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGTERM)
        try:
            process.wait(_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            log.warning("Dovecot %s ignored SIGTERM, killing it", self)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)
            process.wait(_STOP_TIMEOUT)

        deadline = time.monotonic() + _STOP_TIMEOUT
        while _group_alive(group):
            if time.monotonic() > deadline:
                log.warning("Dovecot %s left processes, killing them", self)
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(group, signal.SIGKILL)
                break
            time.sleep(0.01)

    def _port_was_taken(self) -> bool:
        return "Address already in use" in self._why()

    def _why(self) -> str:
        stderr = (
            self._stderr.read_text(errors="replace") if self._stderr.exists() else ""
        )
        return f"{stderr}{self._log_tail()}"

    def _log_tail(self, lines: int = 20) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def _doveadm(self, *args: str, accept: Iterable[int] = (0,)) -> str:
        result = subprocess.run(
            [_program("doveadm"), "-c", str(self._config), *args],
            capture_output=True,
            text=True,
            timeout=30,
        )
        if result.returncode not in tuple(accept):
            raise DovecotError(
                f"doveadm {' '.join(args)} exited with {result.returncode}: "
                f"{result.stderr.strip()}"
            )
        return result.stdout

    @contextlib.contextmanager
    def _imap(self, user: str) -> Iterator[IMAPClient]:
        client = IMAPClient(self.host, port=self.imap_port, ssl=False, timeout=10)
        try:
            client.login(user, self._passwords[user])
            yield client
        finally:
            with contextlib.suppress(OSError, imaplib.IMAP4.error):
                client.logout()


def _check_traversable(root: Path) -> None:
    # pytest's own temporary folders are 0700 and pytest resets them to 0700
    # at every start, so the mail users could never reach a root inside them.
    for folder in (root, *root.parents):
        if folder.exists() and not folder.stat().st_mode & 0o001:
            raise DovecotError(
                f"{folder} is not traversable by others (mode 755 needed): "
                "Dovecot's unprivileged processes could not reach the mail"
            )


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind((HOST, 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _group_alive(group: int) -> bool:
    # Zombies are not counted: the master's orphans are reaped by PID 1,
    # which on some machines (this VM's init among them) takes seconds.
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[2]) == group and fields[0] != "Z":
            return True
    return False


def _program(name: str) -> str:
    # Dovecot lives in /usr/sbin, which is not on a normal user's PATH.
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/bin"])
    found = shutil.which(name, path=path)
    if found is None:
        raise DovecotError(f"{name} is not installed: run scripts/test")
    return found
