"""What suqiu understood of one inbound mail: the facts later stages read.

``ingest.parse.parse_mail`` builds a ``ParsedMail`` from raw bytes and never
raises: what it could not understand is listed in ``defects``.
"""

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Address:
    """One mailbox address with its decoded display name."""

    name: str | None
    addr: str  # lower-cased; may be "" when the header held only a name


@dataclass(frozen=True)
class Attachment:
    """One attached (or inline, named) part, described but not held in memory.

    The bytes stay inside the raw mail; ``ingest.parse.extract_attachment``
    takes them out again by ``index`` when they are needed.
    """

    index: int  # position among the mail's parts, in walk() order
    filename: str | None
    content_type: str
    size: int  # decoded size in bytes, or the encoded size when oversized
    inline: bool = False
    content_id: str | None = None
    oversized: bool = False  # larger than the cap: listed, not decoded


@dataclass(frozen=True)
class ParsedMail:
    """A mail reduced to the facts suqiu uses; the raw bytes are kept apart."""

    message_id: str | None  # without angle brackets
    subject: str
    sender: Address | None  # From (the first, when there are several)
    reply_to: list[Address] = field(default_factory=list)
    to: list[Address] = field(default_factory=list)
    cc: list[Address] = field(default_factory=list)
    date: datetime | None = None  # the Date header, aware; None if missing or bad
    in_reply_to: list[str] = field(default_factory=list)  # ids, no brackets
    references: list[str] = field(default_factory=list)  # ids, no brackets
    # Decoded header values by lower-cased name, every occurrence in order.
    headers: dict[str, list[str]] = field(default_factory=dict)
    text: str = ""  # the body as plain text (from text/plain, else from HTML)
    html: str | None = None  # the HTML body as sent, when there was one
    attachments: list[Attachment] = field(default_factory=list)
    content_type: str = "text/plain"  # of the top-level part
    report_type: str | None = None  # multipart/report's report-type parameter
    # Headers of message/rfc822 and text/rfc822-headers parts (bounces quote
    # the mail they bounce this way), lower-cased names, decoded values.
    attached_headers: list[dict[str, str]] = field(default_factory=list)
    # The text of message/delivery-status parts, as sent.
    delivery_status: str | None = None
    defects: list[str] = field(default_factory=list)  # what could not be read

    def header(self, name: str) -> str | None:
        """Return the first value of header *name*, or None."""
        values = self.headers.get(name.lower())
        return values[0] if values else None
