"""Hybrid retrieval: dense (Chroma) + BM25, fused by reciprocal rank fusion, capped per article."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable

import numpy as np

from assistant.config import RetrievalSettings
from assistant.embedding import Embedder
from assistant.lexical import BM25Index
from assistant.models import Article, ArticleRef, Filters, Passage
from assistant.registry import Registry
from assistant.store import VectorStore, date_key

logger = logging.getLogger(__name__)


def reciprocal_rank_fusion(rankings: list[list[str]], k: int) -> dict[str, float]:
    """Cormack et al. (2009): score = sum over rankings of 1 / (k + rank)."""
    scores: dict[str, float] = defaultdict(float)
    for ranking in rankings:
        for rank, pid in enumerate(ranking, start=1):
            scores[pid] += 1.0 / (k + rank)
    return dict(scores)


def cap_per_article(
    ranked: list[str], article_of: Callable[[str], str], cap: int, k: int, must: Iterable[str] = ()
) -> list[str]:
    """Choose k passages, in ranked order, so that a question spanning articles sees each of them.

    First the `must` passages (each retriever's head), then the best passage of each distinct article
    (up to half of k), then the rest of the ranking; never more than `cap` passages of one article.
    """
    chosen: set[str] = set()
    counts: dict[str, int] = defaultdict(int)
    for pid in must:
        aid = article_of(pid)
        if len(chosen) < k and counts[aid] < cap and pid not in chosen:
            counts[aid] += 1
            chosen.add(pid)
    for pid in ranked:
        if len(chosen) >= max(1, k // 2):
            break
        aid = article_of(pid)
        if counts[aid] == 0:
            counts[aid] = 1
            chosen.add(pid)
    for pid in ranked:
        if len(chosen) >= k:
            break
        aid = article_of(pid)
        if pid not in chosen and counts[aid] < cap:
            counts[aid] += 1
            chosen.add(pid)
    return [pid for pid in ranked if pid in chosen]


class Retriever:
    def __init__(
        self,
        settings: RetrievalSettings,
        registry: Registry,
        vectors: VectorStore,
        bm25: BM25Index,
        embedder: Embedder,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.vectors = vectors
        self.bm25 = bm25
        self.embedder = embedder
        self._articles: dict[str, Article] = {}
        self._passage_article: dict[str, tuple[str, int, int]] = {}
        self._generation = -1
        # One retrieval sees one generation of the caches: without this, a refresh by another thread
        # (an ingest or delete finishing) swapped them mid-retrieval and raised KeyError
        # (found by tests/reliability/test_concurrency.py).
        self._cache_lock = threading.RLock()

    def retrieve(
        self,
        question: str,
        k: int | None = None,
        filters: Filters | None = None,
        mode: str | None = None,
        as_of: dt.date | None = None,  # unused here: the time prior (issue 9) reads it
    ) -> list[Passage]:
        with self._cache_lock:
            return self._retrieve(question, k, filters, mode)

    def _retrieve(
        self, question: str, k: int | None, filters: Filters | None, mode: str | None
    ) -> list[Passage]:
        k = k or self.settings.k
        mode = mode or self.settings.mode
        if mode not in ("hybrid", "dense", "bm25"):
            raise ValueError(f"retrieval mode must be hybrid, dense or bm25, not {mode!r}")
        self._refresh()
        if not self._passage_article:
            return []
        n = max(self.settings.candidates, k)
        query_vec: np.ndarray | None = None
        rankings: list[list[str]] = []
        dense: dict[str, float] = {}
        lexical: dict[str, float] = {}
        if mode in ("hybrid", "dense"):
            query_vec = self.embedder.embed_query(question)
            hits = [
                (pid, s)
                for pid, s in self.vectors.search(query_vec, n, filters)
                if pid in self._passage_article
            ]
            dense = dict(hits)
            rankings.append([pid for pid, _ in hits])
        if mode in ("hybrid", "bm25"):
            allowed = None if filters is None or filters.is_empty() else self._filter_fn(filters)
            # the cached generation, not the registry's: a retrieval must not refresh the caches half-way
            hits = [
                (pid, s)
                for pid, s in self.bm25.search(question, n, allowed, self._generation, self._bm25_corpus)
                if pid in self._passage_article  # the index may be ahead of this retrieval's caches
            ]
            lexical = dict(hits)
            rankings.append([pid for pid, _ in hits])
        fused = reciprocal_rank_fusion(rankings, self.settings.rrf_k)
        ranked = sorted(fused, key=lambda pid: (-fused[pid], -dense.get(pid, 0.0)))
        # Each retriever's head is kept whatever the other thinks: RRF alone buries a passage that
        # one retriever ranks near the top and the other misses entirely.
        head = max(1, k // 3)
        must = [pid for ranking in rankings for pid in ranking[:head]]
        must.sort(key=lambda pid: -fused[pid])
        chosen = cap_per_article(
            ranked, lambda pid: self._passage_article[pid][0], self.settings.per_article, k, must
        )
        if query_vec is None and chosen:
            query_vec = self.embedder.embed_query(question)
        missing = [pid for pid in chosen if pid not in dense]
        if missing and query_vec is not None:
            for pid, vec in self.vectors.embeddings(missing).items():
                dense[pid] = float(np.dot(vec, query_vec))
        return [self._passage(pid, fused[pid], dense.get(pid), lexical.get(pid)) for pid in chosen]

    def _passage(self, pid: str, score: float, dense: float | None, lexical: float | None) -> Passage:
        aid, start, end = self._passage_article[pid]
        article = self._articles[aid]
        return Passage(
            **ArticleRef.of(article).model_dump(),
            id=pid,
            text=article.text[start:end],
            start=start,
            end=end,
            score=score,
            dense_score=dense,
            bm25_score=lexical,
        )

    def _filter_fn(self, filters: Filters) -> Callable[[str], bool]:
        since, until = date_key(filters.since), date_key(filters.until)
        sources, ids = set(filters.sources), set(filters.article_ids)

        def allowed(pid: str) -> bool:
            if pid not in self._passage_article:  # newer than this retrieval's caches
                return False
            article = self._articles[self._passage_article[pid][0]]
            day = date_key(article.published)
            if (since and day < since) or (until and not 0 < day <= until):
                return False
            if sources and article.source not in sources:
                return False
            return not (ids and article.id not in ids)

        return allowed

    def _bm25_corpus(self) -> list[tuple[str, str]]:
        return [(pid, self._articles[aid].text[s:e]) for pid, (aid, s, e) in self._passage_article.items()]

    def _refresh(self) -> None:
        """Reload the article cache when another ingest or delete (in any process) changed the registry."""
        generation = self.registry.generation()
        if generation == self._generation:
            return
        articles = {a.id: a for a in self.registry.articles()}
        # Two reads, and a writer may commit between them: keep only passages of articles read.
        self._passage_article = {
            pid: (aid, s, e) for pid, aid, s, e in self.registry.all_passages() if aid in articles
        }
        self._articles = articles
        self._generation = generation

    def rebuild_lexical(self) -> None:
        """Bring the BM25 index up to the registry (incrementally) and persist it."""
        with self._cache_lock:
            self.bm25.refresh(self.registry.generation(), self._bm25_corpus)
