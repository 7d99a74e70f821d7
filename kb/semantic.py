"""Static word vectors: a meaning-level view beside the term space's shared words.

Clients ask "the courier never came" of an article about "card delivery": TF-IDF sees no
shared term. Each text is also given the direction of its tokens' summed vectors in a
static embedding table (WordLlama's 256-dimensional token embeddings, shipped inside its
PyPI wheel: no network, no model to run, a table look-up per token).

Only Latin-script words are embedded: on Cyrillic text the table's tokens are word
fragments, and on the Russian samples we tried an unrelated question scored like a
paraphrase. A text with no Latin word gets a zero vector, and the index then scores it
by its terms alone (kb/index.py).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources

import numpy as np
import scipy.sparse as sp
from safetensors.numpy import load_file
from tokenizers import Tokenizer

from kb.text import CYRILLIC, LATIN, MAX_QUERY_CHARS

__all__ = ["WORDS_REMEMBERED", "WordVectors", "word_vectors"]

WORDS_REMEMBERED = 50_000
"""Words whose token ids are kept (at most a few MB): a KB and its clients reuse few words."""

_BATCH_FROM = 32
"""New words from which one batch call beats encoding them one by one."""
_PACKAGE = "wordllama"
_TOKENIZER = "tokenizers/l2_supercat_tokenizer_config.json"
_TABLE = "weights/l2_supercat_256.safetensors"


class WordVectors:
    """A tokenizer and its token-vector table; `embed` gives one unit row per text."""

    def __init__(self, tokenizer: Tokenizer, table: np.ndarray) -> None:
        self._tokenizer = tokenizer
        self._table = table.astype(np.float32)
        self._ids_by_word: dict[str, list[int]] = {}

    def forget(self) -> None:
        """Drop the remembered token ids (a benchmark times a cold build)."""
        self._ids_by_word = {}

    @property
    def dimensions(self) -> int:
        return int(self._table.shape[1])

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Rows of unit length: the direction of each text's summed token vectors
        (Latin-script words only; a zero row when there are none).

        Tokens never span a space, so a text's sum is the sum of its words' sums: each
        distinct word is tokenised once (a big KB repeats a few thousand words) and the
        texts are one sparse product of word counts with the words' vectors."""
        words: dict[str, int] = {}
        indptr = [0]
        indices: list[int] = []
        for text in texts:
            indices += [words.setdefault(w, len(words)) for w in _latin_words(text)]
            indptr.append(len(indices))
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        if not words:
            return out
        sums = self._word_sums(list(words))
        if len(texts) == 1:  # a client's question: no matrix to build
            out[0] = sums[indices].sum(axis=0)
        else:
            out[:] = sp.csr_matrix((np.ones(len(indices), dtype=np.float32), indices, indptr),
                                   shape=(len(texts), len(words))) @ sums
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        norms[norms == 0.0] = 1.0
        out /= norms
        return out

    def _word_sums(self, words: list[str]) -> np.ndarray:
        """Each word's summed token vectors."""
        known = self._ids_by_word  # replaced, never cleared: safe beside another thread
        new = [w for w in words if w not in known]
        fresh = dict(zip(new, self._token_ids(new), strict=True))
        if len(known) + len(fresh) > WORDS_REMEMBERED:
            self._ids_by_word = fresh
        else:
            known.update(fresh)
        tokens = [fresh[w] if w in fresh else known[w] for w in words]
        lengths = np.fromiter(map(len, tokens), dtype=np.intp, count=len(words))
        ids = np.fromiter(itertools.chain.from_iterable(tokens), dtype=np.intp,
                          count=int(lengths.sum()))
        sums = np.zeros((len(words), self.dimensions), dtype=np.float32)
        filled = lengths > 0
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        if filled.any():
            sums[filled] = np.add.reduceat(self._table[ids], starts[filled], axis=0)
        return sums

    def _token_ids(self, words: list[str]) -> list[list[int]]:
        """Many words in one parallel batch; a few one by one (a batch call costs more)."""
        if len(words) > _BATCH_FROM:
            return [e.ids for e in self._tokenizer.encode_batch(words, add_special_tokens=False)]
        return [self._tokenizer.encode(w, add_special_tokens=False).ids for w in words]


def _latin_words(text: str) -> list[str]:
    """The text's words but those with a Cyrillic letter; none without a Latin letter."""
    text = text[:MAX_QUERY_CHARS]
    if not LATIN.search(text):
        return []
    words = text.split()
    if CYRILLIC.search(text):
        words = [w for w in words if not CYRILLIC.search(w)]
    return words


@lru_cache(maxsize=1)
def word_vectors() -> WordVectors:
    """The bundled table, read once per process (16 MB; about half a second)."""
    files = resources.files(_PACKAGE)
    tokenizer = Tokenizer.from_str(files.joinpath(_TOKENIZER).read_text(encoding="utf-8"))
    with resources.as_file(files.joinpath(_TABLE)) as path:
        table = load_file(str(path))["embedding.weight"]
    return WordVectors(tokenizer, table)
