"""Scraped-page noise goes, article sentences stay word for word."""

from __future__ import annotations

import pytest

from assistant.library.sources.cleanup import clean_text, is_noise_line

pytestmark = pytest.mark.unit

PROSE_1 = "The river authority said on Friday that the old dam would be drained next year."
PROSE_2 = "Residents downstream have asked for a public meeting before any work begins."
CAPTION = "Workers inspect the dam wall near the village on May 2, 2021. (Jane Roe/Example Photos)"


def paragraphs(text: str) -> list[str]:
    return text.split("\n\n")


@pytest.mark.parametrize(
    "noise",
    [
        "Advertisement",
        "ADVERTISEMENT",
        "- Advertisement -",
        "Story continues below advertisement",
        "read more:",
        "Read more: Ten things to know about the dam",
        "READ MORE: Council rejects the budget",
        "Source link",
        "Leave a Comment",
        "Leave a Reply",
        "Join the conversation",
        "Join the conversation as a VIP Member",
        "Join the conversation… Comments are moderated, please be civil",
        "Share this article",
        "Subscribe to our newsletter",
        "Sign up for the morning briefing",
        "Related Stories",
        "RELATED: Flood warnings issued",
        "Trending on Example Videos",
        "Story Code : 123456",
        "(Jane Roe/Example Photos)",
        "(Pool via AP)",
        "Jane Roe in Lisbon and John Doe in Porto, Portugal, contributed to this report.",
        "Ann Smith reported from Oslo. Example News staff contributed to this story.",
        "Wire services contributed reporting.",
    ],
)
def test_each_kind_of_noise_line_is_removed(noise: str) -> None:
    cleaned = clean_text(f"{PROSE_1}\n\n{noise}\n\n{PROSE_2}")
    assert cleaned == f"{PROSE_1}\n\n{PROSE_2}"
    assert is_noise_line(noise)


@pytest.mark.parametrize(
    "sentence",
    [
        "Subscribers will pay more from July, the company said in a statement on Monday.",
        "Read more carefully, the judge told the lawyers, and you will find the clause.",
        "Advertisement spending fell sharply in the second quarter, the agency reported.",
        "Sign up numbers for the programme doubled after the mayor's appeal last month, officials say "
        "in a report that runs to more than two hundred pages.",
        "(The figures do not include seasonal workers, the ministry said.)",
        "Copyright law was changed in 2019.",
        "Heavy rain contributed to the flooding of the lower town, the report found.",
    ],
)
def test_prose_that_starts_like_a_prompt_is_kept(sentence: str) -> None:
    assert clean_text(f"{PROSE_1}\n\n{sentence}") == f"{PROSE_1}\n\n{sentence}"


def test_doubled_photo_caption_is_kept_once() -> None:
    cleaned = clean_text(f"{PROSE_1}\n\n{CAPTION}\n{CAPTION}\n\n{PROSE_2}")
    assert paragraphs(cleaned) == [PROSE_1, CAPTION, PROSE_2]


def test_paragraph_repeated_after_a_blank_line_is_kept_once() -> None:
    cleaned = clean_text(f"{PROSE_1}\n\n{PROSE_2}\n\n{PROSE_2}\n\n{PROSE_1}")
    assert paragraphs(cleaned) == [PROSE_1, PROSE_2, PROSE_1]


def test_repeated_multi_line_paragraph_is_kept_once() -> None:
    block = f"{PROSE_1}\n{PROSE_2}"
    assert paragraphs(clean_text(f"{block}\n\n{block}")) == [block]


def test_trailing_run_of_ads_and_comment_prompts_leaves_only_the_article() -> None:
    tail = "\n\n".join(["Advertisement", "Join the conversation as a VIP Member", "Trending on Site Videos"])
    cleaned = clean_text(f"{PROSE_1}\n\n{PROSE_2}\n\n{tail}\nAdvertisement\nAdvertisement")
    assert cleaned == f"{PROSE_1}\n\n{PROSE_2}"


def test_whitespace_is_normalised_into_paragraphs() -> None:
    raw = f"  {PROSE_1}\u00a0 \r\n\r\n\r\n\r\n{PROSE_2}\t \r\n\n\n"
    assert clean_text(raw) == f"{PROSE_1}\n\n{PROSE_2}"


def test_non_breaking_spaces_become_plain_spaces() -> None:
    assert clean_text("The\u00a0dam\u202fopened\u00a0 today.") == "The dam opened today."


def test_typographic_quotes_and_dashes_are_kept_verbatim() -> None:
    quote = "“We will not stop,” the mayor said — and the crowd’s cheers drowned her out…"
    assert clean_text(quote) == quote


def test_line_breaks_inside_a_paragraph_are_kept() -> None:
    wrapped = "The board met on Tuesday and\nagreed to publish the report."
    assert clean_text(wrapped) == wrapped


def test_empty_and_noise_only_text_cleans_to_nothing() -> None:
    assert clean_text("") == ""
    assert clean_text("Advertisement\n\nSource link\n\nLeave a Comment\n") == ""
