"""A mail too big to hold in memory: its bytes in a file, read a window at a time.

A mail above ``BIG_MAIL`` (a student's videos, a scanned thesis) is written
to a temporary file as it is fetched, and everything after that reads it in
windows: the MIME walk finds boundaries window by window, hashes are
computed chunk by chunk and the database receives it in pieces. The process
then holds about a window of it, whatever the mail's size.

MailFile offers the read-only part of the ``bytes`` interface that the lean
MIME walker uses (len, indexing, slicing, find, startswith, count of a
byte), so one walker serves bytes in memory and bytes on disk.
"""

import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, overload

# Mails above this size are fetched into a MailFile, not into memory.
BIG_MAIL = 16 * 1024 * 1024

WINDOW = 1024 * 1024


class MailFile:
    """The bytes of one mail in a file; closed with close() or by `with`."""

    def __init__(self, file: BinaryIO, *, window: int = WINDOW) -> None:
        self._file = file
        self._fd = file.fileno()
        self._size = os.fstat(self._fd).st_size
        self._window = window
        self._cached_at = 0
        self._cached = b""

    @classmethod
    def spool(cls, *, window: int = WINDOW) -> "MailFileWriter":
        """Start a temporary file (removed when closed) to write a mail into."""
        return MailFileWriter(tempfile.TemporaryFile(prefix="suqiu-mail-"), window)

    @classmethod
    def open(cls, path: Path, *, window: int = WINDOW) -> "MailFile":
        """Read a mail that is a file already (a Maildir message)."""
        return cls(path.open("rb"), window=window)

    @classmethod
    def of(cls, data: bytes, *, window: int = WINDOW) -> "MailFile":
        """A MailFile holding *data*: for tests, and for small windows in them."""
        writer = cls.spool(window=window)
        writer.write(data)
        return writer.finish()

    def close(self) -> None:
        self._cached = b""
        self._file.close()

    def __enter__(self) -> "MailFile":
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __len__(self) -> int:
        return self._size

    def __repr__(self) -> str:
        return f"<MailFile {self._size} bytes>"

    @overload
    def __getitem__(self, key: int) -> int: ...

    @overload
    def __getitem__(self, key: slice) -> bytes: ...

    def __getitem__(self, key: int | slice) -> int | bytes:
        if isinstance(key, slice):
            start, stop, step = key.indices(self._size)
            if step != 1:
                raise ValueError("MailFile slices take no step")
            return self._read(start, stop)
        index = key + self._size if key < 0 else key
        if not 0 <= index < self._size:
            raise IndexError("MailFile index out of range")
        return self._read(index, index + 1)[0]

    def find(self, sub: bytes, start: int = 0, end: int | None = None) -> int:
        """The lowest index of *sub* in [start, end), or -1, as bytes.find."""
        start, end = self._bounds(start, end)
        if end - start < len(sub):
            return -1
        if not sub:
            return start
        overlap = len(sub) - 1
        position = start
        while position + len(sub) <= end:
            block = self._block(position, end, overlap)
            found = block.find(sub)
            if found >= 0:
                return position + found
            if position + len(block) >= end:
                return -1
            position += len(block) - overlap
        return -1

    def count(self, byte: bytes, start: int = 0, end: int | None = None) -> int:
        """How often one byte occurs in [start, end)."""
        if len(byte) != 1:
            raise ValueError("MailFile.count counts a single byte")
        start, end = self._bounds(start, end)
        return sum(chunk.count(byte) for chunk in self.chunks(start, end))

    def startswith(self, prefix: bytes, start: int = 0) -> bool:
        start = self._bounds(start, None)[0]
        if start > self._size:
            return False
        return self._read(start, start + len(prefix)) == prefix

    def chunks(self, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """The bytes of [start, end) a window at a time."""
        start, end = self._bounds(start, end)
        position = start
        while position < end:
            stop = min(end, position + self._window)
            yield os.pread(self._fd, stop - position, position)
            position = stop

    def sha256(self) -> str:
        digest = hashlib.sha256()
        for chunk in self.chunks():
            digest.update(chunk)
        return digest.hexdigest()

    def _bounds(self, start: int, end: int | None) -> tuple[int, int]:
        """Start and end as bytes methods read them: negative ones count
        from the end; a start past the end stays there."""
        size = self._size
        end = size if end is None else min(end, size)
        if end < 0:
            end = max(0, end + size)
        if start < 0:
            start = max(0, start + size)
        return start, end

    def _block(self, position: int, end: int, overlap: int) -> bytes:
        """The bytes from *position* on that are cached, or the next window;
        always more than *overlap* of them unless *end* comes first."""
        cached_end = self._cached_at + len(self._cached)
        if self._cached_at <= position and cached_end - position > overlap:
            return self._read(position, min(end, cached_end))
        return self._read(position, min(end, position + max(self._window, overlap + 1)))

    def _read(self, start: int, stop: int) -> bytes:
        """Bytes [start, stop), from the cached window when it holds them."""
        stop = min(stop, self._size)
        if start >= stop:
            return b""
        cached_end = self._cached_at + len(self._cached)
        if self._cached_at <= start and stop <= cached_end:
            return self._cached[start - self._cached_at : stop - self._cached_at]
        if stop - start > self._window:
            return os.pread(self._fd, stop - start, start)
        self._cached_at = start
        self._cached = os.pread(self._fd, min(self._window, self._size - start), start)
        return self._cached[: stop - start]


class MailFileWriter:
    """A MailFile being written: write() its bytes in order, then finish()."""

    def __init__(self, file: BinaryIO, window: int) -> None:
        self._file = file
        self._window = window
        self.written = 0

    def write(self, data: bytes) -> None:
        self._file.write(data)
        self.written += len(data)

    def finish(self) -> MailFile:
        self._file.flush()
        return MailFile(self._file, window=self._window)

    def discard(self) -> None:
        self._file.close()


MailBytes = bytes | MailFile


def sha256_of(raw: MailBytes) -> str:
    if isinstance(raw, MailFile):
        return raw.sha256()
    return hashlib.sha256(raw).hexdigest()
