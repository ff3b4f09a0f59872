"""BM25 over the library's passages: a segmented inverted index kept in the data directory.

Local Chroma has no sparse index, so lexical search is ours. The index is a list of immutable
segments (``seg-*.npz``: postings per term, document lengths, passage ids) plus a manifest
(``manifest.json``) naming the segments, the documents deleted from each since it was written
(tombstones), the registry generation the index reflects and the content hash of every article it
holds. Bringing the index up to date diffs those hashes against the registry: a new article is
tokenised into one new small segment, a deleted one is tombstoned, a changed one is both. Nothing
else is re-read, so adding one article to a 100,000-passage library costs milliseconds, not a rebuild.
A new segment is merged with its older neighbour once it reaches a quarter of that neighbour's size
(postings are concatenated, dead documents dropped, nothing re-tokenised), which keeps the segment
count logarithmic.

Scores are exact BM25, Lucene variant with k1=1.5 and b=0.75, as bm25s computes it: the document
count, average document length and document frequencies are summed over the live documents of all
segments at query time, so a passage scores the same in a fresh segment as after a full rebuild.

Several processes may share one data directory: writers (ingest, delete) persist the index under the
data directory's write lock; readers that find the registry ahead of the manifest catch up in memory.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from assistant.failpoints import failpoint
from assistant.text import STEMMER, tokenize

if TYPE_CHECKING:
    from assistant.library.registry import Registry

logger = logging.getLogger(__name__)

K1 = 1.5
B = 0.75
MERGE_RATIO = 4  # a segment is merged into its older neighbour once it holds >= 1/MERGE_RATIO of it
COMPACT_DEAD = 0.5  # a segment is rewritten once this share of its documents is deleted
MANIFEST = "manifest.json"
_STEMMER_BEFORE = "nltk-snowball-english"  # what a manifest without a "stemmer" was tokenised by


def _other_stemmer(state: dict[str, Any]) -> bool:
    """Whether a manifest's segments were tokenised by another stemmer than this one."""
    return state.get("stemmer", _STEMMER_BEFORE) != STEMMER
_ORPHAN_GRACE_S = 120.0  # unreferenced segment files younger than this may belong to a concurrent writer

# (passage id, article id, passage text)
Row = tuple[str, str, str]


def _join(items: Iterable[str]) -> np.ndarray:
    return np.frombuffer("\n".join(items).encode("utf-8"), dtype=np.uint8)


def _split(blob: np.ndarray, count: int) -> list[str]:
    if count == 0:
        return []
    return bytes(blob).decode("utf-8").split("\n")


@dataclass(eq=False)
class Segment:
    """An immutable slice of the index: term -> postings (document, term frequency)."""

    name: str
    ids: list[str]  # passage id of each document
    articles: list[str]  # article id of each document
    lengths: np.ndarray  # tokens per document (int32)
    terms: list[str]
    indptr: np.ndarray  # postings of term t are docs[indptr[t]:indptr[t + 1]] (int64)
    docs: np.ndarray  # int32
    tfs: np.ndarray  # float32
    vocab: dict[str, int] = field(init=False)
    _by_article: tuple[dict[str, int], np.ndarray] | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.vocab = {t: i for i, t in enumerate(self.terms)}

    def article_mask(self, articles: Collection[str]) -> np.ndarray:
        """Which documents belong to one of `articles` (bool per document)."""
        if self._by_article is None:  # built once per segment (segments are immutable)
            codes: dict[str, int] = {}
            column = np.fromiter(
                (codes.setdefault(a, len(codes)) for a in self.articles),
                dtype=np.int32,
                count=len(self.articles),
            )
            self._by_article = (codes, column)
        codes, column = self._by_article
        wanted = np.zeros(len(codes) + 1, dtype=bool)
        if len(articles) < len(codes):
            hits = [codes[a] for a in articles if a in codes]
        else:
            allowed = articles if isinstance(articles, (set, frozenset, dict)) else set(articles)
            hits = [c for a, c in codes.items() if a in allowed]
        wanted[hits] = True
        return wanted[column]

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def build(cls, name: str, rows: list[Row]) -> Segment:
        vocab: dict[str, int] = {}
        term_col: list[int] = []
        doc_col: list[int] = []
        tf_col: list[int] = []
        lengths = np.zeros(len(rows), dtype=np.int32)
        for d, (_, _, text) in enumerate(rows):
            tokens = tokenize(text)
            lengths[d] = len(tokens)
            for token, count in Counter(tokens).items():
                term_col.append(vocab.setdefault(token, len(vocab)))
                doc_col.append(d)
                tf_col.append(count)
        return cls._from_postings(
            name,
            [r[0] for r in rows],
            [r[1] for r in rows],
            lengths,
            list(vocab),
            np.asarray(term_col, dtype=np.int64),
            np.asarray(doc_col, dtype=np.int32),
            np.asarray(tf_col, dtype=np.float32),
        )

    @classmethod
    def _from_postings(
        cls,
        name: str,
        ids: list[str],
        articles: list[str],
        lengths: np.ndarray,
        terms: list[str],
        term_col: np.ndarray,
        doc_col: np.ndarray,
        tf_col: np.ndarray,
    ) -> Segment:
        order = np.lexsort((doc_col, term_col))
        counts = np.bincount(term_col, minlength=len(terms)) if len(terms) else np.zeros(0, np.int64)
        indptr = np.zeros(len(terms) + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        return cls(name, ids, articles, lengths, terms, indptr, doc_col[order], tf_col[order])

    def postings(self, term: str) -> tuple[np.ndarray, np.ndarray] | None:
        t = self.vocab.get(term)
        if t is None:
            return None
        lo, hi = self.indptr[t], self.indptr[t + 1]
        return self.docs[lo:hi], self.tfs[lo:hi]

    def save(self, directory: Path) -> None:
        path = directory / f"{self.name}.npz"
        tmp = directory / f".{self.name}.tmp.npz"
        np.savez(
            tmp,
            ids=_join(self.ids),
            articles=_join(self.articles),
            terms=_join(self.terms),
            counts=np.asarray([len(self.ids), len(self.terms)], dtype=np.int64),
            lengths=self.lengths,
            indptr=self.indptr,
            docs=self.docs,
            tfs=self.tfs,
        )
        os.replace(tmp, path)

    @classmethod
    def load(cls, directory: Path, name: str) -> Segment:
        with np.load(directory / f"{name}.npz", allow_pickle=False) as z:
            n_docs, n_terms = (int(x) for x in z["counts"])
            return cls(
                name,
                _split(z["ids"], n_docs),
                _split(z["articles"], n_docs),
                z["lengths"],
                _split(z["terms"], n_terms),
                z["indptr"],
                z["docs"],
                z["tfs"],
            )


def merge(name: str, parts: list[tuple[Segment, np.ndarray]]) -> Segment:
    """One segment holding the live documents of `parts` (segment, dead mask), in order."""
    ids: list[str] = []
    articles: list[str] = []
    lengths: list[np.ndarray] = []
    terms: dict[str, int] = {}
    term_cols: list[np.ndarray] = []
    doc_cols: list[np.ndarray] = []
    tf_cols: list[np.ndarray] = []
    offset = 0
    for seg, dead in parts:
        live = ~dead
        new_doc = np.where(live, np.cumsum(live) - 1 + offset, -1)
        to_union = np.asarray([terms.setdefault(t, len(terms)) for t in seg.terms], dtype=np.int64)
        seg_terms = np.repeat(np.arange(len(seg.terms)), np.diff(seg.indptr))
        docs = new_doc[seg.docs]
        keep = docs >= 0
        term_cols.append(to_union[seg_terms[keep]] if len(seg.terms) else np.zeros(0, np.int64))
        doc_cols.append(docs[keep].astype(np.int32))
        tf_cols.append(seg.tfs[keep])
        ids.extend(i for i, alive in zip(seg.ids, live, strict=True) if alive)
        articles.extend(a for a, alive in zip(seg.articles, live, strict=True) if alive)
        lengths.append(seg.lengths[live])
        offset += int(live.sum())
    term_col = np.concatenate(term_cols) if term_cols else np.zeros(0, np.int64)
    # Terms whose every document is gone leave the vocabulary.
    used = np.unique(term_col)
    remap = np.full(len(terms), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    all_terms = list(terms)
    return Segment._from_postings(
        name,
        ids,
        articles,
        np.concatenate(lengths) if lengths else np.zeros(0, np.int32),
        [all_terms[i] for i in used],
        remap[term_col],
        np.concatenate(doc_cols) if doc_cols else np.zeros(0, np.int32),
        np.concatenate(tf_cols) if tf_cols else np.zeros(0, np.float32),
    )


def _new_name() -> str:
    return f"seg-{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:8]}"


class BM25Index:
    """The lexical index of one data directory; safe to share between threads.

    With a registry (the normal case) the index follows it incrementally. Without one it falls back
    to rebuilding from the full corpus that `search` is handed whenever the generation moves on.
    """

    def __init__(self, directory: Path, registry: Registry | None = None) -> None:
        self.directory = directory
        self.registry = registry
        self._lock = threading.RLock()
        self._segments: list[Segment] = []
        self._dead: list[np.ndarray] = []
        self._saved: set[str] = set()  # names of segments already on disk
        self._hashes: dict[str, str] = {}  # article id -> content hash indexed
        self._generation = -1
        self._where: dict[str, list[tuple[Segment, int]]] = {}

    # -- queries ---------------------------------------------------------------------------------

    def search(
        self,
        query: str,
        n: int,
        allowed: Callable[[str], bool] | None = None,
        generation: int | None = None,
        corpus: Callable[[], list[tuple[str, str]]] | None = None,
        articles: Collection[str] | None = None,
    ) -> list[tuple[str, float]]:
        """(passage id, BM25 score), best first, only passages with a positive score.

        `generation` is the registry generation the caller has seen; the index catches up to it first
        (in memory: readers never write). `corpus` is only used by an index without a registry.
        `articles` keeps only passages of those articles (a numpy mask: cheap however selective);
        `allowed` is asked about each passage in score order until n pass.
        """
        self._catch_up(generation, corpus, persist=False)
        tokens = tokenize(query)
        with self._lock:
            segments, dead = list(self._segments), list(self._dead)
        if not tokens or not segments:
            return []
        scores, ids = _score(tokens, segments, dead)
        if scores is None:
            return []
        hits: list[tuple[str, float]] = []
        if articles is not None:
            scores = np.where(np.concatenate([s.article_mask(articles) for s in segments]), scores, 0)
            positive = np.flatnonzero(scores > 0)
            if len(positive) > n:  # the n best, ties in index order: what a full stable sort gives
                cut = np.partition(scores[positive], len(positive) - n)[len(positive) - n]
                positive = positive[scores[positive] >= cut]
        else:
            positive = np.flatnonzero(scores > 0)
        if allowed is None and articles is None and len(positive) > n:
            positive = positive[np.argpartition(-scores[positive], n - 1)[:n]]
        ranked = positive[np.argsort(-scores[positive], kind="stable")]
        if allowed is None:  # ids looked up in bulk, not one searchsorted per hit
            ranked = ranked[:n]
            return list(zip(ids.many(ranked), scores[ranked].tolist(), strict=True))
        for i in ranked:
            if len(hits) >= n:
                break
            pid = ids(int(i))
            if allowed is None or allowed(pid):
                hits.append((pid, float(scores[i])))
        return hits

    def __len__(self) -> int:
        with self._lock:
            return sum(int((~d).sum()) for d in self._dead)

    @property
    def generation(self) -> int:
        return self._generation

    def segment_sizes(self) -> list[int]:
        """Live documents per segment, oldest first (for diagnostics and benchmarks)."""
        with self._lock:
            return [int((~d).sum()) for d in self._dead]

    def saved_by_another_stemmer(self) -> bool:
        """Whether the index on disk was tokenised by another stemmer than :data:`STEMMER` (it is
        rebuilt when loaded: :meth:`refresh` saves the rebuilt one)."""
        try:
            state = json.loads((self.directory / MANIFEST).read_text())
        except (OSError, ValueError):
            return False
        return isinstance(state, dict) and _other_stemmer(state)

    def saved_state(self) -> tuple[int, list[str]] | None:
        """(generation, live passage ids) of the index saved on disk; None when there is none.

        For consistency checks (`assistant check`): raises ValueError or OSError when the manifest or a
        segment is unreadable.
        """
        try:
            state = json.loads((self.directory / MANIFEST).read_text())
        except FileNotFoundError:
            return None
        ids: list[str] = []
        for entry in state["segments"]:
            segment = Segment.load(self.directory, entry["name"])
            dead = set(entry.get("dead", []))
            ids.extend(pid for doc, pid in enumerate(segment.ids) if doc not in dead)
        return int(state["generation"]), ids

    # -- updates ---------------------------------------------------------------------------------

    def refresh(
        self, generation: int | None = None, corpus: Callable[[], list[tuple[str, str]]] | None = None
    ) -> None:
        """Bring the index up to the registry and persist it. Call with the data-dir write lock held."""
        self._catch_up(generation, corpus, persist=True, force=True)

    def rebuild_from_registry(self) -> None:
        """Throw the index away and index the registry afresh (``assistant check --repair``).

        `refresh` trusts a manifest at the registry's generation; a damaged one needs this instead.
        """
        if self.registry is None:
            raise ValueError("only an index that follows a registry can be rebuilt from it")
        with self._lock:
            self._segments, self._dead, self._hashes, self._where = [], [], {}, {}
            self._apply_registry(self.registry)
            self._save()

    def rebuild(self, generation: int, corpus: list[tuple[str, str]]) -> None:
        """Replace the index with one segment over `corpus` (passage id, text); no registry involved."""
        segment = Segment.build(_new_name(), [(pid, pid, text) for pid, text in corpus])
        with self._lock:
            self._segments, self._dead = [segment], [np.zeros(len(segment), dtype=bool)]
            self._hashes = {}
            self._generation = generation
            self._reindex()
            self._save()

    def _catch_up(
        self,
        generation: int | None,
        corpus: Callable[[], list[tuple[str, str]]] | None,
        persist: bool,
        force: bool = False,
    ) -> None:
        registry = self.registry
        if registry is None:
            if generation is None:
                raise ValueError("an index without a registry needs the generation and the corpus")
            with self._lock:
                if self._generation != generation and not self._load(expect=generation):
                    if corpus is None:
                        raise ValueError("the BM25 index is stale and no corpus was given")
                    logger.info("BM25 index is stale (generation %s); rebuilding", generation)
                    self.rebuild(generation, corpus())
            return
        if not force and generation is not None and generation == self._generation:
            return
        with self._lock:
            target = registry.generation()
            if target == self._generation and not force:
                return
            if self._generation == -1 or self._disk_generation() == target:
                self._load()
            if target != self._generation:
                self._apply_registry(registry)
            if persist:
                self._save()

    def _apply_registry(self, registry: Registry) -> None:
        started = time.perf_counter()
        with registry.snapshot():
            generation = registry.generation()
            versions = registry.versions()
            removed = [aid for aid, h in self._hashes.items() if versions.get(aid) != h]
            added = [aid for aid, h in versions.items() if self._hashes.get(aid) != h]
            rows = registry.passage_texts(added) if added else []
        for aid in removed:
            for segment, doc in self._where.pop(aid, []):
                self._dead[self._segments.index(segment)][doc] = True
            del self._hashes[aid]
        if rows:
            segment = Segment.build(_new_name(), rows)
            self._segments.append(segment)
            self._dead.append(np.zeros(len(segment), dtype=bool))
        for aid in added:
            self._hashes[aid] = versions[aid]
        self._generation = generation
        self._compact()
        self._reindex()
        logger.info(
            "BM25 index at generation %s: %d articles added or changed, %d removed, %.2fs",
            generation,
            len(added),
            len(removed),
            time.perf_counter() - started,
        )

    def _compact(self) -> None:
        """Merge a young segment into its older neighbour; rewrite mostly-deleted ones; drop empty ones."""
        keep = [(s, d) for s, d in zip(self._segments, self._dead, strict=True) if not d.all()]
        out: list[tuple[Segment, np.ndarray]] = []
        for seg, dead in keep:
            if dead.mean() >= COMPACT_DEAD:
                seg = merge(_new_name(), [(seg, dead)])
                dead = np.zeros(len(seg), dtype=bool)
            out.append((seg, dead))
            while len(out) >= 2 and (~out[-1][1]).sum() * MERGE_RATIO >= (~out[-2][1]).sum():
                merged = merge(_new_name(), out[-2:])
                out[-2:] = [(merged, np.zeros(len(merged), dtype=bool))]
        self._segments = [s for s, _ in out]
        self._dead = [d for _, d in out]

    def _reindex(self) -> None:
        where: dict[str, list[tuple[Segment, int]]] = {}
        for segment, dead in zip(self._segments, self._dead, strict=True):
            for doc, aid in enumerate(segment.articles):
                if not dead[doc]:
                    where.setdefault(aid, []).append((segment, doc))
        self._where = where

    # -- persistence -----------------------------------------------------------------------------

    def _disk_generation(self) -> int | None:
        try:
            return int(json.loads((self.directory / MANIFEST).read_text())["generation"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _load(self, expect: int | None = None) -> bool:
        """Adopt the manifest on disk (reusing segments already in memory); False if unusable."""
        for _ in range(3):  # a concurrent writer may replace the manifest and drop segments meanwhile
            try:
                state = json.loads((self.directory / MANIFEST).read_text())
            except (OSError, ValueError):
                return False
            if expect is not None and state.get("generation") != expect:
                return False
            if state.get("source", "registry") != self._source:  # built the other way: other ids
                return False
            if _other_stemmer(state):
                logger.info("the BM25 index in %s has another stemmer's tokens: rebuilt", self.directory)
                return False
            loaded = {s.name: s for s in self._segments}
            try:
                segments = [
                    loaded.get(e["name"]) or Segment.load(self.directory, e["name"])
                    for e in state["segments"]
                ]
            except FileNotFoundError:
                continue
            except (OSError, ValueError, KeyError) as e:
                logger.warning(
                    "the BM25 index in %s is unreadable (%s); it will be rebuilt", self.directory, e
                )
                return False
            dead = []
            for segment, entry in zip(segments, state["segments"], strict=True):
                mask = np.zeros(len(segment), dtype=bool)
                mask[np.asarray(entry.get("dead", []), dtype=np.int64)] = True
                dead.append(mask)
            self._segments, self._dead = segments, dead
            self._saved = {s.name for s in segments}
            self._hashes = dict(state.get("articles", {}))
            self._generation = int(state["generation"])
            self._reindex()
            return True
        return False

    def _save(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        for segment in self._segments:
            if segment.name not in self._saved:
                segment.save(self.directory)
                self._saved.add(segment.name)
        state = {
            "format": 2,
            "stemmer": STEMMER,
            "source": self._source,
            "generation": self._generation,
            "k1": K1,
            "b": B,
            "segments": [
                {"name": s.name, "documents": len(s), "dead": np.flatnonzero(d).tolist()}
                for s, d in zip(self._segments, self._dead, strict=True)
            ],
            "articles": self._hashes,
        }
        tmp = self.directory / f".{MANIFEST}.{uuid.uuid4().hex[:8]}.tmp"
        tmp.write_text(json.dumps(state))
        failpoint("bm25.save")  # crash tests: die with the new segments written, the manifest not yet
        os.replace(tmp, self.directory / MANIFEST)
        self._remove_orphans()

    @property
    def _source(self) -> str:
        return "corpus" if self.registry is None else "registry"

    def _remove_orphans(self) -> None:
        referenced = {f"{s.name}.npz" for s in self._segments}
        now = time.time()
        for path in self.directory.iterdir():
            stale = path.name not in referenced and (path.suffix == ".npz" or path.name.endswith(".tmp"))
            legacy = path.name in ("state.json", "bm25")  # the single bm25s index of format 1
            try:
                if legacy:
                    if path.is_dir():
                        for child in path.iterdir():
                            child.unlink()
                        path.rmdir()
                    else:
                        path.unlink()
                elif stale and now - path.stat().st_mtime > _ORPHAN_GRACE_S:
                    path.unlink()
            except OSError:  # another process removed it first
                pass
            else:
                if stale or legacy:
                    self._saved.discard(path.stem)


class _Ids:
    """Index into the concatenated documents of `segments` -> passage id (one, or many at once)."""

    def __init__(self, segments: list[Segment]) -> None:
        self.segments = segments
        self.offsets = np.cumsum([0] + [len(s) for s in segments])

    def __call__(self, i: int) -> str:
        s = int(np.searchsorted(self.offsets, i, side="right")) - 1
        return self.segments[s].ids[i - int(self.offsets[s])]

    def many(self, indices: np.ndarray) -> list[str]:
        which = np.searchsorted(self.offsets, indices, side="right") - 1
        local = indices - self.offsets[which]
        return [self.segments[s].ids[d] for s, d in zip(which.tolist(), local.tolist(), strict=True)]


def _score(
    tokens: list[str], segments: list[Segment], dead: list[np.ndarray]
) -> tuple[np.ndarray | None, _Ids]:
    """BM25 scores of every document of every segment (concatenated), and index -> passage id."""
    postings: list[list[tuple[np.ndarray, np.ndarray]]] = []  # [token][segment] live postings
    df: list[int] = []
    for token in tokens:
        per_segment = []
        count = 0
        for segment, mask in zip(segments, dead, strict=True):
            found = segment.postings(token)
            if found is None:
                per_segment.append((np.zeros(0, np.int32), np.zeros(0, np.float32)))
                continue
            docs, tfs = found
            live = ~mask[docs]
            if not live.all():
                docs, tfs = docs[live], tfs[live]
            per_segment.append((docs, tfs))
            count += len(docs)
        postings.append(per_segment)
        df.append(count)
    if not any(df):
        return None, _Ids(segments)
    n_docs = 0
    total_length = 0
    for segment, mask in zip(segments, dead, strict=True):
        live = ~mask
        n_docs += int(live.sum())
        total_length += int(segment.lengths[live].sum())
    avg_length = np.float64(total_length / n_docs) if n_docs else np.float64(1.0)
    per_segment_scores = [np.zeros(len(s), dtype=np.float32) for s in segments]
    for token_postings, freq in zip(postings, df, strict=True):
        if freq == 0:
            continue
        idf = np.float32(math.log(1 + (n_docs - freq + 0.5) / (freq + 0.5)))
        for segment, scores, (docs, tfs) in zip(segments, per_segment_scores, token_postings, strict=True):
            if len(docs) == 0:
                continue
            norm = K1 * ((1 - B) + B * segment.lengths[docs] / avg_length)
            scores[docs] += (idf * (tfs / (norm + tfs))).astype(np.float32)
    return np.concatenate(per_segment_scores), _Ids(segments)
