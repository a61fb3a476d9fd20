"""The report's charts as PNG, drawn by matplotlib with a Chinese font.

Figures are made without pyplot, so no GUI backend is ever touched and PNGs
come from the Agg canvas. Without a CJK font matplotlib draws every 汉字 as
a box; rather than mail such charts we stop and name the package to install.
"""

import io
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from matplotlib import font_manager, rc_context
from matplotlib.axes import Axes
from matplotlib.figure import Figure

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
# File names of those fonts, for fonts installed after matplotlib built its
# font cache (it does not look again by itself).
_FONT_FILE_HINTS = ("notosanscjk", "notoserifcjk", "sourcehan", "wqy", "notosanssc")
FONT_PACKAGE = "fonts-noto-cjk"
DPI = 110
WIDTH = 7.2  # inches: 790 px, which a phone shrinks to its width
BLUE = "#3b6fb6"
GREEN = "#3f9a5b"
ORANGE = "#e08a2c"
RED = "#c8483e"
GREY = "#9aa1a9"
UNRATED = "未评价"

_lock = threading.Lock()  # matplotlib's state (rc, font cache) is not thread-safe


class ChartError(NotifyError):
    """A chart cannot be drawn properly on this machine."""


@dataclass(frozen=True)
class Chart:
    """One chart: a short name for files and Content-IDs, a title, the PNG."""

    name: str
    title: str
    png: bytes


def cjk_family() -> str:
    """Return an installed font family that has Chinese glyphs, or raise."""
    with _lock:
        return _find_family()


@cache
def _find_family() -> str:
    found = _installed_family()
    if found is None:
        for path in font_manager.findSystemFonts():
            name = Path(path).name.lower().replace("-", "").replace("_", "")
            if any(hint in name for hint in _FONT_FILE_HINTS):
                font_manager.fontManager.addfont(path)
        found = _installed_family()
    if found is None:
        raise ChartError(
            "没有找到能显示中文的字体，图表中的汉字会显示成方框。"
            f"请安装 Debian 软件包 {FONT_PACKAGE}"
            f"（apt-get install {FONT_PACKAGE}）后重试。"
        )
    log.debug("charts use the font %s", found)
    return found


def _installed_family() -> str | None:
    names = {entry.name for entry in font_manager.fontManager.ttflist}
    return next((family for family in CJK_FAMILIES if family in names), None)


def report_charts(figures: Figures) -> list[Chart]:
    """The charts of a monthly or quarterly report."""
    family = cjk_family()
    style: dict[str, Any] = {
        "font.family": "sans-serif",
        "font.sans-serif": [family, "DejaVu Sans"],
        "axes.unicode_minus": False,  # the CJK fonts lack U+2212
        "font.size": 10,
        "axes.titlesize": 12,
        "axes.titleweight": "bold",
    }
    with _lock, rc_context(style):  # type: ignore[arg-type]
        return [
            Chart("sources", "诉求来源与类别", _sources(figures)),
            Chart("units", "各责任单位办理情况", _units(figures)),
            Chart("satisfaction", "满意度评价", _satisfaction(figures)),
            Chart("topics", "热点词", _topics(figures)),
        ]


def _figure(height: float) -> Figure:
    # TODO: the constrained layout is 0.17 s of the 0.5 s the four charts
    # take to draw; fixed margins would save it but clip long unit names.
    return Figure(figsize=(WIDTH, height), layout="constrained")


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, facecolor="white")
    return buffer.getvalue()


def _bars(
    axes: Axes,
    items: Sequence[tuple[str, float]],
    *,
    color: str,
    labels: Sequence[str] | None = None,
    limit: float | None = None,
) -> None:
    """Horizontal bars, largest on top, each with its value written beside it."""
    axes.spines[["top", "right"]].set_visible(False)
    if not items:
        axes.text(0.5, 0.5, "本期无数据", ha="center", va="center", color=GREY)
        axes.set_axis_off()
        return
    names = [name for name, _ in reversed(items)]
    values = [value for _, value in reversed(items)]
    texts = list(reversed(labels)) if labels else [f"{v:g}" for v in values]
    drawn = axes.barh(names, values, color=color, height=0.6)
    axes.bar_label(drawn, labels=texts, padding=3, fontsize=9)
    axes.set_xlim(0, limit or max(max(values), 1) * 1.25)
    axes.tick_params(axis="y", length=0)


def _sources(figures: Figures) -> bytes:
    rows = max(len(figures.by_channel), len(figures.by_category), 3)
    figure = _figure(0.42 * rows + 1.3)
    channel_axes, category_axes = figure.subplots(1, 2)
    channel_axes.set_title("按渠道（件）")
    _bars(channel_axes, figures.by_channel, color=BLUE)
    category_axes.set_title("按类别（件）")
    _bars(category_axes, figures.by_category, color=GREEN)
    figure.suptitle(f"{figures.period.label} 诉求来源与类别", fontweight="bold")
    return _png(figure)


def _units(figures: Figures) -> bytes:
    units = figures.by_unit
    figure = _figure(0.38 * max(len(units), 3) + 1.3)
    count_axes, rate_axes = figure.subplots(1, 2, sharey=True)
    count_axes.set_title("诉求件数")
    _bars(count_axes, [(u.name, u.total) for u in units], color=BLUE)
    rate_axes.set_title("按期答复率（%）")
    rates = [(u.name, 100 * (u.on_time_rate or 0)) for u in units]
    _bars(
        rate_axes,
        rates,
        color=ORANGE,
        labels=[
            "—" if u.on_time_rate is None else f"{100 * u.on_time_rate:.0f}%"
            for u in units
        ],
        limit=118,
    )
    figure.suptitle(f"{figures.period.label} 各责任单位办理情况", fontweight="bold")
    return _png(figure)


def _satisfaction(figures: Figures) -> bytes:
    figure = _figure(3.2)
    axes = figure.subplots()
    unrated = figures.overall.answered - figures.overall.rated
    parts = [(r, figures.ratings.get(r, 0)) for r in RATINGS]
    parts.append((UNRATED, max(unrated, 0)))
    parts = [(name, n) for name, n in parts if n]
    if not parts:
        axes.text(0.5, 0.5, "本期尚无答复", ha="center", va="center", color=GREY)
        axes.set_axis_off()
    else:
        colors = {RATINGS[0]: GREEN, RATINGS[1]: BLUE, RATINGS[2]: RED}
        axes.pie(
            [n for _, n in parts],
            labels=[f"{name} {n} 件" for name, n in parts],
            colors=[colors.get(name, GREY) for name, _ in parts],
            autopct="%.0f%%",
            startangle=90,
            counterclock=False,
            wedgeprops={"linewidth": 1, "edgecolor": "white"},
        )
        axes.set_aspect("equal")
    rate = figures.overall.satisfaction
    shown = "—" if rate is None else f"{100 * rate:.1f}%"
    axes.set_title(f"{figures.period.label} 满意度评价（满意率 {shown}）")
    return _png(figure)


def _topics(figures: Figures) -> bytes:
    words = figures.hot_words[:12]
    figure = _figure(0.36 * max(len(words), 3) + 1.0)
    axes = figure.subplots()
    axes.set_title(f"{figures.period.label} 热点词（涉及诉求件数）")
    _bars(axes, words, color=BLUE)
    return _png(figure)
