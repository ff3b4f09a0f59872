"""The one place the API reads ``Assistant.stream()`` for a chat completion.

With ``drafts=False`` (the default, ``api.stream_drafts``) the text streamed is the final answer's
text: an LLM's draft is held back until its citations are verified, so the ``[n]`` a client shows
always match the citations it receives. Extractive answers are complete before their first piece
either way.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from assistant.models import AnswerReady, Query, StreamEvent, TextDelta

if TYPE_CHECKING:
    from assistant.core import Assistant


def answer_events(assistant: Assistant, query: Query, drafts: bool = False) -> Iterator[StreamEvent]:
    """Text deltas, then exactly one AnswerReady. Errors surface on the first ``next()``."""
    for event in assistant.stream(query):
        if isinstance(event, AnswerReady):
            if not drafts:
                yield from (TextDelta(text=piece) for piece in text_pieces(event.answer.text))
            yield event
            return
        if drafts and event.text:
            yield event
    raise RuntimeError("the assistant's stream ended without an Answer")


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
