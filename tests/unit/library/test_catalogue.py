"""The retriever's catalogue: incremental refresh from the registry diff, filters, the vector cache."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import numpy as np
import pytest

from assistant.library.bm25 import BM25Index
from assistant.library.catalogue import Catalogue
from assistant.library.ingest import vector_metadata
from assistant.library.registry import Registry
from assistant.library.vectors import VectorCache, _passes
from assistant.models import Article, Filters

pytestmark = pytest.mark.unit

SOURCES = ["Gazette", "Herald", ""]


def _article(n: int, version: int = 1) -> Article:
    text = " ".join(f"Sentence {i} of story {n}, edition {version}, about the harbour." for i in range(8))
    published = None if n % 5 == 4 else dt.date(2020 + n % 4, 1 + n % 12, 1 + n % 28)
    return Article(
        id=f"a{n:03d}",
        key=f"story-{n}",
        text=text,
        title=f"Story {n}",
        source=SOURCES[n % 3],
        published=published,
        content_hash=hashlib.sha256(f"{text}|{published}".encode()).hexdigest(),
    )


def _put(registry: Registry, article: Article) -> None:
    third = len(article.text) // 3
    bounds = [(0, third), (third, 2 * third), (2 * third, len(article.text))]
    registry.put_article(article, [(f"{article.id}-{i:04d}", s, e) for i, (s, e) in enumerate(bounds)])


def _full(registry: Registry) -> Catalogue:
    return Catalogue().refreshed(registry)[0]


def _same(a: Catalogue, b: Catalogue) -> None:
    assert a.generation == b.generation
    assert a.versions == b.versions
    assert a.passages == b.passages
    assert a.by_article == b.by_article
    assert {k: v.model_dump() for k, v in a.articles.items()} == {
        k: v.model_dump() for k, v in b.articles.items()
    }


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    return Registry(tmp_path / "registry.sqlite3")


def test_refresh_reads_only_the_change_and_ends_where_a_full_read_does(registry: Registry) -> None:
    for n in range(20):
        _put(registry, _article(n))
    first, change = Catalogue().refreshed(registry)
    assert change.full and len(first.passages) == 60
    assert first.refreshed(registry) == (first, first.refreshed(registry)[1])  # nothing new: itself

    _put(registry, _article(20))  # added
    _put(registry, _article(3, version=2))  # changed
    registry.delete_article("a007")  # removed
    second, change = first.refreshed(registry)
    assert not change.full
    assert (change.added, change.changed, change.removed) == (("a020",), ("a003",), ("a007",))
    stale = set(change.stale_passages)
    assert {f"a003-{i:04d}" for i in range(3)} | {f"a007-{i:04d}" for i in range(3)} <= stale
    assert {f"a020-{i:04d}" for i in range(3)} <= stale
    assert not any(pid.startswith(("a001", "a012")) for pid in stale)
    _same(second, _full(registry))
    assert "edition 2" in second.articles["a003"].text
    # the old snapshot is untouched: a retrieval still holding it keeps working
    assert "a007" in first.articles and "a020" not in first.passages and len(first.passages) == 60


def test_a_generation_bump_without_a_change_is_an_empty_change(registry: Registry) -> None:
    _put(registry, _article(1))
    first, _ = Catalogue().refreshed(registry)
    registry.touch()
    second, change = first.refreshed(registry)
    assert second is not first and change.empty and not change.full
    _same(second, _full(registry))


def test_filters_match_the_vector_metadata_filter(registry: Registry) -> None:
    articles = [_article(n) for n in range(30)]
    for article in articles:
        _put(registry, article)
    catalogue = _full(registry)
    cases = [
        Filters(since=dt.date(2021, 6, 1)),
        Filters(until=dt.date(2021, 12, 31)),
        Filters(since=dt.date(2021, 1, 1), until=dt.date(2022, 6, 30)),
        Filters(sources=["Herald"]),
        Filters(sources=["Gazette", "Herald"], since=dt.date(2022, 1, 1)),
        Filters(article_ids=["a004", "a010", "zzz"]),
        Filters(since=dt.date(2099, 1, 1)),
    ]
    for filters in cases:
        allowed = catalogue.filter(filters)
        expected = {a.id for a in articles if _passes(vector_metadata(a, 0, 1), filters)}
        assert allowed.articles == expected, filters
        assert set(allowed.passages) == {
            pid for pid, (aid, _, _) in catalogue.passages.items() if aid in expected
        }
        assert all(allowed(pid) == (pid in allowed.passages) for pid in catalogue.passages)
        assert not allowed("not-a-passage")
        assert catalogue.filter(filters.model_copy()) is allowed  # resolved once per snapshot


def test_bm25_article_mask_ranks_as_the_per_passage_filter(tmp_path: Path, registry: Registry) -> None:
    for n in range(40):
        _put(registry, _article(n))
    index = BM25Index(tmp_path / "bm25", registry)
    index.refresh()
    for n in range(40, 45):  # a second segment
        _put(registry, _article(n))
    registry.delete_article("a002")
    index.refresh()
    catalogue = _full(registry)
    for filters in (
        Filters(sources=["Herald"]),
        Filters(since=dt.date(2023, 1, 1)),
        Filters(article_ids=["a041"]),
    ):
        allowed = catalogue.filter(filters)
        for n in (3, 50, 1000):
            masked = index.search(
                "story harbour edition", n, None, registry.generation(), articles=allowed.articles
            )
            called = index.search("story harbour edition", n, allowed, registry.generation())
            assert masked == called and masked, filters
            assert all(allowed(pid) for pid, _ in masked)


def test_vector_cache_keeps_rows_until_dropped() -> None:
    cache = VectorCache(limit=6)
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(4, 8)).astype(np.float32)
    cache.put(["a", "b", "c", "d"], vectors)
    found, rows = cache.rows(["d", "x", "a"])
    assert found == ["d", "a"]
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    assert np.allclose(rows, unit[[3, 0]])
    assert cache.missing(["a", "x"]) == ["x"]
    cache.drop(["a"])
    assert cache.missing(["a", "b"]) == ["a"] and len(cache) == 3
    cache.put(["e", "f"], vectors[:2])  # reuses the dropped row
    assert len(cache) == 5
    cache.put(["g", "h"], vectors[2:])  # past the limit: starts over with just these
    assert len(cache) == 2 and cache.missing(["b", "g"]) == ["b"]
    cache.clear()
    assert len(cache) == 0 and cache.rows(["g"])[0] == []
