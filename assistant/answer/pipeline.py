"""One question, start to finish: condense once, retrieve once, answer, fall back without starting over.

    Query -> Condenser (follow-ups only) -> Retriever -> Answerer -> TextDelta ... AnswerReady

The extractive backend pairs the rule condenser with the extractive composer; the openai backend
pairs the model's condenser with the model's answerer; the local backend pairs the rule condenser
with the reader (the composer's quotes at once, then the local model's short verified answer), and so
does the openai backend with ``llm.openai_answer = "reader"`` (the server's model reads).
When the model fails and ``llm.fallback_to_extractive`` is on, the composer quotes the passages
already retrieved for the question already condensed; only a model that failed while condensing
leaves the rule to condense and the retriever to run (for the first time).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from assistant.answer.base import Answerer, Condenser, answer_of, text_deltas
from assistant.answer.condense import RuleCondenser
from assistant.config import Settings
from assistant.errors import LLMError
from assistant.models import AnswerReady, Passage, Query, StreamEvent

if TYPE_CHECKING:
    from assistant.answer.llm import LLMAnswerer
    from assistant.answer.reader import ReaderAnswerer
    from assistant.retrieval.hybrid import Retriever

logger = logging.getLogger(__name__)

FALLBACK_NOTICE = "*The language model failed ({error}); this answer quotes the articles instead.*\n\n"


@dataclass
class _Progress:
    """How far one question got, so that a fallback reuses it."""

    query: Query
    standalone: str | None = None
    passages: list[Passage] | None = None


class AnswerPipeline:
    """Answers :class:`Query` objects; thread-safe when its parts are."""

    def __init__(
        self,
        settings: Settings,
        retriever: Retriever,
        extractive: Answerer,
        llm: Callable[[], LLMAnswerer],
        reader: Callable[[str], ReaderAnswerer],
        condenser: Condenser | None = None,
    ) -> None:
        self.settings = settings
        self.retriever = retriever
        self.extractive = extractive
        self.llm = llm  # built on first use (it loads and checks the prompts)
        self.reader = reader  # likewise; the local model itself loads on its first question
        self.condenser = condenser or RuleCondenser()

    def stream(self, query: Query) -> Iterator[StreamEvent]:
        """Text deltas as the answer is written, then the final Answer."""
        started = time.perf_counter()
        progress = _Progress(query)
        for event in self._events(progress):
            if isinstance(event, AnswerReady):
                answer = event.answer
                answer.question = query.question
                answer.standalone_question = progress.standalone or query.question
                answer.as_of = query.as_of
                answer.latency_ms = (time.perf_counter() - started) * 1000
            yield event

    def _events(self, progress: _Progress) -> Iterator[StreamEvent]:
        backend = progress.query.backend or self.settings.llm.backend
        if backend == "extractive":
            yield from self._answer(progress, self.condenser, self.extractive)
            return
        try:
            if backend == "local" or self.settings.llm.openai_answer == "reader":
                yield from self._answer(progress, self.condenser, self.reader(backend))
            else:
                llm = self.llm()
                yield from self._answer(progress, llm.condenser, llm)
        except LLMError as e:
            if not self.settings.llm.fallback_to_extractive:
                raise
            logger.warning("LLM failed, answering extractively: %s", e)
            yield from self._fallback(progress, e)

    def _answer(self, progress: _Progress, condenser: Condenser, answerer: Answerer) -> Iterator[StreamEvent]:
        query = progress.query
        progress.standalone = (
            condenser.condense(query.question, query.history) if query.history else query.question
        )
        progress.passages = self._retrieve(progress)
        yield from answerer.stream(progress.standalone, progress.passages)

    def _fallback(self, progress: _Progress, error: LLMError) -> Iterator[StreamEvent]:
        if progress.standalone is None or progress.passages is None:
            # The model failed while condensing: the rule condenses, and retrieval runs for the first time.
            query = progress.query
            progress.standalone = self.condenser.condense(query.question, query.history)
            progress.passages = self._retrieve(progress)
        answer = answer_of(self.extractive, progress.standalone, progress.passages)
        answer.fallback_reason = str(error)
        answer.text = FALLBACK_NOTICE.format(error=error) + answer.text
        yield from text_deltas(answer.text)
        yield AnswerReady(answer=answer)

    def _retrieve(self, progress: _Progress) -> list[Passage]:
        assert progress.standalone is not None
        query = progress.query
        return self.retriever.retrieve(
            progress.standalone, k=query.k, filters=query.filters, as_of=query.as_of
        )
