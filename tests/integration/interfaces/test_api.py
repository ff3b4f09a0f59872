"""The HTTP API over a real uvicorn server (and in-process for error cases), real Chroma and model.

The official ``openai`` client is the reference client: it must work unchanged, and the extra
``citations`` field must come through in ``model_extra``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.conftest import CORPUS_DIR
from tests.http_server import uvicorn_server

pytestmark = pytest.mark.integration

QUESTION = "What did Hamas demand?"
TOKEN = "test-token-4f9a"
CITATION_FIELDS = {
    "number",
    "article_id",
    "title",
    "source",
    "published",
    "url",
    "passage",
    "quote",
    "start",
    "end",
}
LANTERN_STORY = """---
title: "Brindlemoor council votes to turn the old tram depot into a lantern museum"
source: "Brindlemoor Gazette"
published: 2031-04-09
---

The town council of Brindlemoor voted seven to two on Tuesday to convert the disused tram depot
on Quarry Lane into a museum of paper lanterns, to be run by the lantern-makers' guild.
"""


@pytest.fixture(scope="module")
def api_url(corpus_assistant) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The API alone, as `assistant api` serves it, over the sample corpus (no token: loopback)."""
    from assistant.interfaces.serve import build_server_app

    with uvicorn_server(build_server_app(corpus_assistant, with_ui=False)) as base:
        yield base


@pytest.fixture(scope="module")
def secured_url(corpus_assistant, embedder) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The same library behind a bearer token."""
    from assistant import Assistant
    from assistant.interfaces.serve import build_server_app

    settings = corpus_assistant.settings.with_overrides(**{"api.token": TOKEN})
    assistant = Assistant(settings, embedder=embedder)
    try:
        with uvicorn_server(build_server_app(assistant, with_ui=False)) as base:
            yield base
    finally:
        assistant.close()


def _client(base: str, key: str = "unused") -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{base}/v1", api_key=key, max_retries=0, timeout=120)


def _in_process(assistant: Any):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from assistant.interfaces.api.app import create_app

    return TestClient(create_app(assistant), raise_server_exceptions=False)


def _error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["message"] and error["type"]
    assert "Traceback" not in response.text
    return dict(error)


# -- the openai client, unchanged ------------------------------------------------------------------


def test_openai_client_gets_a_cited_answer_with_the_sources_in_the_extra_field(  # type: ignore[no-untyped-def]
    api_url: str, corpus_assistant
) -> None:
    from assistant.models import Citation

    completion = _client(api_url).chat.completions.create(
        model="news-extractive", messages=[{"role": "user", "content": QUESTION}]
    )

    text = completion.choices[0].message.content or ""
    citations = [Citation.model_validate(c) for c in (completion.model_extra or {})["citations"]]
    per_choice = (completion.choices[0].message.model_extra or {})["citations"]
    assert completion.object == "chat.completion" and completion.choices[0].finish_reason == "stop"
    assert citations and [c.model_dump(mode="json") for c in citations] == per_choice
    assert set(per_choice[0]) >= CITATION_FIELDS
    for citation in citations:
        assert f"[{citation.number}]" in text
        assert citation.quote and citation.quote in citation.passage
    # the same Citation models the Python API returns, for the same question
    assert citations == corpus_assistant.ask(QUESTION).citations


def test_openai_client_streams_the_answer_and_gets_the_sources_in_the_last_chunk(api_url: str) -> None:
    stream = _client(api_url).chat.completions.create(
        model="news-extractive", messages=[{"role": "user", "content": QUESTION}], stream=True
    )
    chunks = list(stream)

    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    last = chunks[-1]
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) >= 2
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert last.choices[0].finish_reason == "stop"
    extra = last.model_extra or {}
    assert text == extra["answer"]["text"]
    assert extra["citations"] and all(f"[{c['number']}]" in text for c in extra["citations"])


def test_earlier_messages_are_the_conversation_for_a_follow_up(api_url: str) -> None:
    client = _client(api_url)
    first = client.chat.completions.create(
        model="news-extractive",
        messages=[{"role": "user", "content": "How much money did Hamas demand from Qatar?"}],
    )
    follow_up = client.chat.completions.create(
        model="news-extractive",
        messages=[
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "How much money did Hamas demand from Qatar?"},
            {"role": "assistant", "content": first.choices[0].message.content},
            {"role": "user", "content": [{"type": "text", "text": "Who reported it?"}]},
        ],
    )

    answer = (follow_up.model_extra or {})["answer"]
    assert answer["question"] == "Who reported it?"
    assert answer["standalone_question"] != "Who reported it?"
    assert not answer["abstained"] and answer["citations"]


def test_filters_in_the_request_restrict_the_sources(api_url: str) -> None:
    completion = _client(api_url).chat.completions.create(
        model="news-extractive",
        messages=[{"role": "user", "content": QUESTION}],
        extra_body={"filters": {"sources": ["The Washington Post"]}, "k": 4},
    )

    citations = (completion.model_extra or {})["citations"]
    assert citations and {c["source"] for c in citations} == {"The Washington Post"}


def test_a_question_the_articles_cannot_answer_is_an_abstention_without_citations(api_url: str) -> None:
    completion = _client(api_url).chat.completions.create(
        model="news-extractive",
        messages=[{"role": "user", "content": "Which team won the 1998 Tour de France?"}],
    )

    assert (completion.model_extra or {})["answer"]["abstained"]
    assert (completion.model_extra or {})["citations"] == []
    assert completion.choices[0].message.content


def test_openai_client_sees_clear_errors_for_bad_requests(api_url: str) -> None:
    client = _client(api_url)
    with pytest.raises(openai.NotFoundError, match="news-extractive"):
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": QUESTION}])
    with pytest.raises(openai.BadRequestError, match="since is after until"):
        client.chat.completions.create(
            model="news-extractive",
            messages=[{"role": "user", "content": QUESTION}],
            extra_body={"filters": {"since": "2024-01-01", "until": "2020-01-01"}},
        )
    with pytest.raises(openai.BadRequestError, match="last message must be the user's question"):
        client.chat.completions.create(
            model="news-extractive", messages=[{"role": "assistant", "content": "Hello."}], stream=True
        )


def test_models_list_the_extractive_backend_and_a_configured_llm(api_url: str, make_assistant) -> None:  # type: ignore[no-untyped-def]
    assert [m.id for m in _client(api_url).models.list()] == ["news-extractive"]

    with_llm = make_assistant(llm={"base_url": "http://127.0.0.1:9/v1", "model": "qwen2.5:7b-instruct"})
    models = _in_process(with_llm).get("/v1/models").json()["data"]
    assert {(m["id"], m["backend"]) for m in models} == {
        ("news-extractive", "extractive"),
        ("qwen2.5:7b-instruct", "openai"),
    }


def test_as_of_reaches_the_answer(api_url: str) -> None:
    body = {
        "model": "news-extractive",
        "messages": [{"role": "user", "content": QUESTION}],
        "as_of": "2021-01-01",
    }
    response = httpx.post(f"{api_url}/v1/chat/completions", json=body, timeout=120)
    assert response.status_code == 200, response.text
    assert response.json()["answer"]["as_of"] == "2021-01-01"


# -- an Open WebUI-style client over plain HTTP ----------------------------------------------------


def _sse_events(response: httpx.Response) -> list[str]:
    return [line[len("data: ") :] for line in response.iter_lines() if line.startswith("data: ")]


def test_open_webui_style_flow_lists_models_streams_a_chat_and_reads_the_sources(secured_url: str) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=secured_url, headers=headers, timeout=120) as http:
        models = http.get("/v1/models").json()
        model = models["data"][0]["id"]
        request = {
            "model": model,
            "stream": True,
            "stream_options": {"include_usage": True},
            "temperature": 0.7,
            "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": QUESTION}],
        }
        with http.stream("POST", "/v1/chat/completions", json=request) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            events = _sse_events(response)

    assert models["object"] == "list" and model == "news-extractive"
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    final = chunks[-1]
    assert final["choices"][0]["finish_reason"] == "stop"
    assert final["citations"] == final["choices"][0]["delta"]["citations"]
    sources = [c["event"] for c in chunks if c.get("event")]
    assert [s["type"] for s in sources] == ["source"] * len(final["citations"])
    for citation, source in zip(final["citations"], sources, strict=True):
        assert f"[{citation['number']}]" in text
        assert source["data"]["document"] == [citation["passage"]]
        assert source["data"]["source"]["name"].startswith(f"[{citation['number']}] ")


def test_the_token_is_required_when_set(secured_url: str) -> None:
    missing = httpx.get(f"{secured_url}/v1/models", timeout=30)
    wrong = httpx.get(f"{secured_url}/v1/articles", headers={"Authorization": "Bearer nope"}, timeout=30)

    assert _error(missing, 401)["code"] == "missing_api_key"
    assert missing.headers["www-authenticate"] == "Bearer"
    assert _error(wrong, 401)["code"] == "invalid_api_key"
    assert TOKEN not in missing.text + wrong.text
    assert httpx.get(f"{secured_url}/health", timeout=30).json()["status"] == "ok"
    with pytest.raises(openai.AuthenticationError):
        _client(secured_url, key="wrong").models.list()
    assert _client(secured_url, key=TOKEN).models.list().data[0].id == "news-extractive"


# -- retrieval and the library ------------------------------------------------------------------


def test_retrieve_returns_passages_for_a_query_with_filters(api_url: str) -> None:
    from assistant.models import Passage

    response = httpx.post(
        f"{api_url}/v1/retrieve",
        json={"query": QUESTION, "k": 3, "filters": {"since": "2023-01-01"}},
        timeout=60,
    )

    assert response.status_code == 200, response.text
    passages = [Passage.model_validate(p) for p in response.json()["data"]]
    assert 1 <= len(passages) <= 3
    assert all(p.published and p.published.isoformat() >= "2023-01-01" for p in passages)
    assert "Hamas" in " ".join(p.text for p in passages)
    assert all(p.days_outside is None for p in passages)  # no as_of, no window asked about

    # as of a date, "this week" is the week before it: each passage says how far it lies outside
    dated = httpx.post(
        f"{api_url}/v1/retrieve",
        json={"query": "What did Hamas demand this week?", "k": 5, "as_of": "2024-03-22"},
        timeout=60,
    )
    assert dated.status_code == 200, dated.text
    passages = [Passage.model_validate(p) for p in dated.json()["data"]]
    assert passages[0].published and passages[0].published.isoformat() == "2024-03-20"
    assert passages[0].days_outside == 0
    assert all(
        p.days_outside is not None and p.days_outside > 30 for p in passages if p.published.year == 2020
    )
    bad = httpx.post(f"{api_url}/v1/retrieve", json={"query": QUESTION, "as_of": "someday"}, timeout=60)
    assert bad.status_code == 400 and "as_of" in bad.text


def test_upload_list_read_ask_and_delete_an_article(make_assistant, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assistant = make_assistant()
    assistant.ingest([CORPUS_DIR])
    http = _in_process(assistant)
    files = [
        ("files", ("../lantern museum.md", LANTERN_STORY.encode(), "text/markdown")),
        ("files", ("photo.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "image/png")),
        ("files", ("empty.txt", b"", "text/plain")),
    ]

    report = http.post("/v1/articles", files=files).json()

    statuses = [(f["path"], f["status"]) for f in report["files"]]
    assert statuses == [("lantern_museum.md", "added"), ("photo.png", "failed"), ("empty.txt", "failed")]
    assert "not supported" in report["files"][1]["reason"] or ".png" in report["files"][1]["reason"]
    assert "empty" in report["files"][2]["reason"]
    assert (assistant.settings.data_dir / "uploads" / "lantern_museum.md").is_file()
    listed = http.get("/v1/articles").json()["data"]
    new = next(a for a in listed if a["source"] == "Brindlemoor Gazette")
    assert "text" not in new and len(listed) == 6
    assert "paper lanterns" in http.get(f"/v1/articles/{new['id']}").json()["text"]
    answer = http.post(
        "/v1/chat/completions",
        json={
            "model": "news-extractive",
            "messages": [{"role": "user", "content": "What will the tram depot become?"}],
        },
    ).json()
    assert answer["citations"][0]["article_id"] == new["id"]

    deleted = http.delete(f"/v1/articles/{new['id']}")

    assert deleted.json() == {"id": new["id"], "object": "article", "deleted": True}
    assert not (assistant.settings.data_dir / "uploads" / "lantern_museum.md").exists()
    assert _error(http.get(f"/v1/articles/{new['id']}"), 404)["code"] == "article_not_found"
    assert _error(http.delete(f"/v1/articles/{new['id']}"), 404)["code"] == "article_not_found"
    assert len(http.get("/v1/articles").json()["data"]) == 5


# -- limits and errors ----------------------------------------------------------------------------


def test_requests_over_the_size_limits_are_refused_with_413(make_assistant) -> None:  # type: ignore[no-untyped-def]
    http = _in_process(make_assistant(api={"max_body_kb": 2, "max_upload_mb": 0.01}))
    long_question = {"model": "news-extractive", "messages": [{"role": "user", "content": "why " * 2000}]}

    declared = http.post("/v1/chat/completions", json=long_question)
    chunked = http.post(
        "/v1/retrieve",
        content=(part for part in [b'{"query": "', b"x" * 3000, b'"}']),
        headers={"content-type": "application/json"},
    )
    upload = http.post("/v1/articles", files=[("files", ("big.txt", b"words " * 4000, "text/plain"))])

    assert "api.max_body_kb" in _error(declared, 413)["message"]
    assert "api.max_body_kb" in _error(chunked, 413)["message"]
    assert "api.max_upload_mb" in _error(upload, 413)["message"]
    assert http.get("/v1/articles").json()["data"] == []


def test_every_bad_request_gets_an_openai_style_json_error(corpus_assistant) -> None:  # type: ignore[no-untyped-def]
    http = _in_process(corpus_assistant)

    not_json = http.post(
        "/v1/chat/completions", content=b"{nope", headers={"content-type": "application/json"}
    )
    no_messages = http.post("/v1/chat/completions", json={"model": "news-extractive", "messages": []})
    bad_date = http.post("/v1/retrieve", json={"query": "x", "filters": {"since": "last spring"}})
    bad_k = http.post("/v1/retrieve", json={"query": "x", "k": 0})

    assert "not valid JSON" in _error(not_json, 400)["message"]
    assert _error(no_messages, 400)["param"] == "messages"
    assert _error(bad_date, 400)["param"] == "filters.since"
    assert _error(bad_k, 400)["param"] == "k"
    assert "no such endpoint" in _error(http.get("/v2/anything"), 404)["message"]
    assert _error(http.put("/v1/models"), 405)["type"] == "invalid_request_error"


def test_an_unexpected_failure_is_a_500_json_error_without_a_traceback(  # type: ignore[no-untyped-def]
    make_assistant, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    assistant = make_assistant()

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire: /secret/path")

    monkeypatch.setattr(assistant, "retrieve", broken)
    response = _in_process(assistant).post("/v1/retrieve", json={"query": QUESTION})

    error = _error(response, 500)
    assert error["type"] == "server_error" and "/secret/path" not in response.text
    assert "disk on fire" in caplog.text  # the details go to the server log


def test_an_error_in_the_middle_of_a_stream_ends_it_with_an_error_event(make_assistant) -> None:  # type: ignore[no-untyped-def]
    from assistant.errors import LLMError
    from assistant.models import TextDelta

    assistant = make_assistant(api={"stream_drafts": True})

    def failing_stream(question: object, **options: object) -> Iterator[TextDelta]:
        yield TextDelta(text="The model began to ")
        raise LLMError("the LLM server went away (llm.base_url)")

    assistant.stream = failing_stream
    http = _in_process(assistant)
    body = {"model": "news-extractive", "stream": True, "messages": [{"role": "user", "content": QUESTION}]}
    with http.stream("POST", "/v1/chat/completions", json=body) as response:
        events = _sse_events(response)

    assert json.loads(events[1])["choices"][0]["delta"]["content"] == "The model began to "
    assert json.loads(events[-2])["error"]["message"] == "the LLM server went away (llm.base_url)"
    assert events[-1] == "[DONE]"


@pytest.mark.parametrize("quoted", [True, False])
def test_a_busy_local_model_refusing_through_the_pipeline_is_a_429_with_retry_after(  # type: ignore[no-untyped-def]
    quoted: bool, make_assistant
) -> None:
    """The queue refused and the pipeline let it through (``llm.fallback_to_extractive`` off): a 429
    with ``Retry-After``, streaming or not, carrying the quotes when they came first."""
    from assistant.errors import ModelBusyError
    from assistant.models import Answer, QuotesReady, StreamEvent

    assistant = make_assistant()
    quotes = Answer(question=QUESTION, text="Hamas demanded fuel [1].")

    def busy_stream(question: object, **options: object) -> Iterator[StreamEvent]:
        if quoted:
            yield QuotesReady(answer=quotes)
        raise ModelBusyError("The local model is busy; try again in about 13s.", retry_after=12.2)

    assistant.stream = busy_stream
    http = _in_process(assistant)
    for stream in (False, True):
        body = {
            "model": "news-extractive",
            "stream": stream,
            "messages": [{"role": "user", "content": QUESTION}],
        }
        response = http.post("/v1/chat/completions", json=body)

        error = _error(response, 429)
        assert error["type"] == "rate_limit_error" and error["code"] == "model_busy"
        assert response.headers["retry-after"] == "13"
        expected = {"text": quotes.text, "citations": [], "abstained": False} if quoted else None
        assert response.json().get("quotes") == expected


def test_the_openapi_page_documents_every_endpoint_and_the_shared_models(api_url: str) -> None:
    spec = httpx.get(f"{api_url}/openapi.json", timeout=30).json()
    page = httpx.get(f"{api_url}/docs", timeout=30)

    assert page.status_code == 200 and "swagger" in page.text.lower()
    assert {
        "/v1/chat/completions",
        "/v1/models",
        "/v1/retrieve",
        "/v1/articles",
        "/v1/articles/{article_id}",
        "/health",
    } <= set(spec["paths"])
    assert {"Answer", "Citation", "Passage", "Article", "IngestReport", "Filters"} <= set(
        spec["components"]["schemas"]
    )
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


def test_serve_runs_the_ui_under_ui_and_the_api_in_one_process(corpus_assistant, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from assistant.interfaces.serve import build_server_app

    app = build_server_app(corpus_assistant, with_ui=True, eval_dir=tmp_path / "eval")
    with uvicorn_server(app) as base:
        root = httpx.get(f"{base}/", timeout=30)
        page = httpx.get(f"{base}/", follow_redirects=True, timeout=30)
        models = _client(base).models.list()

    assert root.status_code in (302, 307) and root.headers["location"] == "/ui/"
    assert page.status_code == 200 and str(page.url) == f"{base}/ui/" and "News Assistant" in page.text
    assert [m.id for m in models] == ["news-extractive"]


def test_browser_origins_from_the_settings_may_call_the_api(make_assistant) -> None:  # type: ignore[no-untyped-def]
    http = _in_process(make_assistant(api={"cors_origins": ["http://localhost:3000"]}))
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}

    allowed = http.options("/v1/chat/completions", headers={"Origin": "http://localhost:3000", **preflight})
    other = http.options("/v1/chat/completions", headers={"Origin": "http://evil.example", **preflight})

    assert allowed.headers["access-control-allow-origin"] == "http://localhost:3000"
    assert "access-control-allow-origin" not in other.headers
    assert http.get("/v1/models/news-extractive").json()["backend"] == "extractive"
    assert _error(http.get("/v1/models/gpt-4o"), 404)["code"] == "model_not_found"


def test_the_api_alone_sends_its_root_to_the_docs(corpus_assistant) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from assistant.interfaces.serve import build_server_app

    home = TestClient(build_server_app(corpus_assistant, with_ui=False)).get("/", follow_redirects=False)

    assert home.status_code == 307 and home.headers["location"] == "/docs"
