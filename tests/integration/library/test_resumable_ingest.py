"""A large ingest that is interrupted keeps what it stored and continues where it stopped when re-run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import assistant.library.ingest as ingest_module

pytestmark = pytest.mark.integration

TOWNS = ["Alder", "Birch", "Cedar", "Dunmore", "Elmstead", "Fenwick", "Glenholm", "Harrow", "Ivybridge"]


def _write_batch(path: Path) -> None:
    """One JSON Lines file of nine articles, two or three passages each."""
    with path.open("w") as out:
        for i, town in enumerate(TOWNS):
            sentences = [
                f"The council of {town} voted on plan number {i} for the harbour on Monday.",
                f"Residents of {town} said the vote on the ferry timetable had been expected for months.",
                f"The mayor of {town} promised that the new quay would open before the winter storms.",
                f"Engineers in {town} measured the tide for {i + 3} weeks before they drew the plans.",
            ] * 3
            record = {
                "title": f"{town} votes on its harbour plan",
                "text": " ".join(sentences),
                "url": f"https://example.org/{town.lower()}",
                "published": f"2023-03-{i + 1:02d}",
            }
            out.write(json.dumps(record) + "\n")


class _InterruptAfter:
    """The real embedder, interrupted (as by Ctrl-C) when it is asked for its n-th batch."""

    def __init__(self, embedder, calls: int) -> None:  # type: ignore[no-untyped-def]
        self._embedder = embedder
        self._left = calls
        self.embedded = 0

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        if self._left == 0:
            raise KeyboardInterrupt
        self._left -= 1
        self.embedded += len(texts)
        return self._embedder.embed_texts(texts)

    def embed_query(self, text: str) -> np.ndarray:
        return self._embedder.embed_query(text)


def test_interrupted_ingest_resumes_without_duplicates(  # type: ignore[no-untyped-def]
    make_assistant, embedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ingest_module, "FLUSH_PASSAGES", 4)  # several rounds out of a small file
    batch = tmp_path / "batch.jsonl"
    _write_batch(batch)

    first = make_assistant()
    first.embedder = _InterruptAfter(embedder, calls=2)
    with pytest.raises(KeyboardInterrupt):
        first.ingest([batch])
    stored_articles, stored_passages = first.registry.counts()
    assert 0 < stored_articles < len(TOWNS), "two rounds were stored before the interrupt"
    first.close()

    # Run again: the stored articles are skipped by content hash, only the rest is embedded.
    second = make_assistant()
    counting = _InterruptAfter(embedder, calls=10_000)
    second.embedder = counting
    second.retriever.embedder = counting  # type: ignore[assignment]
    report = second.ingest([batch])
    assert report.ok
    assert report.files[0].reason == f"{len(TOWNS) - stored_articles} added, {stored_articles} unchanged"
    articles, passages = second.registry.counts()
    assert articles == len(TOWNS)
    assert counting.embedded == passages - stored_passages
    assert second.vectors.count() == passages, "no passage is stored twice in Chroma"
    # The library answers from articles of both runs, lexically and densely.
    for town in (TOWNS[0], TOWNS[-1]):
        for mode in ("bm25", "dense"):
            hits = second.retrieve(f"{town} harbour plan vote", k=3, mode=mode)
            assert hits and hits[0].title.startswith(town), (town, mode)


def test_progress_counts_passages(make_assistant, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    batch = tmp_path / "batch.jsonl"
    _write_batch(batch)
    assistant = make_assistant()
    report = assistant.ingest([batch], progress=True)
    err = capsys.readouterr().err
    assert f"{report.passages_added}/{report.passages_added}" in err
    assert "passage" in err and f"{len(TOWNS)}/{len(TOWNS)} articles" in err
