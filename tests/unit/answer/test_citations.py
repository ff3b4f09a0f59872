"""Parsing, renumbering and sentence splitting of [n] citations."""

from __future__ import annotations

import pytest

from assistant.answer.citations import (
    claim_text,
    lexical_support,
    parse_citations,
    renumber,
    split_sentences,
    strip_citations,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hamas asked for money [2].", [2]),
        ("First [2]. Second [1]. Third [2].", [2, 1]),
        ("Both met in Doha [1, 3].", [1, 3]),
        ("Both met in Doha [1][3].", [1, 3]),
        ("A range [1-3] and [2–4].", [1, 2, 3, 4]),
        ("Mixed [5, 1-2].", [5, 1, 2]),
        ("No citations here, only [brackets] and [a1].", []),
        ("A year in brackets [2024] is no citation.", []),
    ],
)
def test_parse_citations(text: str, expected: list[int]) -> None:
    assert parse_citations(text) == expected


def test_absurd_range_is_not_expanded() -> None:
    assert parse_citations("typo [1-300]") == [1, 300]


def test_renumber_maps_and_drops() -> None:
    text = "Qatar paid [3]. Hamas asked [2, 7]. Israel refused [7]."
    assert renumber(text, {3: 1, 2: 2}) == "Qatar paid [1]. Hamas asked [2]. Israel refused."


def test_renumber_splits_groups_and_ranges() -> None:
    assert renumber("Talks [1-2] and [4, 2].", {1: 2, 2: 1, 4: 3}) == "Talks [2][1] and [3][1]."


def test_strip_citations() -> None:
    assert strip_citations("Hamas asked for $40 million [2][3] a month [1].") == (
        "Hamas asked for $40 million a month."
    )


def test_split_sentences_knows_abbreviations() -> None:
    text = (
        "Maj. Gen. Herzi Halevi went to Doha. The U.S. envoy met Mr. Blinken at 3 p.m. on Monday. "
        "Prices rose 2.5 percent! Did it help? J. Smith said no."
    )
    assert split_sentences(text) == [
        "Maj. Gen. Herzi Halevi went to Doha.",
        "The U.S. envoy met Mr. Blinken at 3 p.m. on Monday.",
        "Prices rose 2.5 percent!",
        "Did it help?",
        "J. Smith said no.",
    ]


def test_citations_after_the_full_stop_stay_with_their_sentence() -> None:
    assert split_sentences("Qatar paid. [1] Hamas asked for more. [2][3] The end.") == [
        "Qatar paid. [1]",
        "Hamas asked for more. [2][3]",
        "The end.",
    ]


def test_list_items_and_paragraphs_are_separate_sentences() -> None:
    text = "Here is what they say:\n\n- Qatar paid [1]\n- Hamas asked [2]\n\nDone."
    assert split_sentences(text) == [
        "Here is what they say:",
        "- Qatar paid [1]",
        "- Hamas asked [2]",
        "Done.",
    ]
    assert claim_text("- **Qatar** paid [1]") == "Qatar paid"


def test_lexical_support_is_token_recall() -> None:
    passage = "Hamas now wants $40 million every month from Qatar for a long period."
    assert lexical_support("Hamas wanted $40 million a month from Qatar.", passage) > 0.8
    assert lexical_support("Egypt closed the Rafah crossing.", passage) == 0.0


def test_a_changed_number_costs_more_than_a_changed_word() -> None:
    passage = "Hamas now wants $40 million every month from Qatar."
    wrong_number = lexical_support("Hamas wants $90 million every month from Qatar.", passage)
    wrong_word = lexical_support("Hamas seeks $40 million every month from Qatar.", passage)
    assert wrong_number < 0.5 < wrong_word
