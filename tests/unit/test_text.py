"""The one text module: chunking, BM25, the composer and verification read text the same way."""

from __future__ import annotations

import datetime as dt

import pytest

from assistant.answer import citations
from assistant.evaluation import metrics
from assistant.text import (
    STOPWORDS,
    content_words,
    format_date,
    parse_citations,
    sentence_spans,
    split_sentences,
    tokenize,
    words,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (  # weekday and month abbreviations do not end a sentence
            "The permit is due on Wed. Mar. 5 at noon. The council meets on Tues. Jan. 9.",
            ["The permit is due on Wed. Mar. 5 at noon.", "The council meets on Tues. Jan. 9."],
        ),
        (  # ... but the everyday words among them do, written in lower case
            "They sat in the sun. Then it rained. The couple will wed. Guests came.",
            ["They sat in the sun.", "Then it rained.", "The couple will wed.", "Guests came."],
        ),
        (  # markers written after the full stop belong to the sentence before
            "Qatar paid in Doha. [2] Hamas asked for more\u2026 [1][3] Israel refused.",
            ["Qatar paid in Doha. [2]", "Hamas asked for more\u2026 [1][3]", "Israel refused."],
        ),
    ],
)
def test_sentences_are_split_the_same_way_for_chunks_and_verification(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected
    assert citations.split_sentences(text) == expected
    assert [text[a:b] for a, b in sentence_spans(text)] == expected


def test_offsets_index_into_the_text_between_start_and_end() -> None:
    text = "Intro. Mr. Halevi flew to Doha. He met Qatari officials.\nNext line"
    start = text.index("Mr.")
    spans = sentence_spans(text, start, text.index("\n"))
    assert [text[a:b] for a, b in spans] == ["Mr. Halevi flew to Doha.", "He met Qatari officials."]


def test_words_tokens_and_content_words_share_one_reading() -> None:
    assert words("Hamas's U.S. envoy counted 40,000 people") == [
        "hamas",
        "us",
        "envoy",
        "counted",
        "40000",
        "people",
    ]
    assert tokenize("What did Hamas demand?") == tokenize("Hamas's demands") == ["hama", "demand"]
    assert content_words("The article reported that Hamas demanded $40 million") == {
        "hama",
        "demand",
        "40",
        "million",
    }
    assert content_words("Hamas demands") <= set(tokenize("Hamas demanded it"))


def test_there_is_one_stop_word_list() -> None:
    assert metrics.STOPWORDS is STOPWORDS
    assert {"the", "said", "according", "however"} <= STOPWORDS


def test_one_citation_syntax_for_answers_verification_and_metrics() -> None:
    answer = "Qatar paid [1, 3]. Hamas asked [2-3]."
    assert parse_citations(answer) == citations.parse_citations(answer) == [1, 3, 2]
    assert metrics.cited_sentences(answer) == [("Qatar paid.", [1, 3]), ("Hamas asked.", [2, 3])]


def test_dates_are_written_one_way() -> None:
    assert format_date(dt.date(2024, 3, 20)) == "20 March 2024"
    assert format_date(dt.date(2023, 12, 2), inferred=True) == "2 December 2023 (date inferred)"
    assert format_date(None) == "date unknown"
