"""Read new mail from a mailbox into the database, one committed batch at a time.

For each batch: fetch the raw mails, store each one with its raw bytes, let
the handler turn it into a case or a non-case, and advance the mailbox's last
UID, all in one transaction; only then mark the mails on the server. A crash
at any point loses nothing: uncommitted mail is fetched again, and a mail
already stored from the same place is never stored twice. A mail whose
handling raises is stored with its error and retried on later polls; it
never blocks the mail behind it.
"""

import logging
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from ingest.identity import identity
from ingest.mail import ParsedMail
from ingest.parse import parse_mail
from ingest.progress import Progress
from ingest.source import Fetched, FolderInfo, MailSource
from ingest.spool import MailBytes, MailFile, sha256_of
from ingest.stored import stored_mail
from store import cases, inbound, mailboxes, owners, rawmail
from store.db import transaction
from store.models import Inbound, MailState
from suqiu import clock
from suqiu.config import IngestSettings, MailboxSettings
from suqiu.errors import IngestError, SuqiuError

log = logging.getLogger(__name__)

# Decides what a stored mail is (sets kind, reason, case_id) and acts on it.
Handler = Callable[[Session, Inbound, ParsedMail], None]

LEASE = timedelta(minutes=10)
FETCH_LIMIT = 1000  # UIDs marked late in one poll
RETRY_DELAYS = (60, 300, 900, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 24 * 3600)


def owner_name() -> str:
    """Name this process in leases and claims: host, pid."""
    return owners.me()


def retry_delay(attempts: int) -> timedelta:
    """How long to wait before processing a failed mail again."""
    return timedelta(seconds=RETRY_DELAYS[min(attempts, len(RETRY_DELAYS)) - 1])


@dataclass
class PollReport:
    """What one poll of one mailbox did."""

    mailbox: str
    stored: int = 0  # new mails stored, whatever they turned out to be
    failed: int = 0  # of those, how many failed processing
    rehomed: int = 0  # known mails found again under a new UIDVALIDITY
    retried: int = 0  # earlier failures processed again
    recovered: int = 0  # of those, how many succeeded this time
    kinds: dict[str, int] = field(default_factory=dict)
    error: str | None = None


class Poller:
    """Moves mail from sources into the database through a handler."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        handler: Handler,
        settings: IngestSettings,
        *,
        owner: str | None = None,
        show_progress: bool = True,
    ) -> None:
        self.sessions = sessions
        self.handler = handler
        self.settings = settings
        self.owner = owner or owner_name()
        self.show_progress = show_progress
        self.down: set[str] = set()  # mailboxes whose outage was logged

    def poll(self, source: MailSource, mailbox: MailboxSettings) -> PollReport:
        """Open *source*, read everything new, close it; one bad mail never
        stops the others, and a mailbox that cannot be read is reported."""
        try:
            folder = source.open()
        except IngestError as exc:
            source.close()
            return self.failed(mailbox, exc)
        try:
            return self.read(source, mailbox, folder)
        finally:
            source.close()

    def read(
        self, source: MailSource, mailbox: MailboxSettings, folder: FolderInfo
    ) -> PollReport:
        """Read everything new from an open *source* under the mailbox lease."""
        report = PollReport(mailbox.name)
        with transaction(self.sessions) as session:
            mailboxes.state_of(session, mailbox.name, mailbox.folder)
            if not mailboxes.acquire(session, mailbox.name, self.owner, LEASE):
                log.info("mailbox %s: another service is reading it", mailbox.name)
                return report
        try:
            self._read(source, mailbox, folder.uidvalidity, report)
        except IngestError as exc:
            return self.failed(mailbox, exc, report)
        finally:
            with transaction(self.sessions) as session:
                mailboxes.release(session, mailbox.name, self.owner)
        if mailbox.name in self.down:
            self.down.discard(mailbox.name)
            log.info("mailbox %s available again", mailbox.name)
        return report

    def failed(
        self,
        mailbox: MailboxSettings,
        exc: SuqiuError,
        report: PollReport | None = None,
    ) -> PollReport:
        """Record that *mailbox* could not be read, and why; an outage is
        logged once, at its start, however often it is retried."""
        report = report or PollReport(mailbox.name)
        report.error = str(exc)
        with transaction(self.sessions) as session:
            state = mailboxes.state_of(session, mailbox.name, mailbox.folder)
            state.last_error = str(exc)
            state.last_error_at = clock.now()
        if mailbox.name in self.down:
            log.debug("mailbox %s still unavailable: %s", mailbox.name, exc)
        else:
            log.error("mailbox %s unavailable: %s", mailbox.name, exc)
            self.down.add(mailbox.name)
        return report

    def _read(
        self,
        source: MailSource,
        mailbox: MailboxSettings,
        uidvalidity: int,
        report: PollReport,
    ) -> None:
        last_uid = self._check_uidvalidity(mailbox, uidvalidity)

        uids = source.uids_after(last_uid)
        if uids:
            log.info("mailbox %s: %d new mails", mailbox.name, len(uids))
        progress = Progress(len(uids), mailbox.name, bar=self.show_progress)
        with progress:
            for batch in self._batches(source, uids):
                done = self._ingest_batch(source, mailbox, uidvalidity, batch, report)
                self._mark(source, mailbox, uidvalidity, done)
                progress.advance(len(batch))

        recovered = self._retry_failed(mailbox, uidvalidity, report)
        self._mark(source, mailbox, uidvalidity, recovered)
        self._mark(
            source, mailbox, uidvalidity, self._left_unmarked(mailbox, uidvalidity)
        )
        with transaction(self.sessions) as session:
            state = mailboxes.state_of(session, mailbox.name, mailbox.folder)
            state.last_polled_at = clock.now()
            state.last_error = None

    def _check_uidvalidity(self, mailbox: MailboxSettings, uidvalidity: int) -> int:
        """Return the last UID read, starting over if UIDVALIDITY changed."""
        with transaction(self.sessions) as session:
            state = mailboxes.state_of(session, mailbox.name, mailbox.folder)
            if state.uidvalidity is not None and state.uidvalidity != uidvalidity:
                # RFC 3501 §2.3.1.1: old UIDs mean nothing now. Read the folder
                # again; mails we hold are recognised by identity, not stored twice.
                log.warning(
                    "mailbox %s: UIDVALIDITY changed from %s to %s; rescanning",
                    mailbox.name,
                    state.uidvalidity,
                    uidvalidity,
                )
                cases.record(
                    session,
                    None,
                    "uidvalidity_changed",
                    reason=f"信箱“{mailbox.name}”的 UIDVALIDITY 由 "
                    f"{state.uidvalidity} 变为 {uidvalidity}，重新扫描",
                )
                state.last_uid = 0
            if state.uidvalidity != uidvalidity:
                state.uidvalidity = uidvalidity
            return state.last_uid

    def _batches(self, source: MailSource, uids: list[int]) -> Iterator[list[int]]:
        """Cut *uids* into batches by count and by total size."""
        for start in range(0, len(uids), self.settings.batch_size * 10):
            window = uids[start : start + self.settings.batch_size * 10]
            sizes = source.sizes(window)
            batch: list[int] = []
            total = 0
            for uid in window:
                size = sizes.get(uid, 0)
                if batch and (
                    len(batch) >= self.settings.batch_size
                    or total + size > self.settings.batch_bytes
                ):
                    yield batch
                    batch, total = [], 0
                batch.append(uid)
                total += size
            if batch:
                yield batch

    def _ingest_batch(
        self,
        source: MailSource,
        mailbox: MailboxSettings,
        uidvalidity: int,
        batch: list[int],
        report: PollReport,
    ) -> list[int]:
        """Store and handle one batch in one transaction; return UIDs to mark."""
        # TODO: a backlog is read at 100–165 mails/s on the two-core build
        # machine, short of issue 6's 200/s. Sampled from outside (py-spy),
        # SQLAlchemy is 44 % of a poll, SQLite's own work a small part of
        # it: the unit of work's two flushes an appeal (the case with its
        # mail, for their ids, 13 %; then the case's new state, 6 %) are the
        # largest item, then parsing, jieba, the .docx, MIME and templates.
        # 200/s needs a batch's case and mail rows written in bulk outside
        # the ORM; the case's reason names the mail's id, and the savepoint
        # per mail keeps one bad mail from stopping the batch.
        fetched = source.fetch(batch)
        done: list[int] = []
        try:
            mails = [self._read_mail(mail) for mail in fetched]
            with transaction(self.sessions) as session:
                if not mailboxes.acquire(session, mailbox.name, self.owner, LEASE):
                    raise IngestError(f"信箱“{mailbox.name}”的读取权已被另一个进程接管")
                known = inbound.known(
                    session,
                    mailbox.name,
                    [(_location(uidvalidity, m.fetched.uid), m.key) for m in mails],
                )
                for mail in mails:
                    row = self._ingest_one(
                        session, mailbox, uidvalidity, mail, known, report
                    )
                    if row is not None:
                        known.add(row)
                    if row is not None and row.state == MailState.DONE:
                        done.append(mail.fetched.uid)
                state = mailboxes.state_of(session, mailbox.name, mailbox.folder)
                state.last_uid = max(batch[-1], state.last_uid)
        finally:
            for each in fetched:
                each.release()
        return done

    def _read_mail(self, fetched: Fetched) -> "_Read":
        parsed = parse_mail(fetched.raw, max_part_bytes=self.settings.max_part_bytes)
        return _Read(fetched, parsed, identity(parsed, fetched.raw))

    def _ingest_one(
        self,
        session: Session,
        mailbox: MailboxSettings,
        uidvalidity: int,
        read: "_Read",
        known: inbound.Known,
        report: PollReport,
    ) -> Inbound | None:
        mail, parsed, key = read.fetched, read.parsed, read.key
        copies = known.copies(_location(uidvalidity, mail.uid), key)
        if copies.here is not None:
            return None  # stored already, by us or another service
        if copies.renumbered is not None:
            self._rehome(session, copies.renumbered, uidvalidity, mail.uid)
            report.rehomed += 1
            return copies.renumbered

        row = _new_row(mailbox, uidvalidity, mail, parsed, key)
        try:
            with session.begin_nested(), session.no_autoflush:
                self._store_and_handle(
                    session, row, mail.raw, parsed, key, copies.original
                )
        except IntegrityError:
            # Another process stored the first copy of this mail a moment
            # ago: ours is a duplicate of it now.
            row = _new_row(mailbox, uidvalidity, mail, parsed, key)
            self._store_failure_safe(session, row, mail.raw, parsed, key, report)
        except Exception as exc:  # a mail must never stop the mail behind it
            row = _new_row(mailbox, uidvalidity, mail, parsed, key)
            self._store_failed(session, row, mail.raw, key, exc)
            report.failed += 1

        report.stored += 1
        if row.kind:
            report.kinds[row.kind] = report.kinds.get(row.kind, 0) + 1
        _log_mail(row)
        return row

    def _store_and_handle(
        self,
        session: Session,
        row: Inbound,
        raw: MailBytes,
        parsed: ParsedMail,
        key: str,
        first: Inbound | None,
    ) -> None:
        # Runs without autoflush: what the handler adds, the mail included,
        # is written in one flush at the end (the code that needs an id
        # flushes for it), not before every query it makes.
        row.original_identity = None if first is not None else key
        session.add(row)
        _keep_raw(session, row, raw)
        if first is not None:
            row.kind = "duplicate"
            row.duplicate_of = first.id
            row.case_id = first.case_id
            row.reason = f"与已读取的邮件 #{first.id}（{first.mailbox}）相同"
        else:
            self.handler(session, row, parsed)
        session.flush()

    def _store_failure_safe(
        self,
        session: Session,
        row: Inbound,
        raw: MailBytes,
        parsed: ParsedMail,
        key: str,
        report: PollReport,
    ) -> None:
        try:
            with session.begin_nested(), session.no_autoflush:
                self._store_and_handle(
                    session, row, raw, parsed, key, inbound.original(session, key)
                )
        except Exception as exc:  # a mail must never stop the mail behind it
            row.original_identity = None
            self._store_failed(session, row, raw, key, exc)
            report.failed += 1

    def _store_failed(
        self,
        session: Session,
        row: Inbound,
        raw: MailBytes,
        key: str,
        exc: BaseException,
    ) -> None:
        """Keep a mail whose handling raised, with its error, for a retry."""
        log.error(
            "mailbox %s uid %s/%s <%s>: processing failed",
            row.mailbox,
            row.uidvalidity,
            row.uid,
            row.message_id,
            exc_info=exc,
        )
        row.kind = None
        row.case_id = None
        row.state = MailState.FAILED
        row.error = _describe(exc)
        row.attempts = 1
        row.next_attempt_at = clock.now() + retry_delay(1)
        if row.original_identity is None and inbound.original(session, key) is None:
            row.original_identity = key
        try:
            with session.begin_nested():
                session.add(row)
                _keep_raw(session, row, raw)
        except SQLAlchemyError:
            # The database refused what we understood of the mail: keep the
            # mail itself, with nothing but its bytes, place and error.
            log.exception("mail #%s: stored with its raw bytes only", row.uid)
            with session.begin_nested():
                bare = _bare_row(row)
                session.add(bare)
                _keep_raw(session, bare, raw)

    def _rehome(
        self, session: Session, row: Inbound, uidvalidity: int, uid: int
    ) -> None:
        old = row.location
        row.uidvalidity = uidvalidity
        row.uid = uid
        row.location = f"{uidvalidity}/{uid}"
        cases.record(
            session,
            row.case,
            "mail_renumbered",
            reason=f"邮件 #{row.id} 在信箱“{row.mailbox}”中由 {old} 重新编号为 "
            f"{row.location}（UIDVALIDITY 变化），未重复受理",
        )
        log.info(
            "mailbox %s uid %s/%s <%s>: already stored as mail #%s, renumbered",
            row.mailbox,
            uidvalidity,
            uid,
            row.message_id,
            row.id,
        )

    def _retry_failed(
        self, mailbox: MailboxSettings, uidvalidity: int, report: PollReport
    ) -> list[int]:
        """Process again the failed mails that are due; return UIDs to mark."""
        to_mark: list[int] = []
        with transaction(self.sessions) as session:
            due = inbound.due_retries(session, mailbox.name, clock.now(), limit=200)
            for row in due:
                report.retried += 1
                if self.retry(session, row):
                    report.recovered += 1
                    if row.uidvalidity == uidvalidity and row.uid is not None:
                        to_mark.append(row.uid)
        return to_mark

    def retry(self, session: Session, row: Inbound) -> bool:
        """Process a failed mail again; True when it went through this time."""
        with stored_mail(session, row) as raw:
            parsed = parse_mail(raw, max_part_bytes=self.settings.max_part_bytes)
        try:
            with session.begin_nested():
                row.state = MailState.DONE
                row.error = None
                row.next_attempt_at = None
                self.handler(session, row, parsed)
                inbound.adopt_duplicates(session, row.id, row.case_id)
        except Exception as exc:  # a mail must never stop the mail behind it
            log.error(
                "mail #%s <%s>: retry %d failed",
                row.id,
                row.message_id,
                row.attempts,
                exc_info=exc,
            )
            row.state = MailState.FAILED
            row.kind = None
            row.case_id = None
            row.error = _describe(exc)
            row.attempts += 1
            row.next_attempt_at = (
                clock.now() + retry_delay(row.attempts)
                if row.attempts < self.settings.max_attempts
                else None  # out of retries: waits for staff (suqiu retry)
            )
            return False
        row.attempts += 1
        log.info("mail #%s <%s>: retry succeeded", row.id, row.message_id)
        _log_mail(row)
        return True

    def _left_unmarked(self, mailbox: MailboxSettings, uidvalidity: int) -> list[int]:
        """UIDs stored and processed but never marked: a crash came between
        the commit and the flag. Marking them late costs nothing."""
        if mailbox.after == "none":
            return []
        with transaction(self.sessions) as session:
            return inbound.unmarked(
                session, mailbox.name, uidvalidity, limit=FETCH_LIMIT
            )

    def _mark(
        self,
        source: MailSource,
        mailbox: MailboxSettings,
        uidvalidity: int,
        uids: list[int],
    ) -> None:
        if not uids or mailbox.after == "none":
            return
        try:
            source.mark(uids)
        except IngestError as exc:
            # The mails are safe in the database; only the server-side flag
            # is missing, which costs nothing but a look from a person.
            log.warning("mailbox %s: %s", mailbox.name, exc)
            return
        with transaction(self.sessions) as session:
            session.execute(
                update(Inbound)
                .where(
                    Inbound.mailbox == mailbox.name,
                    Inbound.uidvalidity == uidvalidity,
                    Inbound.uid.in_(uids),
                )
                .values(marked_at=clock.now())
            )


@dataclass(frozen=True)
class _Read:
    """A fetched mail, parsed, with the identity that finds its copies."""

    fetched: Fetched
    parsed: ParsedMail
    key: str


def _location(uidvalidity: int, uid: int) -> str:
    return f"{uidvalidity}/{uid}"


def _new_row(
    mailbox: MailboxSettings,
    uidvalidity: int,
    mail: Fetched,
    parsed: ParsedMail,
    key: str,
) -> Inbound:
    sender = parsed.sender
    return Inbound(
        mailbox=mailbox.name,
        folder=mailbox.folder,
        uidvalidity=uidvalidity,
        uid=mail.uid,
        location=_location(uidvalidity, mail.uid),
        identity=key,
        message_id=parsed.message_id[:990] if parsed.message_id else None,
        size=len(mail.raw),
        sha256=sha256_of(mail.raw),
        from_addr=sender.addr[:320] if sender and sender.addr else None,
        from_name=sender.name[:300] if sender and sender.name else None,
        to_addrs=[a.addr for a in parsed.to + parsed.cc if a.addr],
        subject=parsed.subject,
        sent_at=parsed.date,
        read_at=clock.now(),
        in_reply_to=list(parsed.in_reply_to),
        references=list(parsed.references),
        text=parsed.text,
        attachments=[
            {
                "index": a.index,
                "filename": a.filename,
                "content_type": a.content_type,
                "size": a.size,
                "oversized": a.oversized,
            }
            for a in parsed.attachments
        ],
        defects=list(parsed.defects),
        state=MailState.DONE,
        attempts=1,
    )


def _keep_raw(session: Session, row: Inbound, raw: MailBytes) -> None:
    """Store the mail's bytes with its row: a small mail through the ORM, a
    big one streamed from its file."""
    if isinstance(raw, MailFile):
        rawmail.write(session, row, len(raw), raw.chunks())
    else:
        row.raw = raw


def _bare_row(row: Inbound) -> Inbound:
    """The least a failed mail can be stored as: bytes, place, error."""
    return Inbound(
        mailbox=row.mailbox,
        folder=row.folder,
        uidvalidity=row.uidvalidity,
        uid=row.uid,
        location=row.location,
        identity=row.identity,
        original_identity=row.original_identity,
        size=row.size,
        sha256=row.sha256,
        read_at=row.read_at,
        to_addrs=[],
        in_reply_to=[],
        references=[],
        attachments=[],
        defects=[],
        subject="",
        text="",
        state=MailState.FAILED,
        error=(row.error or "").replace("\x00", ""),
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
    )


def _describe(exc: BaseException) -> str:
    """One line for staff, plus where it happened, for whoever fixes it."""
    where = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    place = f"（{where[0].filename}:{where[0].lineno}）" if where else ""
    return f"{type(exc).__name__}: {exc}{place}"


def _log_mail(row: Inbound) -> None:
    log.info(
        "mailbox %s uid %s/%s <%s>: %s%s",
        row.mailbox,
        row.uidvalidity,
        row.uid,
        row.message_id or "-",
        row.kind or f"FAILED ({row.error})",
        f", case {row.case.number}" if row.case is not None else "",
    )
