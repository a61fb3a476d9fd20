"""A stored mail read again: a small one whole, a big one into a MailFile.

The poller writes a mail over ``BIG_MAIL`` to the database in pieces,
without holding it. A second look at it (the attachments passed on to a
unit, a retry after a failure) must not hold it whole either: its bytes
come back the same way, into a temporary file read a window at a time.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import inspect
from sqlalchemy.orm import Session

from ingest.spool import BIG_MAIL, MailBytes, MailFile
from store import rawmail
from store.models import Inbound


@contextmanager
def stored_mail(session: Session, row: Inbound) -> Iterator[MailBytes]:
    """The bytes of *row*'s mail, on disk while the block runs if it is big."""
    loaded = "raw_mail" in inspect(row).dict  # in memory already: use them
    if loaded or row.id is None or (row.size or 0) <= BIG_MAIL:
        yield row.raw
        return
    writer = MailFile.spool()
    try:
        for piece in rawmail.read(session, row):
            writer.write(piece)
    except BaseException:
        writer.discard()
        raise
    with writer.finish() as mail:
        yield mail
