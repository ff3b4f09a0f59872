"""Hostile article titles and text in the browser: they render as text, no script runs, nothing
external is fetched. The page must make no request to any host but 127.0.0.1."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from tests.e2e.test_browser import FINISHED
from tests.ui_server import running_app

pytestmark = [pytest.mark.reliability, pytest.mark.e2e, pytest.mark.slow]

EXTERNAL = "198.51.100.7"  # TEST-NET-2: never a real host
HOSTILE_TITLE = (
    'Otterburn <script>window.__pwned="title"</script><img src=x onerror="window.__pwned=\'img\'">'
)
HOSTILE_TEXT = f"""The Otterburn weir keepers opened the sluice gates on Tuesday after a week of rain.
<script>window.__pwned = "body"</script>
The keepers said <img src="http://{EXTERNAL}/pixel.png" onerror="window.__pwned='body-img'"> the
water level at the weir fell by forty centimetres overnight. ![weir photo](http://{EXTERNAL}/weir.png)
Read more at [the keepers' page](javascript:window.__pwned='link') or [here][ref].

[ref]: http://{EXTERNAL}/ref
<svg onload="window.__pwned='svg'"></svg> <iframe src="http://{EXTERNAL}/frame"></iframe>
The sluice gates at the Otterburn weir will stay open until the river drops below its summer mark.
"""
QUESTION = "What did the Otterburn weir keepers do with the sluice gates?"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, embedder) -> Iterator[object]:  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("hostile-pages")
    with running_app(root, embedder) as running:
        article = root / "otterburn.jsonl"
        record = {
            "title": HOSTILE_TITLE,
            "source": '<b onmouseover="window.__pwned=1">Otterburn Echo</b>',
            "url": "javascript:window.__pwned='url'",
            "published": "2031-05-06",
            "text": HOSTILE_TEXT,
        }
        article.write_text(json.dumps(record) + "\n", encoding="utf-8")
        assert running.assistant.ingest([article]).added == 1
        yield running


def test_hostile_article_renders_inert_in_chat_sources_and_library(app, browser) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    outside: list[str] = []
    dialogs: list[str] = []

    def record(request) -> None:  # type: ignore[no-untyped-def]
        host = urlsplit(request.url).hostname or ""
        if request.url.startswith(("http:", "https:", "ws:", "wss:")) and host != "127.0.0.1":
            outside.append(request.url)

    context.on("request", record)
    context.route(
        lambda url: (urlsplit(url).hostname or "127.0.0.1") != "127.0.0.1", lambda route: route.abort()
    )
    page = context.new_page()
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.set_default_timeout(60_000)
    page.goto(app.url)
    page.wait_for_selector("#question textarea")
    page.fill("#question textarea", QUESTION)
    page.click("#ask-button")
    page.wait_for_function(FINISHED % 1)
    bot = page.locator('#chatbot [data-testid="bot"]').last
    answer = bot.inner_text()
    assert "sluice gates" in answer
    sources = page.locator(".na-source").first
    sources.wait_for()
    panel = page.locator(".na-turn").first.inner_text()
    assert "<script>" in panel  # the title is shown as text, tags and all
    # Hover everything visible that the article could have turned into a live element (a hidden
    # one cannot be hovered: each would only wait out its timeout).
    hoverable = page.locator(".na-source *").filter(visible=True).all()[:40]
    assert hoverable
    for element in hoverable:
        with contextlib.suppress(Exception):  # covered by another element, or gone since
            element.hover(timeout=1000)
    page.wait_for_timeout(500)

    assert page.evaluate("() => window.__pwned") is None
    assert page.locator("#chatbot img[src*='198.51.100.7'], .na-source img, .na-source script").count() == 0
    assert page.locator(".na-source a[href^='javascript:'], #chatbot a[href^='javascript:']").count() == 0
    assert dialogs == []
    assert outside == [], outside
    context.close()
