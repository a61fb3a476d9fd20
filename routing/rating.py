"""Read a student's rating of an answer (满意度评价) from the first lines of a reply.

When the words disagree or cannot be read, the answer is None: staff will look.
"""

import re
import unicodedata
from typing import Literal

Rating = Literal["满意", "较满意", "不满意"]

# Only the top of a reply is the student's verdict; below it come reasons,
# greetings and, if the quote was not removed, our own rating request, which
# names all three ratings.
_LINES_READ = 3

# Where the quoted history or a signature begins, for clients whose quote
# was not removed upstream: "> …", "-----原始邮件-----", "发件人:", Gmail and
# Apple's "…写道:", "On … wrote:", "发自我的iPhone", "-- ".
_QUOTE_START = re.compile(
    r"^(?:>|-{2,}\s*(?:原始邮件|original)|发件人\s*:|from\s*:|on\s.+wrote:?$"
    r"|at\s.+wrote:?$|.*写道\s*:?$|发自我的|sent\s+from\s+my|--\s*$|—{2,}\s*$)",
    re.IGNORECASE,
)

# A line that is nothing but an option: "1", "A", "选A", "(3)", "①" (NFKC
# turns ① and full-width １ into 1). B and C follow A in the same order.
_OPTION_ONLY = re.compile(
    r"^(?:我?选(?:择)?|评价\s*:?)?\s*[(\[]?\s*(?P<option>[1-3A-Ca-c])\s*[)\]]?"
    r"\s*[.、,:;!。]?$"
)
# An option in front of words, as a student copies it from our request:
# "3 不满意", "1、满意". It must agree with the words that follow.
_OPTION_PREFIX = re.compile(
    r"^[(\[]?(?P<option>[1-3A-Ca-c])(?:[)\].、:,]\s*|\s+)(?=\S)"
)

_OPTIONS: dict[str, Rating] = {
    "1": "满意",
    "a": "满意",
    "2": "较满意",
    "b": "较满意",
    "3": "不满意",
    "c": "不满意",
}

# Words that are not ratings though they hold "满意": "满意度", and the
# request echoed back ("您是否满意", "满不满意").
_NOT_A_RATING = re.compile(r"满意度|满不满意|是否满意|满意吗|满意与否")

# "还行", "还可以" rate an answer only when they are the whole line: "还可以
# 再快一点" is a wish, not a verdict.
_SO_SO_LINE = re.compile(
    r"^我?(?:感觉|觉得)?还(?:行|可以|凑合)(?:吧|啦|了|的)?[\s.,!。~]*$"
)

# Every way of saying a rating, longest first, so that "不满意" and "较满意"
# are read whole and never as the "满意" inside them. A double negative that
# reads cleanly ("没有不满意") is satisfied; one that does not ("不是不满意")
# is left to staff.
_RATING_WORDS = re.compile(
    r"(?P<satisfied_double>没(?:有|什么)?(?:任何)?不满意?)"
    r"|(?P<unclear>不是不满意|并非不满意)"
    r"|(?P<dissatisfied>(?:很|非常|十分|特别|极其|极度)?"
    r"不(?:太|是很|是太|是特别|是非常|怎么|够|大|很)?满意"
    r"|(?:还|仍|仍然|依然|并|都|根本)?(?:没有?|未)(?:能|有|得到)?(?:被)?"
    r"(?:解决|处理好|落实))"
    r"|(?P<partial>比较满意|较满意|基本(?:上)?满意|还算满意|还比较满意|一般满意)"
    r"|(?P<satisfied>(?:非常|很|十分|特别|挺|相当|超级)?满意)"
)

# TODO: "一般" and "一般般" sit between 较满意 and 不满意 on no scale of
# the rules, and emoji (👍, 👎) are not read; both are left to staff.
_GROUP_RATINGS: dict[str, Rating | None] = {
    "satisfied_double": "满意",
    "unclear": None,
    "dissatisfied": "不满意",
    "partial": "较满意",
    "satisfied": "满意",
}


def _leading_lines(text: str) -> list[str]:
    """Return the first non-empty lines of *text*, above any quote or signature."""
    lines: list[str] = []
    for raw in unicodedata.normalize("NFKC", text).splitlines():
        line = raw.strip()
        if not line:
            continue
        if _QUOTE_START.match(line):
            break
        lines.append(line)
        if len(lines) == _LINES_READ:
            break
    return lines


def _line_ratings(line: str) -> list[Rating | None]:
    """Return every rating *line* expresses, None for an unreadable one."""
    option = _OPTION_ONLY.match(line)
    if option is not None:
        return [_OPTIONS[option.group("option").lower()]]
    if _SO_SO_LINE.match(line):
        return ["较满意"]

    prefix = _OPTION_PREFIX.match(line)
    if prefix is not None:
        line = line[prefix.end() :]

    words = _NOT_A_RATING.sub(" ", line)
    ratings: list[Rating | None] = [
        _GROUP_RATINGS[found.lastgroup]
        for found in _RATING_WORDS.finditer(words)
        if found.lastgroup is not None
    ]
    # The option counts only beside rating words ("3 不满意"); on its own in
    # front of a sentence ("2 楼热水…", "A bit…") it is no option at all.
    if prefix is not None and ratings:
        ratings.append(_OPTIONS[prefix.group("option").lower()])
    return ratings


def read_rating(text: str) -> Rating | None:
    """Return the rating the student gave in *text*, or None.

    None when no rating is written, and when the first lines say more than
    one thing ("满意" and "问题没解决"): staff read those.
    """
    found: list[Rating | None] = []
    for line in _leading_lines(text):
        found.extend(_line_ratings(line))

    ratings = set(found)
    if len(ratings) != 1:
        return None
    return ratings.pop()
