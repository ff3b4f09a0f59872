"""Dates: parse what a source states; infer one from the text only when the text names it."""

from __future__ import annotations

import datetime as dt

import pytest

from assistant.library.sources.dates import find_dates, infer_date, is_date_line, parse_date, resolve_date

pytestmark = pytest.mark.unit

MARCH_6 = dt.date(2024, 3, 6)


@pytest.mark.parametrize(
    "value",
    [
        "2024-03-06",
        "2024-03-06T10:00:00Z",
        "2024-03-06T23:30:00-05:00",
        "2024-03-06 10:00:00",
        "20240306",
        "March 6, 2024",
        "Mar. 6, 2024",
        "6 March 2024",
        "6th March 2024",
        "Wednesday, March 6, 2024",
        "Wed, 06 Mar 2024 10:00:00 GMT",
        "Published March 6, 2024 at 10:00 a.m.",
        "2024/03/06",
        MARCH_6,
        dt.datetime(2024, 3, 6, 22, 15),
    ],
)
def test_parse_date_accepts_common_formats(value: object) -> None:
    assert parse_date(value) == MARCH_6  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "junk", [None, "", "   ", "yesterday", "not a date", "March 6", "Room 12", "2024-13-45"]
)
def test_parse_date_returns_none_for_junk_and_never_raises(junk: str | None) -> None:
    assert parse_date(junk) is None


def test_parse_date_ignores_non_string_values() -> None:
    assert parse_date(12345) is None  # type: ignore[arg-type]
    assert parse_date(["2024-03-06"]) is None  # type: ignore[arg-type]


def test_find_dates_lists_full_dates_in_order_and_skips_partial_ones() -> None:
    text = (
        "Talks began on Oct. 7 and resumed on January 3, 2020. A second round (12 February 2020) "
        "was planned; the 2019-11-30 memo and the March 2 election were cited. February 30, 2020 is no date."
    )
    assert find_dates(text) == [dt.date(2020, 1, 3), dt.date(2020, 2, 12), dt.date(2019, 11, 30)]


def test_infer_date_takes_the_latest_caption_date() -> None:
    text = (
        "Officials met in the capital this week.\n\n"
        "A crowd gathers outside parliament on August 8, 2020. (Photo Agency)\n\n"
        "The talks continued into the night.\n\n"
        "Firefighters work near the border, August 23, 2020. (Jane Roe/Agency)\n\n"
        "An earlier meeting on November 12, 2019. (Agency)"
    )
    assert infer_date(text) == dt.date(2020, 8, 23)


def test_infer_date_prefers_a_dateline_at_the_top() -> None:
    text = "Tuesday 25 February 2020 - 14:06\n\nHeadline\n\nIt recalled the talks of March 3, 2020 in detail."
    assert infer_date(text, today=dt.date(2024, 1, 1)) == dt.date(2020, 2, 25)


def test_infer_date_prefers_published_over_updated() -> None:
    text = "Headline\nUpdated: March 8, 2024\nPublished: March 6, 2024\n\nThe body mentions April 1, 2024."
    assert infer_date(text, today=dt.date(2024, 5, 1)) == MARCH_6


def test_infer_date_uses_updated_line_when_no_published_line() -> None:
    text = "Headline\nLast updated March 8, 2024 10:00 EST\n\nBody text mentions April 1, 2024."
    assert infer_date(text, today=dt.date(2024, 5, 1)) == dt.date(2024, 3, 8)


def test_infer_date_reads_an_agency_dateline() -> None:
    text = "Headline\n\nLONDON, March 6, 2024 (AP) — Markets fell on the news, which dated to July 1, 2024."
    assert infer_date(text, today=dt.date(2024, 12, 1)) == MARCH_6


def test_infer_date_never_returns_a_future_date() -> None:
    text = "The summit is planned for June 1, 2031, a year after the talks of May 5, 2022."
    assert infer_date(text, today=dt.date(2024, 1, 1)) == dt.date(2022, 5, 5)
    assert infer_date("Elections are due on 5 May 2031.", today=dt.date(2024, 1, 1)) is None


def test_infer_date_returns_none_when_the_text_names_no_full_date() -> None:
    text = "On Thursday the council met. It had met on Oct. 7 and in 2019, and will meet again in March."
    assert infer_date(text) is None
    assert infer_date("") is None


def test_is_date_line() -> None:
    assert is_date_line("Tuesday 25 February 2020 - 14:06")
    assert is_date_line("Published: March 6, 2024 10:00 a.m. EST")
    assert is_date_line("2024-03-06")
    assert not is_date_line("The talks of March 6, 2024 failed.")
    assert not is_date_line("Gaza talks falter")


def test_resolve_date_flags_only_inferred_dates() -> None:
    assert resolve_date("2024-03-06", "Text naming April 1, 2020.") == (MARCH_6, False)
    assert resolve_date(None, "Text naming April 1, 2020.") == (dt.date(2020, 4, 1), True)
    assert resolve_date("soon", "Text naming April 1, 2020.") == (dt.date(2020, 4, 1), True)
    assert resolve_date(None, "No date here.") == (None, False)
