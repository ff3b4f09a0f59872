"""Retrieval and the library: ``/v1/retrieve``, ``/v1/articles`` (list, read, upload, delete)."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Request, UploadFile

from assistant.interfaces.api.schemas import (
    ArticleList,
    DeletedArticle,
    PassageList,
    RetrieveRequest,
    summary,
)
from assistant.interfaces.uploads import UploadRejected, remove_stored, store_upload
from assistant.models import Article, FileResult, IngestReport

logger = logging.getLogger(__name__)

router = APIRouter(tags=["library"])


@router.post("/retrieve", response_model=PassageList, summary="The passages an answer would be written from")
def retrieve(body: RetrieveRequest, request: Request) -> PassageList:
    passages = request.app.state.assistant.retrieve(
        body.query, k=body.k, filters=body.filters, mode=body.mode, as_of=body.as_of
    )
    return PassageList(query=body.query, data=passages)


@router.get(
    "/articles", response_model=ArticleList, summary="Every article in the library (without its text)"
)
def list_articles(request: Request) -> ArticleList:
    return ArticleList(data=[summary(a) for a in request.app.state.assistant.articles()])


@router.get("/articles/{article_id}", response_model=Article, summary="One article, with its cleaned text")
def get_article(article_id: str, request: Request) -> Article:
    article: Article = request.app.state.assistant.article(article_id)
    return article


@router.post(
    "/articles",
    response_model=IngestReport,
    summary="Upload article files and ingest them",
    description=(
        "multipart/form-data with one or more `files` (.txt .md .html .json .jsonl). The answer is the "
        "ingest report: one entry per file, `added`, `updated`, `unchanged` or `failed` with its reason."
    ),
)
def upload_articles(request: Request, files: Annotated[list[UploadFile], File()]) -> IngestReport:
    assistant = request.app.state.assistant
    uploads_dir = Path(assistant.settings.data_dir) / "uploads"
    max_bytes = int(assistant.settings.api.max_upload_mb * 1_000_000)
    results: dict[int, FileResult] = {}
    stored: dict[Path, tuple[int, str]] = {}
    with tempfile.TemporaryDirectory(prefix="assistant-upload-") as scratch:
        for index, upload in enumerate(files):
            client_name = upload.filename or f"upload-{index}"
            received = Path(scratch) / f"{index}"
            with received.open("wb") as out:
                while block := upload.file.read(1 << 20):
                    out.write(block)
            try:
                copy = store_upload(received, client_name, uploads_dir, max_bytes)
            except UploadRejected as e:
                results[index] = FileResult(path=client_name, status="failed", reason=str(e))
                continue
            stored[copy.path] = (index, copy.display_name)
    report = IngestReport()
    if stored:
        report = assistant.ingest(list(stored))
    by_path = {Path(result.path).resolve(): result for result in report.files}
    for path, (index, display_name) in stored.items():
        result = by_path.get(path.resolve())
        if result is None:
            results[index] = FileResult(path=display_name, status="failed", reason="not reported by ingest")
        else:
            results[index] = result.model_copy(update={"path": display_name})
    return report.model_copy(update={"files": [results[i] for i in sorted(results)]})


@router.delete("/articles/{article_id}", response_model=DeletedArticle, summary="Remove an article entirely")
def delete_article(article_id: str, request: Request) -> DeletedArticle:
    assistant = request.app.state.assistant
    article = assistant.article(article_id)
    assistant.delete(article_id)
    still_used = any(a.path == article.path for a in assistant.articles())
    if article.path and not still_used:
        remove_stored(article.path, Path(assistant.settings.data_dir) / "uploads")
    return DeletedArticle(id=article_id)
