"""Hybrid retrieval: dense (Chroma) + BM25, fused by reciprocal rank fusion, reranked, capped per article.

Stage 1 fuses each retriever's candidates by rank (RRF). Stage 2 (``retrieval.rerank``) rescores
the best ``retrieval.rerank_candidates`` of them (assistant.retrieval.rerank) with a soft time prior
(assistant.retrieval.timeframe): passages of articles published in or near the moment the question is
about rank higher, undated articles are neither helped nor hurt, and nothing is filtered out.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable

import numpy as np

from assistant.config import RetrievalSettings
from assistant.library.bm25 import BM25Index
from assistant.library.catalogue import Catalogue, PassageFilter
from assistant.library.embedding import Embedder
from assistant.library.registry import Registry
from assistant.library.vectors import VectorStore
from assistant.models import Article, ArticleRef, Filters, Passage
from assistant.retrieval.rerank import Candidate, FeatureReranker, FeatureWeights, Reranker
from assistant.retrieval.timeframe import TimeFrame, days_outside, resolve, time_prior
from assistant.text import sentence_spans

logger = logging.getLogger(__name__)

# BM25 scores are read this deep so that dense-only candidates get theirs for the second stage.
_LEXICAL_POOL = 1000
# How far around a passage its window looks for whole sentences.
_WINDOW_CHARS = 600


def reciprocal_rank_fusion(rankings: list[list[str]], k: int) -> dict[str, float]:
    """Cormack et al. (2009): score = sum over rankings of 1 / (k + rank)."""
    scores: dict[str, float] = defaultdict(float)
    for ranking in rankings:
        for rank, pid in enumerate(ranking, start=1):
            scores[pid] += 1.0 / (k + rank)
    return dict(scores)


def _touch(text: str, a: tuple[int, int], b: tuple[int, int]) -> bool:
    """Two spans of one text overlap, or only whitespace lies between them."""
    gap_start, gap_end = min(a[1], b[1]), max(a[0], b[0])
    return gap_end <= gap_start or not text[gap_start:gap_end].strip()


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
        # The registry as this process last read it (assistant.catalogue): swapped whole on refresh.
        self._catalogue = Catalogue()
        self._articles: dict[str, Article] = self._catalogue.articles
        self._passage_article: dict[str, tuple[str, int, int]] = self._catalogue.passages
        self._generation = -1
        # The registry generation the vector store's view is known to include (it was opened now).
        self._store_generation = registry.generation()
        # Filtered dense search asks this retriever which passages pass (no Chroma metadata filter).
        vectors.resolve_filters = self._filter_fn
        # One retrieval sees one generation of the caches: without this, a refresh by another thread
        # (an ingest or delete finishing) swapped them mid-retrieval and raised KeyError
        # (found by tests/reliability/test_concurrency.py).
        self._cache_lock = threading.RLock()
        self._reranker: Reranker | None = None
        self._reranker_lock = threading.Lock()

    def retrieve(
        self,
        question: str,
        k: int | None = None,
        filters: Filters | None = None,
        mode: str | None = None,
        as_of: dt.date | None = None,
        rerank: bool | None = None,
    ) -> list[Passage]:
        """The k passages that best answer `question`, best first.

        `as_of` is the moment the question is asked: relative expressions ("this week", "the
        latest") are resolved against it and articles published near it rank higher. Without it,
        only a question that names a moment gets a time prior, resolved against the newest
        article in the library. `rerank` overrides ``retrieval.rerank`` for this call.
        """
        with self._cache_lock:
            return self._retrieve(question, k, filters, mode, as_of, rerank)

    def _retrieve(
        self,
        question: str,
        k: int | None,
        filters: Filters | None,
        mode: str | None,
        as_of: dt.date | None,
        rerank: bool | None,
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
        allowed = None if filters is None or filters.is_empty() else self._filter_fn(filters)
        if mode in ("hybrid", "bm25"):
            hits = self._lexical_hits(question, max(n, _LEXICAL_POOL), allowed)
            lexical = dict(hits)
            rankings.append([pid for pid, _ in hits[:n]])
        fused = reciprocal_rank_fusion(rankings, self.settings.rrf_k)
        ranked = sorted(fused, key=lambda pid: (-fused[pid], -dense.get(pid, 0.0)))
        frame = self.time_frame(question, as_of)
        rerank = (self.settings.rerank if rerank is None else rerank) and mode == "hybrid"
        if rerank or frame is not None:
            if query_vec is None:
                query_vec = self.embedder.embed_query(question)
            pool = ranked[: max(self.settings.rerank_candidates, k)]
            if mode == "hybrid" and not lexical:
                lexical = dict(self._lexical_hits(question, _LEXICAL_POOL, allowed))
            self._fill_dense(pool, dense, query_vec)
            scores = self._second_stage(question, pool, dense, lexical, fused, frame, rerank)
            pool.sort(key=lambda pid: -scores[pid])
            ranked = pool + ranked[len(pool) :]
            fused = {**fused, **scores}
            # The second stage already weighs both retrievers' scores; forcing each one's head
            # back in on top of it cost context@2000 and hit@10 on RealTime QA.
            must: list[str] = []
        else:
            # Each retriever's head is kept whatever the other thinks: RRF alone buries a passage
            # that one retriever ranks near the top and the other misses entirely.
            head = max(1, k // 3)
            must = [pid for ranking in rankings for pid in ranking[:head]]
            must.sort(key=lambda pid: -fused[pid])
        merge = self.settings.merge_adjacent
        chosen = cap_per_article(
            ranked,
            lambda pid: self._passage_article[pid][0],
            self.settings.per_article,
            2 * k if merge else k,
            must,
        )
        spans = self._windows(chosen)
        if merge:
            chosen, spans = self._merged(chosen, spans, k)
        if query_vec is None and chosen:
            query_vec = self.embedder.embed_query(question)
        if query_vec is not None:
            self._fill_dense(chosen, dense, query_vec)
        # How far each article lies outside the window the question names, judged only against a
        # moment the caller gave: resolved against the newest article, "this week" is a guess.
        asked = frame if as_of is not None else None
        return [
            self._passage(pid, spans[pid], fused[pid], dense.get(pid), lexical.get(pid), asked)
            for pid in chosen
        ]

    def _windows(self, chosen: list[str]) -> dict[str, tuple[int, int]]:
        """Each chosen passage widened by ``retrieval.window_sentences`` whole sentences on each side.

        Passages are indexed small, so that a match is precise, and returned in their context: the
        sentence before often names who "he" is, the one after often holds the answer the matching
        sentence leads up to. A window does not reach past another chosen passage of its article that
        lies wholly before or after it.
        """
        n = self.settings.window_sentences
        cores = {pid: self._passage_article[pid] for pid in chosen}
        if n == 0:
            return {pid: (s, e) for pid, (_, s, e) in cores.items()}
        out: dict[str, tuple[int, int]] = {}
        for pid, (aid, start, end) in cores.items():
            text = self._articles[aid].text
            others = [(s, e) for other, (a, s, e) in cores.items() if a == aid and other != pid]
            # Only passages wholly before or after this one bound it: one that overlaps it (chunking
            # repeats a sentence) does not, since stopping there cost the top passage its context
            # (RealTime QA top passage 0.609 -> 0.587).
            floor = max([e for s, e in others if e <= start], default=0)
            ceiling = min([s for s, e in others if s >= end], default=len(text))
            lo = max(floor, start - _WINDOW_CHARS)
            before = sentence_spans(text, lo, start)
            if lo > floor:
                before = before[1:]  # the first one may begin before the reach
            hi = min(ceiling, end + _WINDOW_CHARS)
            after = sentence_spans(text, end, hi)
            if hi < ceiling:
                after = after[:-1]  # the last one may run past it
            out[pid] = (
                before[-min(n, len(before))][0] if before else start,
                after[min(n, len(after)) - 1][1] if after else end,
            )
        return out

    def _merged(
        self, chosen: list[str], spans: dict[str, tuple[int, int]], k: int
    ) -> tuple[list[str], dict[str, tuple[int, int]]]:
        """Passages of one article whose windows overlap or touch, as one passage: the best-ranked
        one's id and scores over the union of their spans, at its rank; the first k of them.

        Windows make neighbouring passages repeat each other's sentences, and two halves of one
        paragraph read as one: the context holds each sentence once and the answer its neighbours.
        """
        out: list[str] = []
        merged: dict[str, tuple[int, int]] = {}
        for pid in chosen:
            aid = self._passage_article[pid][0]
            text = self._articles[aid].text
            span = spans[pid]
            into = None
            for kept in list(out):
                if self._passage_article[kept][0] == aid and _touch(text, merged[kept], span):
                    if into is None:
                        into = kept
                    else:  # the new span bridges two kept passages: the lower-ranked one joins
                        out.remove(kept)
                        span = merged.pop(kept)
                    merged[into] = (min(merged[into][0], span[0]), max(merged[into][1], span[1]))
                    span = merged[into]
            if into is None and len(out) < k:
                out.append(pid)
                merged[pid] = span
        return out, merged

    def time_frame(self, question: str, as_of: dt.date | None) -> TimeFrame | None:
        """The frame the time prior uses, or None when the question gets no time prior.

        With an as_of every question gets one (articles near it are preferred); without one only
        a question naming a moment does, resolved against the newest article in the library.
        """
        if as_of is not None:
            return resolve(question, as_of)
        newest = self._catalogue.newest
        frame = resolve(question, newest or dt.date.today())
        return frame if frame.expression else None

    def _second_stage(
        self,
        question: str,
        pool: list[str],
        dense: dict[str, float],
        lexical: dict[str, float],
        fused: dict[str, float],
        frame: TimeFrame | None,
        rerank: bool,
    ) -> dict[str, float]:
        """Stage-2 scores of the pool: the reranker's, or (rerank off) RRF plus the time prior."""
        priors = self._centred_priors(pool, frame)
        if not rerank:
            # Without the reranker the prior moves a passage by up to a few RRF ranks.
            span = 1.0 / (self.settings.rrf_k + 1)
            return {pid: fused[pid] + span * self.settings.time_weight * priors[pid] for pid in pool}
        candidates = []
        for pid in pool:
            aid, start, end = self._passage_article[pid]
            article = self._articles[aid]
            candidates.append(
                Candidate(
                    text=article.text[start:end],
                    title=article.title,
                    dense=dense.get(pid, 0.0),
                    lexical=lexical.get(pid, 0.0),
                    lead=start == 0,
                    time=priors[pid],
                )
            )
        scores = self.reranker.scores(question, candidates)
        return {pid: float(score) for pid, score in zip(pool, scores, strict=True)}

    def _centred_priors(self, pool: list[str], frame: TimeFrame | None) -> dict[str, float]:
        """Time prior of each passage's article minus the mean over the dated ones (undated: 0)."""
        if frame is None:
            return dict.fromkeys(pool, 0.0)
        raw: dict[str, float | None] = {}
        for pid in pool:
            published = self._articles[self._passage_article[pid][0]].published
            raw[pid] = (
                None if published is None else time_prior(published, frame, self.settings.time_scale_days)
            )
        dated = [v for v in raw.values() if v is not None]
        mean = sum(dated) / len(dated) if dated else 0.0
        return {pid: 0.0 if v is None else v - mean for pid, v in raw.items()}

    @property
    def reranker(self) -> Reranker:
        with self._reranker_lock:
            if self._reranker is None:
                self._reranker = FeatureReranker(FeatureWeights(time=self.settings.time_weight))
            return self._reranker

    def _lexical_hits(
        self, question: str, n: int, allowed: Callable[[str], bool] | None
    ) -> list[tuple[str, float]]:
        # the cached generation, not the registry's: a retrieval must not refresh the caches half-way;
        # the index may still be ahead of them, so its newer passages are dropped here
        if isinstance(allowed, PassageFilter):  # a numpy mask over the index, not a call per passage
            hits = self.bm25.search(
                question, n, None, self._generation, self._bm25_corpus, articles=allowed.articles
            )
        else:
            hits = self.bm25.search(question, n, allowed, self._generation, self._bm25_corpus)
        return [(pid, s) for pid, s in hits if pid in self._passage_article]

    def _fill_dense(self, pids: list[str], dense: dict[str, float], query_vec: np.ndarray) -> None:
        missing = [pid for pid in pids if pid not in dense]
        if missing:
            for pid, vec in self.vectors.embeddings(missing).items():
                dense[pid] = float(np.dot(vec, query_vec))

    def _passage(
        self,
        pid: str,
        span: tuple[int, int],
        score: float,
        dense: float | None,
        lexical: float | None,
        frame: TimeFrame | None = None,
    ) -> Passage:
        aid = self._passage_article[pid][0]
        start, end = span
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
            days_outside=days_outside(article.published, frame),
            days_before=(frame.as_of - article.published).days
            if frame is not None and article.published is not None
            else None,
        )

    def _filter_fn(self, filters: Filters) -> PassageFilter:
        """The passages of the cached snapshot that pass `filters`: callable as ``allowed(pid)``, with
        ``.articles`` (the allowed article ids) and ``.passages`` (their passage ids)."""
        with self._cache_lock:
            if self._generation == -1:  # asked before any retrieval (a direct dense search)
                self._refresh()
            return self._catalogue.filter(filters)

    def _bm25_corpus(self) -> list[tuple[str, str]]:
        return [(pid, self._articles[aid].text[s:e]) for pid, (aid, s, e) in self._passage_article.items()]

    def _refresh(self) -> None:
        """Bring the article cache up to the registry when another ingest or delete (in any process)
        changed it: only the articles added or changed since are read (assistant.catalogue)."""
        with self._cache_lock:
            catalogue, change = self._catalogue.refreshed(self.registry)
            if catalogue is self._catalogue:
                return
            # Cached vectors never outlive the article version they were read for.
            if change.full or change.empty:  # first read, or a repair rewrote vectors
                self.vectors.forget_all()
            else:
                self.vectors.forget(change.stale_passages)
            self._sync_store(catalogue.generation)
            self._catalogue = catalogue
            self._articles = catalogue.articles
            self._passage_article = catalogue.passages
            self._generation = catalogue.generation

    def sync_store(self) -> None:
        """Before this process writes vectors: make an embedded store see other processes' writes, so
        that it neither misses their vectors nor writes its index back without them."""
        with self._cache_lock:
            self._sync_store(self.registry.generation())

    def _sync_store(self, generation: int) -> None:
        # An embedded Chroma does not follow another process's writes: open it afresh.
        if self.vectors.embedded and self.registry.written_elsewhere(self._store_generation, generation):
            self.vectors.reopen()
        self._store_generation = generation

    def rebuild_lexical(self) -> None:
        """Bring the BM25 index up to the registry (incrementally) and persist it."""
        with self._cache_lock:
            self.bm25.refresh(self.registry.generation(), self._bm25_corpus)
