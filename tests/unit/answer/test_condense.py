"""Rule-based rewriting of follow-up questions (used when no model condenses them)."""

from __future__ import annotations

import pytest

from assistant.answer.condense import condense_rule

pytestmark = pytest.mark.unit


def asked(*questions: str) -> list[dict]:
    history: list[dict] = []
    for question in questions:
        history.append({"role": "user", "content": question})
        history.append({"role": "assistant", "content": "Some answer [1]."})
    return history


@pytest.mark.parametrize(
    ("follow_up", "previous", "expected"),
    [
        ("And in 2024?", "What did Hamas demand?", "What did Hamas demand in 2024?"),
        ("And in 2024?", "What did Hamas demand in 2020?", "What did Hamas demand in 2024?"),
        ("what about in March 2024?", "What did Hamas demand?", "What did Hamas demand in March 2024?"),
        ("What about Israel?", "What did Hamas demand?", "What did Israel demand?"),
        ("Who led it?", "Why did the delegation go to Qatar?", "Who led the delegation?"),
        (
            "Who led it?",
            "What did the Israeli delegation discuss in Doha?",
            "Who led the Israeli delegation?",
        ),
        ("What did they demand?", "Why did Hamas threaten Israel?", "What did Hamas demand?"),
        ("What happened after that?", "When did the truce collapse?", "What happened after the truce?"),
    ],
)
def test_follow_ups_are_resolved(follow_up: str, previous: str, expected: str) -> None:
    assert condense_rule(follow_up, asked(previous)) == expected


@pytest.mark.parametrize(
    "question",
    [
        "What did Qatar pay Hamas?",
        "Why was that delegation sent to Doha?",
        "And what did Israel offer in return for the hostages?",
    ],
)
def test_standalone_questions_are_unchanged(question: str) -> None:
    assert condense_rule(question, asked("What did Hamas demand?")) == question


def test_without_history_the_question_is_unchanged() -> None:
    assert condense_rule("And in 2024?", None) == "And in 2024?"
    assert condense_rule("And in 2024?", []) == "And in 2024?"
    assert condense_rule("Who led it?", [{"role": "assistant", "content": "Hello."}]) == "Who led it?"


def test_earlier_follow_ups_are_resolved_first() -> None:
    history = asked("What did Hamas demand?", "And in 2020?")
    assert condense_rule("And in 2024?", history) == "What did Hamas demand in 2024?"


def test_which_question_gives_its_noun_phrase_to_a_pronoun() -> None:
    history = [{"role": "user", "content": "Which Israeli delegation went to Doha in August 2020?"}]
    assert condense_rule("Who led it?", history) == "Who led the Israeli delegation?"


def test_a_short_follow_up_naming_nothing_carries_the_previous_question() -> None:
    history = [
        {"role": "user", "content": "Why did Israel recall its Mossad negotiators from Qatar?"},
        {"role": "assistant", "content": "The talks had reached a dead end [1]."},
    ]
    standalone = condense_rule("Who gave the order?", history)
    assert standalone.startswith("Who gave the order?")
    assert "Mossad negotiators" in standalone
    # a question with a name of its own stands alone
    assert condense_rule("What did Qatar pay?", history) == "What did Qatar pay?"
