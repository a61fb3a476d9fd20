"""The office's routine: the daily digest, chase mails, rating reminders, reports.

Each job claims its day in JobRun in the transaction that queues its mail,
then delivers the outbox; the scheduler, `suqiu digest` and `suqiu report`
all come through here.
"""

import gc
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import chinese_calendar
from sqlalchemy.orm import Session

from notify.chase import gather as gather_chases
from notify.compose import Attachment
from notify.digest import gather as gather_digest
from notify.periodic import (
    chase_mail,
    digest_mail,
    queue_rendered,
    report_mail,
    supervision_mail,
)
from notify.render import Rendered
from notify.reports import Figures, Period, survey
from routing.deadline import WorkCalendar, holidays_notice
from store import jobruns
from store.db import transaction
from suqiu import clock
from suqiu.app import App
from suqiu.config import CHANNEL_DISPATCHERS, Settings
from suqiu.errors import ConfigError, NotifyError

if TYPE_CHECKING:
    # Pillow and openpyxl take a fifth of a second to import: the digest,
    # sent every morning, does without them.
    from notify.charts import Chart

log = logging.getLogger(__name__)

DIGEST = "digest"
CHASE = "chase"
RATING_REMINDERS = "rating reminders"
MONTHLY_REPORT = "monthly report"
QUARTERLY_REPORT = "quarterly report"
STAFF = "学生工作处各位老师"
# chinese_calendar names holidays in English.
HOLIDAY_NAMES = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
}


@dataclass
class Outcome:
    """What a job did: a sentence for people and JobRun, and the mails."""

    done: bool  # False: nothing sent (a day off, or already done)
    summary: str
    mails: list[tuple[list[str], Rendered]] = field(default_factory=list)


@dataclass(frozen=True)
class Report:
    """A monthly or quarterly report, made and ready to mail or write out."""

    figures: Figures
    charts: list["Chart"]
    workbook: bytes

    @property
    def stem(self) -> str:
        return f"report-{self.figures.period.key}"

    @property
    def workbook_name(self) -> str:
        period = self.figures.period
        return f"学生诉求{period.name}-{period.key}.xlsx"

    def chart_file(self, chart: "Chart") -> str:
        return f"{self.stem}-{chart.name}.png"


def today() -> date:
    return clock.local(clock.now()).date()


def day_off(day: date, calendar: WorkCalendar) -> str | None:
    """Why *day* is not a working day (国庆节, 周末), or None if it is one."""
    if calendar.is_working_day(day):
        return None
    if day in calendar.days_off:
        return "放假日"
    try:
        _, name = chinese_calendar.get_holiday_detail(day)
    except NotImplementedError:  # no data for that year: weekends only
        name = None
    if name is None:
        return "周末" if day.weekday() >= 5 else "休息日"
    return HOLIDAY_NAMES.get(name, "法定节假日")


# -- 日报 ------------------------------------------------------------------------


def send_digest(
    app: App, day: date, *, dry_run: bool = False, force: bool = False
) -> Outcome:
    """The digest of *day* to the admins, and each channel's to its dispatcher."""
    settings = app.settings
    off = day_off(day, settings.calendar)
    if off and not force:
        log.info("digest: %s is a day off (%s), nothing sent", day, off)
        return Outcome(False, f"{day} 是{off}，不发送日报。")

    now = clock.now()
    with transaction(app.sessions) as session:
        claim = None
        if dry_run:
            row = jobruns.last_run(session, DIGEST)
            since = row.last_run_at if row is not None else None
        else:
            _sender(settings)
            claim = jobruns.claim(session, DIGEST, day=day, now=now, force=force)
            if claim is None:
                return Outcome(False, f"{day} 的日报已经发送过。")
            since = claim.previous

        soon = settings.reports.soon_days
        digest = gather_digest(session, now=now, since=since, soon_days=soon)
        notice = holidays_notice(settings.calendar, day)
        notices = [notice] if notice else []
        mails = [
            (
                list(settings.admins),
                digest_mail(digest, audience=STAFF, notices=notices),
            )
        ]
        dispatchers = []
        for channel, dispatcher in CHANNEL_DISPATCHERS.items():
            unit = settings.unit(dispatcher)
            if unit is None or not unit.emails:
                continue
            own = gather_digest(
                session, now=now, since=since, soon_days=soon, channel=channel
            )
            # Nothing on their channel: no mail to read for nothing.
            if not own.is_empty:
                mails.append((list(unit.emails), digest_mail(own, audience=dispatcher)))
                dispatchers.append(dispatcher)

        summary = f"{day} 日报：" + "，".join(
            f"{label} {count} {measure}"
            for label, count, measure in (
                ("新受理", digest.new.total, "件"),
                ("待分派", digest.triage.total, "件"),
                ("即将到期", digest.due_soon.total, "件"),
                ("超期", digest.overdue.total, "件"),
                ("待研判", digest.escalated.total, "件"),
                ("邮件异常", len(digest.mail_problems), "封"),
            )
        )
        if dispatchers:
            summary += f"；渠道日报发给{'、'.join(dispatchers)}"
        if not settings.admins:
            log.warning("digest: no [admins] configured, the digest goes to nobody")
            summary += "；未配置管理员邮箱，学生工作处日报无人接收"
        if claim is not None:
            _queue(session, settings, mails, kind="digest")
            claim.note(summary)

    if not dry_run:
        app.send()
    log.info("digest: %s", summary)
    return Outcome(True, summary, mails)


# -- 催办、督办 --------------------------------------------------------------------


def send_chase(
    app: App, day: date, *, dry_run: bool = False, force: bool = False
) -> Outcome:
    """催办 to every late unit about its own cases; 督办清单 to the leading group."""
    settings = app.settings
    off = day_off(day, settings.calendar)
    if off and not force:
        log.info("chase: %s is a day off (%s), nothing sent", day, off)
        return Outcome(False, f"{day} 是{off}，不发送催办邮件。")

    now = clock.now()
    with transaction(app.sessions) as session:
        claim = None
        if not dry_run:
            _sender(settings)
            claim = jobruns.claim(session, CHASE, day=day, now=now, force=force)
            if claim is None:
                return Outcome(False, f"{day} 的催办邮件已经发送过。")

        chases, supervision = gather_chases(
            session,
            now=now,
            soon_days=settings.reports.soon_days,
            supervise_after_days=settings.reports.supervise_after_days,
        )
        mails: list[tuple[list[str], Rendered]] = []
        chased: list[str] = []
        unreachable: list[str] = []
        for chase in chases:
            unit = settings.unit(chase.unit)
            if unit is None or not unit.emails:
                unreachable.append(chase.unit)
                continue
            rendered = chase_mail(chase, day=day, soon_days=settings.reports.soon_days)
            mails.append((list(unit.emails), rendered))
            chased.append(
                f"{chase.unit}（超期 {len(chase.overdue)} 件，"
                f"即将到期 {len(chase.due_soon)} 件）"
            )
        if supervision.lines:
            mails.append(
                (list(settings.leading_group), supervision_mail(supervision, day=day))
            )

        summary = f"{day} 催办：" + ("、".join(chased) if chased else "无需催办的单位")
        summary += f"；督办清单 {len(supervision.lines)} 件"
        if unreachable:
            log.warning("chase: no address for %s, not chased", ", ".join(unreachable))
            summary += f"；未登记邮箱、无法催办：{'、'.join(unreachable)}"
        if claim is not None:
            _queue(session, settings, mails, kind="chase")
            claim.note(summary)

    if not dry_run:
        app.send()
    log.info("chase: %s", summary)
    return Outcome(True, summary, mails)


# -- 满意度评价提醒 -----------------------------------------------------------------


def remind_ratings(app: App, day: date) -> Outcome:
    """Remind students who have not rated, once a day; close the long silent."""
    now = clock.now()
    with transaction(app.sessions) as session:
        claim = jobruns.claim(session, RATING_REMINDERS, day=day, now=now)
        if claim is None:
            return Outcome(False, f"{day} 的评价提醒已经发送过。")
        reminded, closed = app.office.remind_ratings(session)
        summary = f"{day} 评价提醒：提醒 {reminded} 件，按未评价办结 {closed} 件"
        claim.note(summary)
    app.send()
    return Outcome(True, summary)


# -- 月度汇总、季度分析 -------------------------------------------------------------


def make_report(app: App, period: Period) -> Report:
    """Count, draw and tabulate *period* as of now."""
    from notify.charts import report_charts
    from notify.workbook import report_workbook

    now = clock.now()
    with _no_cycle_collection():
        # A reader's session: counting a quarter never holds up the poller.
        with transaction(app.readers) as session:
            figures, rows = survey(session, period, as_of=now)
        charts = report_charts(figures)
        return Report(figures, charts, report_workbook(figures, rows))


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Pause Python's cycle collector while a report is made.

    A quarter is some hundred thousand rows, tuples and sets that live
    until the report is done and form no cycles; the collector would walk
    them all again each time the young objects pile up, which cost a fifth
    of the time of making the report. Reference counting frees everything
    as usual, and the collector runs again afterwards.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def report_recipients(settings: Settings) -> list[str]:
    """[reports] recipients, else the leading group and the admins."""
    chosen = settings.reports.recipients or (
        *settings.leading_group,
        *settings.admins,
    )
    return list(dict.fromkeys(chosen))


def mail_report(
    app: App, report: Report, *, claim: tuple[str, date] | None = None
) -> Outcome:
    """Queue *report* for its recipients and deliver it.

    With *claim* (a job's name and day), that job claims its run first, and
    nothing is queued if it has run already.
    """
    from notify.workbook import CONTENT_TYPE

    settings = app.settings
    sender = _sender(settings)
    to = report_recipients(settings)
    period = report.figures.period
    if not to:
        raise ConfigError(
            f"配置文件 {settings.path} 没有报告的收件人：请配置 [admins]、"
            "[leading_group] 或 [reports] recipients"
        )

    cids = {chart.name: f"{chart.name}.{period.key}@suqiu" for chart in report.charts}
    rendered = report_mail(
        report.figures, report.charts, image_src=lambda c: f"cid:{cids[c.name]}"
    )
    summary = (
        f"{period.label}{period.name}：共 {report.figures.overall.total} 件，"
        f"发给 {'、'.join(to)}"
    )
    with transaction(app.sessions) as session:
        if claim is not None:
            job, day = claim
            taken = jobruns.claim(session, job, day=day, now=clock.now())
            if taken is None:
                return Outcome(False, f"{period.label}{period.name}已经发送过。")
            taken.note(summary)
        queue_rendered(
            session,
            sender=sender,
            rendered=rendered,
            kind="report",
            to=to,
            attachments=[
                Attachment(report.workbook_name, CONTENT_TYPE, report.workbook)
            ],
            inline_images={
                cids[chart.name]: Attachment(
                    report.chart_file(chart), "image/png", chart.png
                )
                for chart in report.charts
            },
        )
    app.send()
    log.info("report %s mailed to %s", period.key, ", ".join(to))
    return Outcome(True, summary, [(to, rendered)])


def write_report(report: Report, directory: Path) -> list[Path]:
    """Write the report as files: HTML, text, the charts, the .xlsx."""
    rendered = report_mail(report.figures, report.charts, image_src=report.chart_file)
    written = []
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for name, data in (
            (f"{report.stem}.html", rendered.html.encode("utf-8")),
            (f"{report.stem}.txt", rendered.text.encode("utf-8")),
            *((report.chart_file(chart), chart.png) for chart in report.charts),
            (f"{report.stem}.xlsx", report.workbook),
        ):
            path = directory / name
            path.write_bytes(data)
            written.append(path)
    except OSError as exc:
        raise NotifyError(f"无法把报告写入 {directory}：{exc}") from exc
    return written


def send_monthly_report(app: App, day: date) -> Outcome:
    """On the 1st: the summary of the month before (每月汇总)."""
    return _scheduled_report(app, Period.month_before(day), MONTHLY_REPORT, day)


def send_quarterly_report(app: App, day: date) -> Outcome:
    """After a quarter: the analysis of the quarter before (季度分析)."""
    return _scheduled_report(app, Period.quarter_before(day), QUARTERLY_REPORT, day)


def _scheduled_report(app: App, period: Period, job: str, day: date) -> Outcome:
    with transaction(app.sessions) as session:
        # Making a report takes seconds: check before, claim after.
        if jobruns.ran_on(session, job, day):
            return Outcome(False, f"{period.label}{period.name}已经发送过。")
    return mail_report(app, make_report(app, period), claim=(job, day))


def _sender(settings: Settings) -> str:
    if settings.smtp is None:
        raise ConfigError(f"配置文件 {settings.path} 缺少 [smtp]，无法发信")
    return settings.smtp.sender


def _queue(
    session: Session,
    settings: Settings,
    mails: Sequence[tuple[list[str], Rendered]],
    *,
    kind: str,
) -> None:
    sender = _sender(settings)
    for to, rendered in mails:
        if to:
            queue_rendered(session, sender=sender, rendered=rendered, kind=kind, to=to)
