"""A library's raw contents, read straight from Chroma, SQLite and BM25's manifest and segments.

Nothing here repairs the library on the way (opening an Assistant would). Chroma caches one client
per path in a process; :func:`inspect` drops that cache before and after reading, so a test process
sees what another process wrote. ``python -m tests.reliability.inspect_library DATA_DIR`` prints it.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path


def inspect(data_dir: Path) -> dict[str, object]:
    import chromadb
    from chromadb.api.client import SharedSystemClient
    from chromadb.config import Settings

    SharedSystemClient.clear_system_cache()

    client = chromadb.PersistentClient(
        path=str(data_dir / "chroma"), settings=Settings(anonymized_telemetry=False)
    )
    got = client.get_or_create_collection("passages", embedding_function=None).get(include=["metadatas"])
    vectors = {
        pid: (meta or {}).get("article_id")
        for pid, meta in zip(got["ids"], got["metadatas"] or [], strict=True)
    }
    del client
    SharedSystemClient.clear_system_cache()
    db = sqlite3.connect(data_dir / "registry.sqlite3")
    passages = {pid: aid for pid, aid in db.execute("SELECT id, article_id FROM passages")}
    articles = [row[0] for row in db.execute("SELECT key FROM articles")]
    generation = db.execute("SELECT value FROM meta WHERE key='generation'").fetchone()
    db.close()
    bm25 = _bm25_state(data_dir / "bm25")
    return {
        "vectors": vectors,
        "vector_count": len(got["ids"]),
        "passages": passages,
        "article_keys": articles,
        "generation": int(generation[0]) if generation else 0,
        "bm25": bm25,
    }


def _bm25_state(directory: Path) -> dict[str, object] | None:
    """The saved BM25 index as its manifest names it: {"generation", "ids" (live passage ids)}."""
    from assistant.library.bm25 import MANIFEST, Segment

    try:
        manifest = json.loads((directory / MANIFEST).read_text())
        ids: list[str] = []
        for entry in manifest["segments"]:
            dead = set(entry.get("dead", []))
            segment = Segment.load(directory, entry["name"])
            ids.extend(pid for doc, pid in enumerate(segment.ids) if doc not in dead)
    except (OSError, ValueError, KeyError):
        return None
    return {"generation": int(manifest["generation"]), "ids": ids}


if __name__ == "__main__":
    sys.stdout.write(json.dumps(inspect(Path(sys.argv[1]))))
