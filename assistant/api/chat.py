"""``POST /v1/chat/completions``: OpenAI's chat endpoint answered by the assistant, with sources.

The last message is the question and the earlier user/assistant messages are the conversation;
system messages are ignored (the assistant has its own instructions). The answer text keeps its
``[n]`` markers and the citations travel in the extra ``citations`` field (in streaming, in the
last chunk).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterator
from itertools import chain

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from assistant.api.catalog import available_models
from assistant.api.errors import ApiError, assistant_error_status, error_body
from assistant.api.schemas import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    Choice,
    ChunkChoice,
    Delta,
    ResponseMessage,
)
from assistant.api.streaming import answer_events
from assistant.errors import AssistantError
from assistant.models import Answer, AnswerReady, Citation, Query, StreamEvent, TextDelta

logger = logging.getLogger(__name__)

router = APIRouter(tags=["chat"])

_STREAM_DOC = (
    "With `stream: true`: server-sent events, one `chat.completion.chunk` per `data:` line, the last "
    'one with `finish_reason: "stop"`, `citations` and `answer`, then `data: [DONE]`.'
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
    responses={200: {"content": {"text/event-stream": {}}}},
)
def chat_completions(body: ChatCompletionRequest, request: Request) -> ChatCompletion | StreamingResponse:
    assistant = request.app.state.assistant
    query = to_query(body, _backend(request, body.model))
    events = answer_events(assistant, query, drafts=assistant.settings.api.stream_drafts)
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())
    if not body.stream:
        answer = next(e.answer for e in events if isinstance(e, AnswerReady))
        return ChatCompletion(
            id=completion_id,
            created=created,
            model=body.model,
            choices=[Choice(message=ResponseMessage(content=answer.text, citations=answer.citations))],
            citations=answer.citations,
            answer=answer,
        )
    first = next(events)  # a bad question or filter is still an HTTP error, not a broken stream
    chunks = _sse(chain([first], events), completion_id, created, body.model)
    return StreamingResponse(
        chunks,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _data(payload: ChatCompletionChunk | dict[str, object]) -> str:
    if isinstance(payload, ChatCompletionChunk):
        text = payload.model_dump_json(exclude_none=True)
    else:
        text = json.dumps(payload)
    return f"data: {text}\n\n"


def _sse(events: Iterator[StreamEvent], completion_id: str, created: int, model: str) -> Iterator[str]:
    def chunk(delta: Delta, **extra: object) -> ChatCompletionChunk:
        finish = extra.pop("finish_reason", None)
        return ChatCompletionChunk(
            id=completion_id,
            created=created,
            model=model,
            choices=[ChunkChoice(delta=delta, finish_reason=finish)],  # type: ignore[arg-type]
            **extra,  # type: ignore[arg-type]
        )

    yield _data(chunk(Delta(role="assistant", content="")))
    try:
        answer: Answer | None = None
        for event in events:
            if isinstance(event, TextDelta):
                yield _data(chunk(Delta(content=event.text)))
            else:
                answer = event.answer
        assert answer is not None
        for citation in answer.citations:
            yield _data(
                ChatCompletionChunk(
                    id=completion_id, created=created, model=model, choices=[], event=source_event(citation)
                )
            )
        yield _data(
            chunk(
                Delta(citations=answer.citations),
                finish_reason="stop",
                citations=answer.citations,
                answer=answer,
            )
        )
    except AssistantError as e:
        status, code = assistant_error_status(e)
        yield _data(error_body(status, str(e) or type(e).__name__, code))
    except Exception:
        logger.exception("streaming a chat completion failed")
        yield _data(error_body(500, "internal server error; the details are in the server log"))
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
