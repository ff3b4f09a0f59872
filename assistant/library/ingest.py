"""Files -> cleaned articles -> passages -> embeddings -> Chroma + registry, skipping unchanged articles."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from assistant.config import Settings
from assistant.errors import IngestError
from assistant.failpoints import failpoint
from assistant.library.catalogue import date_key
from assistant.library.chunking import chunk_article
from assistant.library.embedding import Embedder
from assistant.library.registry import Registry
from assistant.library.sources import file_identity, iter_files, read_file_limited
from assistant.library.vectors import VectorStore
from assistant.models import Article, ArticleMeta, FileResult, IngestReport

logger = logging.getLogger(__name__)

FLUSH_PASSAGES = 256  # passages embedded per round: large batches keep the model busy

OnFile = Callable[[int, int, str], None]


def article_id_for(key: str) -> str:
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]


def embedding_text(article: Article, start: int, end: int) -> str:
    """What is embedded for a passage: the article's title, then the passage."""
    body = article.text[start:end]
    return f"{article.title}\n{body}" if article.title else body


def vector_metadata(article: Article, start: int, end: int) -> dict[str, str | int]:
    """The metadata stored with a passage's vector in Chroma (filters read it)."""
    return {
        "article_id": article.id,
        "title": article.title,
        "source": article.source,
        "published_key": date_key(article.published),
        "start": start,
        "end": end,
    }


def content_hash(meta: ArticleMeta, text: str) -> str:
    """Changes when the text or any metadata a reader sees changes."""
    fields = [meta.title, meta.source, meta.authors, meta.published and meta.published.isoformat(), meta.url]
    payload = json.dumps(fields, ensure_ascii=False) + "\n" + text
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass
class _Pending:
    article: Article
    replaces: bool
    spans: list[tuple[int, int]]


@dataclass
class _Batch:
    items: list[_Pending] = field(default_factory=list)
    keys: set[str] = field(default_factory=set)  # record keys already planned in this run

    @property
    def passages(self) -> int:
        return sum(len(p.spans) for p in self.items)


class Ingester:
    def __init__(
        self, settings: Settings, registry: Registry, vectors: VectorStore, embedder: Embedder
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.vectors = vectors
        self.embedder = embedder

    def ingest(
        self, paths: Iterable[str | Path], progress: bool = False, on_file: OnFile | None = None
    ) -> IngestReport:
        """Read every file, then embed and store the new and changed articles in rounds.

        Each round commits its articles (vectors first, then the registry row, the commit point), so an
        ingest that is interrupted - Ctrl-C, a kill, a crash - keeps every article stored so far, and
        running it again skips them by content hash and continues with the rest. The progress bar counts
        passages, so its ETA is the time the remaining passages will take.
        """
        started = time.perf_counter()
        report = IngestReport()
        files: list[Path] = []
        seen: set[Path] = set()
        for raw in paths:
            try:
                found = iter_files([raw])
            except IngestError as e:
                report.files.append(FileResult(path=str(raw), status="failed", reason=str(e)))
                continue
            for path in found:  # a file named twice (directly and inside a folder) is read once
                if file_identity(path) not in seen:  # resolve() raises on a symlink loop
                    seen.add(file_identity(path))
                    files.append(path)
        batch = _Batch()
        ends: list[int] = []  # ends[i]: pending articles once file i is read
        reading = _progress_bar(len(files), "file", "Reading") if progress and len(files) > 1 else None
        for path in files:
            report.files.append(self._read_one(path, batch))
            ends.append(len(batch.items))
            if reading is not None:
                reading.update(1)
        if reading is not None:
            reading.close()
        pending = batch.items
        total = sum(len(p.spans) for p in pending)
        if pending:
            logger.info("ingest: %d articles, %d passages to embed", len(pending), total)
        bar = _progress_bar(total, "passage", "Embedding") if progress and total else None
        reported = 0
        stored = 0
        committed = 0
        try:
            while stored < len(pending) or reported < len(files):
                round_ = _Batch()
                while stored < len(pending) and (not round_.items or round_.passages < FLUSH_PASSAGES):
                    round_.items.append(pending[stored])
                    stored += 1
                passages = round_.passages
                report.passages_added += self._flush(round_, report)
                committed = stored
                if bar is not None:
                    bar.set_postfix_str(f"{stored}/{len(pending)} articles", refresh=False)
                    bar.update(passages)
                while reported < len(files) and ends[reported] <= stored:
                    reported += 1
                    if on_file is not None:
                        on_file(reported, len(files), str(files[reported - 1]))
        except KeyboardInterrupt:
            logger.warning(
                "ingest interrupted: %d of %d new or changed articles are stored; run it again to go on",
                committed,
                len(pending),
            )
            raise
        finally:
            if bar is not None:
                bar.close()
        report.seconds = time.perf_counter() - started
        logger.info("ingest: %s", report.summary())
        return report

    def _read_one(self, path: Path, batch: _Batch) -> FileResult:
        max_bytes = int(self.settings.max_file_mb * 1024 * 1024)
        try:
            records = read_file_limited(path, max_bytes, self.settings.reliability.file_timeout)
        except IngestError as e:
            return FileResult(path=str(path), status="failed", reason=str(e))
        except Exception as e:  # a reader bug must not stop the other files
            logger.exception("unexpected error reading %s", path)
            return FileResult(path=str(path), status="failed", reason=f"could not read the file: {e}")
        statuses: list[str] = []
        ids: list[str] = []
        for meta, text in records:
            status, article_id = self._plan(meta, text, batch, batch.keys)
            statuses.append(status)
            ids.append(article_id)
        status = next((s for s in ("added", "updated") if s in statuses), "unchanged")
        reason = ""
        if len(records) > 1:
            reason = ", ".join(
                f"{statuses.count(s)} {s}" for s in ("added", "updated", "unchanged") if s in statuses
            )
        skipped = getattr(records, "skipped_reason", lambda: "")()  # JSON(L) records that were unreadable
        reason = "; ".join(part for part in (reason, skipped) if part)
        return FileResult(path=str(path), status=status, article_ids=ids, reason=reason)  # type: ignore[arg-type]

    def _plan(self, meta: ArticleMeta, text: str, batch: _Batch, pending_keys: set[str]) -> tuple[str, str]:
        digest = content_hash(meta, text)
        existing = self.registry.find_by_key(meta.key)
        if existing is not None and existing.content_hash == digest:
            return "unchanged", existing.id
        if existing is None:
            twin = self.registry.find_by_hash(digest)
            if twin is not None:
                logger.info("%s has the same content as %s; not stored twice", meta.key, twin.path)
                return "unchanged", twin.id
        if meta.key in pending_keys:  # the same record twice in one run: the first one wins
            return "unchanged", article_id_for(meta.key)
        pending_keys.add(meta.key)
        article = Article(
            **meta.model_dump(),
            id=existing.id if existing else article_id_for(meta.key),
            text=text,
            content_hash=digest,
            ingested_at=dt.datetime.now(dt.UTC),
        )
        spans = [
            (s.start, s.end)
            for s in chunk_article(
                text, self.settings.chunking.chunk_size, self.settings.chunking.chunk_overlap
            )
        ]
        batch.items.append(_Pending(article, existing is not None, spans))
        return ("updated" if existing else "added"), article.id

    def _flush(self, batch: _Batch, report: IngestReport) -> int:
        if not batch.items:
            return 0
        inputs = [embedding_text(item.article, s, e) for item in batch.items for s, e in item.spans]
        vectors = self.embedder.embed_texts(inputs)
        failpoint("ingest.embedding")  # crash tests: a batch embedded, nothing of it stored
        offset = 0
        written = 0
        for item in batch.items:
            article = item.article
            n = len(item.spans)
            ids = [f"{article.id}-{seq:04d}" for seq in range(n)]
            try:
                if item.replaces:
                    self.vectors.delete_article(article.id)
                self.vectors.add(
                    ids,
                    [article.text[s:e] for s, e in item.spans],
                    vectors[offset : offset + n],
                    [vector_metadata(article, s, e) for s, e in item.spans],
                    [article.id] * n,
                )
                failpoint("ingest.chroma_write")  # crash tests: vectors stored, registry row not
                # The registry is written last: it is the commit point of an article.
                spans = [(pid, s, e) for pid, (s, e) in zip(ids, item.spans, strict=True)]
                self.registry.put_article(article, spans)
                written += n
            except Exception as e:
                logger.exception("storing %s failed", article.path)
                self._mark_failed(report, article, f"could not store the article: {e}")
            offset += n
        batch.items.clear()
        return written

    @staticmethod
    def _mark_failed(report: IngestReport, article: Article, reason: str) -> None:
        for result in report.files:
            if article.id in result.article_ids:
                result.status = "failed"
                result.reason = reason


def _progress_bar(total: int, unit: str, desc: str):  # type: ignore[no-untyped-def]
    from tqdm import tqdm

    return tqdm(total=total, unit=unit, desc=desc, leave=True, smoothing=0.1)
