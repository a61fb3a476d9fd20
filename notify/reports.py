"""The figures of a month or a quarter (每月汇总、季度分析).

The population is every case received in the period (college time); what
was answered, rated or late is as of the moment the report is made. The
definitions are stated to readers in the report's 口径说明 as well.

The tallies of 口径说明 are counted in SQL; the period's cases are read once
more, as the workbook lists them, and the simple counts, 答复用时, hot words
and similar appeals come from that one read.
"""

import logging
import re
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from typing import Any, Literal, NamedTuple, get_args

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.orm import Session

from notify.digest import AWAITING_UNIT
from notify.scrub import scrub
from notify.topics import Appeal, Cluster, clusters, hot_words
from routing.rating import Rating
from routing.rules import CATEGORIES
from store.models import Case, CaseStatus
from suqiu import clock

log = logging.getLogger(__name__)

RATINGS: tuple[str, ...] = get_args(Rating)  # 满意, 较满意, 不满意
GOOD_RATINGS = RATINGS[:2]
NO_CATEGORY = "未分类"
NO_UNIT = "（未交办）"
QUARTER_NAMES = ("一", "二", "三", "四")
# An answer still waited for counts as late once its deadline has passed
# while the case waits for its unit or the leading group.
_WAITING = (*AWAITING_UNIT, CaseStatus.ESCALATED)
_MONTH = re.compile(r"(\d{4})-(\d{1,2})")
_QUARTER = re.compile(r"(\d{4})\s*[Qq]([1-4])")


@dataclass(frozen=True)
class Period:
    """A calendar month or quarter in the college's time zone."""

    kind: Literal["month", "quarter"]
    year: int
    index: int  # the month 1–12, or the quarter 1–4

    @classmethod
    def month(cls, text: str) -> "Period":
        """Read "2026-11"; raise ValueError, in Chinese, for anything else."""
        match = _MONTH.fullmatch(text.strip())
        if match is None or not 1 <= int(match[2]) <= 12:
            raise ValueError(f"月份应写作 YYYY-MM，例如 2026-11，而不是 {text!r}")
        return cls("month", int(match[1]), int(match[2]))

    @classmethod
    def quarter(cls, text: str) -> "Period":
        """Read "2026Q4"; raise ValueError, in Chinese, for anything else."""
        match = _QUARTER.fullmatch(text.strip())
        if match is None:
            raise ValueError(f"季度应写作 YYYYQN，例如 2026Q4，而不是 {text!r}")
        return cls("quarter", int(match[1]), int(match[2]))

    @classmethod
    def month_before(cls, day: date) -> "Period":
        """The last whole month before *day*'s month."""
        return cls("month", day.year, day.month).previous()

    @classmethod
    def quarter_before(cls, day: date) -> "Period":
        """The last whole quarter before the one *day* falls in."""
        return cls("quarter", day.year, (day.month - 1) // 3 + 1).previous()

    @property
    def months(self) -> int:
        return 1 if self.kind == "month" else 3

    @property
    def start(self) -> date:
        first = self.index if self.kind == "month" else (self.index - 1) * 3 + 1
        return date(self.year, first, 1)

    @property
    def end(self) -> date:
        """The first day after the period."""
        month = self.start.month + self.months
        return date(self.year + (month - 1) // 12, (month - 1) % 12 + 1, 1)

    @property
    def key(self) -> str:
        if self.kind == "month":
            return f"{self.year}-{self.index:02d}"
        return f"{self.year}Q{self.index}"

    @property
    def label(self) -> str:
        if self.kind == "month":
            return f"{self.year}年{self.index}月"
        return f"{self.year}年第{QUARTER_NAMES[self.index - 1]}季度"

    @property
    def name(self) -> str:
        """What the report is called: 月度汇总 or 季度分析."""
        return "月度汇总" if self.kind == "month" else "季度分析"

    def previous(self) -> "Period":
        count = 12 if self.kind == "month" else 4
        if self.index > 1:
            return Period(self.kind, self.year, self.index - 1)
        return Period(self.kind, self.year - 1, count)

    def bounds(self) -> tuple[datetime, datetime]:
        """The period as [start, end) aware datetimes in the college's zone."""
        zone = clock.zone()
        return (
            datetime.combine(self.start, time(0), zone),
            datetime.combine(self.end, time(0), zone),
        )

    def contains(self, moment: datetime) -> bool:
        start, end = self.bounds()
        return start <= moment < end


@dataclass(frozen=True)
class Tally:
    """The figures of a set of cases: the whole period, or one unit's share."""

    name: str
    total: int  # received in the period
    assigned: int  # given to a unit (交办)
    answered: int  # with an answer (replied_at)
    due: int  # 应答复: answered with a deadline, or waiting past it
    on_time: int  # answered on or before the deadline
    overdue_open: int  # waiting for the answer, deadline passed
    rated: int
    satisfied: int  # 满意 + 较满意
    unsatisfied: int
    mean_days: float | None  # days from 交办 to answer
    median_days: float | None

    @property
    def late_answered(self) -> int:
        return self.due - self.on_time - self.overdue_open

    @property
    def on_time_rate(self) -> float | None:
        return self.on_time / self.due if self.due else None

    @property
    def satisfaction(self) -> float | None:
        return self.satisfied / self.rated if self.rated else None


@dataclass(frozen=True)
class Figures:
    """Everything a monthly or quarterly report states."""

    period: Period
    as_of: datetime
    overall: Tally
    previous: Tally  # the period before, counted the same way, as of now
    by_channel: tuple[tuple[str, int], ...]
    by_category: tuple[tuple[str, int], ...]
    by_unit: tuple[Tally, ...]  # most cases first
    by_status: dict[str, int]
    ratings: dict[str, int]  # 满意, 较满意, 不满意
    major: int
    hot_words: tuple[tuple[str, int], ...]
    clusters: tuple[Cluster, ...]


class CaseRow(NamedTuple):
    """One case of the period as the workbook lists it: no personal data.

    A named tuple rather than a frozen dataclass: a quarter makes tens of
    thousands, and a tuple is made several times faster.
    """

    number: str
    received_at: datetime
    channel: str
    category: str | None
    unit: str | None
    subject: str  # scrubbed of the names the case knows, phones, numbers
    status: str
    major: bool
    assigned_at: datetime | None
    due_at: datetime | None
    replied_at: datetime | None
    closed_at: datetime | None
    rating: str | None
    timeliness: str  # 按期答复 | 逾期答复 | 超期未答复 | 未到期 | 无时限

    @property
    def answer_days(self) -> float | None:
        if self.assigned_at is None or self.replied_at is None:
            return None
        return (self.replied_at - self.assigned_at).total_seconds() / 86400


def gather(session: Session, period: Period, *, as_of: datetime) -> Figures:
    """Count *period*'s figures as of *as_of*; the previous period beside them."""
    return _figures(session, period, as_of, _read(session, period))


def survey(
    session: Session, period: Period, *, as_of: datetime
) -> tuple[Figures, list[CaseRow]]:
    """The figures of *period* and its cases for the workbook, from one read."""
    cases = _read(session, period)
    figures = _figures(session, period, as_of, cases)
    return figures, [_case_row(row, as_of) for row in cases]


class _Stored(NamedTuple):
    """A case of the period as read once for every part of the report."""

    number: str
    received_at: datetime
    channel: str
    category: str | None
    unit: str | None
    subject: str
    status: str
    major: bool
    assigned_at: datetime | None
    due_at: datetime | None
    replied_at: datetime | None
    closed_at: datetime | None
    rating: str | None
    student_name: str | None
    student_counselor: str | None
    topic_terms: list[Any] | None
    answer_days: float | None  # 交办 to answer, as the database counts it


def _read(session: Session, period: Period) -> list[_Stored]:
    """Every case received in *period*, oldest first."""
    rows = session.execute(
        select(
            Case.number,
            Case.received_at,
            Case.channel,
            Case.category,
            Case.unit,
            Case.subject,
            Case.status,
            Case.major,
            Case.assigned_at,
            Case.due_at,
            Case.replied_at,
            Case.closed_at,
            Case.rating,
            Case.student_name,
            Case.student_counselor,
            Case.topic_terms,
            _answer_days(session),
        )
        .where(*_received_in(period))
        .order_by(Case.received_at, Case.id)
    )
    return [_Stored._make(row) for row in rows]


def _figures(
    session: Session, period: Period, as_of: datetime, cases: Sequence[_Stored]
) -> Figures:
    """The figures of *period*, whose cases *cases* are."""
    # 答复用时 by unit, from the read; the counts of each unit from SQL.
    days: dict[str | None, list[float]] = {}
    for row in cases:
        if row.answer_days is not None:
            days.setdefault(row.unit, []).append(float(row.answer_days))
    counts = _counts(session, _received_in(period), as_of, by_unit=True)
    units = [_tally(unit or NO_UNIT, n, days.get(unit, [])) for unit, n in counts]
    # The whole period is the sum of its units (every case has one unit or
    # none), which spares a second query over the same cases.
    overall = _tally(
        "全校",
        [sum(column) for column in zip(*(n for _, n in counts), strict=True)]
        or [0] * len(_COUNTED),
        [span for spans in days.values() for span in spans],
    )

    earlier = _received_in(period.previous())
    previous = _tally(
        "全校",
        _counts(session, earlier, as_of, by_unit=False)[0][1],
        _spans(session, earlier),
    )

    appeals, names = _appeals(cases)
    return Figures(
        period=period,
        as_of=as_of,
        overall=overall,
        previous=previous,
        by_channel=_ranked(Counter(row.channel for row in cases)),
        by_category=_categories(Counter(row.category for row in cases)),
        # Units by their number of cases; the cases no unit has yet, last.
        by_unit=tuple(
            sorted(units, key=lambda t: (t.name == NO_UNIT, -t.total, t.name))
        ),
        by_status=dict(_ranked(Counter(row.status for row in cases))),
        ratings=dict(_ranked(Counter(row.rating for row in cases if row.rating))),
        major=sum(1 for row in cases if row.major),
        hot_words=tuple(hot_words(appeals)),
        # Only the examples shown are scrubbed, not every appeal's subject.
        clusters=tuple(
            replace(cluster, subject=scrub(cluster.subject, names[cluster.numbers[0]]))
            for cluster in clusters(appeals)
        ),
    )


def _received_in(period: Period) -> list[ColumnElement[bool]]:
    start, end = period.bounds()
    return [Case.received_at >= start, Case.received_at < end]


def _conditions(as_of: datetime) -> tuple[ColumnElement[bool], ...]:
    """The conditions a Tally counts, in the order of ``_COUNTED``."""
    answered = Case.replied_at.is_not(None)
    on_time = and_(answered, Case.due_at.is_not(None), Case.replied_at <= Case.due_at)
    overdue_open = and_(
        Case.replied_at.is_(None),
        Case.due_at < as_of,
        Case.status.in_(_WAITING),
    )
    due = and_(Case.due_at.is_not(None), answered) | overdue_open
    return (
        Case.assigned_at.is_not(None),
        answered,
        due,
        on_time,
        overdue_open,
        Case.rating.is_not(None),
        Case.rating.in_(GOOD_RATINGS),
        Case.rating == RATINGS[2],
    )


_COUNTED = (
    "total",
    "assigned",
    "answered",
    "due",
    "on_time",
    "overdue_open",
    "rated",
    "satisfied",
    "unsatisfied",
)


def _counts(
    session: Session,
    where: Sequence[ColumnElement[bool]],
    as_of: datetime,
    *,
    by_unit: bool,
) -> list[tuple[str | None, list[int]]]:
    """The counts of ``_COUNTED`` for the cases matching *where*: one row for
    all of them, or one per unit (none when no case matches)."""
    columns = (
        func.count(Case.id),
        *(_count_if(condition) for condition in _conditions(as_of)),
    )
    if by_unit:
        query = select(Case.unit, *columns).where(*where).group_by(Case.unit)
        return [
            (row[0], [int(value or 0) for value in row[1:]])
            for row in session.execute(query)
        ]
    row = session.execute(select(*columns).where(*where)).one()
    return [(None, [int(value or 0) for value in row])]


def _tally(name: str, counts: Sequence[int], spans: Sequence[float]) -> Tally:
    return Tally(
        name,
        **dict(zip(_COUNTED, counts, strict=True)),
        mean_days=statistics.fmean(spans) if spans else None,
        median_days=statistics.median(spans) if spans else None,
    )


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.sum(case((condition, 1), else_=0))


def _spans(session: Session, where: Sequence[ColumnElement[bool]]) -> list[float]:
    """Days from 交办 to answer of each answered case matching *where*."""
    days = _answer_days(session)
    rows = session.scalars(select(days).where(*where, days.is_not(None)))
    return [float(value) for value in rows]


def _answer_days(session: Session) -> ColumnElement[Any]:
    """Days from 交办 to answer as the database computes them (no row
    parsing); NULL unless the case was both assigned and answered."""
    start, end = Case.assigned_at, Case.replied_at
    if session.get_bind().dialect.name == "sqlite":
        # SQLite keeps UTC wall times as text, which julianday() reads.
        return func.julianday(end) - func.julianday(start)
    return func.extract("epoch", end - start) / 86400.0


def _ranked(counts: Counter[Any]) -> tuple[tuple[Any, int], ...]:
    """Most frequent first; ties in the order of their names."""
    return tuple(sorted(counts.items(), key=lambda row: (-row[1], str(row[0]))))


def _categories(counts: Counter[str | None]) -> tuple[tuple[str, int], ...]:
    """Every category of the rules, in their order, then the unclassified."""
    left = dict(counts)
    found = [(name, left.pop(name, 0)) for name in CATEGORIES]
    found += sorted((name or NO_CATEGORY, n) for name, n in left.items())
    return tuple(found)


def _appeals(
    cases: Sequence[_Stored],
) -> tuple[list[Appeal], dict[str, list[str]]]:
    """The period's appeals for topic analysis, and the names each case knows.

    The words are those stored when the case was registered. A case stored
    without words had none in its subject and text together, so segmenting
    its subject again would find none either: jieba is not needed here.
    """
    appeals = []
    names = {}
    for row in cases:
        known = [n for n in (row.student_name, row.student_counselor) if n]
        words = frozenset(row.topic_terms or ())
        if known:
            # jieba keeps a name whole or in parts; neither may reach a report.
            # (No word holds the separator, so none matches across two names.)
            joined = "\n".join(known)
            words = frozenset(w for w in words if w not in joined)
        appeals.append(Appeal(row.number, row.subject, words))
        names[row.number] = known
    return appeals, names


def case_rows(session: Session, period: Period, *, as_of: datetime) -> list[CaseRow]:
    """Every case received in *period*, oldest first."""
    return [_case_row(row, as_of) for row in _read(session, period)]


def _case_row(row: _Stored, as_of: datetime) -> CaseRow:
    return CaseRow(
        number=row.number,
        received_at=row.received_at,
        channel=row.channel,
        category=row.category,
        unit=row.unit,
        subject=scrub(row.subject, (row.student_name, row.student_counselor)),
        status=row.status,
        major=row.major,
        assigned_at=row.assigned_at,
        due_at=row.due_at,
        replied_at=row.replied_at,
        closed_at=row.closed_at,
        rating=row.rating,
        timeliness=_timeliness(row.status, row.due_at, row.replied_at, as_of),
    )


def _timeliness(
    status: str, due_at: datetime | None, replied_at: datetime | None, as_of: datetime
) -> str:
    """The case's place in the on-time rate, by the definitions above."""
    if due_at is None:
        return "无时限"
    if replied_at is not None:
        return "按期答复" if replied_at <= due_at else "逾期答复"
    if due_at < as_of and status in _WAITING:
        return "超期未答复"
    return "未到期" if status in _WAITING else "未答复办结"


def definitions(period: Period, as_of: datetime) -> list[str]:
    """The 口径说明: how each figure of the report is counted, for readers."""
    moment = clock.local(as_of).strftime("%Y年%m月%d日 %H:%M")
    return [
        f"统计范围：受理时间在{period.label}内的全部诉求（按学校所在时区计）；"
        f"答复、评价和超期情况统计至 {moment}。",
        "交办件数：已交由责任单位办理的诉求件数。",
        "应答复件数：有办理时限，且已经答复、或已超过时限仍在等待答复的诉求件数；"
        "尚未到期的、以及未经答复即由学生工作处办结或不予受理的，不计入。",
        "按期答复：答复时间不晚于办理时限（一般问题为收到办理单后 7 日内，"
        "重大问题为领导小组规定的时限）。按期答复率 = 按期答复件数 ÷ 应答复件数。",
        "答复用时：答复时间减去交办时间，以天计，给出平均数和中位数；"
        "转交过的诉求从最后一次交办起算，补充答复以最后一次答复为准。",
        "满意率：评价为“满意”或“较满意”的件数 ÷ 已评价件数，未评价的不计入。",
        "分单位统计按诉求当前的责任单位归属，未交办的诉求单列。",
        "热点词：本期诉求的主题和内容经分词、去除常用词和人名后，"
        "按涉及的诉求件数排序。",
        "相似诉求：用词相似度达到 0.3 的诉求归为一组"
        "（与系统判断“诉求比较集中”的方法相同），列出件数最多的几组。",
        "与上期比较：上期数据按同一口径统计至同一时刻。",
    ]
