"""The time prior reorders dated articles toward the moment asked about, and never drops any."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPORT = """---
title: Riverton council meets on the footbridge
source: Riverton Gazette
published: {published}
---
The Riverton town council met on the footbridge over the Mill River and {outcome}.

The mayor said the council would publish the minutes of the meeting on its website.
"""
OUTCOMES = {
    "january": ("2024-01-10", "postponed its vote on the footbridge until spring"),
    "march": ("2024-03-14", "approved the footbridge by seven votes to two"),
    "june": ("2024-06-01", "chose a contractor to build the footbridge"),
}
UNDATED = """---
title: Riverton council and the footbridge
source: Riverton Gazette
---
The Riverton town council discussed the footbridge over the Mill River and heard residents.

The mayor said the council would publish the minutes of the meeting on its website.
"""
QUESTION = "What did the Riverton council decide about the footbridge this week?"


@pytest.fixture
def council(make_assistant, tmp_path: Path):  # type: ignore[no-untyped-def]
    folder = tmp_path / "articles"
    folder.mkdir()
    for name, (published, outcome) in OUTCOMES.items():
        (folder / f"{name}.md").write_text(REPORT.format(published=published, outcome=outcome))
    (folder / "undated.md").write_text(UNDATED)
    assistant = make_assistant()
    report = assistant.ingest([folder])
    assert report.added == 4, report.summary()
    return assistant


def _top_outcome(passages) -> str:  # type: ignore[no-untyped-def]
    top = passages[0].text
    return next((name for name, (_, outcome) in OUTCOMES.items() if outcome in top), "undated")


@pytest.mark.parametrize(
    ("as_of", "expected"), [(dt.date(2024, 3, 15), "march"), (dt.date(2024, 6, 3), "june")]
)
def test_as_of_brings_the_article_of_that_week_to_the_top(council, as_of: dt.date, expected: str) -> None:  # type: ignore[no-untyped-def]
    for rerank in (True, False):
        passages = council.retriever.retrieve(QUESTION, k=10, as_of=as_of, rerank=rerank)
        assert _top_outcome(passages) == expected, (rerank, [p.published for p in passages])


def test_articles_published_after_as_of_rank_below_those_before_it(council) -> None:  # type: ignore[no-untyped-def]
    passages = council.retriever.retrieve(
        "What did the Riverton council decide about the footbridge?", k=10, as_of=dt.date(2024, 3, 20)
    )
    order = [p.published for p in passages if p.published is not None]
    assert order.index(dt.date(2024, 6, 1)) > order.index(dt.date(2024, 3, 14))


def test_without_as_of_a_relative_expression_resolves_against_the_newest_article(council) -> None:  # type: ignore[no-untyped-def]
    passages = council.retriever.retrieve("What is the latest on the Riverton footbridge?", k=10)
    assert passages[0].published == dt.date(2024, 6, 1)


def test_undated_articles_still_come_back_under_a_time_prior(council) -> None:  # type: ignore[no-untyped-def]
    passages = council.retriever.retrieve(QUESTION, k=10, as_of=dt.date(2024, 3, 15))
    dates = {None, *(dt.date.fromisoformat(d) for d, _ in OUTCOMES.values())}
    assert {p.published for p in passages} >= dates
    assert any("heard residents" in p.text for p in passages)


def test_passages_say_how_far_their_article_lies_outside_the_week_asked_about(council) -> None:  # type: ignore[no-untyped-def]
    as_of = dt.date(2024, 3, 15)
    passages = council.retriever.retrieve(QUESTION, k=10, as_of=as_of)
    by_date = {p.published: p.days_outside for p in passages}
    assert by_date[dt.date(2024, 3, 14)] == 0  # inside the seven days up to as_of
    assert by_date[dt.date(2024, 1, 10)] == (dt.date(2024, 3, 9) - dt.date(2024, 1, 10)).days
    assert by_date[dt.date(2024, 6, 1)] == (dt.date(2024, 6, 1) - as_of).days
    assert by_date[None] is None  # undated
    # without as_of "this week" is only a guess (the newest article's week): no distance is given
    assert all(p.days_outside is None for p in council.retriever.retrieve(QUESTION, k=10))
    # nor for a question that names no window
    plain = council.retriever.retrieve("What did the Riverton council decide?", k=10, as_of=as_of)
    assert all(p.days_outside is None for p in plain)
    # and the answer, asked that week, quotes no report from months before it
    answer = council.ask("What did the Riverton town council do on the footbridge this week?", as_of=as_of)
    assert not answer.abstained, answer.text
    assert {c.published for c in answer.citations} <= {dt.date(2024, 3, 14), None}


def test_passages_say_how_long_before_the_day_asked_their_article_came_out(council) -> None:  # type: ignore[no-untyped-def]
    as_of = dt.date(2024, 3, 15)
    plain = council.retriever.retrieve("What did the Riverton council decide?", k=10, as_of=as_of)
    by_date = {p.published: p.days_before for p in plain}
    assert by_date[dt.date(2024, 3, 14)] == 1 and by_date[dt.date(2024, 1, 10)] == 65
    assert by_date[dt.date(2024, 6, 1)] == -78  # published after the day asked
    assert by_date[None] is None  # undated
    # with no day given, none: the newest article's date is only a stand-in for "today"
    assert all(
        p.days_before is None for p in council.retriever.retrieve("What did the Riverton council decide?")
    )
