"""What the chat shows: the rendering of answers, quotes, pending and stopped answers, and sources;
and the ticking stream that redraws a pending answer's clock."""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from collections.abc import Iterator

import pytest

from assistant.interfaces.ui import render
from assistant.interfaces.ui.chat_tab import PendingView
from assistant.interfaces.ui.handlers import with_ticks
from assistant.models import Answer, AnswerReady, Citation, Passage, QuotesReady, TextDelta, Waiting

pytestmark = pytest.mark.unit

QUESTION = "Who won the election?"
WINNER = Passage(
    id="p1",
    article_id="a1",
    title="Biden wins",
    source="The Daily",
    published=dt.date(2020, 11, 7),
    text="Joe Biden won the presidential election. Crowds gathered in the streets.",
    start=0,
    end=72,
)
TURNOUT = Passage(
    id="p2",
    article_id="a2",
    title="Record turnout",
    source="The Weekly",
    published=dt.date(2020, 11, 8),
    text="Turnout was the highest in a century, officials said.",
    start=0,
    end=53,
)
UNRELATED = Passage(
    id="p3",
    article_id="a3",
    title="Weather",
    source="The Daily",
    text="Rain is expected on Tuesday.",
    start=0,
    end=28,
)
PASSAGES = [WINNER, TURNOUT, UNRELATED]


def _quotes() -> Answer:
    return Answer(
        question=QUESTION,
        text="\u201cJoe Biden won the presidential election.\u201d [1] \u201cTurnout was high.\u201d [2]",
        citations=[
            Citation.from_passage(1, WINNER, "Joe Biden won the presidential election.", 0.9),
            Citation.from_passage(2, TURNOUT, "Turnout was the highest in a century, officials said.", 0.5),
        ],
        passages=PASSAGES,
    )


def _written() -> Answer:
    return Answer(
        question=QUESTION,
        text="Joe Biden [1]\n\n\u201cJoe Biden won the presidential election.\u201d [1]",
        citations=[Citation.from_passage(1, WINNER, "Joe Biden won the presidential election.", 1.0)],
        passages=PASSAGES,
        backend="local",
        quotes=_quotes(),
    )


def _targets(html: str) -> list[str]:
    return re.findall(r'data-target="([^"]+)"', html)


def _card_ids(html: str) -> list[str]:
    return re.findall(r'class="na-source" id="([^"]+)"', html)


# -- answers and their quotes ----------------------------------------------------------------------


def test_quotes_are_numbered_apart_from_the_written_answer() -> None:
    assert render.card_id(3, 1) == "src-3-1"
    assert render.quotes_key(3) == "3q"
    assert render.card_id(render.quotes_key(3), 1) == "src-3q-1"


def test_a_written_answer_links_its_citation_and_shows_the_quotes_beneath() -> None:
    html = render.answer_markdown(_written(), 3)

    answer_part, quotes_part = html.split('<div class="na-quotes">')
    assert _targets(answer_part) == ["src-3-1", "src-3-1"]
    assert _targets(quotes_part) == ["src-3q-1", "src-3q-2"]
    assert render.QUOTES_HEADING in quotes_part
    assert answer_part.index("Joe Biden") < html.index(render.QUOTES_HEADING)
    # the Markdown of the quotes is set apart by blank lines, so that it is rendered inside the <div>
    assert '<div class="na-quotes">\n\n' in html and html.endswith("\n\n</div>")


def test_the_local_model_abstaining_shows_the_quotes_beneath() -> None:
    unsure = Answer(
        question=QUESTION,
        text="The articles don't seem to say.",
        abstained=True,
        passages=PASSAGES,
        backend="local",
        quotes=_quotes(),
    )
    html = render.answer_markdown(unsure, 4)

    abstention, quotes_part = html.split('<div class="na-quotes">')
    assert "na-abstain" in abstention and "seem to say" in abstention
    assert _targets(quotes_part) == ["src-4q-1", "src-4q-2"]


def test_an_answer_without_quotes_renders_as_before() -> None:
    quotes = _quotes()
    html = render.answer_markdown(quotes, 2)

    assert "na-quotes" not in html
    assert _targets(html) == ["src-2-1", "src-2-2"]


def test_an_unverified_model_answer_renders_like_a_fallback() -> None:
    notice = "*The local model's answer (\u201cnonsense\u201d) is not stated in the passages it read.*\n\n"
    unverified = _quotes().model_copy(update={"text": notice + _quotes().text, "backend": "local"})

    html = render.answer_markdown(unverified, 1)

    assert "na-quotes" not in html and "not stated in the passages" in html
    assert _targets(html) == ["src-1-1", "src-1-2"]


def test_abstained_quotes_show_the_abstention_box() -> None:
    abstained = Answer(question=QUESTION, text="The articles don't say.", abstained=True, passages=PASSAGES)

    assert "na-abstain" in render.answer_markdown(abstained, 1)
    assert "na-abstain" in render.quotes_markdown(abstained, 1)
    assert "No passage supports" in render.quotes_sources_html(abstained, 1)


def test_quotes_escape_article_text_and_disarm_markdown_links() -> None:
    hostile = _quotes().model_copy(
        update={"text": "<img src=x onerror=alert(1)> [see](javascript:alert(1)) [1]"}
    )

    html = render.quotes_markdown(hostile, 1)

    assert "<img" not in html and "&lt;img" in html
    assert "](javascript:" not in html


# -- pending and stopped -----------------------------------------------------------------------------


def test_status_lines() -> None:
    assert render.waiting_status(2) == "\u23f3 Waiting for the local model: 2 ahead"
    assert render.writing_status(7.9) == "\u270d\ufe0f The local model is writing\u2026 7 s"
    assert render.writing_status(-0.1).endswith(" 0 s")


def test_pending_answer_shows_status_partial_text_and_quotes() -> None:
    html = render.pending_markdown(render.writing_status(3), "Joe Bid [2]", _quotes(), 4)

    status, rest = html.split("\n\n", 1)
    assert status == '<div class="na-status">\u270d\ufe0f The local model is writing\u2026 3 s</div>'
    assert rest.startswith("Joe Bid \u258c")  # the model's own [n] left out until verified
    assert _targets(rest) == ["src-4q-1", "src-4q-2"]
    assert render.QUOTES_HEADING in rest


def test_pending_answer_escapes_the_model_text() -> None:
    html = render.pending_markdown(render.writing_status(0), "<script>x</script>", None, 1)

    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "na-quotes" not in html and "\u258c" in html


def test_a_stopped_answer_keeps_the_quotes() -> None:
    html = render.stopped_markdown(_quotes(), 5)

    assert render.STOPPED_WITH_QUOTES in html and "\u258c" not in html
    assert _targets(html) == ["src-5q-1", "src-5q-2"]
    assert render.STOPPED_EARLY in render.stopped_markdown(None, 5)


# -- sources -------------------------------------------------------------------------------------------


def test_sources_of_a_written_answer_list_its_cards_then_the_quotes_cards() -> None:
    html = render.sources_html(_written(), 3)

    assert _card_ids(html) == ["src-3-1", "src-3q-1", "src-3q-2"]
    assert html.index(render.CITED_LABEL) < html.index("src-3-1")
    assert html.index("src-3-1") < html.index(render.QUOTED_LABEL) < html.index("src-3q-1")
    others = html.split('class="na-others"')[1]
    assert "Other retrieved passages (1)" in others and "Rain is expected" in others
    assert "Turnout was" not in others  # quoted passages are not "other" passages


def test_sources_of_an_answer_without_quotes_are_unlabelled() -> None:
    html = render.sources_html(_quotes(), 2)

    assert _card_ids(html) == ["src-2-1", "src-2-2"]
    assert render.CITED_LABEL not in html and render.QUOTED_LABEL not in html


def test_sources_of_quotes_alone_use_the_quotes_cards() -> None:
    html = render.quotes_sources_html(_quotes(), 6)

    assert _card_ids(html) == ["src-6q-1", "src-6q-2"]
    assert render.QUOTES_HEADING in html and 'data-turn="6"' in html
    assert "Other retrieved passages (1)" in html


# -- the pending view and its clock ------------------------------------------------------------------


def test_pending_view_follows_the_events() -> None:
    view = PendingView(2)
    view.see(TextDelta(text="quoted "))
    assert view.markdown() == render.streaming_markdown("quoted ")  # extractive: as before

    view = PendingView(2)
    view.see(QuotesReady(answer=_quotes()))
    view.see(Waiting(position=2))
    assert render.waiting_status(2) in view.markdown()
    view.see(Waiting(position=0))
    view.started -= 5  # five seconds into the writing
    view.see(TextDelta(text="Joe"))
    html = view.markdown()
    assert render.writing_status(5) in html and "Joe \u258c" in html and "src-2q-1" in html


def _slow_stream(closed: threading.Event, pause: float) -> Iterator[TextDelta | AnswerReady]:
    try:
        yield TextDelta(text="a")
        time.sleep(pause)
        yield TextDelta(text="b")
        yield AnswerReady(answer=_quotes())
    finally:
        closed.set()


def test_with_ticks_yields_a_tick_each_second_without_an_event() -> None:
    closed = threading.Event()

    items = list(with_ticks(_slow_stream(closed, 0.35), interval=0.1))

    assert isinstance(items[0], TextDelta) and isinstance(items[-1], AnswerReady)
    ticks = [item for item in items if item is None]
    assert 2 <= len(ticks) <= 4
    assert closed.is_set()


def test_closing_with_ticks_closes_the_stream_at_its_next_event() -> None:
    closed = threading.Event()
    events = with_ticks(_slow_stream(closed, 0.3), interval=0.05)
    assert isinstance(next(events), TextDelta)
    assert next(events) is None  # the stream is busy: a tick, so the caller can be closed

    events.close()

    assert closed.wait(2)


def test_with_ticks_raises_the_streams_error_in_the_caller() -> None:
    def failing() -> Iterator[TextDelta]:
        yield TextDelta(text="a")
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        list(with_ticks(failing(), interval=0.05))
