"""A big mail's raw bytes written into raw_mails, and read back, in pieces.

The ORM would bind the whole mail as one parameter: the process would hold
it, and the driver a copy. Here the bytes go to the database a chunk at a
time, through what each backend offers for it: SQLite's incremental blob
I/O, PostgreSQL's binary COPY; they come back by blob I/O again or by
substring() a piece at a time. Small mails keep going through the ORM
(Inbound.raw).
"""

import logging
import struct
from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from store.models import Inbound

log = logging.getLogger(__name__)

# PostgreSQL's binary COPY stream (see the COPY page of its manual): a
# signature, a flags field and a header extension length, tuples of
# length-prefixed fields, and -1 for the end.
_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
_COPY_TRAILER = struct.pack("!h", -1)

# What one read brings back of a big mail.
PIECE = 4 * 1024 * 1024


def write(session: Session, row: Inbound, size: int, chunks: Iterable[bytes]) -> None:
    """Store *size* bytes given in *chunks* as *row*'s raw mail."""
    session.flush()  # the row needs its id
    connection = session.connection()
    dialect = connection.dialect.name
    if dialect == "sqlite":
        _write_blob(connection, row.id, size, chunks)
    elif dialect == "postgresql":
        _copy_in(connection, row.id, size, chunks)
    else:
        # Another database: correct, but the mail is held whole once more.
        row.raw = b"".join(chunks)
        return
    log.debug("mail #%s: %d raw bytes written in pieces", row.id, size)


def _write_blob(
    connection: Connection, inbound_id: int, size: int, chunks: Iterable[bytes]
) -> None:
    """Reserve a zero-filled blob of the mail's size, then fill it in place."""
    driver = _driver(connection)
    cursor = driver.cursor()
    try:
        cursor.execute(
            "INSERT INTO raw_mails (inbound_id, data) VALUES (?, zeroblob(?))",
            (inbound_id, size),
        )
        rowid = cursor.lastrowid
    finally:
        cursor.close()
    with driver.blobopen("raw_mails", "data", rowid) as blob:
        for chunk in chunks:
            blob.write(chunk)


def _copy_in(
    connection: Connection, inbound_id: int, size: int, chunks: Iterable[bytes]
) -> None:
    """One row by binary COPY, its bytea field streamed after its length."""
    driver = _driver(connection)
    statement = "COPY raw_mails (inbound_id, data) FROM STDIN (FORMAT BINARY)"
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        # Two fields: inbound_id as int4, then data's length and bytes.
        copy.write(_COPY_SIGNATURE + struct.pack("!hiii", 2, 4, inbound_id, size))
        for chunk in chunks:
            copy.write(chunk)
        copy.write(_COPY_TRAILER)


def read(session: Session, row: Inbound, piece: int = PIECE) -> Iterator[bytes]:
    """The stored bytes of *row*'s mail, *piece* bytes at a time; nothing
    once retention has cleared them."""
    connection = session.connection()
    dialect = connection.dialect.name
    if dialect == "sqlite":
        yield from _read_blob(connection, row.id, piece)
    elif dialect == "postgresql":
        yield from _read_slices(connection, row.id, piece)
    elif row.raw:
        yield row.raw  # another database: whole, as the ORM reads it


def _read_blob(connection: Connection, inbound_id: int, piece: int) -> Iterator[bytes]:
    rowid = connection.execute(
        text("SELECT rowid FROM raw_mails WHERE inbound_id = :id"), {"id": inbound_id}
    ).scalar()
    if rowid is None:
        return
    driver = _driver(connection)
    with driver.blobopen("raw_mails", "data", rowid, readonly=True) as blob:
        while chunk := blob.read(piece):
            yield chunk


def _read_slices(
    connection: Connection, inbound_id: int, piece: int
) -> Iterator[bytes]:
    size = connection.execute(
        text("SELECT octet_length(data) FROM raw_mails WHERE inbound_id = :id"),
        {"id": inbound_id},
    ).scalar()
    # substring() counts from 1; a bytea stored uncompressed (random bytes
    # do not compress) is sliced without the server reading the rest.
    slice_of = text(
        "SELECT substring(data FROM :start FOR :n) FROM raw_mails"
        " WHERE inbound_id = :id"
    )
    for start in range(0, size or 0, piece):
        yield bytes(
            connection.execute(
                slice_of, {"start": start + 1, "n": piece, "id": inbound_id}
            ).scalar_one()
        )


def _driver(connection: Connection) -> Any:
    """The DB-API connection under *connection*: sqlite3's or psycopg's."""
    driver = connection.connection.driver_connection
    assert driver is not None
    return driver
