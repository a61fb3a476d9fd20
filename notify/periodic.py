"""The mails that go out on a timetable: the digest, 催办, 督办 and the reports.

Each is rendered from its facts first (so ``--dry-run`` can print it), then
queued in the outbox like every other mail we send.
"""

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from notify import college
from notify.chase import Supervision, UnitChase
from notify.compose import Attachment, build
from notify.digest import CaseLine, Digest
from notify.mails import enqueue
from notify.render import Rendered, render_mail
from notify.reports import Figures, Tally, definitions
from store.cases import STATUS_NAMES
from suqiu import clock

if TYPE_CHECKING:
    from notify.charts import Chart  # Pillow: only reports need it

log = logging.getLogger(__name__)

WEEKDAYS = "一二三四五六日"
STATUS_LABELS = {str(status): name for status, name in STATUS_NAMES.items()}


def day_label(day: date) -> str:
    """12月10日（星期四）"""
    return f"{day.month}月{day.day}日（星期{WEEKDAYS[day.weekday()]}）"


def md(moment: datetime | None) -> str:
    """12月9日, in college time."""
    if moment is None:
        return "—"
    local = clock.local(moment)
    return f"{local.month}月{local.day}日"


def when(moment: datetime | None) -> str:
    """12月9日 08:00, in college time."""
    if moment is None:
        return "—"
    return f"{md(moment)} {clock.local(moment):%H:%M}"


def digest_mail(
    digest: Digest, *, audience: str, notices: Sequence[str] = ()
) -> Rendered:
    """The digest for *audience*: 学生工作处, or the dispatcher of a channel.

    *notices* are what the installation itself needs from staff, on top.
    """
    title = f"{digest.channel}日报" if digest.channel else "学生诉求日报"
    return render_mail(
        "staff_digest",
        digest=digest,
        title=title,
        audience=audience,
        day=day_label(digest.day),
        headline=_headline(digest),
        notices=notices,
        **_helpers(),
        statuses=STATUS_LABELS,
    )


def chase_mail(chase: UnitChase, *, day: date, soon_days: int) -> Rendered:
    """催办: one unit's own late and nearly late cases."""
    return render_mail(
        "unit_chase",
        chase=chase,
        day=day_label(day),
        soon_days=soon_days,
        office_phones=college.phones(college.STUDENT_AFFAIRS),
        **_helpers(),
    )


def supervision_mail(supervision: Supervision, *, day: date) -> Rendered:
    """督办清单 for the leading group."""
    return render_mail(
        "leading_group_supervision",
        supervision=supervision,
        groups=supervision.by_unit(),
        day=day_label(day),
        **_helpers(),
    )


def report_mail(
    figures: Figures,
    charts: Sequence["Chart"],
    *,
    image_src: Callable[["Chart"], str],
) -> Rendered:
    """The monthly summary or quarterly analysis; *image_src* places each chart
    (a ``cid:`` in a mail, a file name on disk)."""
    return render_mail(
        "leading_group_report",
        figures=figures,
        charts=[(chart, image_src(chart)) for chart in charts],
        comparison=comparison(figures),
        definitions=definitions(figures.period, figures.as_of),
        **_helpers(),
    )


def queue_rendered(
    session: Session,
    *,
    sender: str,
    rendered: Rendered,
    kind: str,
    to: Sequence[str],
    attachments: Sequence[Attachment] = (),
    inline_images: Mapping[str, Attachment] | None = None,
) -> int:
    """Queue a mail already rendered (the digest, a chase, a report); its id."""
    mail = build(
        rendered,
        sender=sender,
        to=to,
        kind=kind,
        attachments=attachments,
        inline_images=inline_images,
    )
    return enqueue(session, mail, case=None, kind=kind)


@dataclass(frozen=True)
class Comparison:
    """One headline figure beside the previous period's."""

    label: str
    current: str
    previous: str
    change: str


def comparison(figures: Figures) -> list[Comparison]:
    """The headline figures against the previous period (环比)."""
    now, before = figures.overall, figures.previous
    return [
        Comparison(
            "诉求件数",
            f"{now.total} 件",
            f"{before.total} 件",
            _count_change(now, before),
        ),
        Comparison(
            "按期答复率",
            percent(now.on_time_rate),
            percent(before.on_time_rate),
            _points(now.on_time_rate, before.on_time_rate),
        ),
        Comparison(
            "平均答复用时",
            days(now.mean_days),
            days(before.mean_days),
            _days_change(now.mean_days, before.mean_days),
        ),
        Comparison(
            "答复用时中位数",
            days(now.median_days),
            days(before.median_days),
            _days_change(now.median_days, before.median_days),
        ),
        Comparison(
            "满意率",
            percent(now.satisfaction),
            percent(before.satisfaction),
            _points(now.satisfaction, before.satisfaction),
        ),
    ]


def percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def days(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} 天"


def _count_change(now: Tally, before: Tally) -> str:
    delta = now.total - before.total
    if delta == 0:
        return "持平"
    word, rate = ("增加", "增幅") if delta > 0 else ("减少", "降幅")
    share = f"，{rate} {100 * abs(delta) / before.total:.1f}%" if before.total else ""
    return f"{word} {abs(delta)} 件{share}"


def _points(now: float | None, before: float | None) -> str:
    if now is None or before is None:
        return "—"
    delta = 100 * (now - before)
    if abs(delta) < 0.05:
        return "持平"
    return f"{'上升' if delta > 0 else '下降'} {abs(delta):.1f} 个百分点"


def _days_change(now: float | None, before: float | None) -> str:
    if now is None or before is None:
        return "—"
    delta = now - before
    if abs(delta) < 0.05:
        return "持平"
    return f"{'延长' if delta > 0 else '缩短'} {abs(delta):.1f} 天"


def _headline(digest: Digest) -> str:
    """The subject's summary: what needs attention first."""
    parts = [
        ("超期", digest.overdue.total, "件"),
        ("即将到期", digest.due_soon.total, "件"),
        ("待分派", digest.triage.total, "件"),
        ("待研判", digest.escalated.total, "件"),
        ("新受理", digest.new.total, "件"),
        ("邮件异常", len(digest.mail_problems), "封"),  # mails, not cases
    ]
    shown = [f"{label} {count} {unit}" for label, count, unit in parts if count]
    return "，".join(shown) if shown else "无待办事项"


def _helpers() -> dict[str, Callable[..., str]]:
    """Formatting the templates of this module share."""
    return {"md": md, "when": when, "late": _late_text, "pct": percent, "days": days}


def _late_text(line: CaseLine) -> str:
    """超期 3 天 / 今天到期 / 明天到期 / 2 天后到期, from the deadline's day."""
    if line.days_left is None:
        return "无办理时限"
    if line.days_late:
        return f"超期 {line.days_late} 天"
    if line.days_left == 0:
        return "今天到期"
    if line.days_left == 1:
        return "明天到期"
    return f"{line.days_left} 天后到期"
