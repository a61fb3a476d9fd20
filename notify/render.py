"""Render the Chinese texts from templates/: a subject, a plain text, an HTML.

Each mail is ``templates/mail/<who>_<event>.txt.j2`` holding a ``subject``
and a ``body`` block; ``<who>_<event>.html.j2`` beside it, when present, is
the HTML version, else the plain text is laid out in ``layout.html.j2``.
HTML templates are autoescaped: what students write never becomes markup.
"""

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound

import templates
from suqiu import clock

TEMPLATES = Path(templates.__file__).parent


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def _autoescape(name: str | None) -> bool:
    return name is not None and ".html" in name


def _datetime(value: Any, fmt: str = "%Y年%m月%d日 %H:%M") -> str:
    if value is None:
        return "—"
    return clock.local(value).strftime(fmt)


def _date(value: Any) -> str:
    return _datetime(value, "%Y年%m月%d日")


@cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=_autoescape,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        # The templates ship with the code and change only with it: looking
        # at each file's time before every render cost a backlog 1 % of its
        # time. A service picks new templates up when it is restarted.
        auto_reload=False,
    )
    env.filters["datetime"] = _datetime
    env.filters["date"] = _date
    return env


def render_mail(name: str, **context: Any) -> Rendered:
    """Render mail template *name* (e.g. "student_ack") with *context*."""
    env = environment()
    text_template = env.get_template(f"mail/{name}.txt.j2")
    variables = text_template.new_context(context)
    subject = "".join(text_template.blocks["subject"](variables))
    text = "".join(text_template.blocks["body"](variables))
    text = _tidy(text)
    subject = " ".join(subject.split())

    try:
        html_template = env.get_template(f"mail/{name}.html.j2")
        html = html_template.render(**context)
    except TemplateNotFound:
        html = env.get_template("mail/layout.html.j2").render(
            subject=subject, paragraphs=_paragraphs(text)
        )
    return Rendered(subject=subject, text=text, html=html)


def render_page(name: str, **context: Any) -> str:
    """Render a non-mail template (a report page, a digest part)."""
    return environment().get_template(name).render(**context)


def _tidy(text: str) -> str:
    lines = [line.rstrip() for line in text.strip().splitlines()]
    tidy: list[str] = []
    for line in lines:
        if line or (tidy and tidy[-1]):
            tidy.append(line)
    return "\n".join(tidy) + "\n"


def _paragraphs(text: str) -> list[list[str]]:
    """Split plain text into paragraphs of lines, for the HTML layout."""
    paragraphs: list[list[str]] = [[]]
    for line in text.splitlines():
        if line:
            paragraphs[-1].append(line)
        elif paragraphs[-1]:
            paragraphs.append([])
    return [p for p in paragraphs if p]
