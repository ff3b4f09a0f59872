"""Dense passage vectors in Chroma, written and queried through llama-index's ChromaVectorStore."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from pathlib import Path
from typing import Any

import numpy as np

from assistant.models import Filters
from assistant.signature import EmbeddingSignature, LibraryGuard

logger = logging.getLogger(__name__)

COLLECTION = "passages"


def date_key(day: dt.date | None) -> int:
    """Dates as YYYYMMDD integers, so Chroma can range-filter them; 0 means unknown."""
    return day.year * 10000 + day.month * 100 + day.day if day else 0


class VectorStore:
    def __init__(self, directory: Path) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings
        from llama_index.vector_stores.chroma import ChromaVectorStore

        directory.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._client = chromadb.PersistentClient(
            path=str(directory),
            settings=ChromaSettings(anonymized_telemetry=False, allow_reset=False),
        )
        # Embeddings are always supplied by us: no embedding function, so Chroma never downloads one.
        self._collection = self._client.get_or_create_collection(
            COLLECTION, metadata={"hnsw:space": "cosine"}, embedding_function=None
        )
        self._store = ChromaVectorStore(chroma_collection=self._collection)
        self.guard: LibraryGuard | None = None

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
        from llama_index.core.schema import BaseNode, NodeRelationship, RelatedNodeInfo, TextNode

        nodes: list[BaseNode] = []
        for pid, text, vector, meta, aid in zip(ids, texts, embeddings, metadatas, article_ids, strict=True):
            node = TextNode(id_=pid, text=text, metadata=meta, embedding=vector.tolist())
            node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=aid)
            nodes.append(node)
        if self.guard is not None and len(embeddings):
            self.guard.before_add(int(embeddings.shape[1]))
        with self._lock:
            self._store.add(nodes)

    def delete_article(self, article_id: str) -> None:
        with self._lock:
            self._store.delete(ref_doc_id=article_id)

    def delete_ids(self, ids: list[str]) -> None:
        if ids:
            with self._lock:
                self._store.delete_nodes(node_ids=ids)

    def search(self, query: np.ndarray, n: int, filters: Filters | None) -> list[tuple[str, float]]:
        """(passage id, cosine similarity), best first."""
        from llama_index.core.vector_stores.types import VectorStoreQuery

        if self.guard is not None:
            self.guard.before_search(len(query))
        with self._lock:
            total = self._collection.count()
            if total == 0:
                return []
            result = self._store.query(
                VectorStoreQuery(
                    query_embedding=query.tolist(),
                    similarity_top_k=min(n, total),
                    filters=to_metadata_filters(filters),
                )
            )
        # ChromaVectorStore reports exp(-distance); with cosine space distance = 1 - cos.
        return [
            (node.node_id, 1.0 + float(np.log(max(sim, 1e-12))))
            for node, sim in zip(result.nodes or [], result.similarities or [], strict=True)
        ]

    def embeddings(self, ids: list[str]) -> dict[str, np.ndarray]:
        if not ids:
            return {}
        with self._lock:
            got = self._collection.get(ids=ids, include=["embeddings"])
        vectors = got["embeddings"]
        if vectors is None:
            return {}
        pairs = zip(got["ids"], list(vectors), strict=True)
        return {pid: np.asarray(vec, dtype=np.float32) for pid, vec in pairs}

    def count(self) -> int:
        with self._lock:
            return int(self._collection.count())

    def ids(self) -> list[str]:
        with self._lock:
            return list(self._collection.get(include=[])["ids"])


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
