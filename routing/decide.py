"""Route one appeal by the rules: its category, its unit, and why, for staff.

Every decision lists all the rules that hit, so a route can always be explained.
"""

import logging
from dataclasses import dataclass, replace

from routing.rules import Rule, RuleSet
from routing.segment import normalize, search_words

log = logging.getLogger(__name__)

# Who dispatches what arrives on each channel (办法 三（一）1); every other
# channel, offline ones included, goes to the leading group's office.
_DISPATCHERS = {
    "书记信箱": "党委办公室",
    "校长信箱": "校长办公室",
    "提案": "提案委员会",
}
TRIAGE_UNIT = "学生工作处"
TEACHER_CONDUCT = "师德师风"
# An explanation quotes at most this many words; more would not be read.
_SHOWN_TERMS = 5


@dataclass(frozen=True)
class RuleHit:
    """A rule that matched: its score and the words that made it."""

    rule: str
    score: float
    terms: tuple[str, ...]  # strongest contribution first


@dataclass(frozen=True)
class Decision:
    """Where an appeal goes and why; ``unit`` None means triage or major.

    A confident major issue (the winning rule names several units) has
    ``unit`` None and every unit in ``units``: the leading group picks the
    lead unit (牵头责任部门), as the rules say. A triaged appeal has no units.
    """

    category: str | None
    unit: str | None
    units: tuple[str, ...]
    rule: str | None
    score: float
    confident: bool
    hits: tuple[RuleHit, ...]  # every rule that matched, best first
    explanation: str  # one Chinese sentence for staff

    @property
    def major(self) -> bool:
        """Return whether several units must act, which makes it 重大问题."""
        return len(self.units) > 1


@dataclass(frozen=True)
class _Scored:
    """A hit with its rule and the units it resolved to for this appeal."""

    hit: RuleHit
    rule: Rule
    units: tuple[str, ...]


def dispatcher_for(channel: str) -> str:
    """Return the office that dispatches appeals arriving on *channel*."""
    return _DISPATCHERS.get(channel.strip(), TRIAGE_UNIT)


def route(
    subject: str, text: str, rules: RuleSet, *, threshold: float | None = None
) -> Decision:
    """Decide the category and unit of an appeal from its subject and body."""
    limit = rules.threshold if threshold is None else threshold
    scored = _score(subject, text, rules)
    return _teacher_conduct_first(_decide(scored, rules, limit), scored, limit)


def _teacher_conduct_first(
    decision: Decision, scored: list[_Scored], limit: float
) -> Decision:
    """Let a clear 师德师风 hit set the category, whoever wins the unit.

    A teacher who skips classes is also a teaching matter, so a topic rule
    may win the unit; but the rules make every teacher-conduct case
    confidential, and losing the category would lose that protection.
    """
    conduct = next(
        (
            s
            for s in scored
            if s.rule.category == TEACHER_CONDUCT and s.hit.score >= limit
        ),
        None,
    )
    if conduct is None or decision.category == TEACHER_CONDUCT:
        return decision
    return replace(
        decision,
        category=TEACHER_CONDUCT,
        explanation=decision.explanation
        + f"另命中师德师风规则 {conduct.rule.name}（{conduct.hit.score:.1f} 分），"
        f"类别按{TEACHER_CONDUCT}处理。",
    )


def _decide(scored: list[_Scored], rules: RuleSet, limit: float) -> Decision:
    """Apply threshold, margin and topic count to the scored rules."""
    hits = tuple(s.hit for s in scored)
    if not scored:
        return Decision(
            category=None,
            unit=None,
            units=(),
            rule=None,
            score=0.0,
            confident=False,
            hits=(),
            explanation=f"未命中任何规则，留{TRIAGE_UNIT}分拣。",
        )

    # A rule for one of a major rule's own units (campus_safety beside
    # dorm_fire_safety) is part of that issue, not a rival to it.
    best = scored[0]
    floor = best.hit.score * (1 - rules.margin)
    covered = set(best.units)
    others = [s for s in scored if not set(s.units) <= covered]
    rival = others[0] if others else None
    topics = {s.units for s in others if s.hit.score >= limit}

    if best.hit.score < limit:
        category = None
        reason = (
            f"得分最高的规则 {best.rule.name}（{_join(best.units)}）"
            f"命中{_quote(best.hit.terms)}，得分 {best.hit.score:.1f}，"
            f"低于阈值 {limit:.1f}，留{TRIAGE_UNIT}分拣"
        )
    elif len(topics) + 1 > rules.max_topics:
        # A letter listing many unrelated complaints needs a person to split
        # it; handing it all to the loudest unit would lose the rest.
        category = _category(scored, limit, floor)
        reason = (
            f"诉求同时涉及 {len(topics) + 1} 个方面的问题"
            f"（得分最高的规则 {best.rule.name}，{best.hit.score:.1f} 分），"
            f"留{TRIAGE_UNIT}分拣"
        )
    elif rival is not None and rival.hit.score > floor:
        category = _category(scored, limit, floor)
        reason = (
            f"规则 {best.rule.name}（{_join(best.units)}，{best.hit.score:.1f} 分）"
            f"与 {rival.rule.name}（{_join(rival.units)}，{rival.hit.score:.1f} 分）"
            f"得分接近，留{TRIAGE_UNIT}分拣"
        )
    else:
        decision = _confident(best, hits, limit)
        log.debug(
            "routed by %s (%.1f) to %s", best.rule.name, best.hit.score, best.units
        )
        return decision

    log.debug("left for triage: best %s (%.1f)", best.rule.name, best.hit.score)
    if category is not None:
        reason += f"，类别为{category}"
    return Decision(
        category=category,
        unit=None,
        units=(),
        rule=best.rule.name,
        score=best.hit.score,
        confident=False,
        hits=hits,
        explanation=reason + "。",
    )


def _confident(best: _Scored, hits: tuple[RuleHit, ...], limit: float) -> Decision:
    """Return the decision of a rule that won clearly."""
    rule = best.rule
    words = _quote(best.hit.terms)
    if len(best.units) > 1:
        explanation = (
            f"按规则 {rule.name}（{rule.description}）须{_join(best.units)}"
            f"共同办理，属重大问题，报领导小组研判：命中{words}，"
            f"得分 {best.hit.score:.1f}（阈值 {limit:.1f}）。"
        )
        unit = None
    else:
        explanation = (
            f"按规则 {rule.name}（{rule.description}）交{best.units[0]}："
            f"命中{words}，得分 {best.hit.score:.1f}（阈值 {limit:.1f}）。"
        )
        unit = best.units[0]

    return Decision(
        category=rule.category,
        unit=unit,
        units=best.units,
        rule=rule.name,
        score=best.hit.score,
        confident=True,
        hits=hits,
        explanation=explanation,
    )


def _category(scored: list[_Scored], limit: float, floor: float) -> str | None:
    """Return the category when the unit is unsure but the category is not.

    Two rules of one category (canteen and dorm repairs are both 教学管理服务)
    may tie on the unit and still agree on what kind of appeal it is.
    """
    best = scored[0]
    if best.hit.score < limit:
        return None
    rival = next((s for s in scored if s.rule.category != best.rule.category), None)
    if rival is not None and rival.hit.score > floor:
        return None
    return best.rule.category


def _score(subject: str, text: str, rules: RuleSet) -> list[_Scored]:
    """Score every rule against the appeal; return those above zero, best first."""
    factor = rules.subject_weight
    subject_text = normalize(subject)
    body_text = normalize(text)
    whole = f"{subject_text}\n{body_text}"
    subject_words = search_words(subject)
    body_words = search_words(text)

    # rule index → matched word or phrase → its contribution. A word counts
    # once however often it recurs: repetition says more about the writer's
    # style than about the topic.
    # TODO: terms do not understand negation, so "我没有想自杀的念头，只是想换
    # 宿舍" still scores 自杀 for mental_health; crisis.py handles negation for
    # alerts, and sending such a letter past the counselling centre errs safe.
    found: dict[int, dict[str, float]] = {}
    for word in subject_words | body_words:
        for index, weight in rules.word_index.get(word, ()):
            scale = factor if word in subject_words else 1.0
            found.setdefault(index, {})[word] = weight * scale
    for phrase, entries in rules.phrase_index.items():
        if phrase in subject_text:
            scale = factor
        elif phrase in body_text:
            scale = 1.0
        else:
            continue
        for index, weight in entries:
            found.setdefault(index, {})[phrase] = weight * scale

    scored: list[tuple[int, _Scored]] = []
    for index, contributions in found.items():
        rule = rules.rules[index]
        if rule.requires and not any(term in whole for term in rule.requires):
            continue
        if any(term in whole for term in rule.excludes):
            continue
        score = round(sum(contributions.values()), 2)
        if score <= 0:
            continue
        terms = sorted(
            (t for t, c in contributions.items() if c > 0),
            key=lambda t: (-contributions[t], t),
        )
        units = rule.units
        if rule.college_unit:
            units = _named_college(subject_text, body_text, rules) or units
        hit = RuleHit(rule=rule.name, score=score, terms=tuple(terms))
        scored.append((index, _Scored(hit=hit, rule=rule, units=units)))

    scored.sort(key=lambda pair: (-pair[1].hit.score, pair[0]))
    return [s for _, s in scored]


def _named_college(subject: str, body: str, rules: RuleSet) -> tuple[str, ...]:
    """Return the college the appeal names first (subject before body), if any.

    TODO: a student of one college may complain about a teacher of another
    (a public-course teacher, say); we take the first college named, and
    staff correct the rare case by reassigning.
    """
    for text in (subject, body):
        match = rules.college_pattern.search(text)
        if match:
            return (rules.college_of[match.group()],)
    return ()


def _quote(terms: tuple[str, ...]) -> str:
    """Return the first few terms as “a”“b”, the way staff read quotations."""
    shown = "".join(f"“{t}”" for t in terms[:_SHOWN_TERMS])
    if len(terms) > _SHOWN_TERMS:
        shown += f"等 {len(terms)} 个词"
    return shown


def _join(units: tuple[str, ...]) -> str:
    """Return units joined by the Chinese enumeration comma."""
    return "、".join(units)
