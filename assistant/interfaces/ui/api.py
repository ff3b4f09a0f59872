"""Named API endpoints (``/ask``, ``/ask_stream``, ``/retrieve``, ``/articles``, ``/stats``, ``/delete``).

Registered inside the app's Blocks with :func:`gradio.api`, so ``gradio_client`` can call them; the
``/upload`` endpoint is the Library tab's upload event. Errors reach the client as ``gr.Error`` with
the assistant's own message.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gradio as gr

from assistant.interfaces.ui.handlers import UIActions, build_query, user_message
from assistant.models import AnswerReady, QuotesReady, Waiting


def _error(exc: Exception) -> gr.Error:
    return gr.Error(user_message(exc))


def _public(value: Any) -> Any:
    """JSON for the client, with each ``path`` key renamed ``source_file``.

    gradio_client takes any dict with a string ``path`` for a file to download, which would turn
    every citation of a file-based article into a failed download.
    """
    if isinstance(value, dict):
        return {("source_file" if k == "path" else k): _public(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_public(v) for v in value]
    return value


def register_api(actions: UIActions) -> None:
    """Add the named endpoints to the Blocks being built (call inside ``with gr.Blocks()``)."""

    def ask(
        question: str,
        history: list[dict[str, Any]] | None = None,
        since: str = "",
        until: str = "",
        outlets: list[str] | None = None,
        k: int = 0,
        backend: str = "",
        as_of: str = "",
    ) -> dict[str, Any]:
        """Answer a question from the library. history: earlier {"role", "content"} messages;
        since/until: YYYY-MM-DD or ""; outlets: [] for all; k: passages (0 = default); backend:
        "" (default), "extractive", "openai" or "local"; as_of: YYYY-MM-DD, the day the question is asked on
        ("" = the newest article's date). Returns the Answer as JSON: text with inline [n],
        citations, passages, abstained (each ``path`` field is named ``source_file``)."""
        try:
            query = build_query(question, history, since, until, outlets, k, backend, as_of)
            answer = actions.ask(query)
        except Exception as e:
            raise _error(e) from e
        return _public(answer.model_dump(mode="json"))

    def ask_stream(
        question: str,
        history: list[dict[str, Any]] | None = None,
        since: str = "",
        until: str = "",
        outlets: list[str] | None = None,
        k: int = 0,
        backend: str = "",
        as_of: str = "",
    ) -> Iterator[dict[str, Any]]:
        """Like /ask, streamed: yields {"text": answer so far, "answer": null, "quotes": null,
        "waiting": null} as the text grows, then {"text": final text, "answer": the Answer as JSON}.
        With the local backend one update brings "quotes" (the composer's quoted Answer, at once,
        before the model writes) and, while the question waits for the model, updates bring
        "waiting" (the number of requests ahead of it; 0: the model has started on it)."""
        text = ""
        try:
            query = build_query(question, history, since, until, outlets, k, backend, as_of)
            events = actions.stream_answer(query)
            try:
                for event in events:
                    if isinstance(event, AnswerReady):
                        answer = event.answer
                        yield {"text": answer.text, "answer": _public(answer.model_dump(mode="json"))}
                        return
                    update: dict[str, Any] = {"text": text, "answer": None, "quotes": None, "waiting": None}
                    if isinstance(event, QuotesReady):
                        update["quotes"] = _public(event.answer.model_dump(mode="json"))
                    elif isinstance(event, Waiting):
                        update["waiting"] = event.position
                    else:
                        text += event.text
                        update["text"] = text
                    yield update
            finally:  # also when the client went away: closing the stream stops the model's generation
                close = getattr(events, "close", None)
                if close is not None:
                    close()
        except Exception as e:
            raise _error(e) from e

    def retrieve(
        question: str,
        k: int = 8,
        since: str = "",
        until: str = "",
        outlets: list[str] | None = None,
        as_of: str = "",
    ) -> list[dict[str, Any]]:
        """The passages the assistant would answer from, best first (no answer is written)."""
        try:
            query = build_query(question, None, since, until, outlets, k or 8, None, as_of)
            passages = actions.assistant.retrieve(query)
        except Exception as e:
            raise _error(e) from e
        return [_public(p.model_dump(mode="json")) for p in passages]

    def articles() -> list[dict[str, Any]]:
        """Every article in the library, with its metadata (the article text left out)."""
        return [_public(a.model_dump(mode="json", exclude={"text"})) for a in actions.assistant.articles()]

    def stats() -> dict[str, int]:
        """Counts: {"articles": n, "passages": n}."""
        return actions.stats()

    def delete(article_id: str) -> dict[str, int]:
        """Remove one article (by id) and its passages; returns the counts afterwards."""
        try:
            actions.delete(article_id)
        except Exception as e:
            raise _error(e) from e
        return actions.stats()

    gr.api(ask, api_name="ask")
    gr.api(ask_stream, api_name="ask_stream")
    gr.api(retrieve, api_name="retrieve")
    gr.api(articles, api_name="articles")
    gr.api(stats, api_name="stats")
    gr.api(delete, api_name="delete", concurrency_id="library", concurrency_limit=1)
