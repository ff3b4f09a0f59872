"""Typed, JSON-serialisable records shared by ingestion, retrieval, answering and the callers."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field


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
