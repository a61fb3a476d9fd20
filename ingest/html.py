"""HTML mail bodies as plain text, read with beautifulsoup4 and lxml."""

import logging
import re
import warnings

from bs4 import BeautifulSoup
from bs4.element import (
    NavigableString,
    PreformattedString,
    Script,
    Stylesheet,
    Tag,
    TemplateString,
)

log = logging.getLogger(__name__)

_DROPPED = frozenset(
    {"script", "style", "head", "title", "noscript", "template", "object"}
)
_BLOCKS = frozenset(
    {
        "address",
        "article",
        "aside",
        "blockquote",
        "body",
        "caption",
        "center",
        "dd",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "html",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "tr",
        "ul",
    }
)
_CELLS = frozenset({"td", "th"})
_SKIPPED_STRINGS = (PreformattedString, Script, Stylesheet, TemplateString)

# Markers pushed on the walk stack to act when an element closes.
_END_BLOCK = 0
_END_CELL = 1
_END_PRE = 2

_SPACES = re.compile(r"[ \t\r\n\f\v]+")
_LINE_SPACES = re.compile(r"[ \t]+")
_TAG = re.compile(r"<[^>]*>")


class _Writer:
    """Collects text, with line breaks where blocks begin and end."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.at_line_start = True

    def text(self, value: str) -> None:
        if not value:
            return
        self.parts.append(value)
        self.at_line_start = value.endswith("\n")

    def words(self, value: str) -> None:
        # HTML renders any run of white space as one space (&nbsp; included
        # here: it only exists to stop that collapsing).
        visible = "\xa0" in value
        value = _SPACES.sub(" ", value.replace("\xa0", " "))
        if self.at_line_start:
            value = value.lstrip(" ")
        # <p>&nbsp;</p> is how Outlook and webmail write an empty line: the
        # line must count as written, or the blank line is lost.
        self.text(value or (" " if visible else ""))

    def line_break(self) -> None:
        self.parts.append("\n")
        self.at_line_start = True

    def block_edge(self) -> None:
        if not self.at_line_start:
            self.line_break()

    def result(self) -> str:
        # TODO: runs of spaces are collapsed on every line, <pre> included,
        # so preformatted indentation is lost. Keeping it would mean carrying
        # a <pre> depth from the tree walk into this pass, and the text is
        # read for its words, where indentation carries no meaning.
        lines = []
        blank = True
        for line in "".join(self.parts).split("\n"):
            line = _LINE_SPACES.sub(" ", line).strip(" \t")
            if not line:
                if not blank:
                    lines.append("")
                blank = True
                continue
            lines.append(line)
            blank = False
        while lines and not lines[-1]:
            lines.pop()
        return "\n".join(lines)


def _walk(root: Tag, out: _Writer) -> None:
    stack: list[Tag | NavigableString | int] = [root]
    in_pre = 0
    while stack:
        item = stack.pop()
        if isinstance(item, int):
            if item == _END_CELL:
                out.text(" ")
            else:
                out.block_edge()
                if item == _END_PRE:
                    in_pre -= 1
            continue
        if isinstance(item, NavigableString):
            if isinstance(item, _SKIPPED_STRINGS):
                continue
            if in_pre:
                out.text(str(item).replace("\r\n", "\n").replace("\xa0", " "))
            else:
                out.words(str(item))
            continue
        name = item.name.lower() if item.name else ""
        if name in _DROPPED:
            continue
        if name == "br":
            out.line_break()
            continue
        if name in _BLOCKS:
            out.block_edge()
            if name == "pre":
                in_pre += 1
                stack.append(_END_PRE)
            else:
                stack.append(_END_BLOCK)
        elif name in _CELLS:
            stack.append(_END_CELL)
        stack.extend(
            child
            for child in reversed(item.contents)
            if isinstance(child, Tag | NavigableString)
        )


def html_to_text(html: str) -> str:
    """Return the readable text of an HTML mail body.

    Scripts, styles, the head and comments are dropped; block elements and
    <br> give line breaks; runs of blank lines become one. Never raises: on
    a parser failure the tags are stripped crudely instead.
    """
    if not html or not html.strip():
        return ""
    try:
        with warnings.catch_warnings():
            # bs4 warns when markup looks like a file name or URL; mail
            # bodies are markup whatever they look like.
            warnings.simplefilter("ignore")
            soup = BeautifulSoup(html, "lxml")
        out = _Writer()
        _walk(soup, out)
        return out.result()
    except Exception as exc:  # callers rely on this never raising
        log.warning("HTML body not parsed (%s); stripping tags", type(exc).__name__)
        out = _Writer()
        out.words(_TAG.sub(" ", html))
        return out.result()
