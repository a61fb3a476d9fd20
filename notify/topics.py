"""Hot topics of a period: the words most appeals use, and groups of similar appeals.

办法 四 2 asks the quarterly analysis to find 热点、难点问题. Words come from
``routing.similar.topic_terms`` (jieba words, stopwords and numbers
dropped); groups from its ``similarity``, the measure that also finds 重大问题.
"""

import logging
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from routing.similar import DEFAULT_THRESHOLD, similarity

log = logging.getLogger(__name__)

# An appeal is compared only with the groups that share one of its rarest
# words, and with at most this many of them per word: the words that mark
# a topic are the rare ones, and the bound keeps a period of thousands of
# appeals from costing millions of comparisons.
KEY_TERMS = 4
CANDIDATES_PER_TERM = 30


@dataclass(frozen=True)
class Appeal:
    """What topic analysis needs of a case."""

    number: str
    subject: str
    terms: frozenset[str]


@dataclass(frozen=True)
class Cluster:
    """A group of similar appeals: its size, its common words, examples."""

    size: int
    terms: tuple[str, ...]  # the words most of its appeals share
    subject: str  # the first appeal's subject, as an example
    numbers: tuple[str, ...]  # the first few case numbers


@dataclass
class _Group:
    leader: frozenset[str]
    members: list[Appeal] = field(default_factory=list)


def hot_words(appeals: Sequence[Appeal], limit: int = 15) -> list[tuple[str, int]]:
    """The words used by the most appeals, with the number of appeals."""
    counts = Counter(term for appeal in appeals for term in appeal.terms)
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:limit]


def clusters(
    appeals: Sequence[Appeal],
    *,
    threshold: float = DEFAULT_THRESHOLD,
    min_size: int = 2,
    limit: int = 8,
) -> list[Cluster]:
    """Group *appeals* (in time order) by similarity; return the largest groups.

    Each appeal joins the most similar earlier group whose first appeal it
    resembles at least *threshold*, or starts a group of its own.
    """
    frequency = Counter(term for appeal in appeals for term in appeal.terms)
    groups: list[_Group] = []
    postings: dict[str, list[int]] = defaultdict(list)

    for appeal in appeals:
        # Words no other appeal uses cannot link it to anything.
        shared = sorted(
            (t for t in appeal.terms if frequency[t] > 1),
            key=lambda t: (frequency[t], t),
        )
        best: int | None = None
        best_score = threshold
        seen: set[int] = set()
        for term in shared[:KEY_TERMS]:
            for index in reversed(postings[term][-CANDIDATES_PER_TERM:]):
                if index in seen:
                    continue
                seen.add(index)
                score = similarity(appeal.terms, groups[index].leader)
                if score >= best_score:
                    best, best_score = index, score
        if best is None:
            groups.append(_Group(appeal.terms, [appeal]))
            for term in appeal.terms:
                postings[term].append(len(groups) - 1)
        else:
            groups[best].members.append(appeal)

    found = [g for g in groups if len(g.members) >= min_size]
    found.sort(key=lambda g: (-len(g.members), g.members[0].number))
    return [_describe(g) for g in found[:limit]]


def _describe(group: _Group) -> Cluster:
    counts = Counter(term for member in group.members for term in member.terms)
    common = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return Cluster(
        size=len(group.members),
        terms=tuple(term for term, _ in common[:4]),
        subject=group.members[0].subject,
        numbers=tuple(m.number for m in group.members[:5]),
    )
