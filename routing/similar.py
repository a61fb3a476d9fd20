"""Find appeals on one topic: many of them within a week make a major issue.

办法 三（二）: appeals that are 比较集中 go to the leading group as 重大问题.
"""

import re
from collections.abc import Iterable, Sequence
from datetime import timedelta
from functools import cache
from importlib import resources

from routing.segment import words

# Five or more similar appeals within seven days are "concentrated"; the
# rules give no number, so this is the leading group office's working figure.
MAJOR_MIN_CASES = 5
MAJOR_WINDOW = timedelta(days=7)
# Tuned on tests/test_routing.py's clustering examples: the same canteen
# price rise told in six different ways scores 0.37 to 0.86 pairwise; a
# canteen appeal on another matter, a dorm repair or a network complaint
# scores 0.18 at most against them.
DEFAULT_THRESHOLD = 0.3

# Words students use for one thing, folded to one term so that 饭堂太贵 and
# 食堂涨价 share their topic. Single characters appear only here: on their own
# they are too vague to keep.
# TODO: the folding covers the canteen, dorm and network wording seen so far;
# a topic worded in ways not listed here (a new fee, say) clusters only on
# shared words. Weighting terms by rarity (IDF) would help but needs the
# store's history, which this pure module does not see.
_SAME: dict[str, str] = {
    "饭堂": "食堂",
    "餐厅": "食堂",
    "一食堂": "食堂",
    "二食堂": "食堂",
    "三食堂": "食堂",
    "饭": "饭菜",
    "菜": "饭菜",
    "伙食": "饭菜",
    "菜品": "饭菜",
    "饭菜价格": "价格",
    "荤菜": "饭菜",
    "素菜": "饭菜",
    "青菜": "饭菜",
    "伙食费": "饭菜",
    "吃不起": "价格",
    "降价": "价格",
    "贵": "价格",
    "太贵": "价格",
    "变贵": "价格",
    "涨": "价格",
    "涨价": "价格",
    "提价": "价格",
    "上涨": "价格",
    "菜价": "价格",
    "物价": "价格",
    "价钱": "价格",
    "宿社": "宿舍",
    "寝室": "宿舍",
    "wifi": "校园网",
    "wi-fi": "校园网",
    "网速": "校园网",
    "网络": "校园网",
    "上网": "校园网",
    "断网": "校园网",
    "洗澡水": "热水",
    "奖学今": "奖学金",
    "综测": "综合测评",
    "饭卡": "一卡通",
    "水": "水",
    "电": "电",
    "网": "校园网",
    "卡": "卡顿",
    "慢": "慢",
    "偷": "被盗",
    "骗": "诈骗",
    "考": "考试",
}

# Words every appeal shares (greetings, the college, the act of asking) and
# function words would make any two appeals look alike; the list is data.
_STOPWORDS_FILE = "stopwords.txt"

# Places name where, not what: two appeals about 宿舍 may be a leak and a
# roommate quarrel. They count half.
_PLACES = frozenset(
    ("食堂", "宿舍", "教室", "教学楼", "图书馆", "学院", "班级", "班", "校区", "楼")
)
_PLACE_WEIGHT = 0.5
# An overlap over fewer than this much weight is too thin to judge: two
# three-word appeals sharing 食堂 are not yet one topic.
_OVERLAP_FLOOR = 2.0
# 太贵, 还贵, 超贵: the degree adverb carries nothing; the rest may be a folded
# single character (贵 → 价格).
_DEGREE = re.compile(r"[太还很好越更超特真挺]")

_NUMBER = re.compile(
    r"[0-9零〇一二三四五六七八九十百千万两几半]+"
    r"[个块元天周年月日号次分秒点多余位栋楼层间节份张台人遍本届级]*"
)
_CONTENT = re.compile(r"[\u4e00-\u9fffa-z]")


def topic_terms(subject: str, text: str) -> frozenset[str]:
    """Return the content words of an appeal, folded to their common forms.

    Stopwords, punctuation, numbers and greetings are dropped.
    """
    terms: set[str] = set()
    # Subject and text apart, as routing cuts them: one segmentation serves both.
    for word in [*words(subject), *words(text)]:
        if len(word) == 2 and _DEGREE.match(word):
            word = word[1]
        word = _SAME.get(word, word)
        if word in _stopwords() or not _CONTENT.search(word):
            continue
        if _NUMBER.fullmatch(word):
            continue
        if len(word) == 1 and word not in _SAME.values():
            continue
        terms.add(word)
    return frozenset(terms)


@cache
def _stopwords() -> frozenset[str]:
    """Return the stopwords shipped beside this module, read once."""
    text = resources.files("routing").joinpath(_STOPWORDS_FILE).read_text("utf-8")
    found: set[str] = set()
    for line in text.splitlines():
        found.update(line.split("#", 1)[0].split())
    return frozenset(found)


def similarity(a: frozenset[str], b: frozenset[str]) -> float:
    """Return how alike two appeals' terms are, from 0 (nothing shared) to 1.

    The mean of a weighted Jaccard (shared over all) and a weighted overlap
    (shared over the smaller set, floored): Jaccard alone punishes a one-line
    appeal beside a long letter on the same topic; overlap alone lets one
    shared word decide. Places weigh half (see ``_PLACES``), and an appeal
    of less than two words' weight never scores 1, even against itself: one
    word is too thin to call a topic.
    """
    return weighed_similarity(weight(a & b), weight(a), weight(b))


def weighed_similarity(shared: float, a_weight: float, b_weight: float) -> float:
    """``similarity`` from the weights of two appeals' terms and of the terms
    they share, for a caller that compares one appeal with many and weighs
    each once.

    Weights are sums of ones and halves, which floats hold exactly: the
    union weighs the two less the shared part, to the last bit.
    """
    if not shared:
        return 0.0
    jaccard = shared / (a_weight + b_weight - shared)
    overlap = shared / max(min(a_weight, b_weight), _OVERLAP_FLOOR)
    return (jaccard + overlap) / 2


def weight(terms: Iterable[str]) -> float:
    """Return the summed weight of *terms*."""
    return sum(_PLACE_WEIGHT if t in _PLACES else 1.0 for t in terms)


def similar_to(
    terms: frozenset[str],
    recent: Sequence[frozenset[str]],
    threshold: float = DEFAULT_THRESHOLD,
) -> list[int]:
    """Return the indices of *recent* appeals similar to *terms*, in order."""
    return [
        i for i, other in enumerate(recent) if similarity(terms, other) >= threshold
    ]


def concentrated(
    terms: frozenset[str],
    recent: Sequence[frozenset[str]],
    *,
    threshold: float = DEFAULT_THRESHOLD,
    min_cases: int = MAJOR_MIN_CASES,
) -> bool:
    """Return whether this appeal and the similar *recent* ones reach *min_cases*.

    *recent* should hold the other appeals of the last ``MAJOR_WINDOW``; the
    caller, who has the dates, chooses them.
    """
    return len(similar_to(terms, recent, threshold)) + 1 >= min_cases
