"""Measuring an index on labelled questions (None = out of scope, must be handed off).

The figures follow the usual out-of-scope intent-detection convention: an in-scope
question counts as right when it is not handed off and the first hit is its article (an
answer, or a clarification offering it first); an out-of-scope question counts as right
only when it is handed off.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from kb.index import Decision, KnowledgeIndex, Match

__all__ = ["Evaluation", "evaluate"]


@dataclass
class Evaluation:
    in_scope: int = 0
    in_scope_right: int = 0
    answered_right: int = 0
    answered_wrong: int = 0
    clarified: int = 0
    clarified_containing: int = 0
    in_scope_handed_off: int = 0
    out_of_scope: int = 0
    out_of_scope_handed_off: int = 0
    out_of_scope_answered: int = 0
    confusion: Counter[tuple[str, str]] = field(default_factory=Counter)
    errors_by_article: Counter[str] = field(default_factory=Counter)
    questions_by_article: Counter[str] = field(default_factory=Counter)

    @property
    def in_scope_accuracy(self) -> float:
        return self.in_scope_right / self.in_scope if self.in_scope else 0.0

    @property
    def out_of_scope_recall(self) -> float:
        return self.out_of_scope_handed_off / self.out_of_scope if self.out_of_scope else 0.0

    @property
    def out_of_scope_precision(self) -> float:
        handed_off = self.out_of_scope_handed_off + self.in_scope_handed_off
        return self.out_of_scope_handed_off / handed_off if handed_off else 0.0

    @property
    def answer_precision(self) -> float:
        """Of the questions answered outright, the share answered with the right article."""
        answered = self.answered_right + self.answered_wrong + self.out_of_scope_answered
        return self.answered_right / answered if answered else 0.0

    def worst_articles(self, limit: int = 5) -> list[tuple[str, int, int, list[tuple[str, int]]]]:
        """(article, errors, questions, [(what it was taken for, times)]) — worst first."""
        rows = []
        for article, errors in self.errors_by_article.most_common(limit):
            taken_for = Counter(
                {got: n for (gold, got), n in self.confusion.items() if gold == article}
            )
            rows.append(
                (article, errors, self.questions_by_article[article], taken_for.most_common(3))
            )
        return rows

    def add(self, gold: str | None, match: Match) -> None:
        first = match.hits[0].article.id if match.hits else None
        handed_off = match.decision is Decision.HANDOFF
        if gold is None:
            self.out_of_scope += 1
            self.out_of_scope_handed_off += handed_off
            self.out_of_scope_answered += match.decision is Decision.ANSWER
            return
        self.in_scope += 1
        self.questions_by_article[gold] += 1
        right = not handed_off and first == gold
        self.in_scope_right += right
        if match.decision is Decision.ANSWER:
            self.answered_right += first == gold
            self.answered_wrong += first != gold
        elif match.decision is Decision.CLARIFY:
            self.clarified += 1
            self.clarified_containing += any(h.article.id == gold for h in match.hits)
        else:
            self.in_scope_handed_off += 1
        if not right:
            self.errors_by_article[gold] += 1
            self.confusion[(gold, "handoff" if handed_off else str(first))] += 1


def evaluate(
    index: KnowledgeIndex, questions: Sequence[str], labels: Sequence[str | None]
) -> Evaluation:
    result = Evaluation()
    for gold, match in zip(labels, index.decide_many(questions), strict=True):
        result.add(gold, match)
    return result
