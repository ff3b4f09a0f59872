"""The segmented BM25 index: same scores as bm25s, incremental updates, sharing a data directory."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from assistant.library.bm25 import BM25Index
from assistant.library.chunking import chunk_article
from assistant.library.registry import Registry
from assistant.library.sources import read_file
from assistant.models import Article
from assistant.text import STEMMER, tokenize

pytestmark = pytest.mark.unit

CORPUS = Path(__file__).resolve().parents[3] / "eval" / "corpus"
QUERIES = ["Qatar payments", "talks in Doha hostages", "Mossad team recalled", "Israel Qatar relations"]


def _article(key: str, text: str, title: str = "") -> Article:
    aid = hashlib.sha1(key.encode()).hexdigest()[:16]
    return Article(
        id=aid, key=key, text=text, title=title, content_hash=hashlib.sha256(text.encode()).hexdigest()
    )


def _put(registry: Registry, article: Article) -> list[str]:
    spans = chunk_article(article.text, 600, 1)
    ids = [f"{article.id}-{i:04d}" for i in range(len(spans))]
    registry.put_article(article, [(pid, s.start, s.end) for pid, s in zip(ids, spans, strict=True)])
    return ids


def _corpus_articles() -> list[Article]:
    articles = []
    for path in sorted(CORPUS.iterdir()):
        for meta, text in read_file(path, 10_000_000):
            articles.append(_article(meta.key or str(path), text, meta.title))
    return articles


def _passages(registry: Registry) -> list[tuple[str, str]]:
    rows = registry.passage_texts(list(registry.versions()))
    return [(pid, text) for pid, _, text in rows]


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    return Registry(tmp_path / "registry.sqlite3")


def _search(index: BM25Index, registry: Registry, query: str, n: int = 10) -> list[tuple[str, float]]:
    return index.search(query, n, None, registry.generation())


def test_scores_equal_bm25s_over_the_sample_corpus(tmp_path: Path, registry: Registry) -> None:
    import bm25s

    for article in _corpus_articles():
        _put(registry, article)
    passages = _passages(registry)
    reference = bm25s.BM25()
    reference.index([tokenize(text) for _, text in passages], show_progress=False)
    index = BM25Index(tmp_path / "bm25", registry)
    for query in QUERIES:
        known = [t for t in tokenize(query) if t in reference.vocab_dict]
        expected_scores = np.asarray(reference.get_scores(known))
        order = np.argsort(-expected_scores, kind="stable")[:10]
        expected = [(passages[i][0], float(expected_scores[i])) for i in order if expected_scores[i] > 0]
        got = _search(index, registry, query)
        assert [pid for pid, _ in got] == [pid for pid, _ in expected], query
        assert np.allclose([s for _, s in got], [s for _, s in expected], rtol=1e-6)


def test_articles_added_one_at_a_time_score_as_a_full_build(tmp_path: Path, registry: Registry) -> None:
    incremental = BM25Index(tmp_path / "inc", registry)
    for article in _corpus_articles():
        _put(registry, article)
        incremental.refresh(registry.generation())
    # Merging keeps the segment count low however many single-article updates there were.
    assert len(incremental.segment_sizes()) <= 3
    full = BM25Index(tmp_path / "full", registry)
    for query in QUERIES:
        got, want = _search(incremental, registry, query), _search(full, registry, query)
        assert [p for p, _ in got] == [p for p, _ in want]
        assert np.allclose([s for _, s in got], [s for _, s in want], rtol=1e-6)


def test_deleted_and_replaced_articles_leave_the_index(tmp_path: Path, registry: Registry) -> None:
    index = BM25Index(tmp_path / "bm25", registry)
    zebra = _article("a", "The zebra escaped from the city zoo on Monday. Keepers found it by the river.")
    walrus = _article("b", "A walrus was seen on the beach near the harbour on Tuesday morning.")
    _put(registry, zebra)
    _put(registry, walrus)
    index.refresh(registry.generation())
    assert _search(index, registry, "zebra")[0][0].startswith(zebra.id)

    registry.delete_article(zebra.id)
    index.refresh(registry.generation())
    assert _search(index, registry, "zebra") == []
    assert len(index) == 1

    changed = walrus.model_copy(update={"text": "A seal was seen on the pier.", "content_hash": "new"})
    _put(registry, changed)
    assert _search(index, registry, "walrus") == []  # a reader catches up without refresh()
    assert _search(index, registry, "seal")[0][0].startswith(walrus.id)
    assert len(index) == 1


def test_a_second_process_sees_writes_and_loads_the_persisted_index(tmp_path: Path) -> None:
    path = tmp_path / "registry.sqlite3"
    writer_registry, reader_registry = Registry(path), Registry(path)
    writer = BM25Index(tmp_path / "bm25", writer_registry)
    reader = BM25Index(tmp_path / "bm25", reader_registry)
    assert _search(reader, reader_registry, "zebra") == []

    zebra = _article("a", "The zebra escaped from the city zoo on Monday.")
    _put(writer_registry, zebra)
    writer.refresh(writer_registry.generation())
    assert [p for p, _ in _search(reader, reader_registry, "zebra")] == [f"{zebra.id}-0000"]

    # A fresh process loads the manifest's segments instead of re-tokenising the library.
    manifest = json.loads((tmp_path / "bm25" / "manifest.json").read_text())
    assert manifest["generation"] == writer_registry.generation()
    fresh = BM25Index(tmp_path / "bm25", Registry(path))
    assert [p for p, _ in _search(fresh, reader_registry, "zebra")] == [f"{zebra.id}-0000"]
    assert [s["name"] for s in manifest["segments"]] == [s.name for s in fresh._segments]


def test_an_index_tokenised_by_another_stemmer_is_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / "registry.sqlite3"
    writer_registry = Registry(path)
    writer = BM25Index(tmp_path / "bm25", writer_registry)
    zebra = _article("a", "The realization that the zebra escaped came on Monday.")
    _put(writer_registry, zebra)
    writer.refresh(writer_registry.generation())
    manifest_path = tmp_path / "bm25" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    assert manifest["stemmer"] == STEMMER
    # An index written before the stemmer was recorded (NLTK's stems: "realization" -> "realize").
    del manifest["stemmer"]
    manifest_path.write_text(json.dumps(manifest))
    fresh = BM25Index(tmp_path / "bm25", Registry(path))
    assert [p for p, _ in _search(fresh, writer_registry, "realization")] == [f"{zebra.id}-0000"]
    assert fresh._segments and all(s.name not in manifest_path.read_text() for s in fresh._segments)
    fresh.refresh(writer_registry.generation())  # a writer saves it with this stemmer's name
    assert json.loads(manifest_path.read_text())["stemmer"] == STEMMER


def test_filters_apply_before_the_cut(tmp_path: Path, registry: Registry) -> None:
    index = BM25Index(tmp_path / "bm25", registry)
    ids = [
        _put(registry, _article(str(i), f"Report {i}: the river flooded the valley again."))[0]
        for i in range(30)
    ]
    allowed = set(ids[-3:])
    hits = index.search("river flooded", 5, allowed.__contains__, registry.generation())
    assert {pid for pid, _ in hits} == allowed


def test_legacy_single_index_is_replaced(tmp_path: Path, registry: Registry) -> None:
    legacy = tmp_path / "bm25"
    (legacy / "bm25").mkdir(parents=True)
    (legacy / "state.json").write_text(json.dumps({"generation": 1, "ids": []}))
    _put(registry, _article("a", "The zebra escaped from the city zoo on Monday."))
    index = BM25Index(legacy, registry)
    index.refresh(registry.generation())
    assert _search(index, registry, "zebra")
    assert not (legacy / "state.json").exists()
    assert (legacy / "manifest.json").exists()


def test_without_a_registry_the_index_follows_the_corpus_it_is_given(tmp_path: Path) -> None:
    corpus = [("p1", "The zebra escaped from the city zoo."), ("p2", "A walrus was seen on the beach.")]
    index = BM25Index(tmp_path / "bm25")
    assert [p for p, _ in index.search("zebra", 5, None, 1, lambda: corpus)] == ["p1"]
    corpus = [("p2", "A walrus was seen on the beach."), ("p3", "Another zebra was born at the zoo.")]
    assert [p for p, _ in index.search("zebra", 5, None, 2, lambda: corpus)] == ["p3"]
    # A fresh instance at the same generation loads what was saved instead of asking for the corpus.
    again = BM25Index(tmp_path / "bm25")
    assert [p for p, _ in again.search("zebra", 5, None, 2, lambda: [])] == ["p3"]


def test_saved_state_lists_live_passages_for_checks(tmp_path: Path, registry: Registry) -> None:
    index = BM25Index(tmp_path / "bm25", registry)
    assert index.saved_state() is None
    zebra = _article("a", "The zebra escaped from the city zoo on Monday.")
    walrus = _article("b", "A walrus was seen on the beach near the harbour.")
    _put(registry, zebra)
    _put(registry, walrus)
    index.refresh(registry.generation())
    registry.delete_article(zebra.id)
    index.refresh(registry.generation())
    assert index.saved_state() == (registry.generation(), [f"{walrus.id}-0000"])
