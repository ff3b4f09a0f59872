"""A long-lived reader follows another process's ingests, updates and deletes incrementally.

The reader's article cache (assistant.catalogue) and the vectors it holds in memory for filtered
search must end up exactly where a fresh process would be: the registry's passages, nothing older.
The first test shares the vectors through a Chroma server (docs/performance.md, "Chroma as a
server"); the second shares an embedded Chroma directory, whose client does not follow another
process's writes until the reader opens it afresh (VectorStore.reopen, docs/reliability.md).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import assistant.library.vectors as store_module
from assistant.library.catalogue import Catalogue
from assistant.models import Filters
from tests.chroma_server import chroma_server
from tests.reliability.corpus import make_articles, run_cli

pytestmark = [pytest.mark.reliability, pytest.mark.slow]


def _registry_view(reader) -> dict[str, tuple[str, int, int]]:  # type: ignore[no-untyped-def]
    return {pid: (aid, s, e) for pid, aid, s, e in reader.registry.all_passages()}


def _assert_in_step(reader, question: str) -> None:  # type: ignore[no-untyped-def]
    retriever = reader.retriever
    assert retriever._passage_article == _registry_view(reader)
    assert {a: art.text for a, art in retriever._articles.items()} == {
        a.id: a.text for a in reader.registry.articles()
    }
    assert retriever._generation == reader.registry.generation()
    # what a fresh read of the registry gives
    fresh = Catalogue().refreshed(reader.registry)[0]
    assert fresh.passages == retriever._catalogue.passages and fresh.versions == retriever._catalogue.versions
    # filtered dense search over the vectors held in memory = Chroma's own filtered search
    filters = Filters(article_ids=sorted(retriever._articles)[::2])
    query = reader.embedder.embed_query(question)
    exact = reader.vectors.search(query, 10, filters)
    resolve = reader.vectors.resolve_filters
    try:
        reader.vectors.resolve_filters = None
        chroma = reader.vectors._query(query, 10, filters)
    finally:
        reader.vectors.resolve_filters = resolve
    assert [p for p, _ in exact] == [p for p, _ in chroma]
    assert [s for _, s in exact] == pytest.approx([s for _, s in chroma], abs=1e-5)
    # every vector held in memory is a registry passage's and equals the one stored in Chroma
    held = reader.vectors.cache.ids()
    assert held and set(held) <= set(retriever._passage_article)
    found, matrix = reader.vectors.cache.rows(held)
    got = reader.vectors._collection.get(ids=found, include=["embeddings"])
    stored = dict(zip(got["ids"], np.asarray(got["embeddings"]), strict=True))
    for pid, vector in zip(found, matrix, strict=True):
        assert np.allclose(vector, stored[pid] / np.linalg.norm(stored[pid]), atol=1e-6), pid


@pytest.fixture
def chroma_url(tmp_path: Path):  # type: ignore[no-untyped-def]
    with chroma_server(tmp_path / "chroma-server") as url:
        yield url


def test_a_reader_follows_another_processs_writes_incrementally(  # type: ignore[no-untyped-def]
    make_assistant, tmp_path: Path, chroma_url: str
) -> None:
    data_dir = tmp_path / "data"
    server = {"ASSISTANT_STORE__CHROMA_URL": chroma_url}
    make_articles(tmp_path / "a", 24)
    first = run_cli(data_dir, "ingest", "--json", str(tmp_path / "a"), **server)
    assert first.returncode == 0, first.stderr
    reader = make_assistant(data_dir=data_dir, store={"chroma_url": chroma_url})
    question = "What did the council of Quillby decide about the bakery?"
    assert reader.retrieve(question)
    assert reader.retrieve(question, filters={"article_ids": sorted(reader.retriever._articles)[:6]})
    _assert_in_step(reader, question)
    held = len(reader.vectors.cache)
    assert held > 0

    reads: list[tuple[int, int, int, bool]] = []
    refreshed = Catalogue.refreshed

    def spy(self, registry):  # type: ignore[no-untyped-def]
        catalogue, change = refreshed(self, registry)
        if catalogue is not self:
            reads.append((len(change.added), len(change.changed), len(change.removed), change.full))
        return catalogue, change

    Catalogue.refreshed = spy  # type: ignore[method-assign]
    try:
        # Another process: 6 new articles, 4 changed (same files, new text), then 3 deleted.
        make_articles(tmp_path / "b", 6, version=2)
        for path in sorted((tmp_path / "a").iterdir())[:4]:
            path.write_text(path.read_text().replace("notice", "revised notice"))
        added = run_cli(data_dir, "ingest", "--json", str(tmp_path / "b"), str(tmp_path / "a"), **server)
        assert added.returncode == 0, added.stderr
        report = json.loads(added.stdout)
        assert report["passages_added"] == 10
        victims = [
            a.id
            for a in reader.registry.articles()
            if "(edition 1)" in a.title and "revised notice" not in a.text
        ][:3]
        for victim in victims:
            gone = run_cli(data_dir, "delete", victim, **server)
            assert gone.returncode == 0, gone.stderr

        assert reader.retrieve(question)
        assert reads == [(6, 4, 3, False)], reads  # one refresh, reading only what changed
        _assert_in_step(reader, question)
        assert not set(victims) & set(reader.retriever._articles)
        revised = [a for a in reader.retriever._articles.values() if "revised notice" in a.text]
        assert len(revised) == 4

        # A repair that rewrites vectors (no article changes) makes the reader drop what it holds.
        reader.vectors.search(reader.embedder.embed_query(question), 5, Filters(article_ids=[revised[0].id]))
        assert len(reader.vectors.cache) > 0
        reader.registry.touch()
        assert reader.retrieve(question, mode="bm25")
        assert len(reader.vectors.cache) == 0
        _assert_in_step(reader, question)
    finally:
        Catalogue.refreshed = refreshed  # type: ignore[method-assign]
    assert len(reader.retriever._passage_article) <= store_module.EXACT_MAX  # exact search was tested


def test_an_embedded_reader_sees_another_processs_ingest_and_writes_after_it(  # type: ignore[no-untyped-def]
    make_assistant, tmp_path: Path
) -> None:
    """`assistant serve` on an embedded library while `assistant ingest` runs in another terminal."""
    data_dir = tmp_path / "data"
    make_articles(tmp_path / "a", 6)
    reader = make_assistant(data_dir=data_dir)
    assert reader.ingest([tmp_path / "a"]).ok
    question = "What did the council of Quillby decide about the bakery?"
    assert reader.ask(question).citations  # the reader's Chroma client is open and has searched

    make_articles(tmp_path / "b", 6, version=2)
    other = run_cli(data_dir, "ingest", "--json", str(tmp_path / "b"))
    assert other.returncode == 0, other.stderr
    new_ids = {a.id for a in reader.registry.articles() if "(edition 2)" in a.title}
    assert len(new_ids) == 6

    # Every mode finds the other process's passages, and reading their vectors does not fail.
    for mode in ("dense", "bm25", "hybrid"):
        found = {p.article_id for p in reader.retrieve("edition 2 council notice", k=12, mode=mode)}
        assert found & new_ids, mode
    answer = reader.ask("What did the council of Quillby decide about the bakery in year 2032?")
    assert not answer.abstained and {c.article_id for c in answer.citations} <= new_ids | {
        a.id for a in reader.registry.articles()
    }

    # The reader then writes itself: nothing the other process stored is lost.
    make_articles(tmp_path / "c", 3, version=3)
    assert reader.ingest([tmp_path / "c"]).ok
    passages = {pid for pid, *_ in reader.registry.all_passages()}
    stored = set(reader.vectors.ids())
    assert stored == passages
    check = run_cli(data_dir, "check", "--json")
    assert check.returncode == 0, check.stdout + check.stderr
