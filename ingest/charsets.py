"""Bytes to text the way Chinese mail really labels them: widened GB labels,
guessing for unlabelled 8-bit data, and RFC 2047 encoded words."""

import binascii
import codecs
import functools
import logging
import re

log = logging.getLogger(__name__)

# Labels that mail really carries for GB2312, GBK and GB18030 text. Clients
# label GBK (喆, 镕, 堃 ...) and even GB18030 text "gb2312", so every one of
# them is decoded as GB18030, which is a superset of all.
_GB_LABELS = frozenset(
    {
        "gb2312",
        "gb_2312",
        "gb_2312-80",
        "gb-2312",
        "csgb2312",
        "csgb231280",
        "csiso58gb231280",
        "iso-ir-58",
        "chinese",
        "euc-cn",
        "euccn",
        "x-euc-cn",
        "eucgb2312_cn",
        "gbk",
        "x-gbk",
        "cp936",
        "ms936",
        "windows-936",
        "gb18030",
        "gb-18030",
    }
)

# Other labels widened to the superset that senders actually use (the same
# choices browsers make, WHATWG Encoding Standard).
_WIDER = {
    "ascii": "cp1252",
    "iso8859-1": "cp1252",
    "big5": "big5hkscs",
    "euc_kr": "cp949",
    "shift_jis": "cp932",
}

# Python codecs that are text encodings by name but turn arbitrary bytes into
# escapes, code points or errors rather than text.
_REFUSED_CODECS = frozenset(
    {"undefined", "unicode-escape", "raw-unicode-escape", "punycode", "idna"}
)

# Codecs that read ASCII bytes as ASCII: pure-ASCII data needs no decoding.
_NOT_ASCII_SAFE = ("utf-16", "utf-32", "utf-7", "hz", "iso2022")

_SURROGATE = re.compile("[\ud800-\udfff]")
_LABEL = re.compile(r"[a-z0-9._:()+-]{1,40}")

# RFC 2047 encoded word. The text may not hold "?"; spaces inside are
# illegal but some webmail encoders emit them in Q words, so they are read.
_ENCODED_WORD = re.compile(r"=\?([^?\s]*)\?([bBqQ])\?([^?]*)\?=")
_FOLD = re.compile(r"\r?\n(?=[ \t])")
_Q_ESCAPE = re.compile(rb"=([0-9A-Fa-f]{2})")
_B64_STRAY = re.compile(rb"[^A-Za-z0-9+/=\s]")
_B64_MID_PAD = re.compile(rb"=[=\s]*[A-Za-z0-9+/]")
_B64_NOT_ALPHABET = re.compile(rb"[^A-Za-z0-9+/=]")
_QP_SPACE_BEFORE_BREAK = re.compile(rb"=[ \t]+(\r?\n)")
_QP_STRAY_EQUALS = re.compile(rb"=(?![0-9A-Fa-f]{2}|\r?\n|\Z)")

# A lying label is overruled by strictly valid UTF-8 only when enough bytes
# back the claim: a short GBK string is valid UTF-8 by chance now and then.
_UTF8_EVIDENCE_BYTES = 8
_HIGH_BYTES = bytes(range(0x80, 0x100))
# Slight damage: at most one bad character per this many non-ASCII bytes.
_DAMAGE_RATIO = 50


@functools.lru_cache(maxsize=256)
def codec_for(label: str | None) -> str | None:
    """Return the Python codec to use for a charset *label*, or None.

    None means the label is absent, unknown or unusable, and the caller
    must guess from the bytes.
    """
    if label is None:
        return None
    name = label.strip().strip("\"'").strip().lower()
    # RFC 2231 section 5 lets a charset carry a language: utf-8*zh-cn.
    name = name.split("*", 1)[0]
    if not _LABEL.fullmatch(name):
        return None
    if name in _GB_LABELS:
        return "gb18030"
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError):
        return None
    # CodecInfo has no public flag for this; without it "base64" or "zlib"
    # would pass as a charset.
    if not info._is_text_encoding or info.name in _REFUSED_CODECS:
        return None
    if info.name in ("gb2312", "gbk"):
        return "gb18030"
    return _WIDER.get(info.name, info.name)


def _ascii_safe(codec: str | None) -> bool:
    return codec is None or not codec.startswith(_NOT_ASCII_SAFE)


def _strict(data: bytes, codec: str) -> str | None:
    try:
        text = data.decode(codec)
    except (UnicodeError, LookupError):
        return None
    # utf-7 and a few others can yield lone surrogates, which are not text.
    if codec not in ("utf-8", "gb18030") and _SURROGATE.search(text):
        return None
    return text


def _non_ascii(data: bytes) -> int:
    return len(data) - len(data.translate(None, _HIGH_BYTES))


def _looks_utf8(data: bytes) -> str | None:
    """Return *data* as UTF-8 when it is valid UTF-8 with enough non-ASCII."""
    if _non_ascii(data) < _UTF8_EVIDENCE_BYTES:
        return None
    return _strict(data, "utf-8")


def _lossy(data: bytes, codec: str) -> str | None:
    """Decode with U+FFFD for bad bytes, when damage is slight: a few bad
    bytes in long text (a cut in transit) rather than a wrong charset."""
    try:
        text = _SURROGATE.sub("\ufffd", data.decode(codec, "replace"))
    except (UnicodeError, LookupError):
        return None
    if text.count("\ufffd") <= max(1, _non_ascii(data) // _DAMAGE_RATIO):
        return text
    return None


def _fallback(data: bytes) -> str:
    """Decode hopeless bytes: slightly damaged UTF-8 or GB18030, else latin-1,
    which maps every byte to some character."""
    for codec in ("utf-8", "gb18030"):
        text = _lossy(data, codec)
        if text is not None:
            return text
    return data.decode("latin-1")


def _guess(data: bytes) -> tuple[str, str]:
    """Decode unlabelled 8-bit bytes; return the text and the reading used."""
    text = _strict(data, "utf-8")
    if text is not None:
        return text, "utf-8"
    # GB18030 accepts most byte soup, so damaged UTF-8 is recognised first.
    text = _lossy(data, "utf-8")
    if text is not None:
        return text, "damaged utf-8"
    text = _strict(data, "gb18030")
    if text is not None:
        return text, "gb18030"
    return _fallback(data), "guess"


def decode_text(data: bytes, declared: str | None) -> tuple[str, list[str]]:
    """Decode *data* labelled with charset *declared*; return text and defects.

    GB labels read as GB18030; a missing or unknown label is guessed (strict
    UTF-8, then GB18030, then a lossy reading); a label the bytes contradict
    is overruled by strictly valid UTF-8 or GB18030 before falling back.
    """
    if not data:
        return "", []
    defects: list[str] = []
    codec = codec_for(declared)
    if declared is not None and declared.strip() and codec is None:
        defects.append(f"unknown charset {declared.strip()[:40]!r}")

    if data.isascii() and _ascii_safe(codec):
        return data.decode("ascii"), defects

    if codec is None:
        text, reading = _guess(data)
        if reading in ("guess", "damaged utf-8"):
            defects.append(f"8-bit text without usable charset; read as {reading}")
        elif declared is None or not declared.strip():
            defects.append(f"8-bit text without charset; read as {reading}")
        return _strip_bom(text), defects

    if codec != "utf-8" and _ascii_safe(codec):
        utf8 = _looks_utf8(data)
        if utf8 is not None:
            defects.append(f"text labelled {codec} is UTF-8")
            return _strip_bom(utf8), defects

    strict = _strict(data, codec)
    if strict is not None:
        return _strip_bom(strict), defects

    lossy = _lossy(data, codec)
    if lossy is not None:
        defects.append(f"invalid {codec} bytes; decoded lossily")
        return _strip_bom(lossy), defects

    for other in ("utf-8", "gb18030"):
        candidate = _strict(data, other) if other != codec else None
        if candidate is not None:
            defects.append(f"text labelled {codec} is {other}")
            return _strip_bom(candidate), defects

    defects.append(f"invalid {codec} text; decoded lossily")
    return _strip_bom(_fallback(data)), defects


def _strip_bom(text: str) -> str:
    return text[1:] if text.startswith("\ufeff") else text


def decode_base64(data: bytes | memoryview) -> tuple[bytes, list[str]]:
    """Decode base64 leniently: stray characters, bad padding, truncation.

    Returns what could be decoded and the defects found.
    """
    stray = _B64_STRAY.search(data) is not None
    mid_pad = _B64_MID_PAD.search(data) is not None
    if not stray and not mid_pad:
        try:
            return binascii.a2b_base64(data), []
        except binascii.Error:
            pass

    # Some clients concatenate separately encoded chunks, each padded: every
    # chunk is decoded, not just the first as binascii would.
    defects = []
    if stray:
        defects.append("stray characters in base64")
    cleaned = _B64_NOT_ALPHABET.sub(b"", data)
    out = bytearray()
    truncated = False
    for chunk in cleaned.split(b"="):
        if not chunk:
            continue
        if len(chunk) % 4 == 1:
            chunk = chunk[:-1]
            truncated = True
        elif len(chunk) % 4:
            truncated = truncated or not mid_pad
        try:
            out += binascii.a2b_base64(chunk + b"=" * (-len(chunk) % 4))
        except binascii.Error:
            truncated = True
    if truncated:
        defects.append("truncated or badly padded base64")
    elif mid_pad:
        defects.append("base64 padding inside the data")
    return bytes(out), defects


def decode_quoted_printable(data: bytes | memoryview) -> tuple[bytes, list[str]]:
    """Decode quoted-printable as clients write it; return bytes and defects."""
    defects = []
    source = bytes(data)
    # Gateways leave spaces between a soft line break's "=" and the newline
    # (RFC 2045 section 6.7 rule 3 says they must be dropped).
    if _QP_SPACE_BEFORE_BREAK.search(source):
        source = _QP_SPACE_BEFORE_BREAK.sub(rb"=\1", source)
    if _QP_STRAY_EQUALS.search(source):
        defects.append("stray '=' in quoted-printable")
    return binascii.a2b_qp(source), defects


def _decode_q(text: str) -> bytes:
    data = text.encode("utf-8", "surrogateescape").replace(b"_", b" ")
    return _Q_ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), data)


def decode_8bit(text: str) -> tuple[str, list[str]]:
    """Decode header text that may hold raw 8-bit bytes as surrogate escapes.

    The email package keeps undecodable header bytes as lone surrogates
    (surrogateescape). Raw UTF-8 is legal in headers (RFC 6532); raw GBK is
    not, but Chinese clients and scripts send it.
    """
    if text.isascii():
        return text, []
    data = text.encode("utf-8", "surrogateescape")
    decoded = _strict(data, "utf-8")
    if decoded is not None:
        return decoded, []
    text, reading = _guess(data)
    if reading == "gb18030":
        return text, ["raw 8-bit GB18030 in a header"]
    return text, [f"raw 8-bit bytes in a header; read as {reading}"]


def _word_run_bytes(words: list[tuple[str, str]]) -> tuple[bytes, bool]:
    """Join the payloads of adjacent encoded words of one charset.

    Encoders split a long text over several words at byte, not character,
    boundaries, and some split base64 mid-quantum; joining the bytes before
    decoding the charset repairs both.
    """
    out = bytearray()
    pending = ""
    damaged = False
    for encoding, text in words:
        if encoding == "b":
            pending += "".join(text.split())
            if "=" in pending or len(pending) % 4 == 0:
                data, bad = decode_base64(pending.encode("ascii", "replace"))
                out += data
                damaged = damaged or bool(bad)
                pending = ""
            continue
        if pending:
            data, _ = decode_base64(pending.encode("ascii", "replace"))
            out += data
            damaged = True
            pending = ""
        out += _decode_q(text)
    if pending:
        data, _ = decode_base64(pending.encode("ascii", "replace"))
        out += data
        damaged = True
    return bytes(out), damaged


def decode_header(value: str) -> tuple[str, list[str]]:
    """Decode one header value: unfold it, decode encoded words and raw bytes.

    *value* is the header as the email package keeps it (raw 8-bit bytes as
    surrogate escapes). Encoded words inside quotes are decoded too, as
    every client does, though RFC 2047 section 5 forbids them there.
    Returns the text and the defects found.
    """
    value = _FOLD.sub("", value)
    if "=?" not in value:
        plain, found = decode_8bit(value)
        return _clean(plain), found

    defects: list[str] = []
    pieces: list[str] = []
    run: list[tuple[str, str]] = []
    run_charset: str | None = None
    position = 0

    def flush() -> None:
        nonlocal run, run_charset
        if not run:
            return
        data, damaged = _word_run_bytes(run)
        if damaged:
            defects.append("damaged encoded word in a header")
        text, found = decode_text(data, run_charset or None)
        defects.extend(found)
        pieces.append(text)
        run = []
        run_charset = None

    after_word = False
    for match in _ENCODED_WORD.finditer(value):
        gap = value[position : match.start()]
        charset = match.group(1).split("*", 1)[0].lower()
        # RFC 2047 section 6.2: white space between adjacent encoded words
        # is not displayed.
        if after_word and not gap.strip():
            if charset != run_charset:
                flush()
        else:
            flush()
            if gap:
                text, found = decode_8bit(gap)
                defects.extend(found)
                pieces.append(text)
        run.append((match.group(2).lower(), match.group(3)))
        run_charset = charset
        after_word = True
        position = match.end()
    flush()
    tail = value[position:]
    if tail:
        text, found = decode_8bit(tail)
        defects.extend(found)
        pieces.append(text)
    return _clean("".join(pieces)), defects


def _clean(text: str) -> str:
    """Keep a header value on one line: no CR, LF or NUL from decoded words."""
    if "\r" in text or "\n" in text or "\x00" in text:
        text = text.replace("\r", "").replace("\n", " ").replace("\x00", " ")
    return text.strip()
