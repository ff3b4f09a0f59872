"""Chat completions with the LLM backend (a scripted OpenAI-compatible server): what is streamed
and what is cited always agree, unless drafts are asked for."""

from __future__ import annotations

import re
from collections.abc import Iterator

import openai
import pytest

from tests.conftest import CORPUS_DIR
from tests.http_server import uvicorn_server
from tests.llm_server import ScriptedLLMServer

pytestmark = pytest.mark.llm

QUESTION = "What did Hamas demand?"
FABRICATED = "Turkey promised to build a seaport and an airport in Gaza [3]."


@pytest.fixture
def llm_server() -> Iterator[ScriptedLLMServer]:
    with ScriptedLLMServer() as server:
        yield server


def _scripted_reply(assistant) -> str:  # type: ignore[no-untyped-def]
    """A reply citing passage 3 with one of its own sentences, plus a claim no passage supports."""
    from assistant.text import sentence_spans

    third = assistant.retrieve(QUESTION)[2]
    start, end = max(sentence_spans(third.text), key=lambda span: span[1] - span[0])
    sentence = third.text[start:end].strip().rstrip(".")
    return f"{sentence} [3]. {FABRICATED}"


def _stream(base: str) -> tuple[str, dict]:  # type: ignore[type-arg]
    client = openai.OpenAI(base_url=f"{base}/v1", api_key="unused", max_retries=0, timeout=120)
    models = [m.id for m in client.models.list()]
    assert models == ["news-extractive", "scripted-model"]
    chunks = list(
        client.chat.completions.create(
            model="scripted-model", messages=[{"role": "user", "content": QUESTION}], stream=True
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    return text, chunks[-1].model_extra or {}


@pytest.mark.parametrize("drafts", [False, True])
def test_streamed_llm_text_matches_its_citations_unless_drafts_are_asked_for(  # type: ignore[no-untyped-def]
    drafts: bool, llm_server: ScriptedLLMServer, make_assistant
) -> None:
    from assistant.interfaces.serve import build_server_app

    assistant = make_assistant(
        llm={"base_url": llm_server.url, "model": "scripted-model"}, api={"stream_drafts": drafts}
    )
    assistant.ingest([CORPUS_DIR])
    reply = _scripted_reply(assistant)
    llm_server.reply(reply, chunk_size=10)

    with uvicorn_server(build_server_app(assistant, with_ui=False)) as base:
        streamed, last = _stream(base)

    answer = last["answer"]
    assert answer["backend"] == "openai" and not answer["abstained"]
    assert answer["unsupported"] == [FABRICATED.replace(" [3]", "")]
    assert [c["number"] for c in last["citations"]] == [1]  # passage 3, renumbered
    assert "seaport" not in answer["text"] and re.findall(r"\[(\d+)\]", answer["text"]) == ["1"]
    if drafts:  # the model's words as they came, then the verified answer in the last chunk
        assert streamed == reply
    else:  # only the verified answer is streamed: its [1] is the citation numbered 1
        assert streamed == answer["text"]
