"""Filters applied to Chroma results' metadata match the filters Chroma itself applies."""

from __future__ import annotations

import datetime as dt

import pytest

from assistant.library.vectors import _passes
from assistant.models import Filters

pytestmark = pytest.mark.unit

MAY = {"published_key": 20230502, "source": "Gazette", "article_id": "a1"}
UNDATED = {"published_key": 0, "source": "Gazette", "article_id": "a2"}


@pytest.mark.parametrize(
    ("filters", "may", "undated"),
    [
        (Filters(since=dt.date(2023, 5, 1)), True, False),
        (Filters(since=dt.date(2023, 5, 3)), False, False),
        (Filters(until=dt.date(2023, 5, 2)), True, False),  # unknown dates are not "before" anything
        (Filters(until=dt.date(2023, 5, 1)), False, False),
        (Filters(sources=["Gazette"]), True, True),
        (Filters(sources=["Herald"]), False, False),
        (Filters(article_ids=["a2"]), False, True),
    ],
)
def test_post_filter(filters: Filters, may: bool, undated: bool) -> None:
    assert _passes(MAY, filters) is may
    assert _passes(UNDATED, filters) is undated
