"""Seeded samples of a KB's variants, for training that must stay bounded in a large KB."""

from __future__ import annotations

import numpy as np

__all__ = ["seeded_rows"]


def seeded_rows(total: int, keep: int) -> np.ndarray:
    """`keep` of the positions 0 .. total - 1, in order (all of them when `keep` is not
    fewer). The same ones on every call: every process builds the same index."""
    if keep >= total:
        return np.arange(total)
    return np.sort(np.random.default_rng(0).choice(total, keep, replace=False))
