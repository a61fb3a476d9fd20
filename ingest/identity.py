"""Which mails are the same mail: by Message-ID, else by a hash of the content.

A copy of one mail that reached two of our mailboxes, or came back after a
UIDVALIDITY change, differs only in the trace headers that delivery added
(Received, Delivered-To, Return-Path …), so the hash covers the message's own
headers and its body, never those.
"""

import hashlib
import re

from ingest.mail import ParsedMail

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


def identity(parsed: ParsedMail, raw: bytes) -> str:
    """Return "mid:<Message-ID>", or "sha:<content hash>" when there is none."""
    if parsed.message_id:
        return "mid:" + parsed.message_id.strip()[:990]
    return "sha:" + content_hash(raw)


def content_hash(raw: bytes) -> str:
    """Hash the author's own headers and the body, ignoring trace headers."""
    match = _HEADER_END.search(raw)
    head, body = (raw[: match.start()], raw[match.end() :]) if match else (raw, b"")

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
    digest.update(body.replace(b"\r\n", b"\n").rstrip())
    return digest.hexdigest()
