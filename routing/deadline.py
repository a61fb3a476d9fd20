"""Deadlines (限时办结) and the Chinese working-day calendar they may count in.

Holidays and make-up working days (调休) come from chinese_calendar.
"""

import logging
import threading
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


def is_working_day(day: date) -> bool:
    """Return whether *day* is a working day in mainland China.

    Public holidays are off and 调休 weekends are on. For a year the installed
    chinese_calendar has no data for, Monday to Friday is assumed, and a
    WARNING says so once per year.
    """
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        # TODO: the State Council publishes each year's holidays in November;
        # until chinese_calendar is upgraded with them, that year's holidays
        # count as working days and its 调休 weekends as days off.
        _warn_missing(day.year)
        return day.weekday() < 5


def due_at(
    assigned: datetime,
    *,
    days: int = GENERAL_DAYS,
    working_days: bool = False,
    tz: tzinfo = SHANGHAI,
) -> datetime:
    """Return the end (23:59:59 local) of the *days*-th day after *assigned*.

    "7 日内" counts from the day after the 办理单 arrives, the usual Chinese
    reading (the first day is not counted), so a form sent on Monday morning
    is due at the end of the next Monday. With *working_days* only working
    days count. A naive *assigned* is taken as UTC, as ``suqiu.clock`` does.
    The result is aware, in *tz*.
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
            if is_working_day(day):
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
        "Friday as working days; upgrade the chinesecalendar package",
        getattr(chinese_calendar, "__version__", "(unknown version)"),
        year,
    )
