"""In-process BM25 over all passages (local Chroma has no sparse index), persisted in the data dir."""

from __future__ import annotations

import json
import logging
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

from assistant.failpoints import failpoint
from assistant.text import tokenize

logger = logging.getLogger(__name__)


def _bm25s():  # type: ignore[no-untyped-def]
    import bm25s

    # bm25s sets its own logger to DEBUG on import and logs every index build.
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return bm25s


class BM25Index:
    """bm25s over the registry's passages; rebuilt when the registry's generation moves on."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._lock = threading.Lock()
        self._retriever = None
        self._ids: list[str] = []
        self._generation = -1

    def search(
        self,
        query: str,
        n: int,
        allowed: Callable[[str], bool] | None,
        generation: int,
        corpus: Callable[[], list[tuple[str, str]]],
    ) -> list[tuple[str, float]]:
        """(passage id, BM25 score), best first, only passages with a positive score."""
        self._ensure(generation, corpus)
        tokens = tokenize(query)
        if not tokens or self._retriever is None or not self._ids:
            return []
        vocab = self._retriever.vocab_dict
        known = [t for t in tokens if t in vocab]
        if not known:
            return []
        scores = np.asarray(self._retriever.get_scores(known), dtype=np.float32)
        order = np.argsort(-scores)
        hits: list[tuple[str, float]] = []
        for i in order:
            if scores[i] <= 0 or len(hits) >= n:
                break
            pid = self._ids[i]
            if allowed is None or allowed(pid):
                hits.append((pid, float(scores[i])))
        return hits

    def rebuild(self, generation: int, corpus: list[tuple[str, str]]) -> None:
        bm25s = _bm25s()
        with self._lock:
            ids = [pid for pid, _ in corpus]
            retriever = None
            if corpus:
                retriever = bm25s.BM25()
                retriever.index([tokenize(text) or ["\x00empty"] for _, text in corpus], show_progress=False)
            self._retriever, self._ids, self._generation = retriever, ids, generation
            self._save()

    def _ensure(self, generation: int, corpus: Callable[[], list[tuple[str, str]]]) -> None:
        if self._generation == generation:
            return
        if self._load(generation):
            return
        logger.info("BM25 index is stale (generation %s); rebuilding", generation)
        self.rebuild(generation, corpus())

    def _save(self) -> None:
        tmp = self.directory.with_name(self.directory.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        if self._retriever is not None:
            self._retriever.save(str(tmp / "bm25"))
        (tmp / "state.json").write_text(json.dumps({"generation": self._generation, "ids": self._ids}))
        shutil.rmtree(self.directory, ignore_errors=True)
        failpoint("bm25.save")  # crash tests: die with the old index gone and the new one not in place
        tmp.rename(self.directory)

    def _load(self, generation: int) -> bool:
        bm25s = _bm25s()
        state_file = self.directory / "state.json"
        with self._lock:
            try:
                state = json.loads(state_file.read_text())
            except (OSError, ValueError):
                return False
            if state.get("generation") != generation:
                return False
            ids = state["ids"]
            retriever = bm25s.BM25.load(str(self.directory / "bm25")) if ids else None
            self._retriever, self._ids, self._generation = retriever, ids, generation
        return True
