"""Dense passage vectors in Chroma: written in llama-index's ChromaVectorStore layout, queried directly.

Searches ask Chroma for ids and distances only; filters are resolved in process (the retriever's
registry snapshot, assistant.catalogue) and a selective one is searched exactly over vectors held in
memory (VectorCache). Chroma's own metadata filter is the last resort.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from assistant.config import StoreSettings
from assistant.errors import ConfigurationError, StoreError
from assistant.library.catalogue import PassageFilter, date_key
from assistant.library.signature import EmbeddingSignature, LibraryGuard
from assistant.models import Filters

logger = logging.getLogger(__name__)

POST_FILTER_FACTOR = 4  # >= 2
POST_FILTER_MAX = 1000  # most neighbours fetched before Chroma's own filter is asked instead
# A filter that leaves at most this many passages is searched exactly, over their vectors kept in
# memory (25,000 x 384 float32 = 38 MB; one query ~1.5 ms), instead of through Chroma's HNSW graph.
EXACT_MAX = 25_000
VECTOR_CACHE_MAX = 250_000  # vectors kept in memory at most (384 dims: 384 MB); past it, start over
_FETCH_BATCH = 2_000  # vectors fetched from Chroma per get()


class VectorStore:
    """The passage vectors of one library: an embedded Chroma in data_dir, or a Chroma server."""

    def __init__(self, directory: Path, settings: StoreSettings | None = None) -> None:
        settings = settings or StoreSettings()
        self._lock = threading.RLock()
        self._directory, self._settings = directory, settings
        self._server = settings.chroma_url
        self._open()
        self.guard: LibraryGuard | None = None
        # Set by the retriever: Filters -> the passages of its registry snapshot that pass them.
        self.resolve_filters: Callable[[Filters], PassageFilter] | None = None
        self.cache = VectorCache()
        self._gathered: tuple[Sequence[str], int, list[str], np.ndarray] | None = None

    def _open(self) -> None:
        from llama_index.vector_stores.chroma import ChromaVectorStore

        self._client = _client(self._directory, self._settings)
        where = self._settings.chroma_url or str(self._directory)
        try:
            # Embeddings are always supplied by us: no embedding function, so Chroma never downloads one.
            self._collection = self._client.get_or_create_collection(
                self._settings.collection, metadata={"hnsw:space": "cosine"}, embedding_function=None
            )
        except Exception as e:
            raise StoreError(
                f"cannot open the Chroma collection {self._settings.collection!r} at {where}: {e}"
            ) from e
        self._store = ChromaVectorStore(chroma_collection=self._collection)

    @property
    def embedded(self) -> bool:
        """The vectors live in data_dir (a PersistentClient), not in a Chroma server."""
        return not self._server

    def reopen(self) -> None:
        """Open the embedded Chroma directory afresh, to see what another process wrote to it.

        An embedded client keeps its index in memory and does not follow other processes' writes: it
        misses their new vectors in a search and fails on a read of their ids ("Error finding id").
        Only a client of this process that shares the directory keeps the old view alive (Chroma
        shares one system per path in a process); a server needs none of this.
        """
        if not self.embedded:
            return
        with self._lock:
            close = getattr(self._client, "close", None)
            if close is not None:
                close()
            self._open()
            self._gathered = None
            self.cache.clear()
        logger.info("reopened %s to see another process's writes", self._directory)

    def guard_with(self, signature: EmbeddingSignature, path: Path) -> None:
        """Refuse, from now on, vectors of another embedding model or precision than the library's."""
        self.guard = LibraryGuard(path, signature, self.count, self.stored_dimension)
        self.guard.check_open()

    def stored_dimension(self) -> int | None:
        with self._lock:
            got = self._collection.get(limit=1, include=["embeddings"])
        vectors = got["embeddings"]
        return None if vectors is None or len(vectors) == 0 else len(vectors[0])

    def add(
        self,
        ids: list[str],
        texts: list[str],
        embeddings: np.ndarray,
        metadatas: list[dict[str, Any]],
        article_ids: list[str],
    ) -> None:
        """Write passages; ids already present are overwritten (an interrupted ingest may leave some)."""
        from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode
        from llama_index.core.vector_stores.utils import node_to_metadata_dict

        metas: list[dict[str, Any]] = []
        for pid, text, meta, aid in zip(ids, texts, metadatas, article_ids, strict=True):
            node = TextNode(id_=pid, text=text, metadata=meta)
            node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=aid)
            # The same metadata layout as ChromaVectorStore.add, so its queries read these back.
            flat = node_to_metadata_dict(node, remove_text=True, flat_metadata=True)
            metas.append({k: ("" if v is None else v) for k, v in flat.items()})
        if self.guard is not None and len(embeddings):
            self.guard.before_add(int(embeddings.shape[1]))
        step = max(1, self._max_batch())
        with self._lock:
            for i in range(0, len(ids), step):
                self._collection.upsert(
                    ids=ids[i : i + step],
                    embeddings=embeddings[i : i + step],  # type: ignore[arg-type]
                    metadatas=metas[i : i + step],  # type: ignore[arg-type]
                    documents=texts[i : i + step],
                )

    def _max_batch(self) -> int:
        try:
            return int(self._client.get_max_batch_size())
        except Exception:  # older servers do not say
            return 1000

    def delete_article(self, article_id: str) -> None:
        with self._lock:
            self._store.delete(ref_doc_id=article_id)

    def delete_ids(self, ids: list[str]) -> None:
        if ids:
            with self._lock:
                self._store.delete_nodes(node_ids=ids)

    def search(self, query: np.ndarray, n: int, filters: Filters | None) -> list[tuple[str, float]]:
        """(passage id, cosine similarity), best first."""
        try:
            return self._search(query, n, filters)
        except Exception as e:
            if self._server is None or isinstance(e, StoreError):
                raise
            raise StoreError(
                f"the Chroma server at {self._server} (store.chroma_url) failed: {type(e).__name__}: {e}; "
                "check that it is running"
            ) from e

    def _search(self, query: np.ndarray, n: int, filters: Filters | None) -> list[tuple[str, float]]:
        """Search, the filtered way when filters are given.

        Filters are resolved by the retriever (`resolve_filters`) to the passages of its registry
        snapshot that pass them - no Chroma metadata is read. Few passages (<= EXACT_MAX): exact
        cosine search over their vectors, kept in memory (the true filtered top n). Many: the
        unfiltered nearest neighbours (4n, then 16n, ... up to POST_FILTER_MAX; ids and distances
        only) filtered here, which at a filter that passes many costs one plain HNSW query. Only when
        neither applies (no resolver, or a large filter whose passages are not near the query) is
        Chroma's own metadata filter asked, which grows with the library (0.2 s at 100k passages).
        """
        # No count() first: it scans the collection (8 ms at 100k passages) and Chroma accepts an
        # n_results above the number of vectors.
        if filters is None or filters.is_empty():
            return self._nearest(query, n)[0]
        allowed = self.resolve_filters(filters) if self.resolve_filters is not None else None
        if allowed is not None:
            if not allowed.articles:
                return []
            if len(allowed) <= EXACT_MAX:
                return self.exact(query, allowed.passages, n)
        k = n * POST_FILTER_FACTOR
        while k <= POST_FILTER_MAX:  # widen 4n, 16n, ... while that stays cheap
            wide, seen = self._nearest(query, k, filters, allowed)
            if len(wide) >= n or seen < k:  # enough, or the whole collection was seen
                return wide[:n]
            k *= POST_FILTER_FACTOR
        with self._lock:
            total = self._collection.count()
        return self._query(query, min(n, total), filters, allowed) if total else []

    def exact(self, query: np.ndarray, ids: Sequence[str], n: int) -> list[tuple[str, float]]:
        """The n of `ids` nearest to `query` by cosine, exactly: (id, cosine), best first.

        Ids without a vector in Chroma (not written yet, or deleted) are left out.
        """
        if self.guard is not None:
            self.guard.before_search(len(query))
        memo = self._gathered  # the last filter's rows, while the cache has not changed since
        if memo is not None and memo[0] is ids and memo[1] == self.cache.version:
            found, matrix = memo[2], memo[3]
        else:
            version, found, matrix = self._vectors(list(ids))
            self._gathered = (ids, version, found, matrix)
        if not found:
            return []
        # einsum, not BLAS: a one-thread loop (0.3 ms for 6,000 x 384) that does not wait for BLAS
        # worker threads behind onnxruntime's spinning ones (matmul took ~10 ms here, on 2 cores)
        scores = np.einsum("ij,j->i", matrix, np.asarray(query, dtype=np.float32))
        top = np.arange(len(found))
        if len(found) > n:
            top = np.argpartition(-scores, n - 1)[:n]
        # best first; ties (copies of one text) by id, so the order does not depend on the cache
        order = sorted(top.tolist(), key=lambda i: (-float(scores[i]), found[i]))
        return [(found[i], float(scores[i])) for i in order]

    def _vectors(self, ids: list[str]) -> tuple[int, list[str], np.ndarray]:
        """(the cache's version before reading, the ids that have a vector, their unit vectors as
        rows), from the cache, fetching misses."""
        missing = self.cache.missing(ids)
        for i in range(0, len(missing), _FETCH_BATCH):
            chunk = missing[i : i + _FETCH_BATCH]
            with self._lock:
                got = self._collection.get(ids=chunk, include=["embeddings"])
            vectors = got["embeddings"]
            if vectors is not None and len(got["ids"]):
                self.cache.put(list(got["ids"]), np.asarray(vectors, dtype=np.float32))
        version = self.cache.version
        return (version, *self.cache.rows(ids))

    def forget(self, ids: Sequence[str]) -> None:
        """Drop cached vectors of these passages (their article changed or went)."""
        self.cache.drop(ids)

    def forget_all(self) -> None:
        self.cache.clear()

    def _nearest(
        self,
        query: np.ndarray,
        k: int,
        keep: Filters | None = None,
        allowed: PassageFilter | None = None,
    ) -> tuple[list[tuple[str, float]], int]:
        """(the k nearest passages that pass, how many Chroma returned): `allowed` is asked about each
        id; without it, `keep` is applied to the stored metadata; with neither, all pass."""
        if self.guard is not None:
            self.guard.before_search(len(query))
        metadata = allowed is None and keep is not None and not keep.is_empty()
        with self._lock:
            got = self._collection.query(
                query_embeddings=[query.tolist()],
                n_results=k,
                include=["metadatas", "distances"] if metadata else ["distances"],  # type: ignore[list-item]
            )
        ids, distances = got["ids"][0], (got["distances"] or [[]])[0]
        pairs = zip(ids, distances, strict=True)
        if metadata and keep is not None:
            metas = (got["metadatas"] or [[]])[0]
            passing = [
                (pid, d)
                for (pid, d), meta in zip(pairs, metas, strict=True)
                if _passes(dict(meta or {}), keep)
            ]
        elif allowed is not None:
            passing = [(pid, d) for pid, d in pairs if allowed(pid)]
        else:
            passing = list(pairs)
        return [(pid, 1.0 - float(d)) for pid, d in passing], len(ids)  # cosine space: d = 1 - cos

    def _query(
        self, query: np.ndarray, k: int, filters: Filters | None, allowed: PassageFilter | None = None
    ) -> list[tuple[str, float]]:
        from llama_index.core.vector_stores.types import VectorStoreQuery

        if self.guard is not None:
            self.guard.before_search(len(query))
        with self._lock:
            result = self._store.query(
                VectorStoreQuery(
                    query_embedding=query.tolist(),
                    similarity_top_k=k,
                    filters=to_metadata_filters(filters),
                )
            )
        # ChromaVectorStore reports exp(-distance); with cosine space distance = 1 - cos.
        return [
            (node.node_id, 1.0 + float(np.log(max(sim, 1e-12))))
            for node, sim in zip(result.nodes or [], result.similarities or [], strict=True)
            if allowed is None or allowed(node.node_id)
        ]

    def embeddings(self, ids: list[str]) -> dict[str, np.ndarray]:
        """The stored vector of each id that has one (unit length), from the cache where it holds it."""
        if not ids:
            return {}
        found, matrix = self.cache.rows(ids)
        out = dict(zip(found, matrix, strict=True))
        missing = [pid for pid in ids if pid not in out]
        if missing:
            with self._lock:
                got = self._collection.get(ids=missing, include=["embeddings"])
            vectors = got["embeddings"]
            if vectors is not None:
                for pid, vec in zip(got["ids"], list(vectors), strict=True):
                    out[pid] = np.asarray(vec, dtype=np.float32)
        return out

    def count(self) -> int:
        with self._lock:
            return int(self._collection.count())

    def entries(self, page: int = 5000) -> dict[str, tuple[str, str]]:
        """Every stored passage: id -> (article id, text), for `assistant check`."""
        found: dict[str, tuple[str, str]] = {}
        with self._lock:
            offset = 0
            while True:
                got = self._collection.get(include=["documents", "metadatas"], limit=page, offset=offset)
                metas = got["metadatas"] or []
                docs = got["documents"] or []
                for pid, meta, doc in zip(got["ids"], metas, docs, strict=True):
                    found[pid] = (str((meta or {}).get("article_id", "")), doc or "")
                if len(got["ids"]) < page:
                    return found
                offset += page

    def ids(self) -> list[str]:
        with self._lock:
            return list(self._collection.get(include=[])["ids"])


def _client(directory: Path, settings: StoreSettings):  # type: ignore[no-untyped-def]
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if not settings.chroma_url:
        from assistant.library.locking import opening_lock

        directory.mkdir(parents=True, exist_ok=True)
        with opening_lock(directory.parent / ".chroma-open.lock"):
            return chromadb.PersistentClient(path=str(directory), settings=chroma_settings)
    url = urlsplit(settings.chroma_url)
    if url.scheme not in ("http", "https") or not url.hostname:
        raise ConfigurationError(
            f"store.chroma_url must look like http://host:port, not {settings.chroma_url!r}"
        )
    headers = {}
    if settings.chroma_token is not None and settings.chroma_token.get_secret_value():
        headers["Authorization"] = f"Bearer {settings.chroma_token.get_secret_value()}"
    where = f"{url.scheme}://{url.hostname}:{url.port or (443 if url.scheme == 'https' else 8000)}"
    try:
        client = chromadb.HttpClient(
            host=url.hostname,
            port=url.port or (443 if url.scheme == "https" else 8000),
            ssl=url.scheme == "https",
            headers=headers or None,
            settings=chroma_settings,
        )
        client.heartbeat()
    except Exception as e:
        # The message names the server, never the token.
        raise StoreError(
            f"cannot reach the Chroma server at {where} (store.chroma_url): {type(e).__name__}: "
            f"{_redact(str(e), settings)}. Start it with `chroma run --path DIR --port PORT`, check the "
            "URL and store.chroma_token, or unset store.chroma_url to keep the vectors in data_dir."
        ) from None
    logger.info("using the Chroma server at %s", where)
    return client


def _redact(message: str, settings: StoreSettings) -> str:
    token = settings.chroma_token.get_secret_value() if settings.chroma_token else ""
    return message.replace(token, "***") if token else message


def _passes(meta: dict[str, Any], filters: Filters) -> bool:
    """The filters of to_metadata_filters, applied to a result's stored metadata."""
    day = int(meta.get("published_key") or 0)
    if filters.since and day < date_key(filters.since):
        return False
    if filters.until and not 0 < day <= date_key(filters.until):
        return False
    if filters.sources and meta.get("source") not in filters.sources:
        return False
    return not (filters.article_ids and meta.get("article_id") not in filters.article_ids)


def to_metadata_filters(filters: Filters | None):  # type: ignore[no-untyped-def]
    from llama_index.core.vector_stores.types import FilterOperator, MetadataFilter, MetadataFilters

    if filters is None or filters.is_empty():
        return None
    parts = []
    if filters.since:
        parts.append(
            MetadataFilter(key="published_key", operator=FilterOperator.GTE, value=date_key(filters.since))
        )
    if filters.until:
        parts.append(
            MetadataFilter(key="published_key", operator=FilterOperator.LTE, value=date_key(filters.until))
        )
        if not filters.since:  # unknown dates (0) are not "before" anything
            parts.append(MetadataFilter(key="published_key", operator=FilterOperator.GT, value=0))
    if filters.sources:
        parts.append(MetadataFilter(key="source", operator=FilterOperator.IN, value=list(filters.sources)))
    if filters.article_ids:
        parts.append(
            MetadataFilter(key="article_id", operator=FilterOperator.IN, value=list(filters.article_ids))
        )
    return MetadataFilters(filters=parts)


class VectorCache:
    """Passage vectors kept in memory for exact filtered search: id -> row of one float32 matrix.

    Rows are written only with vectors read from Chroma; the retriever drops the rows of every article
    its registry diff shows added, changed or removed (`VectorStore.forget`), and all of them when the
    generation moves without an article changing (a repair rewrote vectors), so a row never outlives
    the article version it was read for. Thread-safe.
    """

    def __init__(self, limit: int | None = None) -> None:
        self._lock = threading.Lock()
        self._limit = limit
        self._rows: dict[str, int] = {}
        self._free: list[int] = []
        self._matrix = np.zeros((0, 0), dtype=np.float32)
        self.version = 0  # moves on every change

    def __len__(self) -> int:
        with self._lock:
            return len(self._rows)

    def ids(self) -> list[str]:
        with self._lock:
            return list(self._rows)

    def missing(self, ids: list[str]) -> list[str]:
        with self._lock:
            return [pid for pid in ids if pid not in self._rows]

    def rows(self, ids: list[str]) -> tuple[list[str], np.ndarray]:
        """(the ids held, their vectors as the rows of a new matrix), in the order of `ids`."""
        with self._lock:
            found = [pid for pid in ids if pid in self._rows]
            matrix = (
                self._matrix[[self._rows[pid] for pid in found]] if found else np.zeros((0, 0), np.float32)
            )
        return found, matrix

    def put(self, ids: list[str], vectors: np.ndarray) -> None:
        if not len(ids):
            return
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        vectors = vectors / np.where(norms > 0, norms, 1.0)  # cosine, whatever Chroma stored
        limit = VECTOR_CACHE_MAX if self._limit is None else self._limit
        with self._lock:
            self.version += 1
            if self._matrix.shape[1] != vectors.shape[1] or len(self._rows) + len(ids) > limit:
                self._rows, self._free = {}, []
                self._matrix = np.zeros((0, vectors.shape[1]), dtype=np.float32)
            for pid, vec in zip(ids, vectors, strict=True):
                row = self._rows.get(pid)
                if row is None:
                    if not self._free:
                        self._grow(len(ids))
                    row = self._free.pop()
                    self._rows[pid] = row
                self._matrix[row] = vec

    def _grow(self, at_least: int) -> None:
        old = len(self._matrix)
        size = max(old * 2, old + at_least, 1024)
        matrix = np.zeros((size, self._matrix.shape[1]), dtype=np.float32)
        matrix[:old] = self._matrix
        self._matrix = matrix
        self._free.extend(range(size - 1, old - 1, -1))

    def drop(self, ids: Sequence[str]) -> None:
        with self._lock:
            self.version += 1
            for pid in ids:
                row = self._rows.pop(pid, None)
                if row is not None:
                    self._free.append(row)

    def clear(self) -> None:
        with self._lock:
            self.version += 1
            self._rows, self._free = {}, []
            self._matrix = np.zeros((0, self._matrix.shape[1] if self._matrix.ndim == 2 else 0), np.float32)
