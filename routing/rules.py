"""The routing rules: read a rules file, check every rule, compile it once.

The shipped default is ``routing/rules.toml``; its header explains the format.
"""

import logging
import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from routing import segment
from suqiu.errors import RoutingError

log = logging.getLogger(__name__)

# The five scope categories of the college's rules (受理范围), in their order.
CATEGORIES: tuple[str, ...] = (
    "教学管理服务",
    "评优评奖",
    "师德师风",
    "思想心理",
    "困难与建议",
)

# The seven colleges (二级学院) of the rules' hotline list.
COLLEGES: tuple[str, ...] = (
    "土木工程学院",
    "艺术设计学院",
    "经济管理学院",
    "铁道与航空学院",
    "汽车与机电学院",
    "国防科技学院",
    "教育学院",
)

# Every unit the rules name; a rule may send an appeal to any of them.
UNITS: tuple[str, ...] = (
    "大学生心理健康教育与咨询中心",
    "学生工作处",
    "保卫处",
    "教务处",
    "团委",
    "后勤管理中心",
    *COLLEGES,
    "党委办公室",
    "校长办公室",
    "提案委员会",
    "学生会权益维护部",
)

_NAME = re.compile(r"[a-z][a-z0-9_]*")
_RULE_KEYS = frozenset(
    {
        "name",
        "description",
        "category",
        "unit",
        "units",
        "terms",
        "phrases",
        "requires",
        "excludes",
        "college_unit",
    }
)
_SETTING_KEYS = frozenset({"threshold", "margin", "subject_weight", "max_topics"})
_TOP_KEYS = frozenset({"settings", "colleges", "rule"})
# A weight this large would drown every other rule; it is surely a typo.
_MAX_WEIGHT = 100.0


@dataclass(frozen=True)
class Rule:
    """One routing rule: a name, a description, and the words that make it hit."""

    name: str
    description: str  # Chinese, for staff reading explanations
    category: str
    units: tuple[str, ...]  # one unit, or several for a major issue
    terms: Mapping[str, float]  # jieba words, normalized, with weights
    phrases: Mapping[str, float]  # substrings, normalized, with weights
    requires: tuple[str, ...]  # at least one must occur, when given
    excludes: tuple[str, ...]  # none may occur
    college_unit: bool  # a named college replaces the unit (师德师风)


@dataclass(frozen=True)
class RuleSet:
    """Checked rules plus the indexes ``routing.decide.route`` reads."""

    rules: tuple[Rule, ...]
    threshold: float  # below this best score the appeal stays for triage
    margin: float  # the runner-up must be this fraction below the best
    subject_weight: float  # a subject word counts this many body words
    max_topics: int  # more confident units than this: triage
    colleges: Mapping[str, tuple[str, ...]]  # college → names students use
    source: str  # where the rules came from, for messages
    college_of: Mapping[str, str]  # any of those names → its college
    # Compiled once: word → (rule index, weight); phrase → same.
    word_index: Mapping[str, tuple[tuple[int, float], ...]]
    phrase_index: Mapping[str, tuple[tuple[int, float], ...]]
    college_pattern: re.Pattern[str]

    def rule(self, name: str) -> Rule:
        """Return the rule called *name*; KeyError if there is none."""
        for rule in self.rules:
            if rule.name == name:
                return rule
        raise KeyError(name)


def load_rules(path: Path | None = None) -> RuleSet:
    """Read, check and compile the rules at *path*, or the shipped default."""
    if path is None:
        source = "routing/rules.toml"
        try:
            data = resources.files("routing").joinpath("rules.toml").read_bytes()
        except OSError as exc:
            raise RoutingError(f"{source}：无法读取默认规则文件") from exc
    else:
        source = str(path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise RoutingError(f"{source}：无法读取规则文件：{exc}") from exc

    try:
        document = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise RoutingError(f"{source}：不是有效的 UTF-8 TOML：{exc}") from exc

    ruleset = parse_rules(document, source)
    log.debug("loaded %d routing rules from %s", len(ruleset.rules), source)
    return ruleset


def parse_rules(document: Mapping[str, Any], source: str) -> RuleSet:
    """Check a parsed rules document and compile it; *source* names it in errors."""
    _check_keys(document, _TOP_KEYS, source, "文件顶层")
    settings = _table(document.get("settings", {}), source, "[settings]")
    _check_keys(settings, _SETTING_KEYS, source, "[settings]")
    threshold = _number(settings.get("threshold", 3.0), source, "threshold")
    margin = _number(settings.get("margin", 0.25), source, "margin")
    subject_weight = _number(
        settings.get("subject_weight", 2.0), source, "subject_weight"
    )
    max_topics = settings.get("max_topics", 2)
    if threshold <= 0:
        raise RoutingError(f"{source}：[settings] threshold 必须大于 0")
    if not 0 <= margin < 1:
        raise RoutingError(f"{source}：[settings] margin 必须在 0 与 1 之间")
    if subject_weight < 1:
        raise RoutingError(f"{source}：[settings] subject_weight 不能小于 1")
    if isinstance(max_topics, bool) or not isinstance(max_topics, int):
        raise RoutingError(f"{source}：[settings] max_topics 必须是整数")
    if max_topics < 1:
        raise RoutingError(f"{source}：[settings] max_topics 不能小于 1")

    colleges = _parse_colleges(document.get("colleges", {}), source)

    raw_rules = document.get("rule", [])
    if not isinstance(raw_rules, list) or not raw_rules:
        raise RoutingError(f"{source}：没有任何 [[rule]]")
    rules: list[Rule] = []
    seen: set[str] = set()
    for position, raw in enumerate(raw_rules, start=1):
        rule = _parse_rule(raw, source, position)
        if rule.name in seen:
            raise RoutingError(f"{source}：规则 {rule.name} 重复定义")
        seen.add(rule.name)
        rules.append(rule)

    return _compile(
        rules, threshold, margin, subject_weight, max_topics, colleges, source
    )


def _parse_rule(raw: Any, source: str, position: int) -> Rule:
    """Check one ``[[rule]]`` table; errors name the rule (or its position)."""
    if not isinstance(raw, dict):
        raise RoutingError(f"{source}：第 {position} 条规则不是表")
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise RoutingError(
            f"{source}：第 {position} 条规则的 name 缺失或无效"
            "（应为小写英文、数字和下划线）"
        )
    where = f"{source}：规则 {name}"
    _check_keys(raw, _RULE_KEYS, source, f"规则 {name}")

    description = raw.get("description")
    if not isinstance(description, str) or not description.strip():
        raise RoutingError(f"{where}：缺少 description（给工作人员看的中文说明）")
    category = raw.get("category")
    if category not in CATEGORIES:
        raise RoutingError(
            f"{where}：未知类别 {category!r}，应为 {'、'.join(CATEGORIES)} 之一"
        )
    units = _parse_units(raw, where)

    terms = _weights(raw.get("terms", []), where, "terms")
    phrases = _weights(raw.get("phrases", []), where, "phrases")
    if not any(w > 0 for w in (*terms.values(), *phrases.values())):
        raise RoutingError(f"{where}：terms 与 phrases 中没有正权重的词")
    requires = _strings(raw.get("requires", []), where, "requires")
    excludes = _strings(raw.get("excludes", []), where, "excludes")
    college_unit = raw.get("college_unit", False)
    if not isinstance(college_unit, bool):
        raise RoutingError(f"{where}：college_unit 必须是 true 或 false")

    return Rule(
        name=name,
        description=description.strip(),
        category=str(category),
        units=units,
        terms=terms,
        phrases=phrases,
        requires=requires,
        excludes=excludes,
        college_unit=college_unit,
    )


def _parse_units(raw: Mapping[str, Any], where: str) -> tuple[str, ...]:
    """Return the rule's unit(s): exactly one of ``unit`` and ``units``."""
    if "unit" in raw and "units" in raw:
        raise RoutingError(f"{where}：unit 与 units 只能写一个")
    if "unit" in raw:
        named = [raw["unit"]]
    elif "units" in raw:
        named = raw["units"]
        if not isinstance(named, list) or len(set(map(str, named))) < 2:
            raise RoutingError(f"{where}：units 至少要列出两个不同的单位")
    else:
        raise RoutingError(f"{where}：缺少责任单位（unit 或 units）")

    for unit in named:
        if unit not in UNITS:
            raise RoutingError(f"{where}：未知单位 {unit!r}（单位名称须与办法一致）")
    return tuple(named)


def _parse_colleges(raw: Any, source: str) -> dict[str, tuple[str, ...]]:
    """Return college → the names students call it by (its full name first)."""
    table = _table(raw, source, "[colleges]")
    colleges: dict[str, tuple[str, ...]] = {}
    for college in COLLEGES:
        aliases = _strings(table.get(college, []), f"{source}：[colleges]", college)
        colleges[college] = tuple(dict.fromkeys((college, *aliases)))
    for key in table:
        if key not in COLLEGES:
            raise RoutingError(f"{source}：[colleges] 中 {key!r} 不是二级学院")

    owner: dict[str, str] = {}
    for college, aliases in colleges.items():
        for alias in aliases:
            if owner.setdefault(alias, college) != college:
                raise RoutingError(
                    f"{source}：[colleges] 中 {alias!r} 同时指向"
                    f"{owner[alias]}和{college}"
                )
    return colleges


def _weights(raw: Any, where: str, key: str) -> dict[str, float]:
    """Return term → weight from a table or a list of (one-line) tables."""
    tables = [raw] if isinstance(raw, dict) else raw
    if not isinstance(tables, list):
        raise RoutingError(f"{where}：{key} 必须是表或表的列表")

    weights: dict[str, float] = {}
    for table in tables:
        if not isinstance(table, dict):
            raise RoutingError(f"{where}：{key} 必须是表或表的列表")
        for term, weight in table.items():
            text = segment.normalize(term).strip()
            if not text:
                raise RoutingError(f"{where}：{key} 中有空词")
            if text in weights:
                raise RoutingError(f"{where}：{key} 中 {term!r} 重复")
            value = _number(weight, where, f"{key} {term!r}")
            if value == 0 or abs(value) > _MAX_WEIGHT:
                raise RoutingError(
                    f"{where}：{key} {term!r} 的权重 {weight!r} 无效"
                    f"（应为非零，绝对值不超过 {_MAX_WEIGHT:g}）"
                )
            weights[text] = value
    return weights


def _strings(raw: Any, where: str, key: str) -> tuple[str, ...]:
    """Return a list of non-empty strings, normalized for matching."""
    if not isinstance(raw, list) or not all(isinstance(s, str) for s in raw):
        raise RoutingError(f"{where}：{key} 必须是字符串列表")
    texts = tuple(segment.normalize(s).strip() for s in raw)
    if not all(texts):
        raise RoutingError(f"{where}：{key} 中有空字符串")
    return texts


def _number(raw: Any, where: str, what: str) -> float:
    """Return *raw* as a finite float; booleans are not numbers here."""
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise RoutingError(f"{where}：{what} 的值 {raw!r} 不是数字")
    if not math.isfinite(raw):
        raise RoutingError(f"{where}：{what} 的值 {raw!r} 不是有限数")
    return float(raw)


def _table(raw: Any, source: str, what: str) -> Mapping[str, Any]:
    """Return *raw* when it is a TOML table."""
    if not isinstance(raw, dict):
        raise RoutingError(f"{source}：{what} 必须是表")
    return raw


def _check_keys(
    table: Mapping[str, Any], allowed: frozenset[str], source: str, what: str
) -> None:
    """Refuse keys the format does not know: a misspelt key would be ignored."""
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise RoutingError(f"{source}：{what} 中有未知的键：{', '.join(unknown)}")


def _compile(
    rules: list[Rule],
    threshold: float,
    margin: float,
    subject_weight: float,
    max_topics: int,
    colleges: Mapping[str, tuple[str, ...]],
    source: str,
) -> RuleSet:
    """Build the word and phrase indexes every decision reads."""
    words: dict[str, list[tuple[int, float]]] = {}
    phrases: dict[str, list[tuple[int, float]]] = {}
    for index, rule in enumerate(rules):
        for term, weight in rule.terms.items():
            words.setdefault(term, []).append((index, weight))
        for phrase, weight in rule.phrases.items():
            phrases.setdefault(phrase, []).append((index, weight))

    # A term must come out of jieba as one token to match as a word; teaching
    # the tokenizer the terms it does not know makes the rules file the only
    # place a staff member has to edit.
    segment.add_words(words)

    # Longest names first, so 土木工程学院 wins over 土木 at the same place.
    aliases = sorted(
        {segment.normalize(a) for names in colleges.values() for a in names},
        key=len,
        reverse=True,
    )
    pattern = re.compile("|".join(re.escape(a) for a in aliases))
    names = {c: tuple(segment.normalize(a) for a in n) for c, n in colleges.items()}

    return RuleSet(
        rules=tuple(rules),
        threshold=threshold,
        margin=margin,
        subject_weight=subject_weight,
        max_topics=max_topics,
        colleges=names,
        source=source,
        college_of={a: c for c, n in names.items() for a in n},
        word_index={w: tuple(e) for w, e in words.items()},
        phrase_index={p: tuple(e) for p, e in phrases.items()},
        college_pattern=pattern,
    )
