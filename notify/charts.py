"""The report's charts as PNG, drawn with Pillow in a Chinese font.

Four plain charts (bars and one pie) do not need a plotting library: Pillow
draws them in a few milliseconds each, where matplotlib took half a second
to import and as long again to lay them out. Without a CJK font every 汉字
would be a box; rather than mail such charts we stop and name the package
to install. A character the font lacks (an emoji in a hot word, say) is
drawn as a box too: the chart records it and a warning names it.
"""

import io
import logging
import math
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from notify.reports import RATINGS, Figures
from suqiu.errors import NotifyError

log = logging.getLogger(__name__)

# Simplified Chinese faces first; any of them renders every label we draw.
CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Noto Sans SC",
    "Noto Serif CJK SC",
)
# Where Debian and users keep fonts, and the file names of those fonts.
FONT_DIRS = (
    "/usr/share/fonts",
    "/usr/local/share/fonts",
    "~/.local/share/fonts",
    "~/.fonts",
)
_FONT_FILE_HINTS = ("notosanscjk", "notoserifcjk", "sourcehan", "wqy", "notosanssc")
FONT_PACKAGE = "fonts-noto-cjk"

WIDTH = 790  # px: a phone shrinks it to its width, a desktop shows it whole
TEXT_SIZE = 15  # px, the 10 pt the charts used at 110 dpi
TITLE_SIZE = 18
MARGIN = 14
TITLE_HEIGHT = MARGIN + TITLE_SIZE + 16  # from the top to below the title
SUBTITLE_HEIGHT = TEXT_SIZE + 12
BLUE = "#3b6fb6"
GREEN = "#3f9a5b"
ORANGE = "#e08a2c"
RED = "#c8483e"
GREY = "#9aa1a9"
INK = "#262626"
AXIS = "#6b6b6b"
UNRATED = "未评价"
_PIE_SUPERSAMPLE = 4  # the pie's edges are drawn large and shrunk smooth

_lock = threading.Lock()  # a FreeType face must not be used by two threads


class ChartError(NotifyError):
    """A chart cannot be drawn properly on this machine."""


@dataclass(frozen=True)
class Chart:
    """One chart: a short name for files and Content-IDs, a title, the PNG,
    and the characters the font lacked (drawn as boxes; normally none)."""

    name: str
    title: str
    png: bytes
    missing: str = ""


@dataclass(frozen=True)
class _Face:
    family: str
    regular: tuple[Path, int]  # a file and the face's index in it
    bold: tuple[Path, int]


def cjk_family() -> str:
    """Return an installed font family that has Chinese glyphs, or raise."""
    return _find_face().family


@cache
def _find_face() -> _Face:
    faces = {(name, style): where for name, style, where in _faces()}
    for family in CJK_FAMILIES:
        regular = faces.get((family, "Regular"))
        if regular is not None:
            found = _Face(family, regular, faces.get((family, "Bold"), regular))
            log.debug("charts use the font %s in %s", family, regular[0])
            return found
    raise ChartError(
        "没有找到能显示中文的字体，图表中的汉字会显示成方框。"
        f"请安装 Debian 软件包 {FONT_PACKAGE}"
        f"（apt-get install {FONT_PACKAGE}）后重试。"
    )


def _faces() -> Iterator[tuple[str, str, tuple[Path, int]]]:
    """(family, style, (file, index)) of every face in the likely font files."""
    for path in _font_files():
        index = 0
        while True:  # a .ttc holds several faces; the first missing index ends it
            try:
                font = ImageFont.truetype(str(path), 10, index=index)
            except OSError:
                break
            family, style = font.getname()
            if family is not None and style is not None:
                yield family, style, (path, index)
            index += 1


def _font_files() -> Iterator[Path]:
    for root in FONT_DIRS:
        for folder, _, names in os.walk(os.path.expanduser(root)):
            for name in sorted(names):
                simple = name.lower().replace("-", "").replace("_", "")
                if simple.endswith((".ttc", ".ttf", ".otf")) and any(
                    hint in simple for hint in _FONT_FILE_HINTS
                ):
                    yield Path(folder) / name


@cache
def _font(size: int, *, bold: bool = False) -> ImageFont.FreeTypeFont:
    face = _find_face()
    path, index = face.bold if bold else face.regular
    return ImageFont.truetype(str(path), size, index=index)


def report_charts(figures: Figures) -> list[Chart]:
    """The charts of a monthly or quarterly report."""
    _find_face()  # raise ChartError before drawing anything
    with _lock:
        return [
            _chart("sources", "诉求来源与类别", _sources, figures),
            _chart("units", "各责任单位办理情况", _units, figures),
            _chart("satisfaction", "满意度评价", _satisfaction, figures),
            _chart("topics", "热点词", _topics, figures),
        ]


def _chart(
    name: str, title: str, draw: Callable[[Figures], "_Canvas"], figures: Figures
) -> Chart:
    canvas = draw(figures)
    missing = "".join(sorted(canvas.missing()))
    if missing:
        log.warning(
            "chart %s: the font has no glyph for %r, drawn as boxes", name, missing
        )
    return Chart(name, title, canvas.png(), missing)


class _Canvas:
    """A white image that remembers every character written on it."""

    def __init__(self, height: int) -> None:
        self.image = Image.new("RGB", (WIDTH, height), "white")
        self.draw = ImageDraw.Draw(self.image)
        self.written: set[str] = set()

    def text(
        self,
        xy: tuple[float, float],
        text: str,
        *,
        anchor: str = "la",
        size: int = TEXT_SIZE,
        bold: bool = False,
        fill: str = INK,
    ) -> None:
        self.written.update(text)
        self.draw.text(xy, text, font=_font(size, bold=bold), fill=fill, anchor=anchor)

    def title(self, text: str) -> int:
        """Write a bold title centred at the top; return where the body starts."""
        self.text((WIDTH / 2, MARGIN), text, anchor="mt", size=TITLE_SIZE, bold=True)
        return TITLE_HEIGHT

    def missing(self) -> set[str]:
        return {
            char for char in self.written if not char.isspace() and not _has_glyph(char)
        }

    def png(self) -> bytes:
        buffer = io.BytesIO()
        self.image.save(buffer, format="PNG")
        return buffer.getvalue()


def _width(text: str, size: int = TEXT_SIZE) -> float:
    """How wide a text is drawn, in pixels."""
    return _font(size).getlength(text)


def _has_glyph(char: str) -> bool:
    """False when the font would draw the character as its .notdef box."""
    return _glyph_bitmap(char) != _glyph_bitmap("\U0010fffd")  # a private-use point


@cache  # the .notdef box above among them, drawn once
def _glyph_bitmap(char: str) -> bytes:
    image = Image.new("L", (2 * TEXT_SIZE, 2 * TEXT_SIZE))
    ImageDraw.Draw(image).text((0, 0), char, font=_font(TEXT_SIZE), fill=255)
    return image.tobytes()


@dataclass
class _Bars:
    """Horizontal bars in a box, largest on top, each value written beside it."""

    items: Sequence[tuple[str, float]]
    color: str
    labels: Sequence[str] | None = None
    limit: float | None = None
    names_width: float | None = None  # None: as wide as the longest name
    show_names: bool = True
    row: int = 40
    texts: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.texts = list(self.labels or (f"{value:g}" for _, value in self.items))

    def draw(
        self, canvas: _Canvas, left: float, top: float, right: float, subtitle: str
    ) -> None:
        names = self._names_width(right - left)
        axis = left + names + 8 if self.show_names else left
        if subtitle:  # over the bars, not the names
            canvas.text(((axis + right) / 2, top), subtitle, anchor="mt")
            top += SUBTITLE_HEIGHT
        if not self.items:
            middle = top + self.row * 1.5
            canvas.text(
                ((left + right) / 2, middle), "本期无数据", anchor="mm", fill=GREY
            )
            return
        longest_text = max(_width(text, TEXT_SIZE - 2) for text in self.texts)
        span = right - axis - longest_text - 8
        limit = self.limit or max(max(value for _, value in self.items), 1)
        for place, ((name, value), text) in enumerate(
            zip(self.items, self.texts, strict=True)
        ):
            middle = top + self.row * place + self.row / 2
            if self.show_names:
                canvas.text((axis - 8, middle), _fit(name, names), anchor="rm")
            end = axis + span * min(value / limit, 1)
            half = self.row * 0.3
            if end > axis:
                canvas.draw.rectangle(
                    (axis, middle - half, end, middle + half), fill=self.color
                )
            canvas.text((end + 4, middle), text, anchor="lm", size=TEXT_SIZE - 2)
        canvas.draw.line((axis, top, axis, top + self.row * len(self.items)), fill=AXIS)

    def _names_width(self, box: float) -> float:
        if not self.show_names:
            return 0
        if self.names_width is not None:
            return self.names_width
        return _names_width(self.items, box)


def _names_width(items: Sequence[tuple[str, float]], box: float) -> float:
    """The widest name, but never more than 40 % of the box."""
    return min(max((_width(name) for name, _ in items), default=0), box * 0.4)


def _fit(text: str, width: float) -> str:
    """The text, shortened with an ellipsis when it is wider than width."""
    if _width(text) <= width:
        return text
    while text and _width(text + "…") > width:
        text = text[:-1]
    return text + "…"


def _sources(figures: Figures) -> _Canvas:
    channels = _Bars(figures.by_channel, BLUE)
    categories = _Bars(figures.by_category, GREEN)
    rows = max(len(figures.by_channel), len(figures.by_category), 3)
    canvas = _Canvas(_height(rows, channels.row))
    top = canvas.title(f"{figures.period.label} 诉求来源与类别")
    middle = WIDTH / 2
    channels.draw(canvas, MARGIN, top, middle - MARGIN, "按渠道（件）")
    categories.draw(canvas, middle + MARGIN, top, WIDTH - MARGIN, "按类别（件）")
    return canvas


def _units(figures: Figures) -> _Canvas:
    units = figures.by_unit
    counts = [(u.name, float(u.total)) for u in units]
    # Room for the longest unit name, 大学生心理健康教育与咨询中心 (14 字).
    names = _names_width(counts, WIDTH * 0.7)
    rates = _Bars(
        [(u.name, 100 * (u.on_time_rate or 0)) for u in units],
        ORANGE,
        labels=[
            "—" if u.on_time_rate is None else f"{100 * u.on_time_rate:.0f}%"
            for u in units
        ],
        limit=100,
        show_names=False,
        row=36,
    )
    canvas = _Canvas(_height(len(units), rates.row))
    top = canvas.title(f"{figures.period.label} 各责任单位办理情况")
    # The two panels share the unit names, written once on the left.
    split = MARGIN + names + 8 + (WIDTH - MARGIN - names - 8) / 2
    _Bars(counts, BLUE, names_width=names, row=36).draw(
        canvas, MARGIN, top, split - MARGIN, "诉求件数"
    )
    rates.draw(canvas, split + MARGIN, top, WIDTH - MARGIN, "按期答复率（%）")
    return canvas


def _height(rows: int, row: int, *, subtitles: bool = True) -> int:
    """The height of a canvas with a title, maybe subtitles, and rows of bars."""
    return TITLE_HEIGHT + SUBTITLE_HEIGHT * subtitles + row * max(rows, 3) + 2 * MARGIN


def _satisfaction(figures: Figures) -> _Canvas:
    canvas = _Canvas(352)
    rate = figures.overall.satisfaction
    shown = "—" if rate is None else f"{100 * rate:.1f}%"
    top = canvas.title(f"{figures.period.label} 满意度评价（满意率 {shown}）")
    unrated = figures.overall.answered - figures.overall.rated
    parts = [(r, figures.ratings.get(r, 0)) for r in RATINGS]
    parts.append((UNRATED, max(unrated, 0)))
    parts = [(name, n) for name, n in parts if n]
    centre = (WIDTH / 2, (top + canvas.image.height - MARGIN) / 2)
    if not parts:
        canvas.text(centre, "本期尚无答复", anchor="mm", fill=GREY)
        return canvas
    colors = {RATINGS[0]: GREEN, RATINGS[1]: BLUE, RATINGS[2]: RED}
    _pie(canvas, centre, (canvas.image.height - MARGIN - top) / 2 - 24, parts, colors)
    return canvas


def _pie(
    canvas: _Canvas,
    centre: tuple[float, float],
    radius: float,
    parts: Sequence[tuple[str, int]],
    colors: dict[str, str],
) -> None:
    """Slices clockwise from twelve o'clock, percentages inside, names outside."""
    total = sum(n for _, n in parts)
    scale = _PIE_SUPERSAMPLE
    size = round(2 * radius * scale)
    disc = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(disc)
    start = -90.0
    edges, middles = [], []
    for name, n in parts:
        end = start + 360 * n / total
        draw.pieslice(
            (0, 0, size - 1, size - 1), start, end, fill=colors.get(name, GREY)
        )
        edges.append(start)
        middles.append((start + end) / 2)
        start = end
    if len(parts) > 1:  # white edges between the slices
        for edge in edges:
            x = size / 2 + size / 2 * math.cos(math.radians(edge))
            y = size / 2 + size / 2 * math.sin(math.radians(edge))
            draw.line((size / 2, size / 2, x, y), fill="white", width=2 * scale)
    box = (round(centre[0] - radius), round(centre[1] - radius))
    canvas.image.paste(
        disc.resize((round(2 * radius),) * 2, Image.Resampling.LANCZOS), box
    )
    for (name, n), angle in zip(parts, middles, strict=True):
        cos, sin = math.cos(math.radians(angle)), math.sin(math.radians(angle))
        if n / total >= 0.04:  # a thinner slice has no room for its percentage
            reach = 0.6 * radius if len(parts) > 1 else 0  # a whole disc: centred
            inside = (centre[0] + reach * cos, centre[1] + reach * sin)
            share = f"{100 * n / total:.0f}%"
            canvas.text(inside, share, anchor="mm", fill="white", bold=True)
        outside = (centre[0] + (radius + 10) * cos, centre[1] + (radius + 10) * sin)
        anchor = (
            "lm" if cos > 0.1 else "rm" if cos < -0.1 else ("mt" if sin > 0 else "mb")
        )
        canvas.text(outside, f"{name} {n} 件", anchor=anchor)


def _topics(figures: Figures) -> _Canvas:
    words = [(word, float(n)) for word, n in figures.hot_words[:12]]
    bars = _Bars(words, BLUE, row=36)
    canvas = _Canvas(_height(len(words), bars.row, subtitles=False))
    top = canvas.title(f"{figures.period.label} 热点词（涉及诉求件数）")
    bars.draw(canvas, MARGIN, top, WIDTH - MARGIN, "")
    return canvas
