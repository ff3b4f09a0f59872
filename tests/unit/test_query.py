"""The Query every caller builds: one validation, one message per mistake."""

from __future__ import annotations

import datetime as dt

import pytest

from assistant.errors import AssistantError, QueryError
from assistant.models import Answer, AnswerReady, Query, TextDelta, final_answer

pytestmark = pytest.mark.unit


def test_a_valid_query_keeps_what_was_asked() -> None:
    query = Query.of(
        "  What did Hamas demand?  ",
        history=[{"role": "user", "content": "Who met in Doha?"}],
        filters={"since": "2020-01-01", "sources": ["The Times of Israel"]},
        k="8",
        backend="openai",
        as_of=dt.date(2024, 3, 21),
    )
    assert query.question == "What did Hamas demand?"
    assert query.filters is not None and query.filters.since == dt.date(2020, 1, 1)
    assert (query.k, query.backend, query.as_of) == (8, "openai", dt.date(2024, 3, 21))


def test_blank_values_mean_the_defaults() -> None:
    query = Query.of("Who?", history=None, filters={}, k="", backend="")
    assert (query.history, query.filters, query.k, query.backend, query.as_of) == ([], None, None, None, None)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"question": "  "}, "the question is empty: ask something about the articles"),
        ({"question": None}, "the question is empty"),
        (
            {"filters": {"since": "2024-05-01", "until": "2020-01-01"}},
            "the 'From' date is after the 'To' date",
        ),
        ({"k": 0}, "k is a number of passages from 1 to 100, not 0"),
        ({"k": 101}, "k is a number of passages from 1 to 100, not 101"),
        ({"k": "many"}, "k is a number of passages from 1 to 100, not 'many'"),
        ({"backend": "gpt"}, "the backend is one of 'extractive', 'openai', 'local', not 'gpt'"),
        ({"history": [{"role": "robot", "content": "hi"}]}, "role is 'user' or 'assistant'"),
        ({"filters": {"since": "last spring"}}, "filters.since"),
    ],
)
def test_each_mistake_gets_a_message_that_says_what_to_change(fields: dict, message: str) -> None:
    question = fields.pop("question", "What did Hamas demand?")
    with pytest.raises(QueryError) as error:
        Query.of(question, **fields)
    assert message in str(error.value)
    assert isinstance(error.value, AssistantError)


def test_a_query_passes_through_and_takes_changes_with_the_same_checks() -> None:
    query = Query.of("What did Hamas demand?", k=5)
    assert Query.of(query) is query
    assert Query.of(query, backend="openai").k == 5
    with pytest.raises(QueryError, match="k is a number"):
        Query.of(query, k=500)


def test_final_answer_drains_the_stream_and_shows_the_text() -> None:
    answer = Answer(question="q", text="Hello world.")
    shown: list[str] = []
    events = [TextDelta(text="Hello "), TextDelta(text="world."), AnswerReady(answer=answer)]
    assert final_answer(events, on_text=shown.append) is answer
    assert "".join(shown) == "Hello world."
    with pytest.raises(AssistantError, match="without an answer"):
        final_answer([TextDelta(text="cut off")])
