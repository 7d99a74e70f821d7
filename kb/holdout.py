"""Calibrating the decision from the KB itself, or from labelled questions.

From the KB itself: the articles are split into folds; in each fold, one group of
articles is pretended unknown (its questions must be handed off) and an eighth of every
other article's variants is held out (those must be answered right). An index built from
what remains answers both kinds of question, and two logistic models learn from the
outcome which top-hit features mean "right" — for THIS KB's vocabulary and density.
The answer threshold is then chosen on that curve.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from sklearn.linear_model import LogisticRegression

from kb.articles import Article
from kb.calibration import Calibration, OperatingPoint
from kb.index import CLARIFY_LIMIT, KnowledgeIndex
from kb.vector_store import VectorStore

__all__ = ["DEFAULT_OOS_RECALL", "Outcomes", "calibrate", "calibrate_labelled", "fit"]

DEFAULT_OOS_RECALL: float | None = 0.55
"""The threshold answers as much as it can while handing off at least this share of the
simulated unknown questions: the desk's target is most known questions answered right with
about half of the unknown ones handed off. Real unknown questions are handed off less
often than simulated ones when they are near-duplicates of known articles (BANKING77,
three validation splits and the test set: 47-58 % real), so the floor sits above one half.
None maximises in-scope accuracy + out-of-scope recall instead (a lost answer and a wrong
one weigh the same): on BANKING77 it hands off about 70 % and answers 4-7 points fewer
known questions right. A desk that must almost never answer wrongly sets a higher floor
(`kb calibrate --oos-recall 0.8`)."""
MIN_ANSWER_PRECISION = 0.8
"""Among the thresholds that reach the hand-off floor, those whose outright answers are
right at least this often are preferred: a desk lives with a hand-off more easily than
with a wrong answer, and a small KB's curve is coarse enough to land on a poor point."""
HOLDOUT_SHARE = 0.125
"""Of each known article's variants, the share a fold asks as questions. The fold's index
must be like the full one, whose features the threshold is applied to. With a quarter
held out (a KB of 20+ variants an article, whose classifier and perceptron then learn
from three quarters), real unknown questions were handed off at 47 % on BANKING77's
validation splits (the mean of three) and 59 % on its test set, for 55 % simulated; with
an eighth, and the rounds that gather as many questions, at 52 % and 55 %. It costs
calibration time: about 40 s instead of 19 s for BANKING77's 7,762 variants. An article of a
few variants gives one question a fold either way."""
MIN_ARTICLES = 3
"""Fewer articles and there is nothing to simulate an unknown question with."""
MIN_PER_CLASS = 3
FLAT = 0.02
CLARIFY_OOS_SHARE = 0.05
"""Fewer right (or wrong) outcomes than this and the default calibration is kept."""


@dataclass(frozen=True)
class Outcomes:
    """How an index did on known-label questions: features and what was right."""

    features: np.ndarray
    top1_right: np.ndarray
    top3_right: np.ndarray
    out_of_scope: np.ndarray
    gap_to_right: np.ndarray  # top1 score minus the right article's score (nan if absent)

    @classmethod
    def measure(
        cls, index: KnowledgeIndex, questions: Sequence[str], labels: Sequence[str | None]
    ) -> Outcomes:
        scores = index.scores(list(questions))
        if scores is None:
            raise ValueError("cannot calibrate an empty index")
        features = scores.features()
        ranked = scores.ranked(CLARIFY_LIMIT)
        ids = np.array([[index.indexed_article(i).id for i in row] for row in ranked])
        gold = np.array([label or "" for label in labels])
        top1 = ids[:, 0] == gold
        top3 = (ids == gold[:, None]).any(axis=1)
        position = {index.indexed_article(i).id: i for i in range(scores.combined.shape[1])}
        gap = np.array(
            [
                np.nan
                if g not in position
                else scores.combined[r, ranked[r, 0]] - scores.combined[r, position[g]]
                for r, g in enumerate(gold)
            ]
        )
        return cls(features, top1, top3, gold == "", gap)

    @staticmethod
    def join(parts: Sequence[Outcomes]) -> Outcomes:
        return Outcomes(
            *(
                np.concatenate([getattr(p, f) for p in parts])
                if f != "features"
                else np.vstack([p.features for p in parts])
                for f in ("features", "top1_right", "top3_right", "out_of_scope", "gap_to_right")
            )
        )


def calibrate(
    articles: Sequence[Article],
    *,
    seed: int = 0,
    folds: int = 4,
    holdout_share: float = HOLDOUT_SHARE,
    max_queries: int = 8000,
    min_queries: int = 8000,
    max_rounds: int = 24,
    min_oos_recall: float | None = DEFAULT_OOS_RECALL,
    vectors: VectorStore | None = None,
) -> Calibration:
    """Calibrate from the KB itself (see the module doc). The KB is re-split with new
    seeds (up to `max_rounds`) until `min_queries` simulated questions are gathered.
    The threshold keeps the most right answers while handing off at least `min_oos_recall`
    of the unknown questions, or, with None, maximises in-scope accuracy + recall."""
    usable = [a for a in articles if a.enabled and a.questions]
    if not usable:
        return Calibration.default()
    if len(usable) < MIN_ARTICLES or sum(len(a.questions) > 1 for a in usable) < 2:
        return replace(
            Calibration.default(),
            source=(
                f"default (kb: too small to measure: {len(usable)} articles, "
                f"{sum(len(a.questions) for a in usable)} variants)"
            ),
        )
    rng = random.Random(seed)
    folds = max(2, min(folds, len(usable)))
    per_fold = max(1, max_queries // folds)
    parts: list[Outcomes] = []
    gathered = 0
    for _ in range(max_rounds):
        rng.shuffle(usable)
        for fold in range(folds):
            questions, labels, known = _split(usable[fold::folds], usable, holdout_share, rng)
            if len(questions) > per_fold:
                chosen = sorted(rng.sample(range(len(questions)), per_fold))
                questions = [questions[i] for i in chosen]
                labels = [labels[i] for i in chosen]
            parts.append(
                Outcomes.measure(KnowledgeIndex.build(known, vectors=vectors), questions, labels)
            )
            gathered += len(questions)
        if gathered >= min_queries:
            break
    return fit(Outcomes.join(parts), source="kb", min_oos_recall=min_oos_recall)


def _split(
    unknown: Sequence[Article], usable: Sequence[Article], holdout_share: float, rng: random.Random
) -> tuple[list[str], list[str | None], list[Article]]:
    """Questions with their labels, and the articles that stay known, for one fold."""
    unknown_ids = {a.id for a in unknown}
    known: list[Article] = []
    questions: list[str] = []
    labels: list[str | None] = []
    for article in usable:
        variants = list(article.questions)
        rng.shuffle(variants)
        share = max(1, int(round(len(variants) * holdout_share)))
        if article.id in unknown_ids:  # as many questions as a known article gives: a fair mix
            asked = variants[:share]
            questions.extend(asked)
            labels.extend([None] * len(asked))
            continue
        held = min(share, len(variants) - 1)  # an article keeps at least one variant
        known.append(replace(article, questions=tuple(variants[held:])))
        questions.extend(variants[:held])
        labels.extend([article.id] * held)
    return questions, labels, known


def calibrate_labelled(
    index: KnowledgeIndex,
    questions: Sequence[str],
    labels: Sequence[str | None],
    *,
    min_oos_recall: float | None = DEFAULT_OOS_RECALL,
) -> Calibration:
    """Calibrate from labelled client questions (None = out of scope) against `index`."""
    return fit(
        Outcomes.measure(index, questions, labels), source="labelled", min_oos_recall=min_oos_recall
    )


def fit(outcomes: Outcomes, *, source: str, min_oos_recall: float | None = None) -> Calibration:
    right, right3 = outcomes.top1_right, outcomes.top3_right
    if min(right.sum(), (~right).sum()) < MIN_PER_CLASS:
        return replace(
            Calibration.default(),
            source=f"default ({source}: too few outcomes)",
            queries=len(right),
        )
    answer_w, answer_b = _logistic(outcomes.features, right)
    p_answer = _probability(outcomes.features, answer_w, answer_b)
    curve = _curve(p_answer, outcomes)
    chosen = _choose(curve, min_oos_recall)
    if min(right3.sum(), (~right3).sum()) >= MIN_PER_CLASS:
        clarify_w, clarify_b = _logistic(outcomes.features, right3)
    else:
        clarify_w, clarify_b = answer_w, answer_b
    p_clarify = _probability(outcomes.features, clarify_w, clarify_b)
    # Offer choices to at most CLARIFY_OOS_SHARE of the unknown questions the answer rule
    # hands off: a clarification must not become a way round the hand-off.
    declined = outcomes.out_of_scope & (p_answer < chosen.threshold)
    clarify_threshold = (
        float(np.quantile(p_clarify[declined], 1.0 - CLARIFY_OOS_SHARE)) if declined.any() else 1.0
    )
    near = outcomes.gap_to_right[right3 & ~right]
    margin = float(np.quantile(near, 0.8)) if near.size >= MIN_PER_CLASS else 0.08
    return Calibration(
        answer_weights=tuple(float(w) for w in answer_w),
        answer_bias=answer_b,
        answer_threshold=chosen.threshold,
        clarify_weights=tuple(float(w) for w in clarify_w),
        clarify_bias=clarify_b,
        clarify_threshold=clarify_threshold,
        margin=max(0.01, margin),
        source=source,
        queries=len(right),
        curve=tuple(_thin(curve, chosen)),
    )


def _logistic(features: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, float]:
    """Weights and bias on the RAW features (standardised for the fit, then unfolded)."""
    mean = features.mean(axis=0)
    scale = features.std(axis=0)
    scale[scale < 1e-6] = 1.0  # a constant feature (rounding aside) must not blow up
    model = LogisticRegression(C=1.0, max_iter=2000)
    model.fit((features - mean) / scale, target)
    weights = model.coef_[0] / scale
    return weights, float(model.intercept_[0] - (weights * mean).sum())


def _probability(features: np.ndarray, weights: np.ndarray, bias: float) -> np.ndarray:
    probability: np.ndarray = 1.0 / (1.0 + np.exp(-np.clip(features @ weights + bias, -60, 60)))
    return probability


def _curve(probability: np.ndarray, outcomes: Outcomes) -> list[OperatingPoint]:
    in_scope = ~outcomes.out_of_scope
    points = []
    for threshold in np.unique(np.round(np.quantile(probability, np.linspace(0, 1, 201)), 4)):
        answered = probability >= threshold
        right_answers = answered & outcomes.top1_right
        points.append(
            OperatingPoint(
                threshold=float(threshold),
                in_scope_accuracy=_share(right_answers[in_scope]),
                out_of_scope_recall=_share(~answered[outcomes.out_of_scope]),
                answer_precision=float(right_answers.sum() / answered.sum())
                if answered.any()
                else 1.0,
                handoff_share=_share(~answered),
            )
        )
    return points


def _choose(curve: list[OperatingPoint], min_oos_recall: float | None) -> OperatingPoint:
    if min_oos_recall is not None:
        enough = [p for p in curve if p.out_of_scope_recall >= min_oos_recall]
        precise = [p for p in enough if p.answer_precision >= MIN_ANSWER_PRECISION]
        if precise:  # ties: the one handing off more unknown questions
            return max(precise, key=lambda p: (p.in_scope_accuracy, p.out_of_scope_recall))
        if enough:
            return max(enough, key=lambda p: (p.in_scope_accuracy, p.answer_precision))
    best = max(p.in_scope_accuracy + p.out_of_scope_recall for p in curve)
    # The sum is flat near its top and measured on a sample: within that noise, answer more.
    near = [p for p in curve if p.in_scope_accuracy + p.out_of_scope_recall >= best - FLAT]
    return min(near, key=lambda p: p.threshold)


def _thin(curve: list[OperatingPoint], chosen: OperatingPoint) -> list[OperatingPoint]:
    """About ten points across the curve plus the chosen one, for the report."""
    step = max(1, len(curve) // 10)
    keep = {id(p): p for p in curve[::step]}
    keep[id(chosen)] = chosen
    return sorted(keep.values(), key=lambda p: p.threshold)


def _share(mask: np.ndarray) -> float:
    return float(mask.mean()) if mask.size else 0.0
