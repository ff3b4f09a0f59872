"""Filtered dense search: the post-filtered fast path and Chroma's own filter agree."""

from __future__ import annotations

import datetime as dt

import pytest

import assistant.store as store_module
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
