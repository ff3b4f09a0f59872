"""The Assistant: the one object that the CLI, the web UI and the evaluation runner all call."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Unpack

from assistant.answer.extractive import ExtractiveAnswerer
from assistant.answer.pipeline import AnswerPipeline
from assistant.config import Settings
from assistant.errors import ArticleNotFoundError, ConfigurationError, LLMError
from assistant.library.bm25 import BM25Index
from assistant.library.check import CheckReport, repair_library
from assistant.library.embedding import Embedder, offline_environment
from assistant.library.ingest import Ingester
from assistant.library.locking import LibraryBusyError, WriteLock, recover_interrupted_write, write_session
from assistant.library.registry import Registry
from assistant.library.vectors import VectorStore
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
from assistant.retrieval.hybrid import Retriever

if TYPE_CHECKING:
    from assistant.answer.base import ChatModel
    from assistant.answer.llm import LLMAnswerer
    from assistant.answer.local.runtime import LocalLLM
    from assistant.answer.reader import ReaderAnswerer

logger = logging.getLogger(__name__)


class Assistant:
    """Ingests articles and answers questions about them with cited passages.

    Thread-safe: the web UI calls one instance from several worker threads.
    """

    def __init__(self, settings: Settings | None = None, embedder: Embedder | None = None) -> None:
        offline_environment()
        self.settings = settings if settings is not None else Settings()
        exports = self.settings.embedding.cache_dir or self.settings.data_dir / "models"
        self.embedder = embedder or Embedder(self.settings.embedding, Path(exports).expanduser())
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
        self._readers: dict[str, ReaderAnswerer] = {}  # by backend: "local", "openai"
        self.local_model: LocalLLM | None = None  # the in-process model, once the local backend is used
        self.pipeline = AnswerPipeline(
            self.settings,
            self.retriever,
            ExtractiveAnswerer(self.settings.answer),
            self._llm,
            self._reader_of,
        )
        # a writer that died mid-way left drift: repair it first
        recover_interrupted_write(data_dir, self._repair_after_crash)
        self._retokenise_if_needed()

    def _retokenise_if_needed(self) -> None:
        """A BM25 index saved by another stemmer is rebuilt and saved once, by the first process that
        opens the library while nobody writes; otherwise every reading process would rebuild it in
        memory until the next ingest."""
        if not self.bm25.saved_by_another_stemmer():
            return
        try:
            with WriteLock(self.settings.data_dir, 0, "BM25 re-tokenising"):
                self.bm25.refresh(self.registry.generation())
        except (LibraryBusyError, OSError):  # a writer is at work (it saves the index), or read-only
            pass

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
        with self._write_lock, self._write_session("ingest"):
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
        with self._write_lock, self._write_session(f"delete {article_id}"):
            self.registry.delete_article(article_id)  # the commit point; vectors left by a crash are orphans
            self.vectors.delete_article(article_id)
            self.retriever.rebuild_lexical()

    def repair(self) -> CheckReport:
        """``check --repair``: under the write lock, fix any drift between Chroma, the registry and BM25
        (and clear an interrupted write's marker)."""
        with self._write_lock, self._write_session("check --repair"):
            return repair_library(self)

    def _write_session(self, operation: str) -> AbstractContextManager[None]:
        """The data directory's write lock for ``operation``, repairing first after a crashed writer."""
        return write_session(
            self.settings.data_dir,
            self.settings.reliability.lock_timeout,
            operation,
            repair=self._repair_after_crash,
            prepare=self.retriever.sync_store,
        )

    def _repair_after_crash(self, interrupted: str) -> None:
        report = repair_library(self)
        logger.warning("recovery after an interrupted %s: %s", interrupted, report.summary())

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

    def _reader_of(self, backend: str = "local") -> ReaderAnswerer:
        """The reader of ``backend``, built once: the local model's (it loads on its first question),
        or the OpenAI-compatible server's (``llm.openai_answer = "reader"``)."""
        with self._llm_lock:
            reader = self._readers.get(backend)
            if reader is None:
                from assistant.answer.llm_client import ChatClient
                from assistant.answer.local.runtime import LocalLLM
                from assistant.answer.prompts import load_prompts
                from assistant.answer.reader import ReaderAnswerer

                prompts = load_prompts(self.settings.llm)  # PromptError now, not mid-answer
                model: ChatModel
                if backend == "openai":
                    model = ChatClient(self.settings.llm)
                else:
                    model = self.local_model = LocalLLM(self.settings.llm)
                reader = ReaderAnswerer(self.settings.llm, model, self.pipeline.extractive, prompts, backend)
                self._readers[backend] = reader
            return reader

    def load_local_model(self) -> None:
        """Load the local backend's model now (servers call this at start-up when ``llm.backend`` is
        "local": llama.cpp holds the interpreter while it loads, which would stall a first question's
        neighbours), and have it read the reader's instruction and examples, which every question
        starts with (~6 s for the 1.5B model), so that the first question does not wait for them.
        Raises ModelNotInstalledError, naming ``assistant model install``, when it is missing."""
        reader = self._reader_of("local")
        assert self.local_model is not None
        self.local_model.load()
        started = time.perf_counter()
        try:
            reader.warm()
        except LLMError as e:  # the first question reads the prompt instead, or says why it cannot
            logger.warning("the local model could not read the reader's prompt ahead: %s", e)
        else:
            seconds = time.perf_counter() - started
            logger.info("the local model read the reader's prompt ahead in %.1fs", seconds)

    def close(self) -> None:
        if self.local_model is not None:
            self.local_model.close()
        self.registry.close()
