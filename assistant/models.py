"""Typed, JSON-serialisable records shared by ingestion, retrieval, answering and the callers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any, Literal, TypedDict

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from assistant.errors import AssistantError, QueryError


class ArticleMeta(BaseModel):
    """What a reader extracts from one source record, before it is stored."""

    title: str = ""
    source: str = ""  # outlet
    authors: list[str] = Field(default_factory=list)
    published: dt.date | None = None
    published_inferred: bool = False
    url: str = ""
    path: str = ""
    key: str = ""  # stable identity of the record (path, path#record, or url)


class Article(ArticleMeta):
    """One cleaned article as stored in the library."""

    id: str
    text: str  # cleaned article text; passage offsets index into it
    content_hash: str
    passage_count: int = 0
    ingested_at: dt.datetime | None = None


class Filters(BaseModel):
    """Restricts retrieval. Dates are inclusive; empty lists mean no restriction."""

    since: dt.date | None = None
    until: dt.date | None = None
    sources: list[str] = Field(default_factory=list)
    article_ids: list[str] = Field(default_factory=list)

    def is_empty(self) -> bool:
        return not (self.since or self.until or self.sources or self.article_ids)


class ArticleRef(BaseModel):
    """The article a passage or a citation comes from: what a reader needs to check it."""

    article_id: str
    title: str = ""
    source: str = ""  # outlet
    published: dt.date | None = None
    published_inferred: bool = False
    url: str = ""
    path: str = ""

    @classmethod
    def of(cls, article: Article) -> ArticleRef:
        fields = article.model_dump(include=set(cls.model_fields) - {"article_id"})
        return cls(article_id=article.id, **fields)


class Passage(ArticleRef):
    """A span of an article, as retrieved."""

    id: str
    text: str
    start: int  # character offsets into Article.text
    end: int
    score: float = 0.0  # fused retrieval score (higher is better)
    dense_score: float | None = None  # cosine similarity to the question, when dense search ran
    bm25_score: float | None = None
    # days its article lies outside the window the question names ("this week", "in March 2024"),
    # 0 inside it; None when the question names no window or the article is undated
    days_outside: int | None = None
    # days its article was published before the moment the question was asked, when the caller gave
    # one (``as_of``); None without one, or for an undated article
    days_before: int | None = None


class Citation(ArticleRef):
    """A source the answer cites as [number]."""

    number: int
    passage: str  # the exact passage text
    passage_id: str = ""
    quote: str = ""  # the sentence(s) of the passage that support the claim
    start: int  # offsets of the passage in the article text
    end: int
    score: float = 0.0  # support (LLM answers) or retrieval score (extractive)

    @classmethod
    def from_passage(cls, number: int, passage: Passage, quote: str, score: float) -> Citation:
        reference = passage.model_dump(include=set(ArticleRef.model_fields))
        return cls(
            **reference,
            number=number,
            passage=passage.text,
            passage_id=passage.id,
            quote=quote,
            start=passage.start,
            end=passage.end,
            score=score,
        )


class Answer(BaseModel):
    question: str
    standalone_question: str = ""  # the question after follow-up condensing
    text: str  # Markdown with inline [n]
    abstained: bool = False
    citations: list[Citation] = Field(default_factory=list)
    passages: list[Passage] = Field(default_factory=list)
    backend: str = "extractive"
    fallback_reason: str | None = None  # set when an LLM failed and the extractive answer stands in
    unsupported: list[str] = Field(default_factory=list)  # LLM claims removed for lack of support
    latency_ms: float = 0.0
    as_of: dt.date | None = None  # the "today" the question was asked on, when one was given
    # the composer's quotes, when a model wrote this answer (backend "local"): shown beneath it
    quotes: Answer | None = None
    # backend "local": the probability the model gave its short answer (its tokens' product), when known
    confidence: float | None = None


# --- a question, as every caller hands it to the assistant ------------------------------------------

Backend = Literal["extractive", "openai", "local"]
BACKENDS: tuple[str, ...] = ("extractive", "openai", "local")
MIN_K, MAX_K = 1, 100
EMPTY_QUESTION = "the question is empty: ask something about the articles"


class Query(BaseModel):
    """One question with everything that shapes its answer, validated once for every caller.

    The Python API, the CLI, the web UI and the evaluation runner all build one with
    :meth:`Query.of`, so a question that is empty, dates in the wrong order, a ``k`` out of range or
    an unknown backend are refused with the same :class:`QueryError` message everywhere.
    ``None`` means "the setting's default" for ``k`` and ``backend``.
    """

    question: str
    history: list[dict[str, str]] = Field(default_factory=list)  # {"role", "content"}, oldest first
    filters: Filters | None = None
    k: int | None = None
    backend: Backend | None = None
    as_of: dt.date | None = None  # "today" for relative dates and recency; None: the library's newest

    @classmethod
    def of(cls, question: str | Query, **fields: Any) -> Query:
        """A validated Query. A Query passes through, re-validated with ``fields`` when any is given."""
        given = {name: value for name, value in fields.items() if value is not None}
        if isinstance(question, Query):
            if not given:
                return question
            given = {**question.model_dump(exclude={"question"}), **given}
            question = question.question
        try:
            return cls.model_validate({"question": question, **given})
        except ValidationError as e:
            raise QueryError(_problems(e)) from e

    @field_validator("question", mode="before")
    @classmethod
    def _question(cls, value: object) -> str:
        text = str(value or "").strip()
        if not text:
            raise ValueError(EMPTY_QUESTION)
        return text

    @field_validator("history", mode="before")
    @classmethod
    def _history(cls, value: object) -> list[dict[str, str]]:
        if value is None:
            return []
        if not isinstance(value, list | tuple):
            raise ValueError("history is a list of {'role', 'content'} messages, oldest first")
        messages = []
        for message in value:
            if isinstance(message, BaseModel):
                message = message.model_dump()
            if not isinstance(message, dict):
                raise ValueError(f"history holds {message!r}; each message is {{'role', 'content'}}")
            role = str(message.get("role") or "user")
            if role not in ("user", "assistant"):
                raise ValueError(f"a history message's role is 'user' or 'assistant', not {role!r}")
            messages.append({"role": role, "content": str(message.get("content") or "")})
        return messages

    @field_validator("filters", mode="before")
    @classmethod
    def _filters(cls, value: object) -> object:
        return None if value is None or value == {} else value

    @field_validator("k", mode="before")
    @classmethod
    def _k(cls, value: object) -> object:
        if value is None or value == "":
            return None
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ValueError(f"k is a number of passages from {MIN_K} to {MAX_K}, not {value!r}")
        try:
            number = int(value)
        except ValueError:
            raise ValueError(f"k is a number of passages from {MIN_K} to {MAX_K}, not {value!r}") from None
        if not MIN_K <= number <= MAX_K or number != float(value):
            raise ValueError(f"k is a number of passages from {MIN_K} to {MAX_K}, not {value!r}")
        return number

    @field_validator("backend", mode="before")
    @classmethod
    def _backend(cls, value: object) -> object:
        if value is None or value == "":
            return None
        if value not in BACKENDS:
            raise ValueError(f"the backend is one of {', '.join(map(repr, BACKENDS))}, not {value!r}")
        return value

    @model_validator(mode="after")
    def _date_order(self) -> Query:
        filters = self.filters
        if filters and filters.since and filters.until and filters.since > filters.until:
            raise ValueError(
                f"the 'From' date is after the 'To' date ({filters.since} > {filters.until}): "
                "swap them or clear one"
            )
        return self


class QueryFields(TypedDict, total=False):
    """The keywords ``Assistant.ask``/``stream`` take beside the question (see :class:`Query`)."""

    history: list[dict[str, str]] | None
    filters: Filters | dict[str, Any] | None
    k: int | None
    backend: str | None
    as_of: dt.date | None


def _problems(error: ValidationError) -> str:
    """The messages of a ValidationError, ours as written, pydantic's with the field they concern."""
    problems = []
    for item in error.errors():
        cause = (item.get("ctx") or {}).get("error")
        if isinstance(cause, ValueError):
            problems.append(str(cause))
            continue
        where = ".".join(str(part) for part in item["loc"])
        problems.append(f"{where}: {item['msg']}" if where else item["msg"])
    return "; ".join(dict.fromkeys(problems))


# --- what Assistant.stream yields ---------------------------------------------------------------------


class TextDelta(BaseModel):
    """A piece of the answer text as it is written (a model's tokens, or a quoted sentence)."""

    type: Literal["text"] = "text"
    text: str


class AnswerReady(BaseModel):
    """The final Answer, always the last event. Its text replaces what the deltas showed."""

    type: Literal["answer"] = "answer"
    answer: Answer


class QuotesReady(BaseModel):
    """The composer's quotes, at once, before a model writes its answer (backend "local")."""

    type: Literal["quotes"] = "quotes"
    answer: Answer


class Waiting(BaseModel):
    """The question waits for the model: ``position`` requests are ahead of it (0: it is next)."""

    type: Literal["waiting"] = "waiting"
    position: int


StreamEvent = TextDelta | QuotesReady | Waiting | AnswerReady


def final_answer(events: Iterable[StreamEvent], on_text: Callable[[str], None] | None = None) -> Answer:
    """Drain a stream of events and return its Answer; ``on_text(text)`` sees each delta on the way."""
    answer: Answer | None = None
    for event in events:
        if isinstance(event, AnswerReady):
            answer = event.answer
        elif isinstance(event, TextDelta) and on_text is not None:
            on_text(event.text)
    if answer is None:
        raise AssistantError("the answer stream ended without an answer")
    return answer


FileStatus = Literal["added", "updated", "unchanged", "failed"]


class FileResult(BaseModel):
    path: str
    status: FileStatus
    article_ids: list[str] = Field(default_factory=list)
    reason: str = ""


class IngestReport(BaseModel):
    files: list[FileResult] = Field(default_factory=list)
    seconds: float = 0.0
    passages_added: int = 0

    def _count(self, status: FileStatus) -> int:
        return sum(1 for f in self.files if f.status == status)

    @property
    def added(self) -> int:
        return self._count("added")

    @property
    def updated(self) -> int:
        return self._count("updated")

    @property
    def unchanged(self) -> int:
        return self._count("unchanged")

    @property
    def failed(self) -> list[FileResult]:
        return [f for f in self.files if f.status == "failed"]

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        return (
            f"{self.added} added, {self.updated} updated, {self.unchanged} unchanged, "
            f"{len(self.failed)} failed ({self.passages_added} passages in {self.seconds:.1f}s)"
        )
