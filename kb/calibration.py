"""The calibrated decision rule: how sure the index must be to answer, to offer choices,
or to hand off. Plain numbers, so it can be stored beside the articles as JSON."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["FEATURES", "Calibration", "OperatingPoint"]

FEATURES = (
    "top1",
    "top2",
    "margin",
    "best_variant",
    "centroid",
    "agreement",
    "ratio",
    "share",
    "learned",
    "learned_lead",
    "neighbour_votes",
    "entropy",
    "specificity",
    "covered",
    "meaning",
    "meaning_centroid",
    "meaning_lead",
    "classified",
    "typicality",
)
"""What the decision sees about a query's top hits (computed by `KnowledgeIndex.features`)."""


@dataclass(frozen=True)
class OperatingPoint:
    """One threshold on the calibration curve, measured on the held-out queries."""

    threshold: float
    in_scope_accuracy: float
    out_of_scope_recall: float
    answer_precision: float
    handoff_share: float = 0.0
    """Of all the held-out questions (known and unknown), the share not answered outright."""


@dataclass(frozen=True)
class Calibration:
    """Two logistic models over `FEATURES`: P(top hit is right) and P(right one is in the
    top three). Answer when the first clears `answer_threshold` and no rival is within
    `rival_gap`; offer the close hits when the second clears `clarify_threshold` and a rival
    is within `margin`; else hand off."""

    answer_weights: tuple[float, ...]
    answer_bias: float
    answer_threshold: float
    clarify_weights: tuple[float, ...]
    clarify_bias: float
    clarify_threshold: float
    margin: float
    rival_gap: float = 0.0
    """Answer only when the runner-up is at least this far behind (a fitted model weighs
    the runner-up itself, so only the default needs it)."""
    source: str = "default"
    queries: int = 0
    curve: tuple[OperatingPoint, ...] = field(default=())

    @classmethod
    def default(cls) -> Calibration:
        """A guess for an uncalibrated index: answer from ~0.45 score unless the runner-up
        is within 0.05 (then offer both); offer choices from ~0.35."""
        rest = (0.0,) * (len(FEATURES) - 1)
        return cls(
            answer_weights=(12.0, *rest),
            answer_bias=-12.0 * 0.45,
            answer_threshold=0.5,
            clarify_weights=(12.0, *rest),
            clarify_bias=-12.0 * 0.35,
            clarify_threshold=0.5,
            margin=0.08,
            rival_gap=0.05,
        )

    @property
    def chosen_point(self) -> OperatingPoint | None:
        """The curve's point at the answer threshold (None for an unmeasured default)."""
        return next((p for p in self.curve if p.threshold == self.answer_threshold), None)

    def answer_probability(self, features: Iterable[float]) -> float:
        return _logistic(self.answer_weights, self.answer_bias, features)

    def clarify_probability(self, features: Iterable[float]) -> float:
        return _logistic(self.clarify_weights, self.clarify_bias, features)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Calibration:
        values = dict(data)
        values["answer_weights"] = tuple(float(w) for w in values["answer_weights"])
        values["clarify_weights"] = tuple(float(w) for w in values["clarify_weights"])
        values["curve"] = tuple(OperatingPoint(**p) for p in values.get("curve", ()))
        if len(values["answer_weights"]) != len(FEATURES):
            raise ValueError("calibration was made for a different feature set; recalibrate")
        return cls(**values)


def _logistic(weights: Sequence[float], bias: float, features: Iterable[float]) -> float:
    z = bias + sum(w * f for w, f in zip(weights, features, strict=True))
    return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))
