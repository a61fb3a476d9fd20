"""Chinese word segmentation for routing: one quiet jieba tokenizer, loaded once.

Every routing module reads words through here, so campus terms segment alike.
"""

import logging
import threading
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

log = logging.getLogger(__name__)

# jieba's general dictionary splits these (综合/测评, 心理/咨询) or glues them
# to neighbours; the college's own words must come out whole so that a rule
# term or a topic term matches one token.
CAMPUS_WORDS: tuple[str, ...] = (
    "综合测评",
    "综测",
    "助学金",
    "奖助学金",
    "奖学金",
    "励志奖学金",
    "困难认定",
    "勤工助学",
    "助学贷款",
    "补考",
    "缓考",
    "重修",
    "选课",
    "公选课",
    "课表",
    "调课",
    "校园网",
    "断网",
    "网费",
    "热水",
    "电费",
    "跳闸",
    "报修",
    "饭卡",
    "一卡通",
    "快递驿站",
    "心理咨询",
    "心理辅导",
    "心理测评",
    "辅导员",
    "班主任",
    "宿管",
    "查寝",
    "调宿",
    "学生证",
    "团委",
    "团员",
    "团费",
    "入团",
    "志愿者",
    "志愿汇",
    "青年大学习",
    "智慧团建",
    "第二课堂",
    "三下乡",
    "实训室",
    "实训楼",
    "实训基地",
    "师德师风",
    "师德",
    "学生工作处",
    "学工处",
    "教务处",
    "保卫处",
    "后勤管理中心",
    "大学生心理健康教育与咨询中心",
    "土木工程学院",
    "艺术设计学院",
    "经济管理学院",
    "铁道与航空学院",
    "汽车与机电学院",
    "国防科技学院",
    "教育学院",
    "书记信箱",
    "校长信箱",
)

_lock = threading.Lock()
_tokenizer: Any = None  # a jieba.Tokenizer once loaded; jieba has no types


def normalize(text: str) -> str:
    """Return *text* folded for matching: full-width forms to ASCII, lower case.

    Students mix ＷｉＦｉ, WIFI and wifi; NFKC plus lower() makes them one.
    """
    return unicodedata.normalize("NFKC", text).lower()


def _load() -> Any:
    """Return the shared tokenizer, building it on first use (thread-safe)."""
    global _tokenizer
    if _tokenizer is not None:
        return _tokenizer

    with _lock:
        if _tokenizer is not None:
            return _tokenizer
        import jieba  # deferred: importing jieba alone costs a few hundred ms

        # jieba gives its logger a private stderr handler, which prints "Building
        # prefix dict" whatever the application's logging says. Without it the
        # records propagate, so they show only where the application logs DEBUG.
        jieba_log = logging.getLogger("jieba")
        console = getattr(jieba, "log_console", None)
        if console is not None:
            jieba_log.removeHandler(console)
        # jieba also pins its logger at DEBUG; let it follow the application.
        jieba_log.setLevel(logging.NOTSET)

        # A private Tokenizer keeps our user words out of jieba's module-level
        # default, which other code in the process may use as it is.
        tokenizer = jieba.Tokenizer()
        tokenizer.initialize()
        for word in CAMPUS_WORDS:
            tokenizer.add_word(word)
        log.debug("jieba loaded with %d campus words", len(CAMPUS_WORDS))
        _tokenizer = tokenizer
        return tokenizer


def add_words(extra: Iterable[str]) -> None:
    """Teach the tokenizer more whole words (rule terms jieba would split)."""
    tokenizer = _load()
    with _lock:
        for word in extra:
            word = normalize(word)
            if len(word) > 1 and not tokenizer.FREQ.get(word):
                tokenizer.add_word(word)
        _cut.cache_clear()  # cuts made with the old dictionary


def words(text: str) -> list[str]:
    """Return the words of *text* in order, normalized, without whitespace."""
    return [w for w in _cut(normalize(text)) if not w.isspace()]


def search_words(text: str) -> set[str]:
    """Return the words of *text* plus the dictionary words inside long ones.

    jieba keeps 补考时间 and 校园网络 whole; matching also needs 补考 and 网络.
    """
    tokenizer = _load()
    found: set[str] = set()
    # jieba's cut_for_search, over the cut that words() may have made already.
    for word in _cut(normalize(text)):
        if word.isspace():
            continue
        for size in (2, 3):
            if len(word) > size:
                found.update(
                    gram
                    for gram in (
                        word[i : i + size] for i in range(len(word) - size + 1)
                    )
                    if tokenizer.FREQ.get(gram)
                )
        found.add(word)
    return found


@lru_cache(maxsize=8)
def _cut(text: str) -> tuple[str, ...]:
    # Routing and topic terms read the same appeal: it is cut once for both.
    return tuple(_load().cut(text))
