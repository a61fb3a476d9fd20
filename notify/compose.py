"""Build outbound MIME messages: UTF-8, our own Message-ID, loop-safe headers.

Every header value passes through ``clean_header`` first, so nothing a
student wrote (a subject, a name) can add a line to our headers.
"""

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.utils import format_datetime, getaddresses
from functools import lru_cache

from notify import mime
from notify.render import Rendered
from suqiu import clock

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes


@dataclass
class Outgoing:
    """A mail ready for the outbox: the MIME bytes and what staff see of it."""

    message_id: str  # without angle brackets
    sender: str  # envelope sender address
    recipients: list[str]
    subject: str
    text: str
    raw: bytes
    attachments: list[str] = field(default_factory=list)


def clean_header(value: str, limit: int = 400) -> str:
    """Remove CR, LF and other controls; they have no place in a header."""
    return _CONTROL.sub(" ", value).strip()[:limit]


def new_message_id(sender: str, case_number: str | None) -> str:
    domain = bare_address(sender).partition("@")[2] or "suqiu.local"
    tag = case_number or "mail"
    # ingest.classify recognises our own mail coming back by this prefix.
    return f"suqiu.{tag}.{uuid.uuid4().hex}@{domain}"


@lru_cache(maxsize=1024)
def bare_address(value: str) -> str:
    # Cached: the same few addresses (ours, the units') recur in every mail,
    # and the stdlib's address parser is slow.
    pairs = getaddresses([value])
    return pairs[0][1].lower() if pairs and pairs[0][1] else value.strip().lower()


def build(
    rendered: Rendered,
    *,
    sender: str,
    to: Sequence[str],
    cc: Sequence[str] = (),
    case_number: str | None = None,
    kind: str,
    in_reply_to: str | None = None,
    references: Sequence[str] = (),
    attachments: Sequence[Attachment] = (),
    auto_submitted: str = "auto-generated",
    inline_images: Mapping[str, Attachment] | None = None,
) -> Outgoing:
    """Compose one mail from rendered text; its Message-ID is fixed here.

    *inline_images* maps a Content-ID (without angle brackets) to an image
    the HTML shows as ``<img src="cid:...">``.
    """
    message_id = new_message_id(sender, case_number)
    subject = clean_header(rendered.subject, 300)
    head = [
        _from_header(sender),
        mime.header("To", mime.addresses([clean_header(a) for a in to])),
    ]
    if cc:
        head.append(mime.header("Cc", mime.addresses([clean_header(a) for a in cc])))
    head += [
        mime.header("Subject", subject),
        mime.header("Date", format_datetime(clock.local(clock.now()))),
        mime.header("Message-ID", f"<{message_id}>"),
    ]
    if in_reply_to:
        head.append(mime.header("In-Reply-To", f"<{_message_id(in_reply_to)}>"))
    refs = [_message_id(r) for r in references if r]
    if refs:
        head.append(mime.header("References", " ".join(f"<{r}>" for r in refs[-20:])))
    # RFC 3834: mark our mail automatic so that vacation responders and
    # Exchange (X-Auto-Response-Suppress) do not answer it.
    head += [
        mime.header("Auto-Submitted", auto_submitted),
        mime.header("X-Auto-Response-Suppress", "All"),
    ]
    if case_number:
        head.append(mime.header("X-Suqiu-Case", clean_header(case_number)))
    head += [mime.header("X-Suqiu-Kind", kind), mime.header("MIME-Version", "1.0")]

    related = [
        mime.Part(
            image.content_type or "image/png",
            image.data,
            filename=clean_header(image.filename, 200),
            content_id=clean_header(cid, 200),
            inline=True,
        )
        for cid, image in (inline_images or {}).items()
    ]
    files = [
        mime.Part(
            attachment.content_type or "application/octet-stream",
            attachment.data,
            filename=clean_header(attachment.filename, 200),
        )
        for attachment in attachments
    ]
    # TODO: the mail is built whole in memory, as pieces joined once: files
    # passed on (up to 18 MB, suqiu.actions.PASSED_ON_LIMIT) cost about three
    # times their size at the peak, decoded, encoded and joined. The outbox
    # would have to keep files apart from the text to stream them instead.
    raw = b"".join(
        [
            *head,
            *mime.body(
                rendered.text, rendered.html, related=related, attachments=files
            ),
        ]
    )

    recipients = [bare_address(a) for a in [*to, *cc]]
    return Outgoing(
        message_id=message_id,
        sender=bare_address(sender),
        recipients=recipients,
        subject=subject,
        text=rendered.text,
        raw=raw,
        attachments=[a.filename for a in attachments],
    )


@lru_cache(maxsize=16)
def _from_header(sender: str) -> bytes:
    """Our From line: the same in every mail, so encoded once."""
    return mime.header("From", mime.addresses([clean_header(sender)]))


def _message_id(value: str) -> str:
    """A Message-ID as written between angle brackets: no brackets, no spaces."""
    return "".join(clean_header(value).strip("<>").split())
