"""Deadlines (限时办结) and the Chinese working-day calendar they may count in.

Holidays and make-up working days (调休) come from chinese_calendar. The State
Council publishes a year's holidays late in the year before, and a release of
chinese_calendar follows some time later; the configuration's [calendar] can
name the days of such a year meanwhile, and where it names a day it wins.
"""

import functools
import logging
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

import chinese_calendar

log = logging.getLogger(__name__)

SHANGHAI = ZoneInfo("Asia/Shanghai")
# The rules give a general issue 7 days from the 办理单 (办法 三（三）1).
GENERAL_DAYS = 7
_END_OF_DAY = time(23, 59, 59)

_warned_years: set[int] = set()
_warned_lock = threading.Lock()


@dataclass(frozen=True)
class WorkCalendar:
    """Which days are worked: chinese_calendar, corrected by the configuration.

    *days_off* and *workdays* are the days the configuration names (放假 and
    调休上班); they decide those days whatever chinese_calendar says.
    """

    days_off: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        both = self.days_off & self.workdays
        if both:
            raise ValueError(
                "days both off and worked: " + ", ".join(map(str, sorted(both)))
            )

    def is_working_day(self, day: date) -> bool:
        """Return whether *day* is a working day in mainland China.

        Public holidays are off and 调休 weekends are on. For a year neither
        chinese_calendar nor the configuration knows, Monday to Friday is
        assumed, and a WARNING says so once per year.
        """
        if day in self.workdays:
            return True
        if day in self.days_off:
            return False
        if published(day.year):
            return bool(chinese_calendar.is_workday(day))
        if not self.configures(day.year):
            _warn_missing(day.year)
        return day.weekday() < 5

    def configured(self, year: int) -> list[date]:
        """The days of *year* the configuration names, off or worked."""
        return [day for day in (*self.days_off, *self.workdays) if day.year == year]

    def configures(self, year: int) -> bool:
        """Whether the configuration names any day of *year*."""
        return bool(self.configured(year))

    def knows(self, year: int) -> bool:
        """Whether the holidays of *year* are known, published or configured."""
        return published(year) or self.configures(year)


PUBLISHED = WorkCalendar()  # chinese_calendar alone


def holidays_notice(calendar: WorkCalendar, today: date) -> str | None:
    """What staff must do about a year whose holidays nobody knows, or None.

    This year's missing holidays are a fault; next year's are announced from
    November, when the State Council publishes them.
    """
    package = f"chinese_calendar {chinese_calendar.__version__}"
    if not calendar.knows(today.year):
        return (
            f"{package} 没有 {today.year} 年的放假安排，工作日暂按周一至周五"
            f"计算。{_CALENDAR_HINT}"
        )
    coming = today.year + 1
    if today.month >= 11 and not calendar.knows(coming):
        return f"{package} 还没有 {coming} 年的放假安排。{_CALENDAR_HINT}"
    return None


_CALENDAR_HINT = (
    "国务院办公厅公布后，请升级 chinesecalendar，或在配置文件的 [calendar] 中"
    "用 days_off 和 workdays 填写放假日和调休上班日。"
)


@functools.cache
def published(year: int) -> bool:
    """Whether the installed chinese_calendar has the holidays of *year*."""
    try:
        chinese_calendar.is_workday(date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


def due_at(
    assigned: datetime,
    *,
    days: int = GENERAL_DAYS,
    working_days: bool = False,
    calendar: WorkCalendar = PUBLISHED,
    tz: tzinfo = SHANGHAI,
) -> datetime:
    """Return the end (23:59:59 local) of the *days*-th day after *assigned*.

    "7 日内" counts from the day after the 办理单 arrives, the usual Chinese
    reading (the first day is not counted), so a form sent on Monday morning
    is due at the end of the next Monday. With *working_days* only the
    working days of *calendar* count. A naive *assigned* is taken as UTC, as
    ``suqiu.clock`` does. The result is aware, in *tz*.
    """
    if days < 0:
        raise ValueError(f"days must not be negative, got {days}")
    if assigned.tzinfo is None:
        assigned = assigned.replace(tzinfo=UTC)
    day = assigned.astimezone(tz).date()

    if working_days:
        counted = 0
        while counted < days:
            day += timedelta(days=1)
            if calendar.is_working_day(day):
                counted += 1
    else:
        day += timedelta(days=days)

    return datetime.combine(day, _END_OF_DAY, tzinfo=tz)


def _warn_missing(year: int) -> None:
    """Log, once per year, that the holiday data for *year* is missing."""
    with _warned_lock:
        if year in _warned_years:
            return
        _warned_years.add(year)
    log.warning(
        "chinese_calendar %s has no holiday data for %d: counting Monday to "
        "Friday as working days; upgrade the chinesecalendar package, or name "
        "that year's days off and make-up working days in [calendar]",
        getattr(chinese_calendar, "__version__", "(unknown version)"),
        year,
    )
