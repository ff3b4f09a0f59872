"""Filtered dense search: the post-filtered fast path and Chroma's own filter agree."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

import assistant.library.vectors as store_module
from assistant.models import Filters

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    "filters",
    [Filters(since=dt.date(2024, 1, 1)), Filters(until=dt.date(2020, 12, 31)), Filters(sources=["x"])],
)
def test_post_filter_and_chroma_filter_return_the_same_passages(  # type: ignore[no-untyped-def]
    corpus_assistant, filters: Filters, monkeypatch: pytest.MonkeyPatch
) -> None:
    vectors = corpus_assistant.vectors
    if filters.sources:
        filters = Filters(sources=[corpus_assistant.sources()[0]])
    query = corpus_assistant.embedder.embed_query("What did Hamas demand?")
    fast = vectors.search(query, 5, filters)  # the corpus is small: the wide query holds every passage
    monkeypatch.setattr(store_module, "POST_FILTER_MAX", 0)  # never widen: Chroma filters
    chroma = vectors.search(query, 5, filters)
    assert fast and [pid for pid, _ in fast] == [pid for pid, _ in chroma]


FILTERS = [
    Filters(since=dt.date(2024, 1, 1)),
    Filters(until=dt.date(2020, 12, 31)),
    Filters(since=dt.date(2020, 1, 1), until=dt.date(2023, 12, 31)),
    Filters(sources=["x"]),
]


def _resolved(assistant, filters: Filters) -> Filters:  # type: ignore[no-untyped-def]
    if filters.sources:
        return Filters(sources=[assistant.sources()[0]])
    return filters


@pytest.mark.parametrize("filters", FILTERS)
def test_exact_filtered_search_equals_chromas_own_filter(  # type: ignore[no-untyped-def]
    corpus_assistant, filters: Filters, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The in-memory exact search over the passages the registry lets through is Chroma's filtered top n."""
    vectors = corpus_assistant.vectors
    filters = _resolved(corpus_assistant, filters)
    query = corpus_assistant.embedder.embed_query("What did Hamas demand?")
    corpus_assistant.retrieve("warm up")  # the retriever's catalogue is read
    allowed = vectors.resolve_filters(filters)
    assert 0 < len(allowed) <= store_module.EXACT_MAX
    exact = vectors.search(query, 8, filters)
    assert len(vectors.cache) >= len(exact)  # the allowed passages' vectors are now held in memory
    with monkeypatch.context() as m:  # Chroma's metadata filter alone
        m.setattr(vectors, "resolve_filters", None)
        m.setattr(store_module, "POST_FILTER_MAX", 0)
        chroma = vectors.search(query, 8, filters)
    assert exact and [pid for pid, _ in exact] == [pid for pid, _ in chroma]
    assert [s for _, s in exact] == pytest.approx([s for _, s in chroma], abs=1e-5)
    with monkeypatch.context() as m:  # the widened HNSW query, filtered by the registry's passages
        m.setattr(store_module, "EXACT_MAX", 0)
        widened = vectors.search(query, 8, filters)
    assert [pid for pid, _ in widened] == [pid for pid, _ in exact]
    # the retriever's dense side gets the same list
    hits = corpus_assistant.retriever.retrieve("What did Hamas demand?", k=8, filters=filters, mode="dense")
    assert {p.id for p in hits} <= {pid for pid, _ in exact} | set(allowed.passages)
    assert all(allowed(p.id) for p in hits)


def test_a_filter_nothing_passes_finds_nothing(corpus_assistant) -> None:  # type: ignore[no-untyped-def]
    query = corpus_assistant.embedder.embed_query("What did Hamas demand?")
    assert corpus_assistant.vectors.search(query, 5, Filters(since=dt.date(2099, 1, 1))) == []
    assert corpus_assistant.vectors.search(query, 5, Filters(sources=["No Such Outlet"])) == []
    assert corpus_assistant.retrieve("What did Hamas demand?", filters={"sources": ["No Such Outlet"]}) == []


def test_a_changed_article_is_searched_with_its_new_vectors(make_assistant, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Vectors held in memory are dropped when the registry shows their article changed."""
    folder = tmp_path / "news"
    folder.mkdir()
    story = folder / "story.md"
    other = folder / "other.md"
    front = "---\ntitle: {t}\nsource: Gazette\npublished: 2024-03-0{d}\n---\n"
    story.write_text(
        front.format(t="Harbour", d=1) + "The harbour master closed the old pier after a storm.\n"
    )
    other.write_text(
        front.format(t="Choir", d=2) + "The choir of lighthouse keepers sang on Sunday evening.\n"
    )
    assistant = make_assistant()
    assert assistant.ingest([folder]).ok
    filters = Filters(sources=["Gazette"])
    question = "What did the museum open?"
    query = assistant.embedder.embed_query(question)
    before = assistant.retrieve(question, filters=filters, mode="dense")
    assert before and len(assistant.vectors.cache) == 2
    story.write_text(front.format(t="Museum", d=1) + "The town opened a museum of weather instruments.\n")
    assert assistant.ingest([folder]).updated == 1
    after = assistant.retrieve(question, filters=filters, mode="dense")
    (pid,) = [p.id for p in after if p.title == "Museum"]
    stored = assistant.vectors.embeddings([pid])[pid]
    fresh = next(iter(assistant.vectors._collection.get(ids=[pid], include=["embeddings"])["embeddings"]))
    assert np.allclose(stored, np.asarray(fresh) / np.linalg.norm(fresh), atol=1e-6)
    assert after[0].title == "Museum" and after[0].dense_score == pytest.approx(
        float(stored @ query), abs=1e-5
    )
