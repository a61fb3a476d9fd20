"""Which mails are the same mail: by Message-ID, else by a hash of the content.

A copy of one mail that reached two of our mailboxes, or came back after a
UIDVALIDITY change, differs only in the trace headers that delivery added
(Received, Delivered-To, Return-Path …), so the hash covers the message's own
headers and its body, never those.
"""

import hashlib
import re
from collections.abc import Callable, Iterable

from ingest.mail import ParsedMail
from ingest.spool import MailBytes, MailFile

# Headers the author's client writes and no relay changes (RFC 5322 §3.6).
_OWN_HEADERS = (
    b"from",
    b"sender",
    b"to",
    b"cc",
    b"subject",
    b"date",
    b"message-id",
    b"in-reply-to",
    b"references",
    b"mime-version",
    b"content-type",
    b"content-transfer-encoding",
)
_HEADER_END = re.compile(rb"\r?\n\r?\n")
_FOLD = re.compile(rb"\r?\n[ \t]+")


def identity(parsed: ParsedMail, raw: MailBytes) -> str:
    """Return "mid:<Message-ID>", or "sha:<content hash>" when there is none."""
    if parsed.message_id:
        return "mid:" + parsed.message_id.strip()[:990]
    return "sha:" + content_hash(raw)


def content_hash(raw: MailBytes) -> str:
    """Hash the author's own headers and the body, ignoring trace headers."""
    head_end, body_start = _head_bounds(raw)
    head = raw[:head_end]

    own: list[bytes] = []
    for line in _FOLD.sub(b" ", head).splitlines():
        name, _, value = line.partition(b":")
        if name.strip().lower() in _OWN_HEADERS:
            own.append(name.strip().lower() + b":" + value.strip())

    digest = hashlib.sha256()
    for line in sorted(own):
        digest.update(line + b"\n")
    digest.update(b"\n")
    # Servers may rewrite line ends (LF to CRLF); they never change content.
    if isinstance(raw, MailFile):
        _hash_body(digest.update, raw.chunks(body_start))
    else:
        digest.update(raw[body_start:].replace(b"\r\n", b"\n").rstrip())
    return digest.hexdigest()


def _head_bounds(raw: MailBytes) -> tuple[int, int]:
    """Where the header block ends and the body starts (the whole mail is
    header when no blank line ends it)."""
    if not isinstance(raw, MailFile):
        match = _HEADER_END.search(raw)
        return (match.start(), match.end()) if match else (len(raw), len(raw))
    # The same first blank line, found without a regex over the file: its
    # first LF is followed by LF or CRLF, and a CR before that LF belongs to it.
    found = [i for i in (raw.find(b"\n\n"), raw.find(b"\n\r\n")) if i >= 0]
    if not found:
        return len(raw), len(raw)
    newline = min(found)
    start = newline - 1 if newline > 0 and raw[newline - 1] == 0x0D else newline
    end = newline + (3 if raw.startswith(b"\r\n", newline + 1) else 2)
    return start, end


def _hash_body(update: Callable[[bytes], None], chunks: Iterable[bytes]) -> None:
    """Hash body.replace(CRLF, LF).rstrip() of a body given in chunks.

    A CR at a chunk's end waits for the next chunk (it may start a CRLF), and
    trailing whitespace waits until something follows it.
    """
    carried_cr = b""
    blanks = b""
    for chunk in chunks:
        chunk = carried_cr + chunk
        carried_cr = b"\r" if chunk.endswith(b"\r") else b""
        if carried_cr:
            chunk = chunk[:-1]
        text = chunk.replace(b"\r\n", b"\n")
        stripped = text.rstrip()
        if stripped:
            update(blanks + stripped)
            blanks = b""
        # TODO: a body ending in a run of whitespace holds the run in
        # memory until its end; no client writes megabytes of blanks.
        blanks += text[len(stripped) :]
