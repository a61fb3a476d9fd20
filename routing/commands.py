"""Read staff commands (转交, 重大, 不予受理, 办结 …) from a reply's first lines.

Commands stand one to a line, in a block that starts within the reply's first
lines. A command that cannot be carried out as written comes back as a polite
problem.
"""

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

Verb = Literal[
    "assign", "escalate", "decline", "close", "public", "confidential", "unconfidential"
]


@dataclass(frozen=True)
class Command:
    """One staff instruction about a case, as written in a reply."""

    verb: Verb
    unit: str | None = None  # for assign: the unit's name as written
    due: date | None = None  # for escalate: the deadline the leading group set
    reason: str | None = None  # required for decline and close; a note otherwise


@dataclass(frozen=True)
class CommandProblem:
    """A command we recognised but cannot carry out as written."""

    message: str  # Simplified Chinese, polite: what was wrong and the right form


@dataclass(frozen=True)
class Order:
    """One command line as staff wrote it, and what it reads as."""

    line: str
    command: Command | CommandProblem


# Staff write the commands on top of their reply; a greeting may come first.
_LINES_READ = 3
# Commands in one block, at the most: more is a pasted list, not an order.
MAX_COMMANDS = 5

# Where the quoted mail or a signature begins (see notes/chinese-mail.md).
_QUOTE_START = re.compile(
    r"^(?:>|-{2,}\s*(?:原始邮件|original)|发件人\s*[:：]|from\s*:|on\s.+wrote:?$"
    r"|at\s.+wrote:?$|.*写道\s*[:：]?$|发自我的|sent\s+from\s+my|--\s*$|—{2,}\s*$)",
    re.IGNORECASE,
)

# Command words, longest first so that "取消保密" is not read as "保密" and
# "重大问题" keeps its "问题". Synonyms are those in the office's usage:
# 转办 and 改派 for 转交, 销号 for 办结 (the rules' word for closing).
_VERBS: dict[str, Verb] = {
    "取消保密": "unconfidential",
    "不予受理": "decline",
    "重大问题": "escalate",
    "转交": "assign",
    "转办": "assign",
    "改派": "assign",
    "重大": "escalate",
    "办结": "close",
    "销号": "close",
    "公开": "public",
    "保密": "confidential",
}
_COMMAND_LINE = re.compile(
    "^(?P<verb>" + "|".join(_VERBS) + r")(?P<rest>.*)$",
)

# Full-width digits, spaces and dashes as ASCII. Not NFKC: the reason goes
# to the student as written, and NFKC would turn its "，" into ",".
_HALF_WIDTH = str.maketrans("０１２３４５６７８９\u3000－／．", "0123456789 -/.")

# After the verb: a space or a colon, ASCII or full-width, a comma, a dash or
# a full stop. Verbs without an argument need one of these, so that
# "公开栏已张贴" or "保密工作会议" is no command.
_SEPARATOR = re.compile(r"^[\s:：,，;；\-—。.!！]+")

# Verbs that take text straight after them ("转交教务处", "办结已答复") still
# are not commands when the text is a sentence's grammar: "转交的材料…".
_PROSE_AFTER_VERB = re.compile(r"^(?:的|了|过|着|得|之|后|时|中|一下)")

# "转交给教务处", "改派至后勤管理中心".
_TO = re.compile(r"^(?:给|至|到)\s*")

# A unit is one word: what follows it on the line is a note to the unit.
_UNIT_AND_NOTE = re.compile(r"^(?P<unit>[^\s,，;；。]+)[\s,，;；。]*(?P<note>.*)$")

# Two units at once: "转交 教务处、后勤管理中心". TODO: the rules know a lead
# unit with co-units (牵头责任部门); Command carries one unit, so this is
# refused rather than half done.
_SEVERAL_UNITS = re.compile(r"[、/]")

# "截止", "截至" (both are written), "期限", "限期", "截止日期" before a date.
_DEADLINE_WORD = re.compile(r"^(?:截止|截至)(?:日期|时间)?|^(?:办结)?期限|^限期")

# A date: 2026-12-20, 2026/12/20, 2026.12.20, 2026年12月20日, 12月20日,
# 12-20, 12/20; then an optional "前" or "之前".
_DATE = re.compile(
    r"^(?:(?P<year>\d{4})\s*[-/.年]\s*)?(?P<month>\d{1,2})\s*[-/.月]\s*"
    r"(?P<day>\d{1,2})\s*[日号]?(?:之?前)?"
)

# A date written without a year that has passed this year means next year's
# when that is this close: a deadline set in late December for January.
_NEXT_YEAR_WINDOW = timedelta(days=92)

# The example deadline offered in messages: two weeks from today.
_EXAMPLE_DAYS = 14

_TRAILING = " \t.。;；,，"


def _leading_lines(text: str) -> list[str]:
    """Return the first non-empty lines of *text*, above any quote or signature."""
    lines: list[str] = []
    for raw in text.translate(_HALF_WIDTH).splitlines():
        line = raw.strip()
        if not line:
            continue
        if _QUOTE_START.match(line):
            break
        lines.append(line)
        # Each command of a block may have its reason on the line below.
        if len(lines) == _LINES_READ + 2 * MAX_COMMANDS:
            break
    return lines


def _example_due(today: date) -> str:
    """Return a deadline for examples in messages: two weeks from *today*."""
    return (today + timedelta(days=_EXAMPLE_DAYS)).isoformat()


def _assign(word: str, rest: str) -> Command | CommandProblem:
    """转交 UNIT [note]: give the case to another unit."""
    rest = _TO.sub("", rest).strip(_TRAILING)
    found = _UNIT_AND_NOTE.match(rest)
    if found is None:
        return CommandProblem(f"“{word}”后面需要写单位名称，例如：{word} 教务处")

    unit = found.group("unit")
    if _SEVERAL_UNITS.search(unit):
        return CommandProblem(
            f"“{word}”一次只能写一个单位，请写牵头办理的单位，例如：{word} 教务处"
        )
    note = found.group("note").strip(_TRAILING) or None
    return Command("assign", unit=unit, reason=note)


def _with_reason(
    verb: Verb, word: str, rest: str, example: str
) -> Command | CommandProblem:
    """不予受理 / 办结 REASON: the reason is required and told to the student."""
    reason = rest.strip(_TRAILING)
    if not reason:
        return CommandProblem(f"“{word}”后面需要写明理由，例如：{word} {example}")
    return Command(verb, reason=reason)


def _read_date(found: re.Match[str], today: date) -> date | str:
    """Return the date *found* names, or the problem with it, in Chinese."""
    month, day = int(found.group("month")), int(found.group("day"))
    year = int(found.group("year")) if found.group("year") else today.year
    try:
        due = date(year, month, day)
    except ValueError:
        return f"日期“{found.group(0).strip()}”不存在，请检查月份和日期"

    if due < today and found.group("year") is None:
        try:
            next_year = date(year + 1, month, day)
        except ValueError:  # 2月29日 of a year that has none
            next_year = due
        if next_year - today <= _NEXT_YEAR_WINDOW:
            due = next_year
    if due < today:
        return (
            f"截止日期 {due.isoformat()} 已经过去，"
            f"请写今天（{today.isoformat()}）或以后的日期"
        )
    return due


def _escalate(word: str, rest: str, today: date) -> Command | CommandProblem:
    """重大 [截止 DATE] [reason]: hand the case to the leading group."""
    example = f"例如：重大 截止 {_example_due(today)}"
    rest = rest.strip(_TRAILING)
    deadline_word = _DEADLINE_WORD.match(rest)
    if deadline_word is not None:
        rest = rest[deadline_word.end() :].lstrip(" :：为到至")

    found = _DATE.match(rest)
    if found is None:
        # "截止 下周五" or "重大 12月底": a deadline was meant but not written
        # as a date; better to ask than to drop it into the note.
        if deadline_word is not None or rest[:1].isdigit():
            return CommandProblem(
                f"没能读懂“{word}”后面的截止日期，"
                f"请写成“年-月-日”或“12月20日”的形式，{example}"
            )
        return Command("escalate", reason=rest or None)

    due = _read_date(found, today)
    if isinstance(due, str):
        return CommandProblem(f"{due}，{example}")
    note = rest[found.end() :].strip(_TRAILING) or None
    return Command("escalate", due=due, reason=note)


def _may_follow_directly(verb: Verb, rest: str) -> bool:
    """Return True when *rest* may follow *verb* with no space or colon.

    "转交教务处", "办结已答复" and "重大截止12月20日" are commands; "公开栏",
    "保密工作" and "转交的材料" are sentences.
    """
    if verb in ("assign", "decline", "close"):
        return _PROSE_AFTER_VERB.match(rest) is None
    if verb == "escalate":
        return _DEADLINE_WORD.match(rest) is not None
    return False


def _read_line(
    lines: list[str], number: int, today: date
) -> tuple[Command | CommandProblem, int] | None:
    """Return the command on line *number* and how many lines it took, or
    None when that line holds no command.

    A verb that needs a reason and stands alone ("办结" on one line) takes
    the line below as its reason, unless that line is a command itself.
    """
    found = _COMMAND_LINE.match(lines[number])
    if found is None:
        return None
    word, rest = found.group("verb"), found.group("rest")
    verb = _VERBS[word]

    separator = _SEPARATOR.match(rest)
    if separator is not None:
        rest = rest[separator.end() :]
    elif rest and not _may_follow_directly(verb, rest):
        return None

    if verb == "assign":
        return _assign(word, rest), 1
    if verb == "escalate":
        return _escalate(word, rest, today), 1
    if verb in ("decline", "close"):
        taken = 1
        following = lines[number + 1] if number + 1 < len(lines) else None
        if (
            not rest.strip(_TRAILING)
            and following is not None
            and not _COMMAND_LINE.match(following)
        ):
            rest, taken = following, 2
        example = (
            "该事项不属于学生诉求受理范围"
            if verb == "decline"
            else "已当面答复学生，问题已解决"
        )
        return _with_reason(verb, word, rest, example), taken
    return Command(verb, reason=rest.strip(_TRAILING) or None), 1


def read_commands(text: str, *, today: date) -> list[Order]:
    """Return the staff commands at the top of *text*, in the order written.

    The block starts at the first of the first few non-empty lines that begins
    with a command word, and holds the command lines that follow it directly
    (a reason on its own line below 办结 or 不予受理 belongs to it). The first
    line that is neither ends the block; the quoted mail is never read.
    """
    lines = _leading_lines(text)
    orders: list[Order] = []
    number = 0
    while number < len(lines) and len(orders) < MAX_COMMANDS:
        read = _read_line(lines, number, today)
        if read is None:
            if orders or number + 1 >= _LINES_READ:
                break  # the block has ended, or never began near the top
            number += 1
            continue
        command, taken = read
        orders.append(Order(" ".join(lines[number : number + taken]), command))
        number += taken
    return orders
