"""Measure routing: accuracy on the labelled appeals (dev and holdout), and speed.

Run ``.venv/bin/python bench/routing_accuracy.py [--split dev|holdout|all]``.
"""

import argparse
import sys
import time
import tomllib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from routing.decide import Decision, route  # noqa: E402  (after the path fix)
from routing.rules import RuleSet, load_rules  # noqa: E402

APPEALS = ROOT / "tests" / "data" / "appeals.toml"


@dataclass(frozen=True)
class Appeal:
    """One labelled appeal from tests/data/appeals.toml."""

    id: str
    split: str
    subject: str
    text: str
    category: str  # "" when no category is expected
    unit: str  # a unit, "triage" or "major"


@dataclass(frozen=True)
class Score:
    """Accuracy of one split."""

    split: str
    total: int
    unit_right: int
    category_total: int
    category_right: int
    misses: tuple[tuple[Appeal, Decision], ...]

    @property
    def unit_accuracy(self) -> float:
        """Return the share of appeals whose unit label was reproduced."""
        return self.unit_right / self.total if self.total else 0.0

    @property
    def category_accuracy(self) -> float:
        """Return the share of category-labelled appeals categorised right."""
        if not self.category_total:
            return 0.0
        return self.category_right / self.category_total


def load_appeals(path: Path = APPEALS) -> list[Appeal]:
    """Return the labelled appeals in file order."""
    with path.open("rb") as handle:
        document = tomllib.load(handle)
    return [
        Appeal(
            id=a["id"],
            split=a["split"],
            subject=a["subject"],
            text=a["text"],
            category=a["category"],
            unit=a["unit"],
        )
        for a in document["appeal"]
    ]


def label(decision: Decision) -> str:
    """Return the decision in the labels' terms: a unit, "major" or "triage"."""
    if decision.major:
        return "major"
    return decision.unit or "triage"


def score(appeals: list[Appeal], rules: RuleSet, split: str) -> Score:
    """Route every appeal of *split* and count what matches its labels."""
    chosen = [a for a in appeals if split in ("all", a.split)]
    unit_right = category_total = category_right = 0
    misses: list[tuple[Appeal, Decision]] = []
    for appeal in chosen:
        decision = route(appeal.subject, appeal.text, rules)
        unit_ok = label(decision) == appeal.unit
        category_ok = True
        if appeal.category:
            category_total += 1
            category_ok = decision.category == appeal.category
            category_right += category_ok
        unit_right += unit_ok
        if not (unit_ok and category_ok):
            misses.append((appeal, decision))
    return Score(
        split=split,
        total=len(chosen),
        unit_right=unit_right,
        category_total=category_total,
        category_right=category_right,
        misses=tuple(misses),
    )


def speed(appeals: list[Appeal], rules: RuleSet, seconds: float = 2.0) -> float:
    """Return decisions per second over the labelled texts (jieba loaded)."""
    route(appeals[0].subject, appeals[0].text, rules)
    count = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        for appeal in appeals:
            route(appeal.subject, appeal.text, rules)
        count += len(appeals)
    return count / (time.perf_counter() - started)


def report(result: Score) -> None:
    """Print one split's accuracy, its misses and their confusion."""
    print(
        f"{result.split:8} unit {result.unit_accuracy:6.1%} "
        f"({result.unit_right}/{result.total})  "
        f"category {result.category_accuracy:6.1%} "
        f"({result.category_right}/{result.category_total})"
    )
    confusion = Counter(
        (appeal.unit, label(decision))
        for appeal, decision in result.misses
        if appeal.unit != label(decision)
    )
    for (expected, got), n in confusion.most_common():
        print(f"    unit  {expected} → {got}: {n}")
    for appeal, decision in result.misses:
        print(
            f"  miss {appeal.id:11} want {appeal.unit}/{appeal.category or '-'}"
            f"  got {label(decision)}/{decision.category or '-'}"
        )
        print(f"       {decision.explanation}")


def main() -> None:
    """Print accuracy per split, the misses, and the routing speed."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--split", choices=("dev", "holdout", "all"), default=None)
    parser.add_argument("--no-speed", action="store_true")
    args = parser.parse_args()

    started = time.perf_counter()
    rules = load_rules()
    print(f"rules loaded (jieba included) in {time.perf_counter() - started:.2f}s")
    appeals = load_appeals()

    splits = [args.split] if args.split else ["dev", "holdout"]
    for split in splits:
        report(score(appeals, rules, split))
    if not args.no_speed:
        print(f"speed: {speed(appeals, rules):,.0f} decisions/s")


if __name__ == "__main__":
    main()
