"""Hot topics of a period: the words most appeals use, and groups of similar appeals.

办法 四 2 asks the quarterly analysis to find 热点、难点问题. Words come from
``routing.similar.topic_terms`` (jieba words, stopwords and numbers
dropped); groups from its ``similarity``, the measure that also finds 重大问题.
"""

import logging
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import NamedTuple

from routing.similar import DEFAULT_THRESHOLD, weighed_similarity, weight

log = logging.getLogger(__name__)

# An appeal is compared only with the groups that share one of its rarest
# words, and with at most this many of them per word: the words that mark
# a topic are the rare ones, and the bound keeps a period of thousands of
# appeals from costing millions of comparisons.
KEY_TERMS = 4
CANDIDATES_PER_TERM = 30


class Appeal(NamedTuple):
    """What topic analysis needs of a case (a tuple: a quarter has thousands)."""

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
    weight: float  # the leader's, as ``routing.similar`` weighs terms
    members: list[Appeal] = field(default_factory=list)


def hot_words(appeals: Sequence[Appeal], limit: int = 15) -> list[tuple[str, int]]:
    """The words used by the most appeals, with the number of appeals."""
    counts = Counter(chain.from_iterable(appeal.terms for appeal in appeals))
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
    frequency = Counter(chain.from_iterable(appeal.terms for appeal in appeals))
    # Each word weighed once, as the measure weighs it; a set of words
    # weighs the sum of its words.
    weight_of = {term: weight((term,)) for term in frequency}.__getitem__
    # Words are ranked once, rarest first, so that each appeal only sorts
    # numbers; words no other appeal uses rank last, as they cannot link an
    # appeal to anything.
    ranked = sorted(frequency.items(), key=lambda item: (item[1] < 2, item[1], item[0]))
    words = [term for term, _ in ranked]
    rank_of = {term: index for index, term in enumerate(words)}.__getitem__
    linking = sum(1 for _, count in ranked if count > 1)
    groups: list[_Group] = []
    postings: dict[str, list[int]] = defaultdict(list)

    for appeal in appeals:
        terms = appeal.terms
        own = sum(map(weight_of, terms))
        keys = sorted(map(rank_of, terms))[:KEY_TERMS]
        # The latest groups of each key word, rarest word first, each once.
        candidates = dict.fromkeys(
            chain.from_iterable(
                reversed(postings[words[key]][-CANDIDATES_PER_TERM:])
                for key in keys
                if key < linking
            )
        )
        best: int | None = None
        best_score = threshold
        for index in candidates:
            group = groups[index]
            shared = sum(map(weight_of, terms & group.leader))
            score = weighed_similarity(shared, own, group.weight)
            if score >= best_score:
                best, best_score = index, score
        if best is None:
            groups.append(_Group(terms, own, [appeal]))
            for term in terms:
                postings[term].append(len(groups) - 1)
        else:
            groups[best].members.append(appeal)

    found = [g for g in groups if len(g.members) >= min_size]
    found.sort(key=lambda g: (-len(g.members), g.members[0].number))
    return [_describe(g) for g in found[:limit]]


def _describe(group: _Group) -> Cluster:
    counts = Counter(chain.from_iterable(member.terms for member in group.members))
    common = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return Cluster(
        size=len(group.members),
        terms=tuple(term for term, _ in common[:4]),
        subject=group.members[0].subject,
        numbers=tuple(m.number for m in group.members[:5]),
    )
