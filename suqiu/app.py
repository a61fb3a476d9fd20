"""Build the running parts from the settings: database, sources, flow, sender."""

import logging
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from store import owners, schema
from store.db import make_engine, make_sessions
from suqiu import clock
from suqiu.config import MailboxSettings, Settings
from suqiu.errors import ConfigError

if TYPE_CHECKING:
    # Imported where they are used: a command that reads the store, such as
    # a report, loads neither the mail pipeline nor the routing rules.
    from ingest.poller import Poller, PollReport
    from ingest.source import MailSource
    from notify.smtp import DeliveryReport
    from suqiu.actions import Office
    from suqiu.flow import Flow

log = logging.getLogger(__name__)


@dataclass
class App:
    """One configured suqiu: what every command needs, built on first use."""

    settings: Settings
    owner: str = field(default_factory=owners.me)
    show_progress: bool = True

    def __post_init__(self) -> None:
        clock.use_zone(self.settings.timezone)

    @cached_property
    def office(self) -> "Office":
        from suqiu.actions import Office

        if self.settings.smtp is None:
            raise ConfigError(
                f"配置文件 {self.settings.path} 缺少 [smtp]：没有它无法发出任何邮件"
            )
        return Office(self.settings)

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.settings.database_url)

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        schema.require_current(self.engine)
        return make_sessions(self.engine)

    @cached_property
    def readers(self) -> sessionmaker[Session]:
        """Sessions for commands that only look: they never wait for the poller."""
        schema.require_current(self.engine)
        return make_sessions(self.engine, read_only=True)

    @cached_property
    def flow(self) -> "Flow":
        from suqiu.flow import Flow

        return Flow(self.settings, self.office)

    @cached_property
    def poller(self) -> "Poller":
        from ingest.poller import Poller

        return Poller(
            self.sessions,
            self.flow,
            self.settings.ingest,
            owner=self.owner,
            show_progress=self.show_progress,
        )

    def source(self, mailbox: MailboxSettings) -> "MailSource":
        from ingest.imap import ImapMailbox
        from ingest.maildir import MaildirMailbox

        if mailbox.type == "maildir":
            return MaildirMailbox(mailbox)
        return ImapMailbox(mailbox)

    def check_secrets(self) -> None:
        """Read every password now, so a missing one fails before connecting."""
        for mailbox in self.settings.mailboxes:
            mailbox.password.value()
        if self.settings.smtp is not None:
            self.settings.smtp.password.value()

    def poll_all(self) -> list["PollReport"]:
        """Read every configured mailbox once."""
        return [self.poller.poll(self.source(m), m) for m in self.settings.mailboxes]

    def send(self, limit: int | None = None) -> "DeliveryReport":
        from notify.smtp import Sender

        if self.settings.smtp is None:
            raise ConfigError(f"配置文件 {self.settings.path} 缺少 [smtp]，无法发信")
        return Sender(self.sessions, self.settings.smtp, self.owner).deliver(limit)
