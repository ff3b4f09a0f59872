"""``POST /v1/chat/completions``: OpenAI's chat endpoint answered by the assistant, with sources.

The last message is the question and the earlier user/assistant messages are the conversation;
system messages are ignored (the assistant has its own instructions). The answer text keeps its
``[n]`` markers and the citations travel in the extra ``citations`` field (in streaming, in the
last chunk). With the local model (``news-local``) the composer's quotes travel in the extra
``quotes`` field: in streaming, in a chunk of their own before the model writes, and in the last one.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterator

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from assistant.errors import AssistantError
from assistant.interfaces.api.catalog import available_models
from assistant.interfaces.api.errors import ApiError, assistant_error_status, error_body
from assistant.interfaces.api.schemas import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    Choice,
    ChunkChoice,
    Delta,
    QueuePlace,
    Quotes,
    ResponseMessage,
)
from assistant.interfaces.api.streaming import (
    Events,
    EventStream,
    Held,
    StartedAnswer,
    final_answer,
    relay,
    start_answer,
)
from assistant.models import Answer, Citation, Query, QuotesReady, TextDelta, Waiting

logger = logging.getLogger(__name__)

router = APIRouter(tags=["chat"])

CLIENT_CLOSED_REQUEST = 499  # the client went away before its answer was ready (nobody reads it)

_STREAM_DOC = (
    "With `stream: true`: server-sent events, one `chat.completion.chunk` per `data:` line, the last "
    'one with `finish_reason: "stop"`, `citations`, `quotes` and `answer`, then `data: [DONE]`. With '
    "`news-local`, chunks without choices carry the quotes at once and the request's place in the "
    "model's queue (`waiting`). A full queue is a 429 with `Retry-After`; a client that disconnects "
    "cancels its generation."
)


def to_query(request: ChatCompletionRequest, backend: str) -> Query:
    *earlier, last = request.messages
    question = last.text().strip()
    if last.role != "user" or not question:
        raise ApiError(
            400,
            "the last message must be the user's question (role 'user', with text)",
            param="messages",
            code="invalid_value",
        )
    history = [
        {"role": m.role, "content": m.text()}
        for m in earlier
        if m.role in ("user", "assistant") and m.text().strip()
    ]
    return Query.of(
        question,
        history=history,
        filters=request.filters,
        k=request.k,
        backend=backend,
        as_of=request.as_of,
    )


def _backend(request: Request, model: str) -> str:
    models = available_models(request.app.state.assistant.settings)
    if model not in models:
        names = ", ".join(repr(name) for name in models)
        raise ApiError(
            404,
            f"the model {model!r} does not exist; available: {names}",
            param="model",
            code="model_not_found",
        )
    return models[model]


@router.post(
    "/chat/completions",
    response_model=ChatCompletion,
    summary="Answer the conversation's last question, with citations",
    description=_STREAM_DOC,
    responses={
        200: {"content": {"text/event-stream": {}}},
        429: {"description": "The local model's queue is full: retry after `Retry-After` seconds."},
    },
)
async def chat_completions(
    body: ChatCompletionRequest, request: Request
) -> ChatCompletion | EventStream | Response:
    assistant = request.app.state.assistant
    query = to_query(body, _backend(request, body.model))
    # a bad question or filter, or a full model queue, is an HTTP error before any response starts
    started: StartedAnswer = await run_in_threadpool(
        start_answer,
        assistant,
        query,
        request.app.state.admission,
        assistant.settings.api.stream_drafts,
    )
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())
    if body.stream:
        chunks = _sse(started.events(), completion_id, created, body.model)
        return EventStream(relay(chunks), on_close=started.close)
    answer = await final_answer(started, request.receive)
    if answer is None:  # the client went away: its generation is cancelled, and nobody reads this
        logger.info("the client went away before its answer was ready; its generation is cancelled")
        return Response(status_code=CLIENT_CLOSED_REQUEST)
    citations, quotes = answer.citations, Quotes.beneath(answer)
    return ChatCompletion(
        id=completion_id,
        created=created,
        model=body.model,
        choices=[Choice(message=ResponseMessage(content=answer.text, citations=citations, quotes=quotes))],
        citations=citations,
        quotes=quotes,
        answer=answer,
    )


def _data(payload: ChatCompletionChunk | dict[str, object]) -> str:
    if isinstance(payload, ChatCompletionChunk):
        text = payload.model_dump_json(exclude_none=True)
    else:
        text = json.dumps(payload)
    return f"data: {text}\n\n"


def _sse(events: Events, completion_id: str, created: int, model: str) -> Iterator[str | None]:
    """The chunks of one answer; None for a held-back piece of a draft (nothing to send)."""

    def chunk(delta: Delta, **extra: object) -> ChatCompletionChunk:
        finish = extra.pop("finish_reason", None)
        return ChatCompletionChunk(
            id=completion_id,
            created=created,
            model=model,
            choices=[ChunkChoice(delta=delta, finish_reason=finish)],  # type: ignore[arg-type]
            **extra,  # type: ignore[arg-type]
        )

    def aside(**fields: object) -> ChatCompletionChunk:  # a chunk without choices, for one extra
        return ChatCompletionChunk(id=completion_id, created=created, model=model, choices=[], **fields)  # type: ignore[arg-type]

    try:
        yield _data(chunk(Delta(role="assistant", content="")))
        answer: Answer | None = None
        place: int | None = None
        for event in events:
            if isinstance(event, Held) or (isinstance(event, Waiting) and event.position == place):
                yield None
            elif isinstance(event, TextDelta):
                yield _data(chunk(Delta(content=event.text)))
            elif isinstance(event, QuotesReady):
                yield _data(aside(quotes=Quotes.of(event.answer)))
            elif isinstance(event, Waiting):  # only when the place changes
                place = event.position
                yield _data(aside(waiting=QueuePlace(position=place)))
            else:
                answer = event.answer
        assert answer is not None
        for citation in answer.citations:
            yield _data(aside(event=source_event(citation)))
        quotes = Quotes.beneath(answer)
        yield _data(
            chunk(
                Delta(citations=answer.citations, quotes=quotes),
                finish_reason="stop",
                citations=answer.citations,
                quotes=quotes,
                answer=answer,
            )
        )
    except AssistantError as e:
        status, code = assistant_error_status(e)
        yield _data(error_body(status, str(e) or type(e).__name__, code))
    except Exception:
        logger.exception("streaming a chat completion failed")
        yield _data(error_body(500, "internal server error; the details are in the server log"))
    finally:
        events.close()  # a client gone away: the model stops
    yield "data: [DONE]\n\n"


def source_event(citation: Citation) -> dict[str, object]:
    """One citation as an Open WebUI ``source`` event, so its chat shows the passage under [n]."""
    when = citation.published.isoformat() if citation.published else "date unknown"
    label = " — ".join(part for part in (citation.title, citation.source, when) if part)
    return {
        "type": "source",
        "data": {
            "source": {
                "id": citation.article_id,
                "name": f"[{citation.number}] {label}",
                "url": citation.url,
            },
            "document": [citation.passage],
            "metadata": [
                {
                    "source": citation.url or citation.article_id,
                    "name": citation.title,
                    "article_id": citation.article_id,
                    "published": citation.published.isoformat() if citation.published else None,
                    "quote": citation.quote,
                    "start": citation.start,
                    "end": citation.end,
                }
            ],
        },
    }
