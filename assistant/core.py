"""The Assistant: the one object that the CLI, the web UI and the evaluation runner all call."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Unpack

from assistant.answer.extractive import ExtractiveAnswerer
from assistant.answer.pipeline import AnswerPipeline
from assistant.config import Settings
from assistant.embedding import Embedder, offline_environment
from assistant.errors import ArticleNotFoundError, ConfigurationError
from assistant.ingest import Ingester
from assistant.lexical import BM25Index
from assistant.locking import recover_interrupted_write, write_session
from assistant.models import (
    Answer,
    Article,
    Filters,
    IngestReport,
    Passage,
    Query,
    QueryFields,
    StreamEvent,
    final_answer,
)
from assistant.registry import Registry
from assistant.retrieve import Retriever
from assistant.store import VectorStore

if TYPE_CHECKING:
    from assistant.answer.llm import LLMAnswerer

logger = logging.getLogger(__name__)

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
        self.vectors = VectorStore(data_dir / "chroma", self.settings.store)
        self.vectors.guard_with(self.embedder.signature, data_dir / "embedding.json")
        self.bm25 = BM25Index(data_dir / "bm25", self.registry)
        self.retriever = Retriever(
            self.settings.retrieval, self.registry, self.vectors, self.bm25, self.embedder
        )
        self._write_lock = threading.Lock()
        self._llm_lock = threading.Lock()
        self._llm_answerer: LLMAnswerer | None = None
        self.pipeline = AnswerPipeline(
            self.settings, self.retriever, ExtractiveAnswerer(self.settings.answer), self._llm
        )
        recover_interrupted_write(self)  # a writer that died mid-way left drift: repair it first

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
        with self._write_lock, write_session(self, "ingest"):
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
        self.article(article_id)
        with self._write_lock, write_session(self, f"delete {article_id}"):
            self.registry.delete_article(article_id)  # the commit point; vectors left by a crash are orphans
            self.vectors.delete_article(article_id)
            self.retriever.rebuild_lexical()

    def stats(self) -> dict[str, int]:
        articles, passages = self.registry.counts()
        return {"articles": articles, "passages": passages}

    def sources(self) -> list[str]:
        return sorted({a.source for a in self.registry.articles() if a.source})

    def default_as_of(self) -> dt.date:
        """The "today" questions are asked on by default: the newest publication date, else today."""
        dates = [a.published for a in self.registry.articles() if a.published]
        return max(dates) if dates else dt.date.today()

    # -- questions -------------------------------------------------------------------------------

    def retrieve(
        self,
        question: str | Query,
        k: int | None = None,
        filters: Filters | dict[str, Any] | None = None,
        mode: str | None = None,
        as_of: dt.date | None = None,
    ) -> list[Passage]:
        """The passages an answer would be written from, best first (no condensing, no answer)."""
        query = Query.of(question, k=k, filters=filters, as_of=as_of)
        return self.retriever.retrieve(
            query.question, k=query.k, filters=query.filters, mode=mode, as_of=query.as_of
        )

    def ask(self, question: str | Query, **fields: Unpack[QueryFields]) -> Answer:
        """The answer to ``question``: a string with the other fields as keywords, or a :class:`Query`."""
        return final_answer(self.stream(question, **fields))

    def stream(self, question: str | Query, **fields: Unpack[QueryFields]) -> Iterator[StreamEvent]:
        """:class:`TextDelta` events as the answer is written, then one :class:`AnswerReady`.

        The question is validated before anything runs: a :class:`QueryError` is raised by this call,
        not by the first ``next()``.
        """
        return self.pipeline.stream(Query.of(question, **fields))

    def _llm(self) -> LLMAnswerer:
        """The LLM backend, built once, on first use, by whichever thread needs it first."""
        with self._llm_lock:
            if self._llm_answerer is None:
                from assistant.answer.llm import LLMAnswerer

                self._llm_answerer = LLMAnswerer(self.settings, self.embedder)
            return self._llm_answerer

    def close(self) -> None:
        self.registry.close()
