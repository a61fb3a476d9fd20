"""The one clock every decision reads: SUQIU_NOW when set, else the system's.

Deadlines, digests and reports all ask ``now()``; tests move time by setting
SUQIU_NOW (ISO 8601 with an offset) instead of patching anything.
"""

import os
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from suqiu.errors import ConfigError

SHANGHAI = ZoneInfo("Asia/Shanghai")
_zone: tzinfo = SHANGHAI


def use_zone(zone: tzinfo) -> None:
    """Set the college's zone (``timezone`` in the configuration)."""
    global _zone
    _zone = zone


def zone() -> tzinfo:
    return _zone


def now() -> datetime:
    """Return the current time, aware, in UTC."""
    fixed = os.environ.get("SUQIU_NOW")
    if not fixed:
        return datetime.now(UTC)

    try:
        moment = datetime.fromisoformat(fixed)
    except ValueError as exc:
        raise ConfigError(f"SUQIU_NOW 不是有效的 ISO 8601 时间：{fixed!r}") from exc
    if moment.tzinfo is None:
        raise ConfigError(f"SUQIU_NOW 必须带时区偏移，例如 +08:00：{fixed!r}")
    return moment.astimezone(UTC)


def local(moment: datetime) -> datetime:
    """Return *moment* in the college's timezone (naive input counts as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(_zone)


def since(moment: datetime) -> timedelta:
    """Return how long ago *moment* was, by ``now()``."""
    return now() - moment
