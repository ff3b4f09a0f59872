"""The one place the API and the MCP server read ``Assistant.stream()``.

``answer_events`` turns the assistant's stream into typed events — text deltas, then the final
Answer — so a change to the stream's shape is absorbed here and nowhere else. It reads both shapes:
``str`` pieces then the ``Answer``, and events carrying ``.text`` then one carrying ``.answer``.

With ``drafts=False`` (the default, ``api.stream_drafts``) the text streamed is the final answer's
text: an LLM's draft is held back until its citations are verified, so the ``[n]`` a client shows
always match the citations it receives. Extractive answers are complete before their first piece
either way.
"""

from __future__ import annotations

import datetime as dt
import inspect
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from assistant.api.errors import ApiError
from assistant.models import Answer, Filters

if TYPE_CHECKING:
    from assistant.core import Assistant


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class AnswerReady:
    answer: Answer


AnswerEvent = TextDelta | AnswerReady


@dataclass
class ChatQuery:
    """What one chat request asks the assistant."""

    question: str
    history: list[dict[str, str]] = field(default_factory=list)
    filters: Filters | None = None
    k: int | None = None
    backend: str | None = None
    as_of: dt.date | None = None


def supports_as_of(assistant: Assistant) -> bool:
    return "as_of" in inspect.signature(assistant.stream).parameters


def answer_events(assistant: Assistant, query: ChatQuery, drafts: bool = False) -> Iterator[AnswerEvent]:
    """Text deltas, then exactly one AnswerReady. Errors surface on the first ``next()``."""
    options: dict[str, object] = {
        "history": query.history or None,
        "filters": query.filters,
        "k": query.k,
        "backend": query.backend,
    }
    if query.as_of is not None:
        if not supports_as_of(assistant):
            raise ApiError(400, "as_of is not supported by this version of the assistant", param="as_of")
        options["as_of"] = query.as_of
    for part in assistant.stream(query.question, **options):  # type: ignore[arg-type]
        answer = _final(part)
        if answer is not None:
            if not drafts:
                yield from (TextDelta(piece) for piece in text_pieces(answer.text))
            yield AnswerReady(answer)
            return
        text = part if isinstance(part, str) else str(getattr(part, "text", ""))
        if drafts and text:
            yield TextDelta(text)
    raise RuntimeError("the assistant's stream ended without an Answer")


def _final(part: object) -> Answer | None:
    """The Answer, whether the stream yields it bare (``str | Answer``) or as an event holding it
    (``TextDelta(text) | AnswerReady(answer)``)."""
    if isinstance(part, Answer):
        return part
    answer = getattr(part, "answer", None)
    return answer if isinstance(answer, Answer) else None


_PIECE = re.compile(r"\S+\s*|\s+")


def text_pieces(text: str, size: int = 48) -> Iterator[str]:
    """A finished text in pieces of about ``size`` characters, cut after whitespace."""
    piece = ""
    for token in _PIECE.findall(text):
        piece += token
        if len(piece) >= size:
            yield piece
            piece = ""
    if piece:
        yield piece


def final_answer(events: Iterator[AnswerEvent]) -> Answer:
    for event in events:
        if isinstance(event, AnswerReady):
            return event.answer
    raise RuntimeError("the assistant's stream ended without an Answer")
