"""The web UI in headless Debian Chromium, driven by Playwright, against the app on a free local port."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.local_model import holding, local_settings, paced, wait_until_free
from tests.ui_server import running_app

pytestmark = pytest.mark.e2e

SCREENSHOT = REPO / "docs" / "screenshot.png"
ANSWER_TIMEOUT_MS = 60_000

# A made-up local story with a fact no other article has.
HARBOUR_STORY = """Marrowick harbour board approves floating oyster library

MARROWICK, 3 March 2031 - The harbour board of the coastal town of Marrowick voted on Monday to
moor a floating library on a converted oyster barge at the end of Pier Nine.

Board chair Ingrid Salcombe said the barge library would lend tide tables, sea charts and novels,
and would open every day except when the swell is above two metres.

The board set aside 48,000 crowns for the conversion, to be paid from harbour mooring fees.
"""

FINISHED = """() => {
  const bots = document.querySelectorAll('#chatbot [data-testid="bot"]');
  if (bots.length < %d) return false;
  const last = bots[bots.length - 1];
  return !last.innerText.includes('\\u258c')
    && !!last.querySelector('a.na-cite, .na-abstain, .na-error');
}"""


@dataclass
class App:
    url: str
    assistant: object
    eval_dir: Path


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, embedder) -> Iterator[App]:  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("ui-e2e")
    # A three-question slice of the sample set keeps the evaluation run short.
    lines = (REPO / "eval" / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines if line.strip()]
    dataset = root / "questions.jsonl"
    dataset.write_text("\n".join(json.dumps(r) for r in rows[:3]) + "\n", encoding="utf-8")
    # the local backend on the toy model is offered beside the default, extractive one
    settings = {"llm": local_settings()}
    with running_app(root, embedder, settings=settings, eval_dataset=dataset) as running:
        yield App(url=running.url, assistant=running.assistant, eval_dir=root / "eval")


@pytest.fixture
def page(browser, app: App):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(ANSWER_TIMEOUT_MS)
    page.goto(app.url)
    page.wait_for_selector("#question textarea")
    yield page
    context.close()


def _bot_count(page) -> int:  # type: ignore[no-untyped-def]
    return page.locator('#chatbot [data-testid="bot"]').count()


def _ask(page, question: str) -> object:  # type: ignore[no-untyped-def]
    """Type a question, press Ask, wait until the answer is complete; the last bot message."""
    expected = _bot_count(page) + 1
    page.fill("#question textarea", question)
    page.click("#ask-button")
    page.wait_for_function(FINISHED % expected)
    return page.locator('#chatbot [data-testid="bot"]').last


def _record_streaming(page) -> None:  # type: ignore[no-untyped-def]
    page.evaluate(
        """() => {
          window.__answerStates = [];
          new MutationObserver(() => {
            const bots = document.querySelectorAll('#chatbot [data-testid="bot"]');
            if (!bots.length) return;
            const text = bots[bots.length - 1].innerText;
            const seen = window.__answerStates;
            if (seen[seen.length - 1] !== text) seen.push(text);
          }).observe(document.querySelector('#chatbot'),
                     {subtree: true, childList: true, characterData: true});
        }"""
    )


def test_question_streams_in_and_the_sources_panel_names_the_right_articles(page) -> None:  # type: ignore[no-untyped-def]
    _record_streaming(page)

    answer = _ask(page, "What did Hamas demand?")

    states = [s.replace("\u258c", "").strip() for s in page.evaluate("window.__answerStates")]
    growing = [s for s in states if s]
    assert len(set(growing)) >= 3, "the answer should appear piece by piece"
    assert len(growing[1]) < len(growing[-1])
    links = answer.locator("a.na-cite")
    assert links.count() >= 2
    panel = page.locator("#sources-panel")
    cards = panel.locator(".na-source[id^='src-1-']")
    assert cards.count() >= 2
    panel_text = panel.inner_text()
    assert "Southern Command chief leads Israeli team to Doha" in panel_text
    assert "Yeshiva World News" in panel_text and "The Times of Israel" in panel_text
    assert "2020-08-24" in panel_text
    first_mark = cards.first.locator("mark").inner_text()
    assert first_mark and first_mark in answer.inner_text()
    assert panel.locator("details.na-others summary").count() == 1  # the other retrieved passages
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))


def test_selecting_a_citation_brings_its_passage_into_view(page) -> None:  # type: ignore[no-untyped-def]
    answer = _ask(page, "What did Hamas demand?")
    link = answer.locator("a.na-cite").last
    target = link.get_attribute("href").lstrip("#")
    card = page.locator(f"#{target}")
    panel = page.locator("#sources-panel")

    link.click()

    page.wait_for_function(f"() => document.getElementById('{target}').classList.contains('na-active')")
    page.wait_for_timeout(800)  # smooth scrolling
    card_box, panel_box = card.bounding_box(), panel.bounding_box()
    assert card_box is not None and panel_box is not None
    assert card_box["y"] < panel_box["y"] + panel_box["height"] and card_box["y"] + 20 > panel_box["y"]
    assert page.locator(".na-source.na-active").count() == 1


def test_example_question_follow_up_and_abstention_look_different(page) -> None:  # type: ignore[no-untyped-def]
    page.get_by_role("button", name="Select example 4: How much money did Hamas ask Qatar for?").click()
    page.wait_for_function(FINISHED % 1)
    first = page.locator('#chatbot [data-testid="bot"]').last
    assert "40 million" in first.inner_text()

    follow_up = _ask(page, "Which outlet reported that?")
    assert follow_up.locator("a.na-cite").count() >= 1

    refusal = _ask(page, "Who won the 1998 Tour de France?")
    assert refusal.locator(".na-abstain").count() == 1
    assert refusal.locator("a.na-cite").count() == 0
    assert "Not answered by your articles" in refusal.inner_text()
    panel = page.locator("#sources-panel")
    assert panel.locator("details.na-earlier").count() == 2  # earlier answers' sources stay reachable


def _local_model(app: App):  # type: ignore[no-untyped-def]
    return app.assistant.pipeline.reader().model  # type: ignore[attr-defined]


def _choose_local_backend(page) -> None:  # type: ignore[no-untyped-def]
    page.get_by_text("Filters and settings").click()
    page.locator("#backend").get_by_text("local", exact=True).click()


def _last_bot(page):  # type: ignore[no-untyped-def]
    return page.locator('#chatbot [data-testid="bot"]').last


def test_a_local_answer_shows_the_quotes_at_once_and_a_ticking_status_while_the_model_writes(
    page, app: App
) -> None:  # type: ignore[no-untyped-def]
    _choose_local_backend(page)
    stop = page.locator("#stop-button")
    assert not stop.is_visible()

    with paced(_local_model(app), first=2.5, each=0.02):  # no token for 2.5 s: the clock still ticks
        page.fill("#question textarea", "What did Hamas demand?")
        page.click("#ask-button")
        page.wait_for_selector('#chatbot [data-testid="bot"] .na-quotes')
        pending = _last_bot(page)
        assert "quotes from the articles" in pending.inner_text().lower()
        assert pending.locator(".na-quotes a.na-cite").count() >= 1
        assert page.locator("#sources-panel .na-source[id^='src-1q-']").count() >= 1
        page.wait_for_function(
            "() => /writing\u2026 [12] s/.test(document.querySelector('#chatbot .na-status').innerText)"
        )
        assert stop.is_visible()
        status_in_view = """() => {
          const status = document.querySelector('#chatbot .na-status').getBoundingClientRect();
          const chat = document.querySelector('#chatbot').getBoundingClientRect();
          return status.top >= chat.top && status.bottom <= chat.bottom;
        }"""
        assert page.evaluate(status_in_view), "the chat should keep the answer's top in view"

        page.wait_for_function(FINISHED % 1)

    final = _last_bot(page)
    text = final.inner_text()
    # the toy model's answer never verifies: the quotes stand, with a notice
    assert "not stated in the passages it read" in text and final.locator("a.na-cite").count() >= 1
    assert final.locator(".na-status").count() == 0
    page.wait_for_function("() => !document.querySelector('#stop-button')?.checkVisibility()")
    assert page.locator("#sources-panel .na-source[id^='src-1-']").count() >= 1


def test_the_queue_position_shows_then_stop_ends_the_answer_and_frees_the_model(page, app: App) -> None:  # type: ignore[no-untyped-def]
    _choose_local_backend(page)
    model = _local_model(app)

    with paced(model, each=0.4):  # 32 tokens: about 13 s unless stopped
        with holding(model):  # another question holds the model
            page.fill("#question textarea", "What did Hamas demand?")
            page.click("#ask-button")
            page.wait_for_function(
                "() => /Waiting for the local model: 1 ahead/"
                ".test(document.querySelector('#chatbot .na-status')?.innerText || '')"
            )
            assert _last_bot(page).locator(".na-quotes a.na-cite").count() >= 1  # the quotes meanwhile
        page.wait_for_function(
            "() => /writing/.test(document.querySelector('#chatbot .na-status')?.innerText || '')"
        )
        page.wait_for_function("() => document.querySelector('#stop-button')?.checkVisibility()")
        assert model.stats.busy

        page.click("#stop-button")

        page.wait_for_selector('#chatbot [data-testid="bot"] .na-stopped')
        wait_until_free(model, timeout=3)
    stopped = _last_bot(page)
    assert "Stopped" in stopped.inner_text() and "\u258c" not in stopped.inner_text()
    assert stopped.locator(".na-quotes a.na-cite").count() >= 1
    assert page.locator("#sources-panel .na-source[id^='src-1q-']").count() >= 1
    page.wait_for_function("() => !document.querySelector('#stop-button')?.checkVisibility()")

    answer = _ask(page, "How much money did Hamas ask Qatar for?")  # the model is free for the next one

    assert answer.locator("a.na-cite").count() >= 1 and answer.locator(".na-stopped").count() == 0
    assert page.locator("#sources-panel details.na-earlier").count() == 1


def test_a_bad_filter_shows_a_message_not_a_stack_trace(page) -> None:  # type: ignore[no-untyped-def]
    page.get_by_text("Filters and settings").click()
    since = page.locator("#since input").first
    until = page.locator("#until input").first
    since.fill("2024-05-01")
    since.press("Enter")
    until.fill("2020-01-01")
    until.press("Enter")

    answer = _ask(page, "What did Hamas demand?")

    assert answer.locator(".na-error").count() == 1
    text = answer.inner_text()
    assert "'From' date is after the 'To' date" in text
    assert "Traceback" not in text


def test_upload_an_article_ask_about_it_then_delete_it(page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    story = tmp_path / "marrowick-harbour.txt"
    story.write_text(HARBOUR_STORY, encoding="utf-8")
    page.get_by_role("tab", name="Library").click()
    counts = page.locator("#library-counts")
    page.wait_for_function("() => /\\d+ articles/.test(document.querySelector('#library-counts').innerText)")
    before = counts.inner_text()

    page.locator("#upload-files input[type=file]").set_input_files(str(story))
    page.click("#add-button")

    results = page.locator("#upload-results")
    page.wait_for_function("() => document.querySelector('#upload-results').innerText.includes('added')")
    assert "marrowick-harbour.txt" in results.inner_text()
    page.wait_for_function(
        "() => document.querySelector('#library-table').innerText.includes('Marrowick harbour board')"
    )
    assert counts.inner_text() != before

    page.get_by_role("tab", name="Chat").click()
    answer = _ask(page, "What will the Marrowick barge library lend?")
    assert "tide tables" in answer.inner_text()
    assert (
        "Marrowick harbour board approves floating oyster library"
        in page.locator("#sources-panel").inner_text()
    )

    page.get_by_role("tab", name="Library").click()
    page.locator("#library-table").get_by_text(
        "Marrowick harbour board approves floating oyster library"
    ).click()
    page.wait_for_function(
        "() => document.querySelector('#delete-choice input').value.includes('Marrowick harbour board')"
    )
    page.click("#delete-button")
    page.wait_for_function("() => document.querySelector('#library-status').innerText.includes('Deleted')")
    page.wait_for_function(
        "() => !document.querySelector('#library-table').innerText.includes('Marrowick harbour board')"
    )
    page.wait_for_function(
        f"() => document.querySelector('#library-counts').innerText === {json.dumps(before)}"
    )


def test_five_simultaneous_questions_are_all_answered(browser, app: App) -> None:  # type: ignore[no-untyped-def]
    questions = [
        "What did Hamas demand?",
        "Who led the Israeli delegation to Doha?",
        "Why were the Mossad negotiators ordered home from Qatar?",
        "How much money did Hamas ask Qatar for?",
        "What did Lieberman reveal about a trip to Qatar?",
    ]
    contexts = [browser.new_context(viewport={"width": 1200, "height": 900}) for _ in questions]
    try:
        pages = [context.new_page() for context in contexts]
        for tab in pages:
            tab.set_default_timeout(ANSWER_TIMEOUT_MS * 2)
            tab.goto(app.url)
            tab.wait_for_selector("#question textarea")
        for tab, question in zip(pages, questions, strict=True):
            tab.fill("#question textarea", question)
        for tab in pages:
            tab.click("#ask-button")
        for tab, question in zip(pages, questions, strict=True):
            tab.wait_for_function(FINISHED % 1)
            bot = tab.locator('#chatbot [data-testid="bot"]').last
            assert bot.locator("a.na-cite").count() >= 1, question
            assert question in tab.locator('#chatbot [data-testid="user"]').last.inner_text()
    finally:
        for context in contexts:
            context.close()


def test_evaluation_tab_runs_the_sample_set_and_shows_the_report(page, app: App) -> None:  # type: ignore[no-untyped-def]
    page.get_by_role("tab", name="Evaluation").click()
    page.wait_for_function(
        "() => document.querySelector('#eval-status').innerText.includes('No evaluation report')"
    )

    page.click("#run-eval")

    page.wait_for_function(
        "() => document.querySelector('#eval-status').innerText.includes('Latest evaluation')",
        timeout=240_000,
    )
    assert "3 questions" in page.locator("#eval-status").inner_text()
    table = page.locator("#eval-table").inner_text()
    assert "Retrieval hit@k" in table and "Citation precision" in table
    assert page.locator("#eval-report iframe").count() == 1
    assert (app.eval_dir / "summary.json").is_file()
