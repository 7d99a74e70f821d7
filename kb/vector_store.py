"""Sentence vectors kept, not recomputed: a restart or a live update embeds only the
texts it has not seen.

Vectors are remembered in memory by the text's hash and, given a directory, in files
there named by the model's version (another model's vectors are never mixed in). Each
write adds one segment file (0600) of the new texts only; many segments are merged into
one at load. A client's question is looked up but never remembered (`keep=False`).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import threading
import time
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from kb.encoder import Progress, SentenceEncoder, sentence_encoder

__all__ = ["REMEMBERED", "VectorStore", "memory_store"]

REMEMBERED = 200_000
"""Texts a store keeps in memory (about 400 MB at most); past that it starts afresh."""
_KEY_BYTES = 16
MERGE_FROM = 16
"""Segment files from which a load merges them into one."""


class VectorStore:
    def __init__(self, encoder: SentenceEncoder, directory: Path | None = None) -> None:
        self.encoder = encoder
        self._directory = directory
        self._known: dict[bytes, np.ndarray] = {}
        self._lock = threading.Lock()  # an index build and a reload may write at once
        self._prefix = re.sub(r"[^A-Za-z0-9.-]+", "_", encoder.version)
        if directory is not None:
            self._load(directory)

    def __len__(self) -> int:
        return len(self._known)

    def embed(
        self, texts: Sequence[str], *, keep: bool = True, progress: Progress | None = None
    ) -> np.ndarray:
        """A unit row per text; texts not seen before are encoded (and, with `keep`,
        remembered and written to the directory)."""
        keys = [_key(t) for t in texts]
        known = self._known
        missing = list(dict.fromkeys(k for k in keys if k not in known))
        fresh: dict[bytes, np.ndarray] = {}
        if missing:
            first = {k: t for k, t in zip(keys, texts, strict=True) if k not in known}
            vectors = self.encoder.encode([first[k] for k in missing], progress)
            fresh = dict(zip(missing, vectors, strict=True))
            if keep:
                self._remember(fresh)
        out = np.empty((len(texts), self.encoder.dimensions), dtype=np.float32)
        for row, key in enumerate(keys):
            vector = fresh.get(key)
            out[row] = known[key] if vector is None else vector
        return out

    def _remember(self, fresh: dict[bytes, np.ndarray]) -> None:
        with self._lock:
            if len(self._known) + len(fresh) > REMEMBERED:
                self._known = {}
            self._known.update(fresh)
            if self._directory is not None:
                self._write(self._directory, fresh)

    def _write(self, directory: Path, fresh: dict[bytes, np.ndarray]) -> None:
        """One new segment, written to a temporary file and renamed into place."""
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        keys = np.frombuffer(b"".join(fresh), dtype=np.uint8).reshape(-1, _KEY_BYTES)
        vectors = np.stack(list(fresh.values())).astype(np.float16)
        handle, temporary = tempfile.mkstemp(dir=directory, prefix=".", suffix=".npz")
        try:
            with os.fdopen(handle, "wb") as stream:  # mkstemp files are 0600
                np.savez(stream, keys=keys, vectors=vectors)
            name = f"{self._prefix}-{time.time_ns():020d}-{os.getpid()}.npz"  # sorts by age
            os.replace(temporary, directory / name)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def _load(self, directory: Path) -> None:
        segments = sorted(directory.glob(f"{self._prefix}-*.npz"))
        for segment in segments:
            try:
                with np.load(segment, allow_pickle=False) as data:
                    keys, vectors = data["keys"], data["vectors"].astype(np.float32)
            except (OSError, ValueError, KeyError):
                continue  # a torn or foreign file: its texts are simply encoded again
            raw = keys.tobytes()  # not as "S16": NumPy would drop a key's trailing zero bytes
            self._known.update(
                zip(
                    (raw[i : i + _KEY_BYTES] for i in range(0, len(raw), _KEY_BYTES)),
                    vectors,
                    strict=True,
                )
            )
        if len(segments) >= MERGE_FROM and self._known:
            self._write(directory, self._known)
            merged = max(directory.glob(f"{self._prefix}-*.npz"))
            for segment in segments:
                if segment != merged:
                    segment.unlink(missing_ok=True)


def _key(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=_KEY_BYTES).digest()


@lru_cache(maxsize=1)
def memory_store() -> VectorStore:
    """The process's store without files (calibration, benchmarks, tests)."""
    return VectorStore(sentence_encoder())
