"""Build outbound MIME messages: UTF-8, our own Message-ID, loop-safe headers.

Every header value passes through ``clean_header`` first, so nothing a
student wrote (a subject, a name) can add a line to our headers.
"""

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses

from notify.render import Rendered
from suqiu import clock

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")
SMTP_POLICY = policy.SMTP.clone(max_line_length=78)


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
    return f"suqiu.{tag}.{uuid.uuid4().hex}@{domain}"


def bare_address(value: str) -> str:
    pairs = getaddresses([value])
    return pairs[0][1].lower() if pairs and pairs[0][1] else value.strip().lower()


def _address_header(value: str) -> Address | str:
    name, addr = getaddresses([value])[0]
    if not addr or "@" not in addr:
        return clean_header(value)
    local, _, domain = addr.partition("@")
    return Address(display_name=clean_header(name), username=local, domain=domain)


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
    message = EmailMessage(policy=SMTP_POLICY)
    message["From"] = _address_header(sender)
    message["To"] = [_address_header(a) for a in to]
    if cc:
        message["Cc"] = [_address_header(a) for a in cc]
    message["Subject"] = clean_header(rendered.subject, 300)
    message["Date"] = format_datetime(clock.local(clock.now()))
    message["Message-ID"] = f"<{message_id}>"
    if in_reply_to:
        message["In-Reply-To"] = f"<{clean_header(in_reply_to)}>"
    refs = [clean_header(r) for r in references if r]
    if refs:
        message["References"] = " ".join(f"<{r}>" for r in refs[-20:])
    # RFC 3834: mark our mail automatic so that vacation responders and
    # Exchange (X-Auto-Response-Suppress) do not answer it.
    message["Auto-Submitted"] = auto_submitted
    message["X-Auto-Response-Suppress"] = "All"
    if case_number:
        message["X-Suqiu-Case"] = clean_header(case_number)
    message["X-Suqiu-Kind"] = kind

    message.set_content(rendered.text, subtype="plain", charset="utf-8", cte="base64")
    message.add_alternative(
        rendered.html, subtype="html", charset="utf-8", cte="base64"
    )
    if inline_images:
        # RFC 2387: the images travel in a multipart/related beside the
        # HTML, so that mail apps show them in place and not as attachments.
        html = message.get_body(("html",))
        assert html is not None
        for cid, image in inline_images.items():
            maintype, _, subtype = image.content_type.partition("/")
            html.add_related(
                image.data,
                maintype=maintype or "image",
                subtype=subtype or "png",
                cid=f"<{clean_header(cid, 200)}>",
                filename=clean_header(image.filename, 200),
                disposition="inline",
            )
    for attachment in attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        message.add_attachment(
            attachment.data,
            maintype=maintype or "application",
            subtype=subtype or "octet-stream",
            filename=clean_header(attachment.filename, 200),
        )

    recipients = [bare_address(a) for a in [*to, *cc]]
    return Outgoing(
        message_id=message_id,
        sender=bare_address(sender),
        recipients=recipients,
        subject=str(message["Subject"]),
        text=rendered.text,
        raw=message.as_bytes(policy=SMTP_POLICY),
        attachments=[a.filename for a in attachments],
    )
