"""Relative time expressions resolved against the moment a question is asked (pure)."""

from __future__ import annotations

import datetime as dt

import pytest

from assistant.retrieval.timeframe import TimeFrame, days_outside, has_time_expression, resolve, time_prior

pytestmark = pytest.mark.unit

D = dt.date
AS_OF = D(2024, 3, 15)  # a Friday


@pytest.mark.parametrize(
    ("question", "start", "end"),
    [
        ("What happened today in Paris?", D(2024, 3, 15), D(2024, 3, 15)),
        ("Who resigned yesterday?", D(2024, 3, 14), D(2024, 3, 14)),
        ("Which singer died this week?", D(2024, 3, 9), D(2024, 3, 15)),
        ("What did the court decide last week?", D(2024, 3, 2), D(2024, 3, 8)),
        ("How many people watched the final this past weekend?", D(2024, 3, 9), D(2024, 3, 10)),
        ("What did the bank announce this month?", D(2024, 3, 1), D(2024, 3, 15)),
        ("What did the bank announce last month?", D(2024, 2, 1), D(2024, 2, 29)),
        ("Who won the most medals this year?", D(2024, 1, 1), D(2024, 3, 15)),
        ("Who won the most medals last year?", D(2023, 1, 1), D(2023, 12, 31)),
        ("What did the senate pass in March 2023?", D(2023, 3, 1), D(2023, 3, 31)),
        ("What did the senate pass March 2023?", D(2023, 3, 1), D(2023, 3, 31)),
        ("What happened on January 5, 2024 in Berlin?", D(2024, 1, 5), D(2024, 1, 5)),
        ("Which company was fined in 2023?", D(2023, 1, 1), D(2023, 12, 31)),
        ("Flights were delayed Wednesday because of what?", D(2024, 3, 13), D(2024, 3, 13)),
        ("What did the mayor say on Friday?", D(2024, 3, 15), D(2024, 3, 15)),
        ("A train derailed there two weeks ago. Which chemical leaked?", D(2024, 2, 27), D(2024, 3, 4)),
        ("What changed in the past 3 days?", D(2024, 3, 12), D(2024, 3, 15)),
        ("What did they agree in December?", D(2023, 12, 1), D(2023, 12, 31)),
        ("What did they agree in March?", D(2024, 3, 1), D(2024, 3, 15)),
    ],
)
def test_expressions_resolve_to_a_window_that_never_ends_after_as_of(
    question: str, start: dt.date, end: dt.date
) -> None:
    frame = resolve(question, AS_OF)
    assert (frame.start, frame.end) == (start, end)
    assert frame.expression
    assert frame.end is not None and frame.end <= AS_OF


@pytest.mark.parametrize(
    "question",
    [
        "What is the latest on the strike?",
        "Who is currently leading the race?",
        "What did the study recently find?",
        "Who is the most recent winner?",
        "What will the city build in 2030?",
    ],
)
def test_recency_words_and_future_moments_give_a_preference_without_a_window(question: str) -> None:
    frame = resolve(question, AS_OF)
    assert frame.expression
    assert not frame.has_window


@pytest.mark.parametrize(
    "question",
    ["Who founded the company?", "Where is New York's largest park?", "What may the court decide?"],
)
def test_questions_without_a_time_expression_name_no_window(question: str) -> None:
    frame = resolve(question, AS_OF)
    assert frame == TimeFrame(as_of=AS_OF)
    assert not has_time_expression(question)


def test_prior_is_highest_inside_the_window_and_decays_with_distance() -> None:
    frame = resolve("What happened this week?", AS_OF)
    inside = time_prior(D(2024, 3, 12), frame, scale_days=7)
    near = time_prior(D(2024, 3, 1), frame, scale_days=7)
    far = time_prior(D(2023, 3, 1), frame, scale_days=7)
    assert inside == 1.0
    assert inside > near > far > 0.0


def test_articles_published_after_as_of_lose_more_than_older_ones_at_the_same_distance() -> None:
    frame = resolve("Who won?", AS_OF)
    before = time_prior(AS_OF - dt.timedelta(days=5), frame, scale_days=14)
    after = time_prior(AS_OF + dt.timedelta(days=5), frame, scale_days=14)
    assert after < before


def test_undated_articles_get_the_neutral_score() -> None:
    frame = resolve("What happened yesterday?", AS_OF)
    assert time_prior(None, frame, scale_days=7, neutral=0.4) == 0.4


def test_days_outside_counts_the_distance_to_the_window_the_question_names() -> None:
    as_of = dt.date(2023, 3, 16)
    frame = resolve("Which remake got its full trailer this week?", as_of)
    assert days_outside(dt.date(2023, 3, 12), frame) == 0
    assert days_outside(dt.date(2023, 3, 1), frame) == (frame.start - dt.date(2023, 3, 1)).days > 0
    assert days_outside(dt.date(2023, 3, 20), frame) == 4
    assert days_outside(None, frame) is None
    # no window, no distance: a plain recency preference, or no frame at all
    assert days_outside(dt.date(2019, 12, 5), resolve("What is the latest on the remake?", as_of)) is None
    assert days_outside(dt.date(2019, 12, 5), None) is None
