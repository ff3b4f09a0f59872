"""The HTTP API's request and response envelopes.

Everything the assistant itself returns travels as its own pydantic model from
:mod:`assistant.models` — :class:`Answer`, :class:`Citation`, :class:`Passage`, :class:`Article`,
:class:`IngestReport`, :class:`Filters` — never a copy written by hand. What is defined here is
only the OpenAI wire format around them (chat completions, chunks, models, lists).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator

from assistant.models import Answer, Article, ArticleMeta, Citation, Filters, IngestReport, Passage

EXTRACTIVE_MODEL = "news-extractive"
LOCAL_MODEL = "news-local"


def _check_dates(cls: type, filters: Filters | None) -> Filters | None:
    if filters and filters.since and filters.until and filters.since > filters.until:
        raise ValueError("since is after until: swap them or leave one out")
    return filters


# -- chat completions (OpenAI's shapes, plus the documented extra fields) -------------------------


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        if isinstance(self.content, list):
            return "\n".join(part.text for part in self.content if part.type == "text" and part.text)
        return ""


class ChatCompletionRequest(BaseModel):
    """OpenAI's request; parameters this assistant has no use for (temperature, ...) are accepted
    and ignored. Extra fields: ``filters``, ``k``, ``as_of``."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(
        description=(
            f"'{EXTRACTIVE_MODEL}' (quotes), '{LOCAL_MODEL}' (the local model, with llm.backend 'local') "
            "or the configured LLM's name (GET /v1/models)."
        )
    )
    messages: list[ChatMessage] = Field(
        min_length=1, description="The conversation, oldest first; the last one is the user's question."
    )
    stream: bool = False
    n: int = Field(1, ge=1, le=1, description="Only one choice is written.")
    filters: Filters | None = Field(None, description="Extra: publication dates, outlets, article ids.")
    k: int | None = Field(None, ge=1, le=50, description="Extra: passages to retrieve (default retrieval.k).")
    as_of: dt.date | None = Field(None, description="Extra: answer as of this date.")

    _valid_filters = field_validator("filters")(_check_dates)


class Quotes(BaseModel):
    """The composer's quotes of the passages, with their own ``[n]`` and citations (model news-local).

    They come at once, before the local model writes; beneath a written answer they are its evidence.
    """

    text: str = Field(description="Markdown quoting the passages, with inline [n] numbered in citations.")
    citations: list[Citation] = Field(description="The sources the [n] in text refer to.")
    abstained: bool = Field(False, description="True when the articles do not answer the question.")

    @classmethod
    def of(cls, answer: Answer) -> Quotes:
        return cls(text=answer.text, citations=answer.citations, abstained=answer.abstained)

    @classmethod
    def beneath(cls, answer: Answer) -> Quotes | None:
        """The quotes shown beneath ``answer``: None when its text is itself the quotes."""
        return cls.of(answer.quotes) if answer.quotes is not None else None


_QUOTES = (
    "Extra: the quotes that stand beneath a written answer (model news-local); null when the content "
    "is itself the quotes (another model, an abstention, a model answer that could not be verified)."
)


class QueuePlace(BaseModel):
    position: int = Field(
        description="Requests ahead of this one for the local model; 0: the model is taking it now."
    )


class ResponseMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str
    citations: list[Citation] = Field(description="Extra: the sources the [n] in content refer to.")
    quotes: Quotes | None = Field(None, description=_QUOTES)


class Choice(BaseModel):
    index: int = 0
    message: ResponseMessage
    finish_reason: Literal["stop"] = "stop"
    logprobs: None = None


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: None = Field(None, description="Token counts are not measured.")
    citations: list[Citation] = Field(description="Extra: the sources the [n] in the answer refer to.")
    quotes: Quotes | None = Field(None, description=_QUOTES)
    answer: Answer = Field(
        description="Extra: the Python API's Answer (abstained, passages, standalone_question, backend...)."
    )


class Delta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None
    citations: list[Citation] | None = None
    quotes: Quotes | None = None


class ChunkChoice(BaseModel):
    index: int = 0
    delta: Delta
    finish_reason: Literal["stop"] | None = None
    logprobs: None = None


class ChatCompletionChunk(BaseModel):
    """One server-sent event. The last chunk (finish_reason 'stop') carries ``citations``, ``quotes``
    and ``answer``. Chunks with no choices carry an extra each: ``quotes`` (at once, before the local
    model writes), ``waiting`` (the request's place in the local model's queue), or an ``event`` with
    one source for Open WebUI."""

    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    citations: list[Citation] | None = None
    quotes: Quotes | None = None
    waiting: QueuePlace | None = None
    answer: Answer | None = None
    event: dict[str, Any] | None = None


# -- models ------------------------------------------------------------------------------------------


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "news-assistant"
    backend: Literal["extractive", "openai", "local"] = Field(
        description="Extra: the answer backend it selects."
    )


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


# -- retrieval and the library -------------------------------------------------------------------


class RetrieveRequest(BaseModel):
    query: str = Field(min_length=1, description="The question or search text.")
    k: int | None = Field(None, ge=1, le=50, description="Passages to return (default retrieval.k).")
    filters: Filters | None = None
    mode: Literal["hybrid", "dense", "bm25"] | None = Field(None, description="Default retrieval.mode.")
    as_of: dt.date | None = Field(
        None,
        description="Retrieve as of this date: 'this week' resolves against it, nearby articles rank higher.",
    )

    _valid_filters = field_validator("filters")(_check_dates)


class PassageList(BaseModel):
    object: Literal["list"] = "list"
    query: str
    data: list[Passage]


# Article without its text, derived from the model so the two never drift apart.
ArticleSummary: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "ArticleSummary",
    __base__=ArticleMeta,
    __doc__="An article's metadata (GET /v1/articles/{id} returns its text too).",
    **{
        name: (info.annotation, info)
        for name, info in Article.model_fields.items()
        if name not in ArticleMeta.model_fields and name != "text"
    },
)


def summary(article: Article) -> BaseModel:
    return ArticleSummary.model_validate(article.model_dump(exclude={"text"}))


class ArticleList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ArticleSummary]  # type: ignore[valid-type]


class DeletedArticle(BaseModel):
    id: str
    object: Literal["article"] = "article"
    deleted: Literal[True] = True


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    articles: int
    passages: int


__all__ = [
    "ArticleList",
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatCompletionRequest",
    "DeletedArticle",
    "Health",
    "IngestReport",
    "ModelList",
    "PassageList",
    "QueuePlace",
    "Quotes",
    "RetrieveRequest",
]
