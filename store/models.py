"""The tables: mailboxes, inbound mail, cases, events, assignments, the outbox.

Times are stored in UTC (``UtcDateTime``) and shown in the college's zone.
Nothing is ever deleted: a case, a mail and an event stay for the audit
trail behind 责任倒查.
"""

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UtcDateTime(TypeDecorator[datetime]):
    """An aware datetime kept in UTC on every database, SQLite included."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(
        self, value: datetime | None, dialect: Dialect
    ) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        # SQLite keeps no offset: store the UTC wall time and restore it below.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(
        self, value: datetime | None, dialect: Dialect
    ) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UtcDateTime(),
        dict[str, Any]: JSON(),
        list[Any]: JSON(),
    }


class CaseStatus(StrEnum):
    """The states of DESIGN.md's process; overdue is not a state."""

    RECEIVED = "received"  # 受理
    ASSIGNED = "assigned"  # 交办
    ESCALATED = "escalated"  # 领导小组研判
    REPLIED = "replied"  # 已答复
    CLOSED = "closed"  # 销号
    DECLINED = "declined"  # 不予受理


OPEN_STATUSES = (
    CaseStatus.RECEIVED,
    CaseStatus.ASSIGNED,
    CaseStatus.ESCALATED,
    CaseStatus.REPLIED,
)


class MailState(StrEnum):
    """How far suqiu got with one inbound mail."""

    DONE = "done"  # processed; ``kind`` says what it was
    FAILED = "failed"  # processing raised; ``error`` says why, retried later


class OutboxState(StrEnum):
    QUEUED = "queued"  # waiting; ``next_attempt_at`` says when to try
    SENDING = "sending"  # claimed by a sender; the SMTP transaction is running
    SENT = "sent"  # the server accepted it
    FAILED = "failed"  # refused for good (5xx) or out of retries
    # A sender died between handing the mail over and recording it: it may or
    # may not have gone out. Not retried by itself (never twice for one row);
    # staff decide with ``suqiu send --retry-uncertain``.
    UNCERTAIN = "uncertain"


class MailboxState(Base):
    """What has been read from one configured mailbox folder."""

    __tablename__ = "mailbox_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    folder: Mapped[str] = mapped_column(String(500))
    uidvalidity: Mapped[int | None] = mapped_column(BigInteger)
    last_uid: Mapped[int] = mapped_column(BigInteger, default=0)
    # A lease, so that two services sharing a database never read one
    # mailbox at the same time.
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_until: Mapped[datetime | None]
    last_polled_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None]


class Case(Base):
    """One appeal, tracked from 受理 to 销号, under its yearly number (编号)."""

    __tablename__ = "cases"
    __table_args__ = (UniqueConstraint("year", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    year: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), index=True)
    channel: Mapped[str] = mapped_column(String(100))
    dispatcher: Mapped[str] = mapped_column(String(100))
    category: Mapped[str | None] = mapped_column(String(50))
    unit: Mapped[str | None] = mapped_column(String(100), index=True)
    subject: Mapped[str] = mapped_column(Text)

    student_name: Mapped[str | None] = mapped_column(String(100))
    student_class: Mapped[str | None] = mapped_column(String(100))
    student_id: Mapped[str | None] = mapped_column(String(40))
    student_email: Mapped[str | None] = mapped_column(String(320), index=True)
    student_phone: Mapped[str | None] = mapped_column(String(40))
    student_counselor: Mapped[str | None] = mapped_column(String(100))
    counselor_email: Mapped[str | None] = mapped_column(String(320))

    confidential: Mapped[bool] = mapped_column(Boolean, default=False)
    major: Mapped[bool] = mapped_column(Boolean, default=False)
    crisis: Mapped[bool] = mapped_column(Boolean, default=False)
    public: Mapped[bool] = mapped_column(Boolean, default=False)

    received_at: Mapped[datetime] = mapped_column(index=True)
    # When the student wrote (the appeal's Date, never after received_at):
    # "similar appeals within 7 days" counts by this, so that a backlog read
    # in one go is not mistaken for a burst.
    appealed_at: Mapped[datetime | None] = mapped_column(index=True)
    assigned_at: Mapped[datetime | None]
    due_at: Mapped[datetime | None] = mapped_column(index=True)
    replied_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    rating: Mapped[str | None] = mapped_column(String(10))
    rated_at: Mapped[datetime | None]
    rating_reminded_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]
    # Segmented content words of the appeal, kept so that finding similar
    # recent cases (重大问题: many students, one topic) needs no re-segmenting.
    topic_terms: Mapped[list[Any]] = mapped_column(default=list)

    events: Mapped[list["Event"]] = relationship(
        back_populates="case", order_by="Event.id"
    )
    assignments: Mapped[list["Assignment"]] = relationship(
        back_populates="case", order_by="Assignment.id"
    )


class CaseTerm(Base):
    """One topic word of a case, indexed to find similar recent appeals
    without comparing against every case of the week."""

    __tablename__ = "case_terms"
    __table_args__ = (Index("ix_case_terms_term_appealed", "term", "appealed_at"),)

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    term: Mapped[str] = mapped_column(String(100), primary_key=True)
    appealed_at: Mapped[datetime]


class CaseCounter(Base):
    """The last sequence number handed out in a year; one row per year."""

    __tablename__ = "case_counter"

    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)


class Event(Base):
    """One change, with who made it, when, and why: the audit trail."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_at", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(50))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str | None] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any] | None]

    case: Mapped[Case | None] = relationship(back_populates="events")


class Assignment(Base):
    """A case given to a unit, with the rule that chose it (交办)."""

    __tablename__ = "assignments"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    unit: Mapped[str | None] = mapped_column(String(100))
    category: Mapped[str | None] = mapped_column(String(50))
    rule: Mapped[str | None] = mapped_column(String(100))
    score: Mapped[float | None] = mapped_column(Float)
    explanation: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str] = mapped_column(String(320))
    at: Mapped[datetime]
    due_at: Mapped[datetime | None]
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    case: Mapped[Case] = relationship(back_populates="assignments")


class Inbound(Base):
    """One mail read from a mailbox, with its raw bytes exactly as fetched."""

    __tablename__ = "inbound"
    __table_args__ = (
        UniqueConstraint("mailbox", "location"),
        Index("ix_inbound_state_retry", "state", "next_attempt_at"),
        Index("ix_inbound_case_kind", "case_id", "kind", "id"),
        Index(
            "ix_inbound_unmarked",
            "mailbox",
            "uidvalidity",
            "uid",
            sqlite_where=text("marked_at IS NULL"),
            postgresql_where=text("marked_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    mailbox: Mapped[str] = mapped_column(String(200))
    folder: Mapped[str] = mapped_column(String(500))
    uidvalidity: Mapped[int | None] = mapped_column(BigInteger)
    uid: Mapped[int | None] = mapped_column(BigInteger)
    # Where the mail sits in its mailbox: "UIDVALIDITY/UID" for IMAP, the
    # file's key for a Maildir. Unique per mailbox, so a mail is never
    # stored twice from the same place.
    location: Mapped[str] = mapped_column(String(300))
    # "mid:<Message-ID>" or "sha:<hash of the content without trace headers>".
    identity: Mapped[str] = mapped_column(String(1000), index=True)
    # Set to ``identity`` on the first copy only: the unique index makes two
    # concurrent copies of one mail impossible to both count as the original.
    original_identity: Mapped[str | None] = mapped_column(String(1000), unique=True)
    message_id: Mapped[str | None] = mapped_column(String(1000), index=True)
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))

    from_addr: Mapped[str | None] = mapped_column(String(320), index=True)
    from_name: Mapped[str | None] = mapped_column(String(300))
    to_addrs: Mapped[list[Any]] = mapped_column(default=list)
    subject: Mapped[str] = mapped_column(Text, default="")
    sent_at: Mapped[datetime | None]  # the Date header
    read_at: Mapped[datetime] = mapped_column(index=True)
    in_reply_to: Mapped[list[Any]] = mapped_column(default=list)
    references: Mapped[list[Any]] = mapped_column(default=list)
    text: Mapped[str] = mapped_column(Text, default="")
    attachments: Mapped[list[Any]] = mapped_column(default=list)
    defects: Mapped[list[Any]] = mapped_column(default=list)

    state: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str | None] = mapped_column(String(20), index=True)
    reason: Mapped[str | None] = mapped_column(Text)  # why this kind
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    duplicate_of: Mapped[int | None] = mapped_column(ForeignKey("inbound.id"))
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"))
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    marked_at: Mapped[datetime | None]  # flagged or moved on the server

    case: Mapped[Case | None] = relationship()
    raw_mail: Mapped["RawMail | None"] = relationship(
        back_populates="inbound", lazy="select"
    )

    @property
    def raw(self) -> bytes:
        """The mail's bytes exactly as fetched (b"" once retention cleared them)."""
        return self.raw_mail.data if self.raw_mail is not None else b""

    @raw.setter
    def raw(self, data: bytes) -> None:
        if self.raw_mail is None:
            self.raw_mail = RawMail(data=data)
        else:
            self.raw_mail.data = data


class RawMail(Base):
    """The bytes of one inbound mail, apart from what was read from them.

    In their own table, a mail's row can change (its kind, its case, its
    server flag) without the database rewriting megabytes of blob, and
    listings never read through the bytes to reach the columns they show.
    """

    __tablename__ = "raw_mails"

    inbound_id: Mapped[int] = mapped_column(ForeignKey("inbound.id"), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)

    inbound: Mapped[Inbound] = relationship(back_populates="raw_mail")


class Outbox(Base):
    """One mail we send: rendered, given its Message-ID, then delivered."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_state_next", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    message_id: Mapped[str] = mapped_column(String(500), unique=True)
    sender: Mapped[str] = mapped_column(String(320))  # SMTP envelope sender
    recipients: Mapped[list[Any]] = mapped_column()  # SMTP envelope recipients
    subject: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)  # the plain-text body, for `show`
    attachments: Mapped[list[Any]] = mapped_column(default=list)
    raw: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    created_at: Mapped[datetime]

    state: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    claimed_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    bounced_at: Mapped[datetime | None]
    bounce_reason: Mapped[str | None] = mapped_column(Text)

    case: Mapped[Case | None] = relationship()


class Student(Base):
    """One row of the optional student roster (花名册), keyed by 学号."""

    __tablename__ = "students"

    student_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    class_name: Mapped[str | None] = mapped_column(String(100))
    college: Mapped[str | None] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(320), index=True)
    counselor: Mapped[str | None] = mapped_column(String(100))
    counselor_email: Mapped[str | None] = mapped_column(String(320))
    imported_at: Mapped[datetime]


class JobRun(Base):
    """When a scheduled job (digest, reports, reminders) last ran."""

    __tablename__ = "job_runs"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    last_run_at: Mapped[datetime]
    detail: Mapped[str | None] = mapped_column(Text)
