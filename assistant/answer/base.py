"""The two parts of answering that have more than one implementation, and what they share.

A :class:`Condenser` turns a follow-up into a question that stands alone (a rule, or the model); an
:class:`Answerer` writes the answer from the passages retrieved for that question (the extractive
composer, or the model). :class:`~assistant.answer.pipeline.AnswerPipeline` puts them together.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Protocol

from assistant.models import Answer, Passage, StreamEvent, TextDelta, final_answer


class Condenser(Protocol):
    def condense(self, question: str, history: Sequence[Mapping[str, str]] | None) -> str:
        """``question`` rewritten to stand alone, given the chat ``history`` (oldest first)."""
        ...


class Answerer(Protocol):
    backend: str  # what Answer.backend says: "extractive", "openai" or "local"

    def stream(self, question: str, passages: list[Passage]) -> Iterator[StreamEvent]:
        """Text deltas, then one AnswerReady; ``question`` stands alone, ``passages`` are ranked."""
        ...


class ChatModel(Protocol):
    """A chat model that streams its reply: an OpenAI-compatible server or the local llama.cpp model."""

    def stream_text(
        self,
        messages: list[dict[str, str]],
        max_tokens: int | None = None,
        temperature: float | None = None,
        *,
        logprobs: list[tuple[str, float]] | None = None,
    ) -> Iterator[str]:
        """The reply to ``messages``, piece by piece; ``max_tokens`` caps it and ``temperature`` sets
        the sampling (default: the settings'). Given a ``logprobs`` list, each written token and its
        log-probability are appended to it, where the model reports them."""
        ...


def answer_of(answerer: Answerer, question: str, passages: list[Passage]) -> Answer:
    """The Answer alone, for callers that do not stream."""
    return final_answer(answerer.stream(question, passages))


def text_deltas(text: str) -> Iterator[TextDelta]:
    """A finished text in sentence-sized pieces, as a model would stream it."""
    start = 0
    for i, ch in enumerate(text):
        if ch in ".\n" and i + 1 < len(text) and text[i + 1] in " \n":
            yield TextDelta(text=text[start : i + 1])
            start = i + 1
    if start < len(text):
        yield TextDelta(text=text[start:])
