"""`assistant check`: does the library agree with itself? Chroma, the registry and BM25, compared.

The registry (SQLite) is the source of truth: it holds every article's text and passage offsets.
Drift is anything that disagrees with it:

* orphan vectors: vectors in Chroma whose passage is not in the registry (a write died after
  Chroma and before the registry commit, or a delete died half-way);
* missing vectors: registry passages with no vector in Chroma;
* stale vectors: a vector whose stored text or article differs from the registry's passage;
* BM25: the saved lexical index does not hold exactly the registry's passages (or is behind it).

:func:`repair_library` removes orphan and stale vectors, embeds missing and stale passages again
from the registry's text, and rebuilds BM25; nothing the registry holds is lost.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from assistant.library.bm25 import BM25Index
from assistant.library.embedding import Embedder
from assistant.library.ingest import embedding_text, vector_metadata
from assistant.library.registry import Registry
from assistant.library.vectors import VectorStore

logger = logging.getLogger(__name__)

_SHOWN = 5  # ids listed per kind of drift in the summary
_EMBED_BATCH = 256


class LibraryParts(Protocol):
    """What a library is made of (the Assistant has these): the registry is the source of truth."""

    registry: Registry
    vectors: VectorStore
    bm25: BM25Index
    embedder: Embedder


@dataclass
class CheckReport:
    articles: int = 0
    passages: int = 0
    vectors: int = 0
    bm25_passages: int = 0
    orphan_vectors: list[str] = field(default_factory=list)
    missing_vectors: list[str] = field(default_factory=list)
    stale_vectors: list[str] = field(default_factory=list)
    bm25_problem: str = ""
    repaired: bool = False

    @property
    def ok(self) -> bool:
        return not (self.orphan_vectors or self.missing_vectors or self.stale_vectors or self.bm25_problem)

    def problems(self) -> list[str]:
        found = []
        for label, ids in (
            ("orphan vectors (in Chroma, not in the registry)", self.orphan_vectors),
            ("missing vectors (in the registry, not in Chroma)", self.missing_vectors),
            ("stale vectors (Chroma's text differs from the registry's)", self.stale_vectors),
        ):
            if ids:
                more = f", ... ({len(ids) - _SHOWN} more)" if len(ids) > _SHOWN else ""
                found.append(f"{len(ids)} {label}: {', '.join(ids[:_SHOWN])}{more}")
        if self.bm25_problem:
            found.append(f"BM25: {self.bm25_problem}")
        return found

    def summary(self) -> str:
        head = (
            f"{self.articles} articles, {self.passages} passages, {self.vectors} vectors, "
            f"{self.bm25_passages} BM25 entries"
        )
        if self.ok:
            return f"{head}: consistent"
        verb = "repaired" if self.repaired else "found"
        return f"{head}; {verb}: " + "; ".join(self.problems())

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def check_library(library: LibraryParts) -> CheckReport:
    """Compare Chroma, the registry and the saved BM25 index; changes nothing."""
    registry = library.registry
    passages = registry.all_passages()
    expected = {pid: aid for pid, aid, _, _ in passages}
    texts = _registry_texts(library, passages)
    entries = library.vectors.entries()
    report = CheckReport(articles=registry.counts()[0], passages=len(expected), vectors=len(entries))
    for pid, (aid, text) in entries.items():
        if pid not in expected:
            report.orphan_vectors.append(pid)
        elif aid != expected[pid] or text != texts[pid]:
            report.stale_vectors.append(pid)
    report.missing_vectors = [pid for pid in expected if pid not in entries]
    report.bm25_problem, report.bm25_passages = _check_bm25(
        library.bm25, registry.generation(), set(expected)
    )
    return report


def repair_library(library: LibraryParts) -> CheckReport:
    """Fix every drift :func:`check_library` finds; returns what was found, marked repaired.

    The caller must hold the data directory's write lock (:func:`library.library.locking.write_session`).
    """
    report = check_library(library)
    if report.ok:
        return report
    doomed = report.orphan_vectors + report.stale_vectors
    if doomed:
        library.vectors.delete_ids(doomed)
    redo = report.missing_vectors + report.stale_vectors
    if redo:
        _embed_again(library, set(redo))
    if doomed or redo:
        # A new generation with no article changed: every reader drops the vectors it holds in memory
        # (library.catalogue, VectorStore.cache); the BM25 manifest follows it to that generation.
        library.registry.touch()
    if report.bm25_problem:
        library.bm25.rebuild_from_registry()
    elif doomed or redo:
        library.bm25.refresh()
    report.repaired = True
    logger.info("repair: %s", report.summary())
    return report


def _registry_texts(library: LibraryParts, passages: list[tuple[str, str, int, int]]) -> dict[str, str]:
    articles = {a.id: a for a in library.registry.articles()}
    return {pid: articles[aid].text[s:e] for pid, aid, s, e in passages if aid in articles}


def _embed_again(library: LibraryParts, ids: set[str]) -> None:
    articles = {a.id: a for a in library.registry.articles()}
    todo = [(pid, articles[aid], s, e) for pid, aid, s, e in library.registry.all_passages() if pid in ids]
    for offset in range(0, len(todo), _EMBED_BATCH):
        chunk = todo[offset : offset + _EMBED_BATCH]
        vectors = library.embedder.embed_texts([embedding_text(a, s, e) for _, a, s, e in chunk])
        library.vectors.add(
            [pid for pid, _, _, _ in chunk],
            [a.text[s:e] for _, a, s, e in chunk],
            vectors,
            [vector_metadata(a, s, e) for _, a, s, e in chunk],
            [a.id for _, a, _, _ in chunk],
        )
    logger.info("embedded %d passages again from the registry", len(todo))


def _check_bm25(index: BM25Index, generation: int, expected: set[str]) -> tuple[str, int]:
    """(problem or "", passages in the saved index)."""
    try:
        saved = index.saved_state()
    except (OSError, ValueError, KeyError, TypeError) as e:
        return f"the saved index is unreadable ({e})", 0
    if saved is None:
        return ("" if not expected else "no saved index (it is rebuilt on the next question)"), 0
    saved_generation, ids = saved
    if len(ids) != len(set(ids)):
        return f"{len(ids) - len(set(ids))} passages are indexed twice", len(ids)
    extra, absent = set(ids) - expected, expected - set(ids)
    if extra or absent:
        problem = (
            f"{len(extra)} indexed passages not in the registry, {len(absent)} registry passages not indexed"
        )
        return problem, len(ids)
    if saved_generation != generation:
        return f"saved at registry generation {saved_generation}, the registry is at {generation}", len(ids)
    return "", len(ids)
