"""The article registry: articles and passages in SQLite, the source of truth beside Chroma.

Chroma holds the vectors; the registry holds the cleaned article text and passage offsets, feeds the
in-process BM25 index, and carries a generation counter that every change bumps, so another process
(or a long-lived one) can tell that its BM25 index is stale.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from assistant.failpoints import failpoint
from assistant.models import Article

_SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY,
    key TEXT UNIQUE NOT NULL,
    content_hash TEXT NOT NULL,
    title TEXT, source TEXT, authors TEXT, published TEXT, published_inferred INTEGER,
    url TEXT, path TEXT, text TEXT NOT NULL, passage_count INTEGER, ingested_at TEXT
);
CREATE INDEX IF NOT EXISTS articles_hash ON articles(content_hash);
CREATE TABLE IF NOT EXISTS passages (
    id TEXT PRIMARY KEY,
    article_id TEXT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS passages_article ON passages(article_id);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
"""
_ARTICLE_COLUMNS = (
    "id, key, content_hash, title, source, authors, published, published_inferred, url, path, text, "
    "passage_count, ingested_at"
)


class Registry:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, check_same_thread=False, timeout=30, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(_SCHEMA)
        self._own_generations: set[int] = set()  # generations this object's commits produced

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute(
                "INSERT INTO meta(key, value) VALUES('generation', '1') ON CONFLICT(key) "
                "DO UPDATE SET value = CAST(value AS INTEGER) + 1"
            )
            ours = int(self._db.execute("SELECT value FROM meta WHERE key='generation'").fetchone()[0])
            failpoint("registry.commit")  # crash tests: die with the transaction open
            self._db.execute("COMMIT")
            self._own_generations.add(ours)

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Several reads that see one state of the library (a read transaction), even while another
        process writes."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                yield
            finally:
                self._db.execute("COMMIT")

    def written_elsewhere(self, since: int, until: int) -> bool:
        """Whether a commit after generation `since`, up to `until`, came from another Registry (in
        practice another process): what this process's own caches of the library cannot have seen."""
        with self._lock:
            return any(g not in self._own_generations for g in range(since + 1, until + 1))

    def generation(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key='generation'").fetchone()
        return int(row[0]) if row else 0

    def put_article(self, article: Article, spans: list[tuple[str, int, int]]) -> None:
        """Insert or replace an article and its passages (id, start, end) in one transaction."""
        with self.transaction() as db:
            db.execute("DELETE FROM articles WHERE id = ? OR key = ?", (article.id, article.key))
            db.execute(
                f"INSERT INTO articles({_ARTICLE_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    article.id,
                    article.key,
                    article.content_hash,
                    article.title,
                    article.source,
                    json.dumps(article.authors),
                    article.published.isoformat() if article.published else None,
                    int(article.published_inferred),
                    article.url,
                    article.path,
                    article.text,
                    len(spans),
                    (article.ingested_at or dt.datetime.now(dt.UTC)).isoformat(),
                ),
            )
            db.executemany(
                'INSERT INTO passages(id, article_id, seq, start, "end") VALUES (?,?,?,?,?)',
                [(pid, article.id, seq, s, e) for seq, (pid, s, e) in enumerate(spans)],
            )

    def delete_article(self, article_id: str) -> bool:
        with self.transaction() as db:
            cur = db.execute("DELETE FROM articles WHERE id = ?", (article_id,))
        return cur.rowcount > 0

    def find_by_key(self, key: str) -> Article | None:
        return self._one("SELECT {cols} FROM articles WHERE key = ?", key)

    def find_by_hash(self, content_hash: str) -> Article | None:
        return self._one("SELECT {cols} FROM articles WHERE content_hash = ?", content_hash)

    def get(self, article_id: str) -> Article | None:
        return self._one("SELECT {cols} FROM articles WHERE id = ?", article_id)

    def _one(self, sql: str, arg: str) -> Article | None:
        with self._lock:
            row = self._db.execute(sql.format(cols=_ARTICLE_COLUMNS), (arg,)).fetchone()
        return _article(row) if row else None

    def articles(self) -> list[Article]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_ARTICLE_COLUMNS} FROM articles ORDER BY published IS NULL, published, title"
            ).fetchall()
        return [_article(r) for r in rows]

    def passage_ids(self, article_id: str) -> list[str]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id FROM passages WHERE article_id = ? ORDER BY seq", (article_id,)
            ).fetchall()
        return [r[0] for r in rows]

    def all_passages(self) -> list[tuple[str, str, int, int]]:
        """(passage id, article id, start, end) of every passage, in a stable order."""
        with self._lock:
            return self._db.execute(
                'SELECT id, article_id, start, "end" FROM passages ORDER BY article_id, seq'
            ).fetchall()

    def articles_with_ids(self, article_ids: list[str]) -> list[Article]:
        """The articles with these ids (those that exist), in no particular order."""
        rows = self._rows_for(f"SELECT {_ARTICLE_COLUMNS} FROM articles WHERE id IN ({{marks}})", article_ids)
        return [_article(r) for r in rows]

    def spans(self, article_ids: list[str]) -> list[tuple[str, str, int, int]]:
        """(passage id, article id, start, end) of the given articles' passages, in order."""
        return self._rows_for(
            'SELECT id, article_id, start, "end" FROM passages WHERE article_id IN ({marks}) '
            "ORDER BY article_id, seq",
            article_ids,
        )

    def touch(self) -> None:
        """Bump the generation without changing an article: tells every reader to drop what it caches
        beyond the articles themselves (``check --repair`` rewrote vectors)."""
        with self.transaction():
            pass

    def versions(self) -> dict[str, str]:
        """Article id -> content hash of every article: what the BM25 index diffs itself against."""
        with self._lock:
            return dict(self._db.execute("SELECT id, content_hash FROM articles").fetchall())

    def passage_texts(self, article_ids: list[str]) -> list[tuple[str, str, str]]:
        """(passage id, article id, passage text) of the given articles' passages, in order."""
        # substr counts characters, as Python's slicing does; SQLite's is 1-based.
        return self._rows_for(
            'SELECT p.id, p.article_id, substr(a.text, p.start + 1, p."end" - p.start) '
            "FROM passages p JOIN articles a ON a.id = p.article_id "
            "WHERE p.article_id IN ({marks}) ORDER BY p.article_id, p.seq",
            article_ids,
        )

    def _rows_for(self, sql: str, ids: list[str]) -> list[Any]:
        """The rows of `sql` for these ids, 500 at a time (SQLite's limit on bound variables); the
        query names the placeholders' place as ``{marks}``. Ordering holds within each 500."""
        rows: list[Any] = []
        with self._lock:
            for i in range(0, len(ids), 500):
                chunk = ids[i : i + 500]
                rows.extend(self._db.execute(sql.format(marks=",".join("?" * len(chunk))), chunk).fetchall())
        return rows

    def counts(self) -> tuple[int, int]:
        with self._lock:
            articles = self._db.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
            passages = self._db.execute("SELECT COUNT(*) FROM passages").fetchone()[0]
        return int(articles), int(passages)

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _article(row: tuple) -> Article:  # type: ignore[type-arg]
    (aid, key, chash, title, source, authors, published, inferred, url, path, text, count, ingested) = row
    return Article(
        id=aid,
        key=key,
        content_hash=chash,
        title=title or "",
        source=source or "",
        authors=json.loads(authors or "[]"),
        published=dt.date.fromisoformat(published) if published else None,
        published_inferred=bool(inferred),
        url=url or "",
        path=path or "",
        text=text,
        passage_count=count or 0,
        ingested_at=dt.datetime.fromisoformat(ingested) if ingested else None,
    )
