"""Keep only what a person typed in a reply: drop quoted history and signatures.

Units answer 办理单 mails and students send follow-ups and ratings by replying.
"""

import logging
import re
from collections.abc import Sequence
from itertools import islice
from typing import Final

from bs4 import BeautifulSoup
from bs4.element import NavigableString, PageElement, PreformattedString, Tag

log = logging.getLogger(__name__)

# --- Text markers --------------------------------------------------------------

# A rule with a label between dashes: QQ Mail and Foxmail write 18 dashes
# around 原始邮件 / Original, Sina five around 原始邮件, Outlook
# -----Original Message----- or -----原始邮件----- (older -----邮件原件-----),
# Android, Huawei and Samsung mail -------- 原始邮件 / 原始信息 --------, and
# Gmail ---------- Forwarded message ---------: a forward with a note on top
# keeps only the note, since the forwarded mail was not typed by the sender.
_SEPARATOR: Final = re.compile(
    r"^\s*[-—_=]{2,}\s*"
    r"(?:原始邮件|邮件原件|原邮件|原始信息|回复的原邮件|转发邮件|已转发邮件"
    r"|Original(?:\s+Message)?|Forwarded\s+message)"
    r"\s*[-—_=]{2,}\s*$",
    re.IGNORECASE,
)

# Outlook, QQ Mail, Foxmail and phone mail apps list the quoted mail's headers
# one per line, with ASCII or full-width colons; Gmail's plain text keeps
# Outlook's bold as *发件人:*.
_HEADER_LABEL: Final = re.compile(
    r"^[\s*]*(发件人|寄件者|发信人|From|发送时间|发送日期|时间|日期|Sent|Date"
    r"|收件人|To|抄送|Cc|主题|Subject)[\s*]*[:：]",
    re.IGNORECASE,
)
_LABEL_KIND: Final = {
    "发件人": "from",
    "寄件者": "from",
    "发信人": "from",
    "from": "from",
    "发送时间": "date",
    "发送日期": "date",
    "时间": "date",
    "日期": "date",
    "sent": "date",
    "date": "date",
    "收件人": "to",
    "to": "to",
    "抄送": "cc",
    "cc": "cc",
    "主题": "subject",
    "subject": "subject",
}

# "On … wrote:" (Gmail, Apple Mail, Thunderbird, 网易邮箱大师 with a
# full-width colon) and "At 2026-12-03 10:20:38, … wrote:" (163/126 webmail).
_ATTRIBUTION_EN: Final = re.compile(
    r"^(?:On|At)\s.{3,300}?\b(?:wrote|writes)\s*[:：]$", re.IGNORECASE
)
# "…于2026年12月3日周四 上午10:21写道：" (Gmail), "2026年12月3日 上午10:21，名字
# <addr> 写道：" (Apple Mail), "在 2026-12-03 10:20:38，… 写道：" (网易邮箱大师).
_ATTRIBUTION_ZH: Final = re.compile(r"^.{0,300}?写道\s*[:：]$")
_ATTRIBUTION_END: Final = re.compile(r"(?:wrote|writes|写道)\s*[:：]$", re.IGNORECASE)
# Every client puts the quoted mail's time in its attribution; a typed
# sentence such as "老师在回信中写道：" has none.
# TODO: an attribution with neither a time nor an address ("张三 写道：", as
# some old clients write) is not recognised, to keep such typed sentences.
_CLOCK: Final = re.compile(r"\d{1,2}\s*[:：]\s*\d{2}")
# Gmail wraps a long attribution; its first half starts like one.
_WRAPPED_START: Final = re.compile(r"^(?:On|At|在)\s|[<@]|于\s*\d", re.IGNORECASE)

_QUOTED_LINE: Final = re.compile(r"^\s*>")
# Outlook's plain text puts a line of underscores above the header block.
_RULE: Final = re.compile(r"^\s*[_\-=—]{5,}\s*$")

_DEVICE: Final = (
    r"(?:iPhone|iPad|iPod|iOS|Android|安卓|华为|荣耀|小米|红米|OPPO|vivo|一加|魅族"
    r"|三星|Samsung|Galaxy|HUAWEI|Honor|Xiaomi|Redmi|realme|Mac|手机|平板|企业微信"
    r"|移动设备)"
)
_MAILER: Final = (
    r"(?:网易邮箱大师|网易邮箱|手机QQ邮箱|QQ邮箱|新浪邮箱|搜狐邮箱|139邮箱|189邮箱"
    r"|阿里邮箱|钉钉|WPS邮箱|Foxmail|企业微信|腾讯企业邮)"
)
# "-- " is the RFC 3676 signature separator (often sent without its space);
# QQ Mail and Foxmail put a line of exactly 18 dashes above a signature;
# phones and mail apps append one fixed line. Sentence punctuation is not
# allowed, so a typed "发自我的内心，感谢老师。" survives.
# TODO: a signature with no separator line stays in the text: nothing in
# Outlook's plain part (or in most units' typed sign-offs) marks where it
# starts; only Outlook's HTML part does, with div#Signature.
_SIGNATURE: Final = re.compile(
    r"^(?:--|-{18}"
    rf"|发自我的\s*{_DEVICE}[^，。！？,.!?]{{0,24}}"
    rf"|(?:发自|来自|来自于)\s*{_MAILER}[^，。！？,.!?]{{0,24}}"
    r"|从我的\s*(?:iPhone|iPad)\s*发送"
    r"|从\s*Windows\s*版?邮件(?:应用)?发送"
    r"|(?:Get|获取)\s+Outlook\s+for\s+(?:iOS|Android)(?:\s*<[^>]*>)?"
    r"|Sent\s+from\s+(?:my\s+\S.{0,30}|Outlook.{0,30}|Mail\s+for\s+Windows.{0,12}"
    r"|\S+\s+Mail(?:\s+app)?))$",
    re.IGNORECASE,
)

# Outlook zh-CN writes 答复:/转发:, QQ Mail 回复：, some clients Re[2]: or
# RE (2):. Tags such as [External] are kept, and stop the stripping.
_SUBJECT_PREFIX: Final = re.compile(
    r"^(?:\s*(?:re|fwd?|回复|答复|转发)(?:\s*(?:\[\d+\]|\(\d+\)))?\s*[:：])+",
    re.IGNORECASE,
)

# --- HTML markers --------------------------------------------------------------

# Ids are matched by suffix: webmail rewrites ids when it quotes a mail again
# (Outlook on the web prefixes x_, for one).
_QUOTE_ID_SUFFIXES: Final = (
    "divrplyfwdmsg",  # Outlook: the 发件人/发送时间 box above the quote
    "appendonsend",  # Outlook on the web: empty div right above that box
    "mail-editor-reference-message-container",  # new Outlook, Outlook mobile
    "isreplycontent",  # 163/126 webmail blockquote
    "ntes-pcmail-quote",  # 网易邮箱大师 desktop
    "ntes-iosmail-quote",
    "ntes-andriodmail-quote",  # sic: 网易邮箱大师 Android spells it so
    "ntes-androidmail-quote",
    "ntes-flashmail-quote",  # 网易闪电邮, Mail Master's predecessor
    "origbody",  # Sina
    "signature",  # Outlook "Signature", ms-outlook-mobile-signature
)
_QUOTE_CLASS_SUFFIXES: Final = (
    "gmail_quote",  # Gmail; Outlook on the web re-quotes it as x_gmail_quote
    "gmail_attr",
    "gmail_signature",
    "moz-cite-prefix",  # Thunderbird's attribution line
    "j-reply",  # 网易邮箱大师 desktop: grey attribution box
    "yahoo_quoted",
)
# Cheap substrings that may announce a marker. Parsing stops near the first
# one instead of reading the whole quoted history, which is often many times
# the typed text; a false hint only costs a full parse.
_HTML_HINT: Final = re.compile(
    r"rplyfwdmsg|appendonsend|reference-message|isreplycontent|mail-quote"
    r"|origbody|signature|gmail_|moz-cite|j-reply|yahoo_quoted|<sign\b"
    r"|type\s*=\s*[\"']?cite|border-top"
    r"|(?<![-—_=])[-—_=]{2,}(?:\s|&nbsp;)*"
    r"(?:原始|邮件原件|原邮件|转发邮件|已转发|original|forwarded)",
    re.IGNORECASE,
)
# Enough to hold the marker's opening tag and the first words inside it
# (Outlook's box needs 发件人:); the cut then moves on to the next tag.
_HINT_WINDOW: Final = 256
# Parts that never hold typed text. Cutting them before parsing halves the
# time spent on Outlook's Word HTML, whose head alone is a kilobyte of CSS.
# Unclosed, they run to the end, as in a browser (and the scan stays linear).
_UNSEEN: Final = re.compile(
    r"<!--.*?(?:-->|\Z)|<(style|script)\b[^>]*>.*?(?:</\1\s*>|\Z)",
    re.IGNORECASE | re.DOTALL,
)

_OUTLOOK_BOX_START: Final = re.compile(
    r"^(?:发件人|寄件者|From)\s*[:：]|^-+\s*(?:Original Message|原始邮件|邮件原件)",
    re.IGNORECASE,
)

_SKIP_TAGS: Final = frozenset(
    {
        "head", "script", "style", "title", "meta", "link", "noscript",
        "template", "xml", "object", "iframe", "svg", "map",
    }
)  # fmt: skip
_BLOCK_TAGS: Final = frozenset(
    {
        "address", "article", "aside", "blockquote", "body", "caption",
        "center", "dd", "details", "dialog", "dir", "div", "dl", "dt",
        "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2",
        "h3", "h4", "h5", "h6", "header", "hr", "html", "li", "main", "menu",
        "nav", "ol", "p", "pre", "section", "summary", "table", "tbody",
        "tfoot", "thead", "tr", "ul",
    }
)  # fmt: skip
_CELL_TAGS: Final = frozenset({"td", "th"})
_COLLAPSIBLE: Final = re.compile(r"[ \t\n\r\f]+")
_ANY_TAG: Final = re.compile(r"<[^>]*>")
_INVISIBLE: Final = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"))


def strip_reply(text: str, html: str | None = None) -> str:
    """Return only what the replying person wrote in *text* / *html*.

    Quoted mails, attribution lines and signatures are dropped. When the HTML
    body is given its structure decides where the quote begins; text markers
    are the fallback. Never raises, and never returns "" when the mail shows
    any text.
    """
    try:
        return _strip(text or "", html)
    except Exception:
        # Losing a student's rating over an odd body would be worse than
        # keeping the quote: hand back the whole body instead.
        log.warning("quote stripping failed; keeping the whole body", exc_info=True)
        if isinstance(text, str) and text.strip():
            return text.strip()
        if isinstance(html, str):
            return _COLLAPSIBLE.sub(" ", _ANY_TAG.sub(" ", html)).strip()
        return ""


def strip_subject_prefixes(subject: str) -> str:
    """Remove leading Re:/Fw:/Fwd:/回复:/答复:/转发: prefixes, repeated."""
    return _SUBJECT_PREFIX.sub("", subject or "").strip()


def _strip(text: str, html: str | None) -> str:
    """Try the HTML part, then the plain part, then the spec's fallbacks."""
    rendered = ""
    before = ""
    if html and html.strip():
        rendered = _render_html(html)
        typed, before = _strip_text(rendered)
        if typed:
            return typed

    # The plain part may still hold the answer when the HTML one gave none,
    # as with Thunderbird's bottom-posted replies.
    if text.strip():
        typed, text_before = _strip_text(text)
        if typed:
            return typed
        before = before or text_before

    if before:
        return before
    return _tidy(_normalise(text).split("\n")) or _tidy(rendered.split("\n"))


# --- Plain text ----------------------------------------------------------------


def _strip_text(text: str) -> tuple[str, str]:
    """Return what was typed in *text*, and all text before its first marker."""
    lines = _normalise(text).split("\n")
    start, size = _quote_start(lines)
    head = lines[:start]
    typed = _typed_part(head)

    # Bottom-posting (Thunderbird, mutt): an attribution, "> " lines, then the
    # answer. Only an attribution followed by "> " lines delimits a quote.
    rest: Sequence[str] = lines
    while not typed and size:
        after = start + size
        quoted = False
        while after < len(rest) and (
            not rest[after].strip() or _QUOTED_LINE.match(rest[after])
        ):
            quoted = quoted or bool(rest[after].strip())
            after += 1
        if not quoted or after >= len(rest):
            break
        rest = rest[after:]
        start, size = _quote_start(rest)
        typed = _typed_part(rest[:start])

    return typed, _tidy(head)


def _normalise(text: str) -> str:
    # QQ Mail's text/plain part carries the literal entity "&nbsp;".
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("&nbsp;", " ")
    return text.replace("\xa0", " ").translate(_INVISIBLE)


def _quote_start(lines: Sequence[str]) -> tuple[int, int]:
    """Find the first line that starts a quote, outside "> " lines.

    Returns its index and, for an attribution, how many lines that spans (0
    for other markers); (len(lines), 0) when there is none.
    """
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or _QUOTED_LINE.match(stripped):
            continue
        if _SEPARATOR.match(stripped) or _is_header_block(lines, i):
            return i, 0
        if _is_attribution(stripped):
            return i, 1
        if i + 1 < len(lines) and _is_wrapped_attribution(stripped, lines[i + 1]):
            return i, 2
    return len(lines), 0


def _is_header_block(lines: Sequence[str], start: int) -> bool:
    """Tell whether a run of header lines (From, Sent, To, Subject) starts here.

    The run must name the sender and two more headers on consecutive lines
    (QQ Mail leaves one blank line before 主题), so that a typed
    "时间：12月4日上午" is not taken for one.
    """
    kinds: set[str] = set()
    blanks = 0
    for line in lines[start : start + 12]:
        if not line.strip():
            blanks += 1
            if blanks > 1:
                break
            continue
        blanks = 0
        match = _HEADER_LABEL.match(line)
        if match is None:
            break
        kinds.add(_LABEL_KIND[match.group(1).lower()])
    return "from" in kinds and len(kinds) >= 3


def _is_attribution(line: str) -> bool:
    if len(line) > 400 or not line.endswith((":", "：")):
        return False
    if _ATTRIBUTION_EN.match(line):
        return any(c.isdigit() for c in line)
    if _ATTRIBUTION_ZH.match(line):
        return "@" in line or bool(_CLOCK.search(line))
    return False


def _is_wrapped_attribution(first: str, second: str) -> bool:
    # TODO: only a wrap onto two lines is joined; Gmail wraps a very long
    # sender name over three, and then the first two lines stay in the text.
    # Joining a third line would more often swallow a line the writer typed,
    # so it waits for a real example of the shape.
    second = second.strip()
    if not _ATTRIBUTION_END.search(second) or not _WRAPPED_START.search(first):
        return False
    # "上午10:21写道：" alone passes for an attribution, but one that stands on
    # its own line also names the sender or starts with On/At/在.
    if _is_attribution(second) and _WRAPPED_START.search(second):
        return False
    return _is_attribution(f"{first} {second}")


def _typed_part(head: Sequence[str]) -> str:
    """Drop "> " lines and the signature from the lines above the quote."""
    kept: list[str] = []
    for line in head:
        if _SIGNATURE.match(line.strip()):
            break
        if not _QUOTED_LINE.match(line):
            kept.append(line)

    while kept and (not kept[-1].strip() or _RULE.match(kept[-1])):
        kept.pop()
    return _tidy(kept)


def _tidy(lines: Sequence[str]) -> str:
    """Strip trailing spaces, keep at most one blank line in a row, trim."""
    out: list[str] = []
    for line in lines:
        line = line.rstrip()
        if line or (out and out[-1]):
            out.append(line)
    while out and not out[-1]:
        out.pop()
    return "\n".join(out)


# --- HTML ----------------------------------------------------------------------


def _render_html(html: str) -> str:
    """Return the text of *html* up to its first quote or signature element."""
    # TODO: bs4 costs about 0.15 ms a parse plus 8 µs an element, so desktop
    # Outlook's Word HTML takes 0.5–0.8 ms; walking lxml.html's own tree would
    # be ten times faster, but lxml has no type stubs installed here.
    html = _UNSEEN.sub("", html.replace("\x00", ""))
    hint = _HTML_HINT.search(html)
    end = -1 if hint is None else html.find("<", hint.end() + _HINT_WINDOW)
    if end > 0:
        text, marked = _render(BeautifulSoup(html[:end], "lxml"))
        if marked:
            return text
    return _render(BeautifulSoup(html, "lxml"))[0]


def _render(soup: BeautifulSoup) -> tuple[str, bool]:
    """Lay *soup* out as lines of text, stopping at the first quote marker.

    Returns the text and whether a marker stopped it. Walks with a stack, not
    recursion: a mail quoted fifty times nests that deep.
    """
    out: list[str] = []
    pre = 0
    stack: list[tuple[PageElement, bool]] = [(soup, False)]
    while stack:
        node, closing = stack.pop()
        if isinstance(node, NavigableString):
            if isinstance(node, PreformattedString):
                continue  # comments, doctype, processing instructions
            if "--" in node and _SEPARATOR.match(node.replace("\xa0", " ")):
                return _finish(out), True
            _add_text(out, str(node), pre > 0)
            continue
        if not isinstance(node, Tag):
            continue

        name = node.name
        if closing:
            if name == "pre":
                pre -= 1
            _line_break(out)
            continue
        if name in _SKIP_TAGS:
            continue
        if _is_quote_element(node):
            # TODO: an answer typed below or between the quote elements of an
            # HTML-only mail (Thunderbird's "reply below the quote") is lost
            # here; with a plain part, the text markers still find it.
            return _finish(out), True
        if name == "br":
            out.append("\n")
            continue
        if name in _CELL_TAGS and out and not out[-1].endswith(("\n", " ")):
            out.append(" ")
        if name in _BLOCK_TAGS:
            _line_break(out)
            if name == "pre":
                pre += 1
            stack.append((node, True))
        stack.extend((child, False) for child in reversed(node.contents))
    return _finish(out), False


def _add_text(out: list[str], text: str, preformatted: bool) -> None:
    if not preformatted:
        text = _COLLAPSIBLE.sub(" ", text)
        # A browser drops collapsible white space at the start of a line.
        if not out or out[-1].endswith("\n"):
            text = text.lstrip(" ")
    if text:
        out.append(text)


def _line_break(out: list[str]) -> None:
    if out and not out[-1].endswith("\n"):
        out.append("\n")


def _finish(out: list[str]) -> str:
    return "".join(out).replace("\xa0", " ").translate(_INVISIBLE)


def _is_quote_element(tag: Tag) -> bool:
    name = tag.name
    if name == "sign":
        return True  # QQ Mail and Foxmail wrap the signature in <sign signid=…>
    if name == "blockquote" and _attr_words(tag, "type") == ["cite"]:
        return True  # Apple Mail, iPhone, Thunderbird

    ident = tag.get("id")
    if isinstance(ident, str) and ident.lower().endswith(_QUOTE_ID_SUFFIXES):
        return True
    if any(c.endswith(_QUOTE_CLASS_SUFFIXES) for c in _attr_words(tag, "class")):
        return True

    # Desktop Outlook (Word HTML) has no id: its header box is a div with a
    # top border whose first words are 发件人: or From:.
    style = tag.get("style")
    if name == "div" and isinstance(style, str) and "border-top" in style.lower():
        first = "".join(islice(tag.stripped_strings, 3)).replace("\xa0", " ")
        return bool(_OUTLOOK_BOX_START.match(first))
    return False


def _attr_words(tag: Tag, name: str) -> list[str]:
    value = tag.get(name)
    if value is None:
        return []
    if isinstance(value, str):
        return value.lower().split()
    return [str(v).lower() for v in value]
