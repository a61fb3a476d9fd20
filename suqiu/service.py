"""`suqiu run`: watch every mailbox, deliver the outbox, run scheduled jobs.

Each mailbox has a watcher thread that keeps its connection open and waits
with IDLE where the server offers it, or polls where it does not (163.com).
A watcher that loses its server says so once, then retries with a growing
pause; the other mailboxes and the outbox carry on meanwhile.
"""

import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType

from ingest.source import MailSource
from suqiu.app import App
from suqiu.config import MailboxSettings
from suqiu.errors import IngestError, SuqiuError
from suqiu.schedule import start_scheduler

log = logging.getLogger(__name__)

# RFC 2177 asks clients to leave IDLE within 29 minutes; servers drop
# connections that stay idle longer, so re-issue it well before.
IDLE_SECONDS = 25 * 60
FIRST_BACKOFF = 5.0
MAX_BACKOFF = 300.0
SEND_EVERY = 30.0  # seconds between outbox runs when nothing wakes the sender


class Service:
    """The long-running form of suqiu."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.stopping = threading.Event()
        self.mail_arrived = threading.Event()
        self.threads: list[threading.Thread] = []

    def run_forever(self) -> None:
        """Run until SIGTERM or SIGINT."""
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        self.start()
        log.info(
            "suqiu running: %d mailboxes, owner %s",
            len(self.app.settings.mailboxes),
            self.app.owner,
        )
        try:
            while not self.stopping.wait(1.0):
                pass
        finally:
            self.stop()

    def _on_signal(self, number: int, _frame: FrameType | None) -> None:
        log.info("signal %s received: stopping", number)
        self.stopping.set()

    def start(self) -> None:
        # Build the shared parts once, here, not racing in the threads.
        self.app.poller  # noqa: B018
        for mailbox in self.app.settings.mailboxes:
            self._spawn(f"watch {mailbox.name}", self._watch, mailbox)
        if self.app.settings.smtp is not None:
            self._spawn("outbox", self._deliver_loop)
        self.scheduler = start_scheduler(self.app, self.stopping)

    def stop(self) -> None:
        self.stopping.set()
        self.mail_arrived.set()
        scheduler = getattr(self, "scheduler", None)
        if scheduler is not None:
            scheduler.shutdown(wait=False)
        for thread in self.threads:
            thread.join(timeout=30)
        log.info("suqiu stopped")

    def _spawn(self, name: str, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        self.threads.append(thread)

    def _watch(self, mailbox: MailboxSettings) -> None:
        """Keep one mailbox read: IDLE when offered, else poll on a timer."""
        backoff = FIRST_BACKOFF
        while not self.stopping.is_set():
            source = self.app.source(mailbox)
            try:
                self._watch_connected(source, mailbox)
                backoff = FIRST_BACKOFF
            except SuqiuError as exc:
                # The poller logs an outage once and records every failure.
                self.app.poller.failed(mailbox, exc)
                self.stopping.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
            except Exception:  # the watcher must outlive any one failure
                log.exception("mailbox %s: unexpected error in watcher", mailbox.name)
                self.stopping.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
            finally:
                source.close()

    def _watch_connected(self, source: MailSource, mailbox: MailboxSettings) -> None:
        """One connection's life: read, wait, read again, until it must end."""
        folder = source.open()
        idle = mailbox.idle and source.supports_idle()
        if idle:
            log.info("mailbox %s: connected, waiting with IDLE", mailbox.name)
        else:
            log.info(
                "mailbox %s: no IDLE, polling every %.0f s",
                mailbox.name,
                mailbox.poll_seconds,
            )
        waited = 0.0
        while not self.stopping.is_set():
            report = self.app.poller.read(source, mailbox, folder)
            if report.error:
                raise IngestError(report.error)
            if report.stored or report.recovered:
                self.mail_arrived.set()

            if not idle:
                # Reconnect for each poll: some servers end idle sessions
                # silently, and a fresh SELECT also sees a new UIDVALIDITY.
                self.stopping.wait(mailbox.poll_seconds)
                return
            if waited >= IDLE_SECONDS:
                return  # reconnect, which re-selects the folder
            wait = min(60.0, IDLE_SECONDS - waited)
            source.wait(wait, self.stopping)
            waited += wait

    def _deliver_loop(self) -> None:
        """Deliver the outbox whenever mail arrived, and every half minute."""
        while not self.stopping.is_set():
            try:
                self.app.send()
            except Exception:  # the sender must outlive any one failure
                log.exception("outbox delivery failed")
            self.mail_arrived.wait(SEND_EVERY)
            self.mail_arrived.clear()
