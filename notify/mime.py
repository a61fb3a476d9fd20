"""Write a MIME message's bytes directly: headers, alternatives, files.

The stdlib's modern policy folds every header through a full parser, some
2–5 ms a mail; our mails have a fixed shape, so writing them is quicker and
as correct: RFC 2047 encoded words for non-ASCII headers, RFC 2231 file
names (with the encoded-word form beside it for older Chinese clients), and
every body in UTF-8 base64 with CRLF line ends.
"""

import base64
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from email.header import Header
from email.utils import formataddr, getaddresses
from urllib.parse import quote

CRLF = b"\r\n"


@dataclass(frozen=True)
class Part:
    """One leaf of the message: its type, its bytes, how it is shown."""

    content_type: str  # "text/plain", "image/png", …
    data: bytes
    filename: str | None = None
    content_id: str | None = None  # without angle brackets
    inline: bool = False


def header(name: str, value: str) -> bytes:
    """One header line, encoded and folded, ending in CRLF."""
    if value.isascii():
        line = f"{name}: {value}"
        if len(line) <= 998:
            return line.encode("ascii") + CRLF
    encoded = Header(value, "utf-8", header_name=name).encode(linesep="\r\n")
    return f"{name}: {encoded}".encode("ascii") + CRLF


def addresses(values: Sequence[str]) -> str:
    """Addresses for From, To or Cc, display names encoded where needed."""
    written = []
    for name, addr in getaddresses(list(values)):
        if not addr:
            continue
        written.append(formataddr((name, addr), "utf-8") if name else addr)
    return ", ".join(written)


def _boundary() -> str:
    return f"=_suqiu_{secrets.token_hex(12)}"


# Bytes encoded at a time: a multiple of 57, the input of one 76-character
# base64 line, so that every block ends at a line end.
_BLOCK = 57 * 1024


def _base64(data: bytes) -> list[bytes]:
    # base64 with 76-character lines (RFC 2045 §6.8), CRLF-terminated, a
    # block at a time: a file passed on is not held encoded twice over.
    view = memoryview(data)
    return [
        base64.encodebytes(view[start : start + _BLOCK]).replace(b"\n", CRLF)
        for start in range(0, len(data), _BLOCK)
    ]


def _leaf(part: Part) -> list[bytes]:
    content_type = part.content_type
    if content_type.startswith("text/"):
        content_type += '; charset="utf-8"'
    lines = [f"Content-Type: {content_type}"]
    if part.filename is not None:
        lines[0] += f'; name="{_encoded_word(part.filename)}"'
        disposition = "inline" if part.inline else "attachment"
        lines.append(f"Content-Disposition: {disposition}; {_filename(part.filename)}")
    elif part.inline:
        lines.append("Content-Disposition: inline")
    if part.content_id is not None:
        lines.append(f"Content-ID: <{part.content_id}>")
    lines.append("Content-Transfer-Encoding: base64")
    head = "\r\n".join(lines).encode("ascii")
    return [head, CRLF, CRLF, *_base64(part.data)]


def _filename(name: str) -> str:
    """Content-Disposition's file name parameters, for every client."""
    if name.isascii() and '"' not in name and "\\" not in name:
        return f'filename="{name}"'
    # RFC 2231 first, which standard clients read; the quoted encoded word
    # is what Outlook and most Chinese webmail read instead.
    return (
        f"filename*=utf-8''{quote(name, safe='')}; filename=\"{_encoded_word(name)}\""
    )


def _encoded_word(name: str) -> str:
    if name.isascii() and '"' not in name and "\\" not in name:
        return name
    return "=?utf-8?b?" + base64.b64encode(name.encode("utf-8")).decode() + "?="


def multipart(
    subtype: str, children: Sequence[list[bytes]], **params: str
) -> list[bytes]:
    """A multipart body of already written children, as pieces to join."""
    boundary = _boundary()
    extra = "".join(f'; {key}="{value}"' for key, value in params.items())
    head = f'Content-Type: multipart/{subtype}; boundary="{boundary}"{extra}'
    mark = b"--" + boundary.encode()
    pieces = [head.encode("ascii"), CRLF, CRLF]
    for child in children:
        pieces += [mark, CRLF, *child, CRLF]
    pieces += [mark, b"--", CRLF]
    return pieces


def body(
    text: str,
    html: str,
    *,
    related: Sequence[Part] = (),
    attachments: Sequence[Part] = (),
) -> list[bytes]:
    """The body of one of our mails, as pieces to join: text and HTML
    alternatives, the HTML's inline images beside it (RFC 2387), then the
    attachments."""
    html_part = _leaf(Part("text/html", html.encode("utf-8")))
    if related:
        html_part = multipart(
            "related", [html_part, *(_leaf(p) for p in related)], type="text/html"
        )
    alternative = multipart(
        "alternative", [_leaf(Part("text/plain", text.encode("utf-8"))), html_part]
    )
    if not attachments:
        return alternative
    return multipart("mixed", [alternative, *(_leaf(p) for p in attachments)])
