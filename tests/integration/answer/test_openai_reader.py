"""The reader on an OpenAI-compatible server (``llm.openai_answer = "reader"``): over real HTTP, against
the scripted server and against llama.cpp's own server (xllamacpp on 127.0.0.1, the toy GGUF)."""

from __future__ import annotations

import math
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.answer.extractive import ExtractiveAnswerer
from assistant.answer.llm_client import ChatClient
from assistant.answer.prompts import load_prompts
from assistant.answer.reader import ReaderAnswerer
from assistant.models import AnswerReady, QuotesReady, TextDelta
from tests.integration.answer.test_llm_backend import make_passages, user_prompt
from tests.llm_server import ScriptedLLMServer

pytestmark = [pytest.mark.integration, pytest.mark.llm]

HAMAS = "What did Hamas demand?"


def passages() -> list:  # type: ignore[type-arg]
    """The openai backend tests' passages, as retrieval returns them (with their cosine)."""
    return [p.model_copy(update={"dense_score": 0.7}) for p in make_passages()]


@pytest.fixture
def llm_server() -> Iterator[ScriptedLLMServer]:
    with ScriptedLLMServer() as server:
        yield server


@pytest.fixture
def make_reader(settings):  # type: ignore[no-untyped-def]
    def make(server: ScriptedLLMServer, **overrides: object) -> ReaderAnswerer:
        changes: dict[str, object] = {
            "llm.backend": "openai",
            "llm.openai_answer": "reader",
            "llm.base_url": server.url,
            "llm.model": "small-model",
            "llm.timeout": 5.0,
            **overrides,
        }
        llm = settings.with_overrides(**changes).llm
        return ReaderAnswerer(
            llm, ChatClient(llm), ExtractiveAnswerer(settings.answer), load_prompts(llm), backend="openai"
        )

    return make


def test_the_server_model_reads_the_passages_and_its_sure_answer_is_written(llm_server, make_reader) -> None:
    llm_server.reply("$40 million every month [2]", chunk_size=4, logprob=-0.01)
    events = list(make_reader(llm_server).stream(HAMAS, passages()))

    assert isinstance(events[0], QuotesReady) and not events[0].answer.abstained  # the quotes first
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "$40 million every month [2]"
    answer = events[-1].answer
    assert isinstance(events[-1], AnswerReady) and answer.backend == "openai"
    assert answer.text.startswith("$40 million every month [1]") and answer.quotes is not None
    assert [c.article_id for c in answer.citations] == ["a2"]  # the passage that states it
    # the probability of the short answer: one token per streamed piece before the citation
    assert answer.confidence == pytest.approx(math.exp(-0.01 * 6))

    request = llm_server.requests[0]
    assert request["logprobs"] is True and request["temperature"] == 0.0 and request["stream"] is True
    assert request["max_tokens"] == answer_max_tokens(make_reader(llm_server))
    prompt = user_prompt(request)
    assert prompt.rstrip().endswith(f"Question: {HAMAS}\nAnswer:")  # the reader's prompt, not the writer's
    assert "$40 million" in prompt and "<<<PASSAGE" not in prompt


def answer_max_tokens(reader: ReaderAnswerer) -> int:
    return reader.settings.reader_max_tokens


def test_an_unsure_answer_from_the_server_gives_way_to_the_quotes(llm_server, make_reader) -> None:
    llm_server.reply("$30 million [2]", chunk_size=3, logprob=-0.5)  # confidence e^-2.5 ~ 0.08
    events = list(make_reader(llm_server).stream(HAMAS, passages()))
    quotes, answer = events[0].answer, events[-1].answer
    assert answer.text.startswith("*The model was unsure of its answer") and quotes.text in answer.text
    assert "local model" not in answer.text  # the server's model is not called local
    assert answer.unsupported == ["$30 million"] and answer.confidence is not None and answer.confidence < 0.6


def test_a_server_that_refuses_logprobs_is_asked_again_without_and_its_answer_is_not_gated(
    llm_server, make_reader
) -> None:
    llm_server.refuse_logprobs = True
    llm_server.reply("$40 million every month [2]")
    llm_server.reply("Northern Gaza [3]")
    reader = make_reader(llm_server)
    first = list(reader.stream(HAMAS, passages()))[-1].answer
    assert first.text.startswith("$40 million every month [1]") and first.confidence is None
    second = list(reader.stream(HAMAS, passages()))[-1].answer
    assert second.text.startswith("Northern Gaza [1]")
    # asked with logprobs once (refused, 400: not recorded as a reply), then without, and never again
    assert ["logprobs" in r for r in llm_server.requests] == [True, False, False]


def test_the_assistant_routes_the_openai_backend_to_the_reader(corpus_assistant, llm_server) -> None:  # type: ignore[no-untyped-def]
    from assistant import Assistant

    settings = corpus_assistant.settings.with_overrides(
        **{"llm.backend": "openai", "llm.openai_answer": "reader", "llm.base_url": llm_server.url}
    )
    assistant = Assistant(settings, embedder=corpus_assistant.embedder)
    try:
        llm_server.reply("zzyzx quux [1]", logprob=-0.01)  # stated in no passage
        answer = assistant.ask(HAMAS)
        assert answer.backend == "openai" and answer.unsupported == ["zzyzx quux"]
        assert answer.text.startswith("*The model's answer is not stated in the passages it read")
        assert answer.citations and answer.fallback_reason is None
        prompt = user_prompt(llm_server.requests[0])
        assert prompt.rstrip().endswith(f"Question: {HAMAS}\nAnswer:")
    finally:
        assistant.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_reader_on_llama_cpps_own_server_gets_its_log_probabilities(  # type: ignore[no-untyped-def]
    corpus_assistant, toy_model: Path
) -> None:
    import xllamacpp

    from assistant import Assistant
    from assistant.answer.local.runtime import llama_params
    from assistant.config import LLMSettings
    from tests.local_model import local_settings

    port = free_port()
    params = llama_params(xllamacpp, LLMSettings(**local_settings()), toy_model, threads=1)
    params.hostnames = ["127.0.0.1"]
    params.port = port
    server = xllamacpp.Server(params)  # llama.cpp's OpenAI-compatible HTTP server, on loopback
    settings = corpus_assistant.settings.with_overrides(
        **{
            "llm.backend": "openai",
            "llm.openai_answer": "reader",
            "llm.base_url": f"http://127.0.0.1:{port}/v1",
            "llm.model": "toy",
        }
    )
    assistant = Assistant(settings, embedder=corpus_assistant.embedder)
    try:
        events = list(assistant.stream(HAMAS))
        assert isinstance(events[0], QuotesReady)
        assert any(isinstance(e, TextDelta) and e.text for e in events)  # the toy wrote something
        answer = events[-1].answer
        # its nonsense is stated in no passage: the quotes stand; the probabilities came over HTTP
        assert answer.backend == "openai" and answer.unsupported and answer.fallback_reason is None
        assert answer.confidence is not None and 0.0 <= answer.confidence <= 1.0
    finally:
        assistant.close()
        del server
