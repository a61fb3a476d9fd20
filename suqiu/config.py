"""Read suqiu.toml into typed settings; every mistake names its key and file.

The file is found by ``--config``, then ``$SUQIU_CONFIG``, then
``./suqiu.toml``. Secrets never sit in the file: each ``password_env`` names
an environment variable, read only when a connection needs it.
"""

import os
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from routing.deadline import WorkCalendar
from suqiu.errors import ConfigError

SECURITIES = ("ssl", "starttls", "none")
MARK_ACTIONS = ("seen", "move", "none")
DEFAULT_IMAP_PORTS = {"ssl": 993, "starttls": 143, "none": 143}
DEFAULT_SMTP_PORTS = {"ssl": 465, "starttls": 587, "none": 25}
CHANNEL_DISPATCHERS = {"书记信箱": "党委办公室", "校长信箱": "校长办公室"}


@dataclass(frozen=True)
class Secret:
    """A password named by an environment variable, read when needed."""

    env: str | None
    where: str  # "[smtp] password_env in /etc/suqiu.toml", for messages

    def value(self) -> str | None:
        if self.env is None:
            return None
        value = os.environ.get(self.env)
        if value is None:
            raise ConfigError(f"环境变量 {self.env} 未设置（{self.where} 指定了它）")
        return value


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    security: str
    username: str | None
    password: Secret
    sender: str  # the From of every mail we send, "名字 <addr>" or "addr"
    timeout: float = 60.0
    pace_seconds: float = 1.0  # pause between mails: 163.com refuses bursts
    max_attempts: int = 12
    tls_verify: bool = True
    ca_file: str | None = None  # a CA bundle for a server with its own CA


@dataclass(frozen=True)
class MailboxSettings:
    name: str
    channel: str
    type: str  # "imap" or "maildir"
    host: str | None
    port: int | None
    security: str
    username: str | None
    password: Secret
    folder: str
    path: Path | None  # for type = "maildir"
    after: str  # what to do on the server once a mail's case is committed
    move_to: str | None
    poll_seconds: float
    idle: bool
    timeout: float
    tls_verify: bool = True
    ca_file: str | None = None


@dataclass(frozen=True)
class UnitSettings:
    name: str
    emails: tuple[str, ...]


@dataclass(frozen=True)
class IngestSettings:
    batch_size: int = 100  # mails fetched and committed together
    batch_bytes: int = 32 * 1024 * 1024  # …unless they add up to more than this
    max_part_bytes: int = 25 * 1024 * 1024  # larger parts are listed, not decoded
    acks_per_sender_per_day: int = 5
    max_attempts: int = 8  # retries of a mail whose processing failed
    # Servers whose Authentication-Results (SPF/DKIM/DMARC) we trust; when
    # any are named, answers from units and commands from staff count only
    # if one of them vouches for the sender's domain.
    trusted_authservs: tuple[str, ...] = ()
    # Raw mail is kept for ever (0), or its bytes are cleared this many days
    # after its case closed; what was read from it stays.
    keep_raw_days: int = 0


@dataclass(frozen=True)
class RoutingSettings:
    rules: Path | None = None  # None: the rules shipped for this college
    threshold: float | None = None
    deadline_days: int = 7
    working_days: bool = False


@dataclass(frozen=True)
class ReportSettings:
    """The optional [reports] table: when the digest, chase mails and reports go."""

    digest_at: time = time(8, 0)  # working days only; public holidays skipped
    chase_at: time = time(8, 0)  # 催办, working days only
    report_at: time = time(9, 0)  # monthly on the 1st, quarterly after a quarter
    soon_days: int = 2  # "due soon": the deadline falls within this many days
    supervise_after_days: int = 3  # 督办 once a case is more than this late
    # Who receives the monthly and quarterly reports; empty: the leading
    # group and the admins.
    recipients: tuple[str, ...] = ()


@dataclass(frozen=True)
class Settings:
    path: Path
    timezone: ZoneInfo
    database_url: str
    smtp: SmtpSettings | None
    mailboxes: tuple[MailboxSettings, ...]
    units: tuple[UnitSettings, ...]
    admins: tuple[str, ...]
    # 领导小组: who receives escalations; the admins when not configured.
    leading_group: tuple[str, ...] = ()
    ingest: IngestSettings = field(default_factory=IngestSettings)
    routing: RoutingSettings = field(default_factory=RoutingSettings)
    reports: ReportSettings = field(default_factory=ReportSettings)
    # Days off and make-up working days beyond (or against) chinese_calendar.
    calendar: WorkCalendar = field(default_factory=WorkCalendar)

    def unit(self, name: str) -> UnitSettings | None:
        """Return the configured unit called *name*, or None."""
        return next((unit for unit in self.units if unit.name == name), None)

    def unit_of_address(self, address: str) -> UnitSettings | None:
        """Return the unit that *address* belongs to, or None."""
        address = address.lower()
        return next((unit for unit in self.units if address in unit.emails), None)

    def is_admin(self, address: str) -> bool:
        return address.lower() in self.admins

    def own_addresses(self) -> frozenset[str]:
        """Addresses suqiu itself sends from or reads: mail from them is ours."""
        addresses = {m.username.lower() for m in self.mailboxes if m.username}
        if self.smtp is not None:
            addresses.add(sender_address(self.smtp.sender))
        return frozenset(a for a in addresses if "@" in a)


def find_path(explicit: str | Path | None) -> Path:
    """Apply the lookup order: --config, $SUQIU_CONFIG, ./suqiu.toml."""
    if explicit:
        return Path(explicit)
    from_env = os.environ.get("SUQIU_CONFIG")
    if from_env:
        return Path(from_env)
    return Path("suqiu.toml")


def load(explicit: str | Path | None = None) -> Settings:
    """Read and check the configuration file, or raise ConfigError."""
    path = find_path(explicit)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(
            f"找不到配置文件 {path}（可用 --config 或环境变量 SUQIU_CONFIG 指定）"
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"无法读取配置文件 {path}：{exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"配置文件 {path} 不是有效的 TOML：{exc}") from exc
    return parse(data, path)


def parse(data: dict[str, Any], path: Path) -> Settings:
    """Build Settings from a TOML document already read from *path*."""
    top = _Table(data, "", path)
    top.only(
        "timezone",
        "database",
        "smtp",
        "mailboxes",
        "units",
        "admins",
        "leading_group",
        "ingest",
        "routing",
        "reports",
        "calendar",
    )

    zone_name = top.text("timezone", "Asia/Shanghai")
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise top.error("timezone", f"未知的时区 {zone_name!r}") from exc

    database = top.table("database")
    database.only("url")
    database_url = database.text("url", "sqlite:///suqiu.db")

    smtp = _smtp(top.table("smtp")) if "smtp" in data else None

    mailboxes = tuple(_mailbox(t) for t in top.tables("mailboxes"))
    names = [m.name for m in mailboxes]
    for name in names:
        if names.count(name) > 1:
            raise top.error("mailboxes", f"信箱名称 {name!r} 重复")

    units = tuple(_unit(t) for t in top.tables("units"))
    admins_table = top.table("admins")
    admins_table.only("emails")
    admins = tuple(a.lower() for a in admins_table.texts("emails"))
    group_table = top.table("leading_group")
    group_table.only("emails")
    leading_group = tuple(a.lower() for a in group_table.texts("emails"))

    return Settings(
        path=path,
        timezone=zone,
        database_url=_resolve_sqlite(database_url, path),
        smtp=smtp,
        mailboxes=mailboxes,
        units=units,
        admins=admins,
        leading_group=leading_group or admins,
        ingest=_ingest(top.table("ingest")),
        routing=_routing(top.table("routing")),
        reports=_reports(top.table("reports")),
        calendar=_calendar(top.table("calendar")),
    )


def sender_address(sender: str) -> str:
    """Return the bare address of a From value like '学生工作处 <a@b.cn>'."""
    if "<" in sender and sender.rstrip().endswith(">"):
        return sender[sender.rindex("<") + 1 : -1].strip().lower()
    return sender.strip().lower()


def _smtp(table: "_Table") -> SmtpSettings:
    table.only(
        "host",
        "port",
        "security",
        "username",
        "password_env",
        "sender",
        "timeout",
        "pace_seconds",
        "max_attempts",
        "tls_verify",
        "ca_file",
    )
    security = table.choice("security", SECURITIES, "ssl")
    sender = table.text("sender")
    if "@" not in sender_address(sender):
        raise table.error("sender", f"{sender!r} 不是邮件地址")
    return SmtpSettings(
        host=table.text("host"),
        port=table.integer("port", DEFAULT_SMTP_PORTS[security]),
        security=security,
        username=table.optional_text("username"),
        password=table.secret("password_env"),
        sender=sender,
        timeout=table.number("timeout", 60.0),
        pace_seconds=table.number("pace_seconds", 1.0),
        max_attempts=table.integer("max_attempts", 12),
        tls_verify=table.boolean("tls_verify", True),
        ca_file=table.optional_text("ca_file"),
    )


def _mailbox(table: "_Table") -> MailboxSettings:
    table.only(
        "name",
        "channel",
        "type",
        "host",
        "port",
        "security",
        "username",
        "password_env",
        "folder",
        "path",
        "after",
        "move_to",
        "poll_seconds",
        "idle",
        "timeout",
        "tls_verify",
        "ca_file",
    )
    kind = table.choice("type", ("imap", "maildir"), "imap")
    security = table.choice("security", SECURITIES, "ssl")
    after = table.choice("after", MARK_ACTIONS, "seen")
    move_to = table.optional_text("move_to")
    if after == "move" and not move_to:
        raise table.error("move_to", 'after = "move" 时必须给出 move_to（目标文件夹）')

    path = table.optional_text("path")
    if kind == "maildir" and not path:
        raise table.error("path", 'type = "maildir" 时必须给出 path')
    host = table.optional_text("host")
    if kind == "imap" and not host:
        raise table.error("host", "缺少必填项")

    return MailboxSettings(
        name=table.text("name"),
        channel=table.text("channel"),
        type=kind,
        host=host,
        port=table.integer("port", DEFAULT_IMAP_PORTS[security]),
        security=security,
        username=table.optional_text("username"),
        password=table.secret("password_env"),
        folder=table.text("folder", "INBOX"),
        path=_relative_to(Path(path), table.path) if path else None,
        after=after,
        move_to=move_to,
        poll_seconds=table.number("poll_seconds", 60.0),
        idle=table.boolean("idle", True),
        timeout=table.number("timeout", 120.0),
        tls_verify=table.boolean("tls_verify", True),
        ca_file=table.optional_text("ca_file"),
    )


def _unit(table: "_Table") -> UnitSettings:
    table.only("name", "emails")
    emails = tuple(e.lower() for e in table.texts("emails"))
    for email in emails:
        if "@" not in email:
            raise table.error("emails", f"{email!r} 不是邮件地址")
    return UnitSettings(name=table.text("name"), emails=emails)


def _ingest(table: "_Table") -> IngestSettings:
    defaults = IngestSettings()
    table.only(*defaults.__dataclass_fields__)
    return IngestSettings(
        batch_size=table.integer("batch_size", defaults.batch_size),
        batch_bytes=table.integer("batch_bytes", defaults.batch_bytes),
        max_part_bytes=table.integer("max_part_bytes", defaults.max_part_bytes),
        acks_per_sender_per_day=table.integer(
            "acks_per_sender_per_day", defaults.acks_per_sender_per_day
        ),
        max_attempts=table.integer("max_attempts", defaults.max_attempts),
        trusted_authservs=tuple(s.lower() for s in table.texts("trusted_authservs")),
        keep_raw_days=table.integer("keep_raw_days", defaults.keep_raw_days),
    )


def _routing(table: "_Table") -> RoutingSettings:
    table.only("rules", "threshold", "deadline_days", "working_days")
    rules = table.optional_text("rules")
    threshold = table.number("threshold", -1.0)
    return RoutingSettings(
        rules=_relative_to(Path(rules), table.path) if rules else None,
        threshold=None if threshold < 0 else threshold,
        deadline_days=table.integer("deadline_days", 7),
        working_days=table.boolean("working_days", False),
    )


def _reports(table: "_Table") -> ReportSettings:
    defaults = ReportSettings()
    table.only(*defaults.__dataclass_fields__)
    soon_days = table.integer("soon_days", defaults.soon_days)
    if soon_days < 1:
        raise table.error("soon_days", f"应至少为 1，实际是 {soon_days}")
    supervise = table.integer("supervise_after_days", defaults.supervise_after_days)
    if supervise < 0:
        raise table.error("supervise_after_days", f"不能为负数，实际是 {supervise}")
    recipients = tuple(e.lower() for e in table.texts("recipients"))
    for email in recipients:
        if "@" not in email:
            raise table.error("recipients", f"{email!r} 不是邮件地址")
    return ReportSettings(
        digest_at=table.clock_time("digest_at", defaults.digest_at),
        chase_at=table.clock_time("chase_at", defaults.chase_at),
        report_at=table.clock_time("report_at", defaults.report_at),
        soon_days=soon_days,
        supervise_after_days=supervise,
        recipients=recipients,
    )


def _calendar(table: "_Table") -> WorkCalendar:
    table.only("days_off", "workdays")
    days_off = table.days("days_off")
    workdays = table.days("workdays")
    both = days_off & workdays
    if both:
        raise table.error(
            "workdays",
            "这些日期同时列在 days_off 中："
            + "、".join(day.isoformat() for day in sorted(both)),
        )
    return WorkCalendar(days_off=days_off, workdays=workdays)


def _relative_to(path: Path, config_path: Path) -> Path:
    """Read a relative path in the file as relative to the file's folder."""
    return path if path.is_absolute() else config_path.parent / path


def _resolve_sqlite(url: str, config_path: Path) -> str:
    prefix = "sqlite:///"
    if not url.startswith(prefix) or url == prefix + ":memory:":
        return url
    target = Path(url[len(prefix) :])
    if target.is_absolute():
        return url
    return prefix + str((config_path.parent / target).resolve())


class _Table:
    """One TOML table with typed getters whose errors name key and file."""

    def __init__(self, data: dict[str, Any], name: str, path: Path) -> None:
        self.data = data
        self.name = name
        self.path = path

    def error(self, key: str, problem: str) -> ConfigError:
        where = f"{self.name}.{key}" if self.name else key
        return ConfigError(f"配置文件 {self.path} 中的 {where}：{problem}")

    def only(self, *known: str) -> None:
        for key in self.data:
            if key not in known:
                raise self.error(key, "未知的配置项（请检查拼写）")

    def _get(self, key: str, default: Any, kinds: tuple[type, ...], what: str) -> Any:
        if key not in self.data:
            if default is _REQUIRED:
                raise self.error(key, "缺少必填项")
            return default
        value = self.data[key]
        if not isinstance(value, kinds) or (
            isinstance(value, bool) and bool not in kinds
        ):
            raise self.error(key, f"应为{what}，实际是 {value!r}")
        return value

    def text(self, key: str, default: Any = None) -> str:
        value = self._get(
            key, _REQUIRED if default is None else default, (str,), "文本"
        )
        if not value.strip():
            raise self.error(key, "不能为空")
        return str(value)

    def optional_text(self, key: str) -> str | None:
        value = self._get(key, None, (str,), "文本")
        return str(value) if value else None

    def integer(self, key: str, default: int) -> int:
        return int(self._get(key, default, (int,), "整数"))

    def number(self, key: str, default: float) -> float:
        return float(self._get(key, default, (int, float), "数字"))

    def boolean(self, key: str, default: bool) -> bool:
        return bool(self._get(key, default, (bool,), "true 或 false"))

    def choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        value = self.text(key, default)
        if value not in choices:
            raise self.error(key, f"只能是 {' | '.join(choices)}，实际是 {value!r}")
        return value

    def clock_time(self, key: str, default: time) -> time:
        """A time of day written "HH:MM", such as "08:00"."""
        value = self.text(key, default.strftime("%H:%M"))
        match = _CLOCK_TIME.fullmatch(value.strip())
        if match is None or int(match[1]) > 23 or int(match[2]) > 59:
            raise self.error(
                key, f"应为 HH:MM 格式的时刻（例如 08:00），实际是 {value!r}"
            )
        return time(int(match[1]), int(match[2]))

    def texts(self, key: str) -> list[str]:
        values = self._get(key, [], (list,), "文本列表")
        if not all(isinstance(v, str) for v in values):
            raise self.error(key, "列表中只能是文本")
        return list(values)

    def days(self, key: str) -> frozenset[date]:
        """Dates: TOML dates, "YYYY-MM-DD", or "YYYY-MM-DD..YYYY-MM-DD" for a
        run of days, both ends included."""
        days: set[date] = set()
        for value in self._get(key, [], (list,), "日期列表"):
            days.update(self._day_run(key, value))
        return frozenset(days)

    def _day_run(self, key: str, value: Any) -> list[date]:
        if isinstance(value, date) and not isinstance(value, datetime):
            return [value]
        if not isinstance(value, str):
            raise self.error(key, f"应为日期，实际是 {value!r}")
        first_text, dots, last_text = value.partition("..")
        first = self._date(key, first_text)
        last = self._date(key, last_text) if dots else first
        if last < first:
            raise self.error(key, f"日期范围 {value!r} 的结束早于开始")
        if (last - first).days > MAX_DAY_RUN:
            raise self.error(key, f"日期范围 {value!r} 超过 {MAX_DAY_RUN} 天")
        return [first + timedelta(days=n) for n in range((last - first).days + 1)]

    def _date(self, key: str, text: str) -> date:
        try:
            return date.fromisoformat(text.strip())
        except ValueError:
            raise self.error(
                key, f"应为 YYYY-MM-DD 格式的日期（例如 2027-02-08），实际是 {text!r}"
            ) from None

    def secret(self, key: str) -> Secret:
        env = self.optional_text(key)
        return Secret(env, f"配置文件 {self.path} 中的 {self.name}.{key}")

    def table(self, key: str, *, required: bool = False) -> "_Table":
        value = self._get(key, _REQUIRED if required else {}, (dict,), "表")
        return _Table(value, key, self.path)

    def tables(self, key: str) -> list["_Table"]:
        values = self._get(key, [], (list,), "表的数组（[[...]]）")
        if not all(isinstance(v, dict) for v in values):
            raise self.error(key, "应为表的数组（[[...]]）")
        return [_Table(v, f"{key}[{i}]", self.path) for i, v in enumerate(values)]


_REQUIRED: Any = object()
# A run of days off is a holiday, never months: a longer one is a typing error.
MAX_DAY_RUN = 31
_CLOCK_TIME = re.compile(r"(\d{1,2}):(\d{2})")
