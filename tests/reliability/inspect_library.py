"""Print a library's raw contents as JSON, read straight from Chroma, SQLite and BM25's state file.

Run as a subprocess (``python -m tests.reliability.inspect_library DATA_DIR``) so that nothing
repairs the library on the way (opening an Assistant would) and no Chroma client is cached in the
test process while another process writes.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path


def inspect(data_dir: Path) -> dict[str, object]:
    import chromadb
    from chromadb.config import Settings

    client = chromadb.PersistentClient(
        path=str(data_dir / "chroma"), settings=Settings(anonymized_telemetry=False)
    )
    got = client.get_or_create_collection("passages", embedding_function=None).get(include=["metadatas"])
    vectors = {
        pid: (meta or {}).get("article_id")
        for pid, meta in zip(got["ids"], got["metadatas"] or [], strict=True)
    }
    db = sqlite3.connect(data_dir / "registry.sqlite3")
    passages = {pid: aid for pid, aid in db.execute("SELECT id, article_id FROM passages")}
    articles = [row[0] for row in db.execute("SELECT key FROM articles")]
    generation = db.execute("SELECT value FROM meta WHERE key='generation'").fetchone()
    try:
        bm25 = json.loads((data_dir / "bm25" / "state.json").read_text())
    except (OSError, ValueError):
        bm25 = None
    return {
        "vectors": vectors,
        "vector_count": len(got["ids"]),
        "passages": passages,
        "article_keys": articles,
        "generation": int(generation[0]) if generation else 0,
        "bm25": bm25,
    }


if __name__ == "__main__":
    sys.stdout.write(json.dumps(inspect(Path(sys.argv[1]))))
