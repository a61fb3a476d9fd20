"""What every kind of mailbox offers the poller: open, list, fetch, mark."""

import threading
from dataclasses import dataclass
from typing import Protocol

from ingest.spool import MailBytes, MailFile


@dataclass(frozen=True)
class FolderInfo:
    uidvalidity: int
    exists: int


@dataclass(frozen=True)
class Fetched:
    """One fetched mail: its bytes in memory, or on disk when it is big."""

    uid: int
    raw: MailBytes

    def release(self) -> None:
        """Give back the file a big mail was fetched into."""
        if isinstance(self.raw, MailFile):
            self.raw.close()


class MailSource(Protocol):
    """A folder of mail with IMAP's numbering: UIDVALIDITY and ascending UIDs."""

    @property
    def name(self) -> str: ...

    def open(self) -> FolderInfo: ...

    def uids_after(self, last_uid: int) -> list[int]: ...

    def sizes(self, uids: list[int]) -> dict[int, int]: ...

    def fetch(self, uids: list[int]) -> list[Fetched]: ...

    def mark(self, uids: list[int]) -> None: ...

    def supports_idle(self) -> bool: ...

    def wait(self, seconds: float, stop: threading.Event) -> bool:
        """Block up to *seconds* for new mail (IMAP IDLE), or until *stop*
        is set; True if some came."""
        ...

    def close(self) -> None: ...
