"""The Assistant: the one object that the CLI, the web UI and the evaluation runner all call."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from functools import cached_property
from pathlib import Path
from typing import Any

from assistant.answer import extractive
from assistant.config import Settings
from assistant.embedding import Embedder, offline_environment
from assistant.errors import ArticleNotFoundError, AssistantError, ConfigurationError, LLMError
from assistant.ingest import Ingester
from assistant.lexical import BM25Index
from assistant.models import Answer, Article, Filters, IngestReport, Passage
from assistant.registry import Registry
from assistant.retrieve import Retriever
from assistant.store import VectorStore

logger = logging.getLogger(__name__)

History = list[dict[str, str]]


class Assistant:
    """Ingests articles and answers questions about them with cited passages.

    Thread-safe: the web UI calls one instance from several worker threads.
    """

    def __init__(self, settings: Settings | None = None, embedder: Embedder | None = None) -> None:
        offline_environment()
        self.settings = settings if settings is not None else Settings()
        self.embedder = embedder or Embedder(self.settings.embedding, self.settings.data_dir / "models")
        data_dir = self.settings.data_dir
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ConfigurationError(f"cannot create the data directory {data_dir} (data_dir): {e}") from e
        self.registry = Registry(data_dir / "registry.sqlite3")
        self.vectors = VectorStore(data_dir / "chroma")
        self.vectors.guard_with(self.embedder.signature, data_dir / "embedding.json")
        self.bm25 = BM25Index(data_dir / "bm25")
        self.retriever = Retriever(
            self.settings.retrieval, self.registry, self.vectors, self.bm25, self.embedder
        )
        self._write_lock = threading.Lock()

    # -- library -------------------------------------------------------------------------------

    def ingest(
        self,
        paths: Iterable[str | Path] | str | Path,
        progress: bool = False,
        on_file: Callable[[int, int, str], None] | None = None,
    ) -> IngestReport:
        """Ingest files and folders (recursively). Unchanged articles are skipped, changed ones replaced."""
        if isinstance(paths, (str, Path)):
            paths = [paths]
        with self._write_lock:
            report = Ingester(self.settings, self.registry, self.vectors, self.embedder).ingest(
                paths, progress=progress, on_file=on_file
            )
            if report.added or report.updated:
                self.retriever.rebuild_lexical()
        return report

    def articles(self) -> list[Article]:
        return self.registry.articles()

    def article(self, article_id: str) -> Article:
        article = self.registry.get(article_id)
        if article is None:
            raise ArticleNotFoundError(f"no article with id {article_id!r}; `assistant articles` lists them")
        return article

    def delete(self, article_id: str) -> None:
        """Remove an article, its passages, vectors and BM25 entries."""
        with self._write_lock:
            self.article(article_id)
            self.vectors.delete_article(article_id)
            self.registry.delete_article(article_id)
            self.retriever.rebuild_lexical()

    def stats(self) -> dict[str, int]:
        articles, passages = self.registry.counts()
        return {"articles": articles, "passages": passages}

    def sources(self) -> list[str]:
        return sorted({a.source for a in self.registry.articles() if a.source})

    # -- questions -------------------------------------------------------------------------------

    def retrieve(
        self,
        question: str,
        k: int | None = None,
        filters: Filters | dict[str, Any] | None = None,
        mode: str | None = None,
    ) -> list[Passage]:
        return self.retriever.retrieve(_question(question), k=k, filters=_filters(filters), mode=mode)

    def ask(
        self,
        question: str,
        history: History | None = None,
        filters: Filters | dict[str, Any] | None = None,
        k: int | None = None,
        backend: str | None = None,
    ) -> Answer:
        answer: Answer | None = None
        for part in self.stream(question, history=history, filters=filters, k=k, backend=backend):
            if isinstance(part, Answer):
                answer = part
        assert answer is not None
        return answer

    def stream(
        self,
        question: str,
        history: History | None = None,
        filters: Filters | dict[str, Any] | None = None,
        k: int | None = None,
        backend: str | None = None,
    ) -> Iterator[str | Answer]:
        """Text pieces as they are written, then the final Answer."""
        started = time.perf_counter()
        question = _question(question)
        backend = backend or self.settings.llm.backend
        if backend not in ("extractive", "openai"):
            raise ConfigurationError(f"llm.backend must be 'extractive' or 'openai', not {backend!r}")
        parsed_filters = _filters(filters)
        answer: Answer | None = None
        if backend == "openai":
            try:
                llm = self._llm
                standalone = llm.condense(question, history) if history else question
                passages = self.retriever.retrieve(standalone, k=k, filters=parsed_filters)
                for part in llm.stream(standalone, passages, history):
                    if isinstance(part, Answer):
                        answer = part
                    else:
                        yield part
            except LLMError as e:
                if not self.settings.llm.fallback_to_extractive:
                    raise
                logger.warning("LLM failed, answering extractively: %s", e)
                answer = self._extractive(question, history, parsed_filters, k)
                answer.fallback_reason = str(e)
                answer.text = (
                    f"*The language model failed ({e}); this answer quotes the articles instead.*\n\n"
                    + answer.text
                )
                yield from _pieces(answer.text)
        else:
            answer = self._extractive(question, history, parsed_filters, k)
            yield from _pieces(answer.text)
        assert answer is not None
        answer.question = question
        answer.latency_ms = (time.perf_counter() - started) * 1000
        yield answer

    def _extractive(
        self, question: str, history: History | None, filters: Filters | None, k: int | None
    ) -> Answer:
        from assistant.answer.condense import condense_rule

        standalone = condense_rule(question, history) if history else question
        passages = self.retriever.retrieve(standalone, k=k, filters=filters)
        answer = extractive.compose(standalone, passages, self.settings.answer)
        answer.standalone_question = standalone
        answer.backend = "extractive"
        return answer

    @cached_property
    def _llm(self):  # type: ignore[no-untyped-def]
        from assistant.answer.llm import LLMAnswerer

        return LLMAnswerer(self.settings, self.embedder)

    def close(self) -> None:
        self.registry.close()


def _question(question: str) -> str:
    question = (question or "").strip()
    if not question:
        raise AssistantError("the question is empty: ask something about the articles")
    return question


def _filters(filters: Filters | dict[str, Any] | None) -> Filters | None:
    if filters is None or isinstance(filters, Filters):
        return filters
    try:
        return Filters.model_validate(filters)
    except ValueError as e:
        raise AssistantError(f"invalid filters {filters!r}: {e}") from e


def _pieces(text: str) -> Iterator[str]:
    """Stream a finished text in sentence-sized pieces, as a model would."""
    start = 0
    for i, ch in enumerate(text):
        if ch in ".\n" and i + 1 < len(text) and text[i + 1] in " \n":
            yield text[start : i + 1]
            start = i + 1
    if start < len(text):
        yield text[start:]
