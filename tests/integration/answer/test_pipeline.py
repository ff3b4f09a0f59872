"""One question through the whole pipeline with the openai backend, against a scripted local server.

What the user would notice: a follow-up costs one condensing request, and when the model fails the
answer quotes the passages found for the question the model had already condensed.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from assistant.answer.condense import condense_rule
from tests.llm_server import ScriptedLLMServer

pytestmark = [pytest.mark.integration, pytest.mark.llm]

FERRY = """---
title: Riverton buys an electric ferry
source: Riverton Gazette
published: 2025-06-12
---
The Riverton town council voted on Thursday to buy an electric ferry for the Mill River crossing.

The ferry will cost 2.4 million dollars and carry sixty passengers, the harbour master said.
"""
HISTORY = [
    {"role": "user", "content": "What did the Riverton council buy?"},
    {"role": "assistant", "content": "An electric ferry for the Mill River crossing [1]."},
]
FOLLOW_UP = "How much will it cost?"
CONDENSED = "How much will the Mill River ferry cost?"


@pytest.fixture
def server() -> ScriptedLLMServer:
    with ScriptedLLMServer() as running:
        yield running


@pytest.fixture
def ferry_assistant(make_assistant, server: ScriptedLLMServer, tmp_path: Path) -> Callable[..., object]:  # type: ignore[no-untyped-def]
    article = tmp_path / "ferry.md"
    article.write_text(FERRY, encoding="utf-8")
    llm = {"backend": "openai", "base_url": server.url, "model": "scripted", "max_retries": 0, "timeout": 5}
    assistant = make_assistant(llm=llm)
    assert assistant.ingest([article]).added == 1
    yield assistant
    assistant.close()


def _condense_requests(server: ScriptedLLMServer) -> list[dict]:
    return [r for r in server.requests if not r.get("stream")]


def test_a_follow_up_is_condensed_once(ferry_assistant, server: ScriptedLLMServer) -> None:  # type: ignore[no-untyped-def]
    server.reply(CONDENSED)
    server.reply("The ferry will cost 2.4 million dollars [1].")

    answer = ferry_assistant.ask(FOLLOW_UP, history=HISTORY)

    assert len(server.requests) == 2 and len(_condense_requests(server)) == 1
    assert f"Question: {CONDENSED}" in server.requests[1]["messages"][-1]["content"]
    assert answer.question == FOLLOW_UP and answer.standalone_question == CONDENSED
    assert answer.backend == "openai" and not answer.abstained
    assert answer.citations[0].source == "Riverton Gazette"


def test_a_failed_answer_falls_back_to_what_was_already_retrieved(ferry_assistant, server) -> None:  # type: ignore[no-untyped-def]
    server.reply(CONDENSED)
    server.fail(500)

    answer = ferry_assistant.ask(FOLLOW_UP, history=HISTORY)

    assert len(server.requests) == 2, "no second condensing request after the failure"
    assert answer.backend == "extractive" and "HTTP 500" in (answer.fallback_reason or "")
    assert answer.standalone_question == CONDENSED, "the fallback answers the model's condensed question"
    assert answer.text.startswith("*The language model failed") and answer.citations
    assert answer.citations[0].source == "Riverton Gazette"


def test_a_model_failing_while_condensing_leaves_it_to_the_rule(ferry_assistant, server) -> None:  # type: ignore[no-untyped-def]
    server.fail(500)

    answer = ferry_assistant.ask(FOLLOW_UP, history=HISTORY)

    assert len(server.requests) == 1, "the answer is not requested from a model that just failed"
    assert answer.backend == "extractive" and answer.fallback_reason
    assert answer.standalone_question == condense_rule(FOLLOW_UP, HISTORY)


def test_threads_share_one_llm_backend(ferry_assistant) -> None:  # type: ignore[no-untyped-def]
    with ThreadPoolExecutor(max_workers=8) as pool:
        backends = list(pool.map(lambda _: ferry_assistant._llm(), range(16)))
    assert len({id(b) for b in backends}) == 1
