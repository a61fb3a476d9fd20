"""Raw mail bytes to a ParsedMail: the MIME walk, decoded headers, body text
and the list of attachments. parse_mail never raises."""

import binascii
import email
import email.utils
import io
import logging
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone
from email.generator import BytesGenerator
from email.message import Message
from email.policy import compat32

from mailparser.dates import parse_mail_date
from mailparser.utils import get_addresses

from ingest.charsets import (
    decode_8bit,
    decode_base64,
    decode_header,
    decode_quoted_printable,
    decode_text,
)
from ingest.html import html_to_text
from ingest.mail import Address, Attachment, ParsedMail
from ingest.spool import MailBytes, MailFile

log = logging.getLogger(__name__)

# mail-parser logs header text of the mails it reads (a student's subject,
# names) and a WARNING for every part type it does not render; suqiu keeps
# that out of its logs and reports problems through ParsedMail.defects.
logging.getLogger("mailparser").setLevel(logging.CRITICAL)

DEFAULT_MAX_PART_BYTES = 25 * 1024 * 1024

# Above this size a mail is walked in place over its bytes instead of by
# mail-parser: the email package holds a mail three to four times over
# (a decoded copy, a list of lines, each part's joined payload).
LEAN_THRESHOLD = 4 * 1024 * 1024

# Deeper nesting is an attack or a loop of forwards: parts below it are not
# read.
_MAX_DEPTH = 64

# A header block larger than this is not a header block.
_MAX_HEADER_BYTES = 1024 * 1024

_FOLD = re.compile(r"\r?\n(?=[ \t])")
_NEWLINES = re.compile(r"\r\n?")
_HEADER_NAME = re.compile(rb"[\x21-\x39\x3b-\x7e]*:")
_ID_TOKEN = re.compile(r"<([^<>]*)>|([^\s<>,;()\"]+@[^\s<>,;()\"]+)")
_COMMENT = re.compile(r"\([^()]*\)")
_ID_SEPARATORS = re.compile(r"[\s,;]+")
_NUMERIC_ZONE = re.compile(r"([+-])(\d{2})(\d{2})(?!\d)")
# An offset after GMT or UTC, as JavaScript writes a date ("GMT+0800
# (中国标准时间)") and some web forms do ("UTC+8").
_GMT_OFFSET = re.compile(r"\b(?:GMT|UTC)\s*([+-])(\d{1,2})(?::?(\d{2}))?(?!\d)")
# "CST" alone: RFC 5322's obsolete zones make it US Central (-0600), but the
# Chinese servers and clients that write it mean China Standard Time.
_CST = re.compile(r"\bCST\b")
_US_CENTRAL = timezone(timedelta(hours=-6))
_CHINA_STANDARD_TIME = timezone(timedelta(hours=8))
_TRANSFER_TOKEN = re.compile(r"[a-z0-9-]+")
_PERCENT = re.compile(rb"%([0-9A-Fa-f]{2})")
_META_CHARSET = re.compile(
    rb"<meta[^>]{0,200}?charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:-]{2,40})", re.I
)
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

_TRANSFER_ALIASES = {
    "7-bit": "7bit",
    "8-bit": "8bit",
    "x-uuencode": "uuencode",
    "x-uue": "uuencode",
    "uue": "uuencode",
}
_IDENTITY_ENCODINGS = frozenset({"7bit", "8bit", "binary"})
_BODY_TYPES = frozenset({"text/plain", "text/html"})
_MESSAGE_TYPES = frozenset({"message/rfc822", "message/global"})
_STATUS_TYPES = frozenset({"message/delivery-status", "message/global-delivery-status"})
_HEADER_TYPES = frozenset({"text/rfc822-headers", "message/global-headers"})

Params = list[tuple[str, str]]


class _Payload:
    """The encoded body of one part, wherever its bytes live."""

    def __len__(self) -> int:
        return 0

    def data(self) -> bytes | memoryview:
        return b""

    def line_breaks(self) -> int:
        return 0


class _SpanPayload(_Payload):
    """A body left in place inside the raw mail: nothing is copied."""

    def __init__(self, raw: MailBytes, start: int, end: int) -> None:
        self.raw, self.start, self.end = raw, start, end

    def __len__(self) -> int:
        return self.end - self.start

    def data(self) -> bytes | memoryview:
        if isinstance(self.raw, MailFile):
            return self.raw[self.start : self.end]
        return memoryview(self.raw)[self.start : self.end]

    def line_breaks(self) -> int:
        return self.raw.count(b"\n", self.start, self.end) + self.raw.count(
            b"\r", self.start, self.end
        )


class _TextPayload(_Payload):
    """A body as the email package keeps it: 8-bit bytes surrogate-escaped."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __len__(self) -> int:
        return len(self.text)

    def data(self) -> bytes | memoryview:
        return self.text.encode("utf-8", "surrogateescape")

    def line_breaks(self) -> int:
        return self.text.count("\n") + self.text.count("\r")


class _MessagePayload(_Payload):
    """The body of a message/* part the email package parsed into messages.

    Its original bytes are gone, so it is written out again, once.
    """

    # TODO: the email package re-folds headers when it writes a message out,
    # so an attached mail's size and extracted bytes can differ slightly from
    # what was sent (and from what the lean walker gives for the same part).

    def __init__(self, message: Message) -> None:
        self.message = message
        self._data: bytes | None = None

    def __len__(self) -> int:
        return len(self._bytes())

    def data(self) -> bytes | memoryview:
        return self._bytes()

    def line_breaks(self) -> int:
        return self._bytes().count(b"\n")

    def _bytes(self) -> bytes:
        if self._data is None:
            self._data = _flatten_body(self.message)
        return self._data


@dataclass
class _Node:
    """One MIME part, from either walker, numbered in Message.walk() order."""

    index: int
    headers: list[tuple[str, str]]
    default_type: str = "text/plain"
    children: list["_Node"] = field(default_factory=list)
    container: bool = False  # children were split out: multipart/*, message/*
    payload: _Payload | None = None
    defects: list[str] = field(default_factory=list)

    def first(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.strip().lower() == name:
                return value
        return None


@dataclass
class _Fragment:
    """One piece of body: a plain text, an HTML text, or both alternatives."""

    plain: str | None = None
    html: str | None = None


@dataclass
class _Reading:
    """What the walk over a mail's parts has found so far."""

    max_part_bytes: int
    defects: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    attached_headers: list[dict[str, str]] = field(default_factory=list)
    delivery_status: list[str] = field(default_factory=list)
    report_type: str | None = None


# -- building the tree of parts ------------------------------------------------


def _flatten_body(message: Message) -> bytes:
    """Write out the body of a parsed message/* part as bytes."""
    payload = message.get_payload()
    if not isinstance(payload, list):
        return _flatten(message)
    parts = [part for part in payload if isinstance(part, Message)]
    if message.get_content_type() != "message/delivery-status":
        return b"".join(_flatten(part) for part in parts)
    # The email package split this body into blocks of fields (RFC 3464);
    # the fields are put back as they came, folding included.
    blocks = []
    for part in parts:
        lines = [f"{key}: {value}" for key, value in part.raw_items()]
        body = getattr(part, "_payload", None)
        if isinstance(body, str) and body:
            lines.append(body.rstrip("\r\n"))
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks).encode("utf-8", "surrogateescape")


def _flatten(message: Message) -> bytes:
    buffer = io.BytesIO()
    try:
        BytesGenerator(buffer, mangle_from_=False, policy=compat32).flatten(message)
        return buffer.getvalue()
    except (LookupError, UnicodeError, ValueError):
        # A charset label that cannot re-encode its own text (utf-16, idna).
        lines = [f"{key}: {value}\n" for key, value in message.raw_items()]
        body = message.get_payload()
        text = "".join(lines) + "\n" + (body if isinstance(body, str) else "")
        return text.encode("utf-8", "surrogateescape")


def _defect_text(defect: object) -> str:
    name = type(defect).__name__.removesuffix("Defect")
    return _CAMEL.sub(" ", name).lower()


def _count_parts(message: Message) -> int:
    count = 0
    stack = [message]
    while stack:
        part = stack.pop()
        count += 1
        payload = part.get_payload()
        if isinstance(payload, list):
            stack.extend(p for p in payload if isinstance(p, Message))
    return count


def _stdlib_tree(message: Message) -> _Node:
    """Turn the email package's message into nodes, without recursion."""
    counter = 0
    root: _Node | None = None
    stack: list[tuple[Message, _Node | None, int]] = [(message, None, 0)]
    while stack:
        part, parent, depth = stack.pop()
        node = _Node(
            index=counter,
            headers=[(str(k), str(v)) for k, v in part.raw_items()],
            default_type=part.get_default_type(),
            defects=[_defect_text(d) for d in part.defects],
        )
        counter += 1
        if parent is None:
            root = node
        else:
            parent.children.append(node)

        # get_payload() would hand back 8-bit text already decoded with the
        # declared charset and U+FFFD for what failed; the stored payload
        # keeps the bytes (surrogate-escaped), as mail-parser also reads it.
        payload = getattr(part, "_payload", None)
        if not isinstance(payload, list):
            node.payload = _TextPayload(payload if isinstance(payload, str) else "")
            continue
        node.container = True
        if part.get_content_maintype() == "message":
            node.payload = _MessagePayload(part)
        children = [p for p in payload if isinstance(p, Message)]
        if depth >= _MAX_DEPTH:
            node.defects.append("parts nested too deep; inner parts not read")
            counter += sum(_count_parts(child) for child in children)
            continue
        stack.extend((child, node, depth + 1) for child in reversed(children))
    assert root is not None
    return root


class _LeanWalker:
    """Walks MIME structure over the raw bytes, copying no part bodies.

    Parts get the same walk() numbering the email package gives them, so a
    mail read either way names its attachments by the same indexes.
    """

    def __init__(self, raw: MailBytes) -> None:
        self.raw = raw
        self.count = 0

    def entity(self, start: int, end: int, depth: int, default_type: str) -> _Node:
        node = _Node(index=self.count, headers=[], default_type=default_type)
        self.count += 1
        node.headers, body, node.defects = _read_headers(self.raw, start, end)
        ctype, params, _ = _content_type(node)
        node.payload = _SpanPayload(self.raw, body, end)
        if depth >= _MAX_DEPTH and ctype.split("/")[0] in ("multipart", "message"):
            node.defects.append("parts nested too deep; inner parts not read")
            return node

        if ctype.startswith("multipart/"):
            boundary = _param(params, "boundary")[0]
            if not boundary:
                node.defects.append("no boundary in multipart")
                return node
            spans = self._split(body, end, boundary.rstrip(), node)
            if spans is None:
                node.defects.append("start boundary not found")
                return node
            node.container = True
            child_type = (
                "message/rfc822" if ctype == "multipart/digest" else "text/plain"
            )
            for part_start, part_end in spans:
                node.children.append(
                    self.entity(part_start, part_end, depth + 1, child_type)
                )
        elif ctype == "message/delivery-status":
            node.container = True
            for block_start, block_end in _blocks(self.raw, body, end):
                child = _Node(index=self.count, headers=[])
                self.count += 1
                child.headers, _, child.defects = _read_headers(
                    self.raw, block_start, block_end
                )
                child.payload = _Payload()
                node.children.append(child)
        elif ctype.startswith("message/"):
            node.container = True
            node.children.append(self.entity(body, end, depth + 1, "text/plain"))
        return node

    def _split(
        self, start: int, end: int, boundary: str, node: _Node
    ) -> list[tuple[int, int]] | None:
        """Find the parts between boundary lines (RFC 2046 section 5.1.1)."""
        raw = self.raw
        delimiter = b"--" + boundary.encode("utf-8", "surrogateescape")
        spans: list[tuple[int, int]] = []
        part_start: int | None = None
        position = start
        while True:
            found = raw.find(delimiter, position, end)
            if found < 0:
                break
            position = found + 1
            if found != start and raw[found - 1] != 0x0A:
                continue
            after = found + len(delimiter)
            closing = raw.startswith(b"--", after)
            if closing:
                after += 2
            while after < end and raw[after] in (0x20, 0x09):
                after += 1
            if after < end and raw[after] not in (0x0D, 0x0A):
                continue

            if part_start is not None and found > part_start:
                # The line break before a boundary line belongs to it.
                part_end = found
                if part_end > part_start and raw[part_end - 1] == 0x0A:
                    part_end -= 1
                if part_end > part_start and raw[part_end - 1] == 0x0D:
                    part_end -= 1
                spans.append((part_start, max(part_start, part_end)))
            if closing:
                return spans
            line_end = raw.find(b"\n", after, end)
            part_start = end if line_end < 0 else line_end + 1
            position = part_start
        if part_start is None:
            return None
        node.defects.append("close boundary not found")
        spans.append((part_start, end))
        return spans


def _read_headers(
    raw: MailBytes, start: int, end: int
) -> tuple[list[tuple[str, str]], int, list[str]]:
    """Read a header block; return the headers, where the body starts, defects.

    Values are kept as the email package keeps them (compat32): folded, 8-bit
    bytes surrogate-escaped, leading blanks and the final line break removed.
    """
    headers: list[tuple[str, str]] = []
    defects: list[str] = []
    name: str | None = None
    value: list[str] = []
    position = start
    limit = min(end, start + _MAX_HEADER_BYTES)
    # TODO: lines end at LF only; a mail with bare CR line endings (old Mac
    # clients) is read as one long header line by this walker, though the
    # email package, used below LEAN_THRESHOLD, splits it.

    def flush() -> None:
        if name is not None:
            headers.append((name, "".join(value).rstrip("\r\n")))

    while position < end:
        newline = raw.find(b"\n", position, limit)
        line_end = newline + 1 if newline >= 0 else end
        if line_end > limit:
            defects.append("header block too long")
            break
        line = raw[position:line_end]
        if not line.rstrip(b"\r\n"):
            position = line_end
            break
        if line[0] in (0x20, 0x09):
            if name is None:
                defects.append("first header line is continuation")
            else:
                value.append(line.decode("ascii", "surrogateescape"))
        elif position == start and line.startswith(b"From "):
            pass  # an mbox "From " line, not a header
        elif _HEADER_NAME.match(line):
            flush()
            text = line.decode("ascii", "surrogateescape")
            name, rest = text.split(":", 1)
            value = [rest.lstrip(" \t")]
        else:
            defects.append("missing header body separator")
            break
        position = line_end
    flush()
    return headers, position, defects


def _blocks(raw: MailBytes, start: int, end: int) -> list[tuple[int, int]]:
    """Split a delivery-status body into blocks of fields (RFC 3464).

    As the email package does: each blank line ends a block, so two blank
    lines in a row make an empty block.
    """
    blocks = []
    position = start
    while True:
        block_start = position
        line_end = position
        while position < end:
            newline = raw.find(b"\n", position, end)
            line_end = end if newline < 0 else newline + 1
            if raw[position:line_end] in (b"\n", b"\r\n"):
                break
            position = line_end
        blocks.append((block_start, position))
        if position >= end or line_end >= end:
            return blocks
        position = line_end


def _tree(raw: MailBytes, defects: list[str]) -> _Node:
    """Build the tree of parts, falling back from one walker to the next."""
    if isinstance(raw, MailFile) or len(raw) > LEAN_THRESHOLD:
        return _lean_tree(raw, defects)

    # The same tree mail-parser's MailParser.from_bytes builds first; asking
    # the email package directly skips mail-parser's own decoding of every
    # part, which we redo better ourselves (it took 40% of a parse).
    # mail-parser still reads the addresses and the date.
    try:
        message = email.message_from_bytes(raw, policy=compat32)
    except Exception as exc:  # e.g. RecursionError on deep nesting
        defects.append(f"email package failed ({type(exc).__name__})")
        return _lean_tree(raw, defects)

    try:
        return _stdlib_tree(message)
    except Exception as exc:  # a message object too odd to walk
        defects.append(f"parts not walked ({type(exc).__name__})")
        return _lean_tree(raw, defects)


def _lean_tree(raw: MailBytes, defects: list[str]) -> _Node:
    try:
        return _LeanWalker(raw).entity(0, len(raw), 0, "text/plain")
    except Exception as exc:  # keep the mail as one opaque part
        log.warning("MIME walk failed: %s", type(exc).__name__, exc_info=True)
        defects.append(f"MIME structure not read ({type(exc).__name__})")
        return _Node(index=0, headers=[], payload=_SpanPayload(raw, 0, len(raw)))


def _find(root: _Node, index: int) -> _Node | None:
    stack = [root]
    while stack:
        node = stack.pop()
        if node.index == index:
            return node
        stack.extend(reversed(node.children))
    return None


# -- header fields -------------------------------------------------------------


def _split_params(value: str) -> tuple[str, Params]:
    """Split a Content-Type or Content-Disposition value into main value and
    parameters, tolerating what clients send: unquoted values with spaces,
    unclosed quotes, stray semicolons."""
    value = _FOLD.sub("", value)
    semicolon = value.find(";")
    if semicolon < 0:
        return value.strip().lower(), []
    main = value[:semicolon].strip().lower()
    params: Params = []
    position, length = semicolon + 1, len(value)
    while position < length:
        while position < length and value[position] in " \t\r\n;":
            position += 1
        equals = value.find("=", position)
        semicolon = value.find(";", position)
        if equals < 0 or 0 <= semicolon < equals:
            position = length if semicolon < 0 else semicolon + 1
            continue
        name = value[position:equals].strip().lower()
        position = equals + 1
        while position < length and value[position] in " \t\r\n":
            position += 1
        if position < length and value[position] == '"':
            chars: list[str] = []
            position += 1
            while position < length and value[position] != '"':
                # A raw GBK character can end in 0x5C, which is no escape.
                after_8bit = bool(chars) and "\udc80" <= chars[-1] <= "\udcff"
                if value[position] == "\\" and position + 1 < length and not after_8bit:
                    position += 1
                chars.append(value[position])
                position += 1
            text = "".join(chars)
            semicolon = value.find(";", position)
            position = length if semicolon < 0 else semicolon + 1
        else:
            semicolon = value.find(";", position)
            stop = length if semicolon < 0 else semicolon
            text = value[position:stop].strip()
            position = stop + 1
        if name:
            params.append((name, text))
    return main, params


def _param(params: Params, name: str) -> tuple[str | None, list[str]]:
    """Return a decoded parameter: RFC 2231 first, then RFC 2047 or raw."""
    plain = None
    sections: dict[int, tuple[bool, str]] = {}
    for key, value in params:
        if key == name:
            plain = value if plain is None else plain
        elif key == name + "*":
            sections.setdefault(0, (True, value))
        elif key.startswith(name + "*"):
            number = key[len(name) + 1 :]
            extended = number.endswith("*")
            number = number.rstrip("*")
            if number.isdigit():
                sections.setdefault(int(number), (extended, value))

    if sections:
        text, defects = _rfc2231([sections[n] for n in sorted(sections)])
        if text.strip():
            return text, defects
    if plain is not None:
        return decode_header(plain)
    return None, []


def _rfc2231(sections: list[tuple[bool, str]]) -> tuple[str, list[str]]:
    """Join RFC 2231 sections (section 3 continuations, section 4 charset)."""
    charset = None
    data = bytearray()
    for number, (extended, value) in enumerate(sections):
        if extended and number == 0 and value.count("'") >= 2:
            charset, _language, value = value.split("'", 2)
        raw = value.encode("utf-8", "surrogateescape")
        if extended:
            raw = _PERCENT.sub(lambda m: bytes([int(m.group(1), 16)]), raw)
        data += raw
    text, defects = decode_text(bytes(data), charset or None)
    if "=?" in text:
        # Some clients put an RFC 2047 word inside an RFC 2231 value.
        text, more = decode_header(text)
        defects += more
    return text, defects


def _content_type(node: _Node) -> tuple[str, Params, str | None]:
    """Return the part's media type, parameters and a defect, if any.

    Like the email package, a type without exactly one "/" is text/plain
    (RFC 2045 section 5.2).
    """
    value = node.first("content-type")
    if value is None:
        return node.default_type, [], None
    main, params = _split_params(value)
    if main.count("/") != 1:
        return "text/plain", params, "malformed Content-Type"
    return main, params, None


def _disposition(node: _Node) -> tuple[str | None, Params]:
    value = node.first("content-disposition")
    if value is None:
        return None, []
    main, params = _split_params(value)
    if not main:
        return None, params
    # RFC 2183 section 2.8: an unknown disposition is treated as attachment.
    return ("inline" if main == "inline" else "attachment"), params


def _transfer_encoding(node: _Node) -> str:
    value = node.first("content-transfer-encoding")
    if value is None:
        return "7bit"
    match = _TRANSFER_TOKEN.search(value.lower())
    if match is None:
        return "7bit"
    token = match.group()
    return _TRANSFER_ALIASES.get(token, token)


def _unfold(value: str) -> str:
    return _FOLD.sub("", value).replace("\r", "").replace("\n", "")


def _ids(values: list[str]) -> list[str]:
    """Message ids without brackets, from headers however they are written:
    several ids, comments, folding, ids that lost their brackets."""
    found: list[str] = []
    for value in values:
        text = _COMMENT.sub(" ", decode_8bit(_unfold(value))[0])
        ids = [
            "".join((bracketed or bare).split())
            for bracketed, bare in _ID_TOKEN.findall(text)
        ]
        if not any(ids):
            ids = [t.strip("<>\"'") for t in _ID_SEPARATORS.split(text)]
        found.extend(i for i in ids if i and i not in found)
    return found


def _addresses(values: list[str], header: str, defects: list[str]) -> list[Address]:
    """Parse address headers with mail-parser's structural scanner.

    Names are decoded afterwards, so a decoded comma or @ cannot split a
    mailbox; raw 8-bit bytes are decoded first, since a GBK trail byte can
    be "@" or "\\".
    """
    result: list[Address] = []
    for value in values:
        text, found = decode_8bit(_unfold(value))
        defects.extend(f"{header}: {d}" for d in found)
        if not text.strip():
            continue
        diagnostics: list[dict[str, object]] = []
        try:
            pairs = get_addresses(text, defects=diagnostics, decode_names=False)
        except Exception as exc:  # mail-parser's scanner gave up on this value
            defects.append(f"{header}: addresses not parsed ({type(exc).__name__})")
            pairs = email.utils.getaddresses([text])
        for diagnostic in diagnostics:
            if not diagnostic.get("recovered"):
                defects.append(f"{header}: unreadable address")
        # TODO: an unquoted display name holding a comma (From: Zhang, San
        # <a@b>) is split by the scanner, and "Zhang" is lost from the name.
        # RFC 5322 forbids that header, and gluing the pieces back would be
        # a guess; the address, which everything downstream uses, is kept.
        before = len(result)
        for name, addr in pairs:
            display, found = decode_header(name) if name else ("", [])
            defects.extend(f"{header}: {d}" for d in found)
            addr = addr.strip().lower()
            if addr or display:
                result.append(Address(name=display or None, addr=addr))
        if len(result) == before and header == "from":
            # RFC 5322 needs an address; a bare name is still worth keeping.
            display, found = decode_header(text)
            if display and "@" not in display:
                result.append(Address(name=display, addr=""))
    return result


def _date(values: list[str], defects: list[str]) -> datetime | None:
    if not values:
        defects.append("no Date header")
        return None
    text = decode_8bit(_unfold(values[0]))[0].strip()
    try:
        result = parse_mail_date(text)
    except Exception:  # mail-parser's date reader failed outright
        result = None
    if result is not None and result.value is not None:
        defects.extend(f"Date: {reason}" for reason in result.reasons)
        value = _with_sender_offset(result.value, text, result.timezone)
        return _china_if_cst(value, text, defects)

    try:
        loose = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        defects.append("unreadable Date header")
        return None
    defects.append("Date header not in RFC 5322 form; read loosely")
    if loose.tzinfo is not None:
        return _china_if_cst(loose, text, defects)
    # The email package drops what it cannot read after the time, such as
    # "GMT+0800", and gives a naive time: the zone is read here instead.
    offset = _written_offset(text)
    if offset is None and _CST.search(text):
        return loose.replace(tzinfo=_CHINA_STANDARD_TIME)
    if offset is not None and abs(offset) < timedelta(hours=24):
        return loose.replace(tzinfo=timezone(offset))
    defects.append("Date: no time zone; read as UTC")
    return loose.replace(tzinfo=UTC)


def _china_if_cst(value: datetime, text: str, defects: list[str]) -> datetime:
    """*value* with a bare "CST" read as +0800, not as US Central."""
    if value.utcoffset() != _US_CENTRAL.utcoffset(None) or not _CST.search(text):
        return value
    if _written_offset(text) is not None:
        return value  # "-0600 (CST)": the number says which CST
    defects.append("Date: CST read as China Standard Time (+0800)")
    return value.replace(tzinfo=_CHINA_STANDARD_TIME)


def _written_offset(text: str) -> timedelta | None:
    """The offset a date is written with, if any: "+0800", or after GMT or
    UTC ("GMT+8", "UTC+08:00")."""
    match = _NUMERIC_ZONE.search(text) or _GMT_OFFSET.search(text)
    if match is None:
        return None
    sign, hours, minutes = match.groups()
    offset = timedelta(hours=int(hours), minutes=int(minutes or 0))
    return -offset if sign == "-" else offset


def _with_sender_offset(value: datetime, text: str, hours: object) -> datetime:
    """Show a UTC time in the sender's own offset, as the Date header had it."""
    offset = _written_offset(text)
    try:
        if offset is None:
            offset = timedelta(minutes=round(float(str(hours)) * 60))
        return value.astimezone(timezone(offset))
    except (ValueError, OverflowError):
        return value.astimezone(UTC)


# -- parts ---------------------------------------------------------------------


def _decode_payload(node: _Node) -> tuple[bytes, list[str]]:
    """Undo the part's Content-Transfer-Encoding; return bytes and defects."""
    if node.payload is None:
        return b"", []
    data = node.payload.data()
    encoding = _transfer_encoding(node)
    if encoding == "base64":
        return decode_base64(data)
    if encoding == "quoted-printable":
        return decode_quoted_printable(data)
    if encoding == "uuencode":
        return _decode_uu(bytes(data))
    if encoding in _IDENTITY_ENCODINGS:
        return bytes(data), []
    return bytes(data), [f"unknown transfer encoding {encoding[:30]!r}"]


def _decode_uu(data: bytes) -> tuple[bytes, list[str]]:
    out = bytearray()
    damaged = False
    inside = False
    for line in data.splitlines():
        if not inside:
            inside = line.startswith(b"begin")
            continue
        if line.strip() in (b"end", b""):
            if line.strip() == b"end":
                break
            continue
        try:
            out += binascii.a2b_uu(line)
        except binascii.Error:
            # Some encoders pad lines short: read as many bytes as declared.
            length = ((line[0] - 32) & 63) * 4 + 5
            try:
                out += binascii.a2b_uu(line[: length // 3])
            except binascii.Error:
                damaged = True
    defects = ["damaged uuencoded data"] if damaged or not inside else []
    return bytes(out), defects


def _estimate(node: _Node) -> int:
    if node.payload is None:
        return 0
    size = len(node.payload)
    if _transfer_encoding(node) == "base64":
        return max(0, size - node.payload.line_breaks()) * 3 // 4
    return size


def _read_part(node: _Node, ctype: str, reading: _Reading) -> bytes | None:
    """The decoded bytes of a part, or None when it is over the size cap."""
    size = len(node.payload) if node.payload is not None else 0
    if size > reading.max_part_bytes:
        reading.defects.append(
            f"part {node.index} ({ctype}) is {size} bytes encoded, over the "
            f"{reading.max_part_bytes} byte cap; not decoded"
        )
        return None
    data, defects = _decode_payload(node)
    reading.defects.extend(f"part {node.index}: {d}" for d in defects)
    return data


def _body_text(data: bytes, ctype: str, params: Params) -> tuple[str, list[str]]:
    charset = _param(params, "charset")[0]
    if not charset and ctype == "text/html":
        match = _META_CHARSET.search(data, 0, 4096)
        if match:
            charset = match.group(1).decode("ascii")
    text, defects = decode_text(data, charset)
    text = _NEWLINES.sub("\n", text)
    if (_param(params, "format")[0] or "").lower() == "flowed":
        delsp = (_param(params, "delsp")[0] or "").lower() == "yes"
        text = _unflow(text, delsp)
    return text, defects


def _unflow(text: str, delsp: bool) -> str:
    """Join the soft line breaks of format=flowed text (RFC 3676 section 4)."""
    # TODO: quote depth (leading ">") is not tracked, so a flowed quoted
    # line can be joined to an unquoted one after it. RFC 3676 asks for it;
    # left because flowed text comes only from a few desktop clients
    # (Thunderbird, Apple Mail), and tracking depth means joining each run
    # of lines of one quote level on its own, a rewrite of this function.
    lines: list[str] = []
    pending = ""
    for line in text.split("\n"):
        if line.startswith(" "):
            line = line[1:]
        if line.endswith(" ") and line != "-- ":
            pending += line[:-1] if delsp else line
            continue
        lines.append(pending + line)
        pending = ""
    if pending:
        lines.append(pending)
    return "\n".join(lines)


def _filename(
    node: _Node, ctype_params: Params, disposition_params: Params, reading: _Reading
) -> str | None:
    for params, key in ((disposition_params, "filename"), (ctype_params, "name")):
        value, defects = _param(params, key)
        reading.defects.extend(f"part {node.index} {key}: {d}" for d in defects)
        if value is not None:
            value = _CONTROL.sub("", value).strip()
            if value:
                return value
    return None


def _header_dict(headers: list[tuple[str, str]]) -> dict[str, str]:
    result: dict[str, str] = {}
    for name, value in headers:
        key = name.strip().lower()
        if key and key not in result:
            result[key] = decode_header(value)[0]
    return result


def _attach(
    node: _Node,
    ctype: str,
    params: Params,
    reading: _Reading,
    data: bytes | None = None,
) -> None:
    """List a part as an attachment; its bytes are measured, not kept."""
    disposition, disposition_params = _disposition(node)
    filename = _filename(node, params, disposition_params, reading)
    oversized = False
    if data is None:
        data = _read_part(node, ctype, reading)
        oversized = data is None
    content_id = node.first("content-id")
    if content_id is not None:
        content_id = "".join(_unfold(content_id).split()).strip("<>") or None
    reading.attachments.append(
        Attachment(
            index=node.index,
            filename=filename,
            content_type=ctype,
            size=_estimate(node) if data is None else len(data),
            inline=disposition == "inline"
            or (disposition is None and content_id is not None),
            content_id=content_id,
            oversized=oversized,
        )
    )


def _collect(node: _Node, reading: _Reading) -> list[_Fragment]:
    """Walk the parts under *node*: return body fragments, list the rest."""
    ctype, params, defect = _content_type(node)
    reading.defects.extend(f"part {node.index}: {d}" for d in node.defects)
    if defect:
        reading.defects.append(f"part {node.index}: {defect}")

    if node.container and ctype.startswith("multipart/"):
        if ctype == "multipart/report" and reading.report_type is None:
            reading.report_type = (_param(params, "report-type")[0] or "").lower()
        groups = [_collect(child, reading) for child in node.children]
        if ctype == "multipart/alternative":
            return _choose(groups)
        return [fragment for group in groups for fragment in group]

    if node.container:
        _message_part(node, ctype, params, reading)
        return []

    disposition, disposition_params = _disposition(node)
    named = _param(disposition_params, "filename")[0] or _param(params, "name")[0]
    # A multipart whose boundary never appears is read as the text it is.
    readable = ctype in _BODY_TYPES or ctype.startswith("multipart/")
    if not readable or disposition == "attachment" or named:
        if ctype in _HEADER_TYPES:
            data = _read_part(node, ctype, reading)
            if data is not None:
                headers = _read_headers(data, 0, len(data))[0]
                reading.attached_headers.append(_header_dict(headers))
            _attach(node, ctype, params, reading, data)
            return []
        _attach(node, ctype, params, reading)
        return []

    data = _read_part(node, ctype, reading)
    if data is None:
        _attach(node, ctype, params, reading)
        return []
    text, defects = _body_text(data, ctype, params)
    reading.defects.extend(f"part {node.index}: {d}" for d in defects)
    if ctype == "text/html":
        return [_Fragment(html=text)]
    return [_Fragment(plain=text)]


def _choose(groups: list[list[_Fragment]]) -> list[_Fragment]:
    """Pick from multipart/alternative: plain text unless blank, and the HTML."""
    plain = None
    html = None
    for group in groups:
        texts = [f.plain for f in group if f.plain is not None]
        if plain is None and texts and "".join(texts).strip():
            plain = "\n".join(texts)
        markup = [f.html for f in group if f.html is not None]
        if html is None and markup:
            html = "\n".join(markup)
    if plain is None and html is None:
        return []
    return [_Fragment(plain=plain, html=html)]


def _message_part(node: _Node, ctype: str, params: Params, reading: _Reading) -> None:
    """A message/* part: an attached mail, or a bounce's status report."""
    if ctype in _MESSAGE_TYPES and node.children:
        headers = _header_dict(node.children[0].headers)
        if headers:
            reading.attached_headers.append(headers)
    if ctype in _STATUS_TYPES:
        data = _read_part(node, ctype, reading)
        if data is not None:
            text, _ = decode_text(data, "utf-8")
            reading.delivery_status.append(_NEWLINES.sub("\n", text).strip("\n"))
        _attach(node, ctype, params, reading, data)
        return
    _attach(node, ctype, params, reading)


# -- the mail ------------------------------------------------------------------


def _parse(raw: MailBytes, max_part_bytes: int) -> ParsedMail:
    defects: list[str] = []
    root = _tree(raw, defects)

    headers: dict[str, list[str]] = {}
    for name, value in root.headers:
        key = name.strip().lower()
        if not key:
            continue
        text, found = decode_header(value)
        defects.extend(f"{key}: {d}" for d in found)
        headers.setdefault(key, []).append(text)

    def raw_values(name: str) -> list[str]:
        return [v for k, v in root.headers if k.strip().lower() == name]

    senders = _addresses(raw_values("from"), "from", defects)
    if len(raw_values("from")) > 1:
        defects.append(f"{len(raw_values('from'))} From headers")
    message_ids = _ids(raw_values("message-id"))

    reading = _Reading(max_part_bytes=max_part_bytes)
    try:
        fragments = _collect(root, reading)
    except Exception as exc:  # keep the headers and what was read before
        log.warning("parts not read: %s", type(exc).__name__, exc_info=True)
        defects.append(f"parts not read ({type(exc).__name__})")
        fragments = []

    pieces = []
    for fragment in fragments:
        if fragment.plain is not None and fragment.plain.strip():
            pieces.append(fragment.plain)
        elif fragment.html is not None:
            pieces.append(html_to_text(fragment.html))
    html = [f.html for f in fragments if f.html is not None]

    return ParsedMail(
        message_id=message_ids[0] if message_ids else None,
        subject=headers.get("subject", [""])[0],
        sender=senders[0] if senders else None,
        reply_to=_addresses(raw_values("reply-to"), "reply-to", defects),
        to=_addresses(raw_values("to"), "to", defects),
        cc=_addresses(raw_values("cc"), "cc", defects),
        date=_date(raw_values("date"), defects),
        in_reply_to=_ids(raw_values("in-reply-to")),
        references=_ids(raw_values("references")),
        headers=headers,
        text="\n".join(p for p in pieces if p.strip()).strip("\n").rstrip(),
        html="\n".join(html) if html else None,
        attachments=reading.attachments,
        content_type=_content_type(root)[0],
        report_type=reading.report_type,
        attached_headers=reading.attached_headers,
        delivery_status="\n\n".join(reading.delivery_status) or None,
        defects=list(dict.fromkeys(defects + reading.defects)),
    )


def parse_mail(
    raw: MailBytes, *, max_part_bytes: int = DEFAULT_MAX_PART_BYTES
) -> ParsedMail:
    """Read one raw mail. Never raises, whatever the bytes.

    What could not be understood is listed in ParsedMail.defects. Parts whose
    encoded size is over *max_part_bytes* are listed but not decoded.
    """
    try:
        return _without_nul(_parse(_held(raw), max_part_bytes))
    except Exception as exc:  # the contract: a broken mail is data
        log.warning("mail not parsed: %s", type(exc).__name__, exc_info=True)
        return ParsedMail(
            message_id=None,
            subject="",
            sender=None,
            defects=[f"mail not readable ({type(exc).__name__})"],
        )


def _without_nul(mail: ParsedMail) -> ParsedMail:
    """Drop NUL characters from every text: they carry no meaning in mail,
    and PostgreSQL refuses them in text columns."""

    def clean(value: str) -> str:
        return value.replace("\x00", "") if "\x00" in value else value

    def address(item: Address | None) -> Address | None:
        if item is None:
            return None
        return Address(clean(item.name) if item.name else item.name, clean(item.addr))

    def addresses(items: list[Address]) -> list[Address]:
        return [a for a in (address(i) for i in items) if a is not None]

    return replace(
        mail,
        message_id=clean(mail.message_id) if mail.message_id else mail.message_id,
        subject=clean(mail.subject),
        sender=address(mail.sender),
        reply_to=addresses(mail.reply_to),
        to=addresses(mail.to),
        cc=addresses(mail.cc),
        in_reply_to=[clean(i) for i in mail.in_reply_to],
        references=[clean(i) for i in mail.references],
        headers={k: [clean(v) for v in vs] for k, vs in mail.headers.items()},
        text=clean(mail.text),
        html=clean(mail.html) if mail.html else mail.html,
        attachments=[
            replace(a, filename=clean(a.filename) if a.filename else a.filename)
            for a in mail.attachments
        ],
        attached_headers=[
            {k: clean(v) for k, v in h.items()} for h in mail.attached_headers
        ],
        delivery_status=clean(mail.delivery_status) if mail.delivery_status else None,
        defects=[clean(d) for d in mail.defects],
    )


def extract_attachment(raw: MailBytes, index: int) -> bytes | None:
    """Return the decoded payload of the part numbered *index*, or None.

    *index* is an Attachment.index from parse_mail of the same bytes; the
    part is found by the same walk, so the numbering agrees.
    """
    try:
        node = _find(_tree(_held(raw), []), index)
        if node is None or node.payload is None:
            return None
        if node.container and _content_type(node)[0].startswith("multipart/"):
            return None
        return _decode_payload(node)[0]
    except Exception as exc:  # same contract as parse_mail
        log.warning("attachment %d not extracted: %s", index, type(exc).__name__)
        return None


def _held(raw: MailBytes) -> MailBytes:
    """The mail as the walkers read it: bytes (not a bytearray or a view the
    caller may change), or a MailFile left on disk."""
    return raw if isinstance(raw, MailFile) else bytes(raw)
