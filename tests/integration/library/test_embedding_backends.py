"""The embedding backends with the real model: offline ONNX export, agreement with torch, caching,
and libraries that refuse vectors of another backend (real Chroma)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from assistant import Assistant, Settings
from assistant.config import EmbeddingSettings
from assistant.errors import EmbeddingMismatchError
from assistant.library.embedding import Embedder

pytestmark = pytest.mark.integration

CORPUS_DIR = Path(__file__).resolve().parents[3] / "eval" / "corpus"
CORPUS_FILE = CORPUS_DIR / "2023-12-02-hotair-mossad-team-recalled.md"

TEXTS = [
    "The city council approved the new budget after a long night of debate.",
    "Heavy rain flooded the valley and forced hundreds of families from their homes.",
    "The central bank kept interest rates unchanged, citing slowing inflation.",
    "A short one.",
    " ".join(["The negotiators met again on Tuesday to discuss the terms of a ceasefire."] * 40),
]
# Measured on 500 real news passages (docs/performance.md): fp32 ONNX agrees with torch to float
# rounding; int8 stays above 0.983 (mean 0.994). The bounds leave a margin.
MIN_COSINE = {"onnx": 0.9999, "onnx-int8": 0.98}


@pytest.fixture(scope="module")
def torch_embedder() -> Embedder:
    model = Embedder(EmbeddingSettings(backend="torch"))
    model.embed_query("warm up")
    return model


def backend_embedder(backend: str, embedder: Embedder) -> Embedder:
    """An embedder of ``backend`` sharing the session's export cache (the fp32 export is built there)."""
    if backend == embedder.backend:
        return embedder
    return Embedder(EmbeddingSettings(backend=backend), cache_dir=embedder.cache_dir)


@pytest.mark.parametrize("backend", ["onnx", "onnx-int8"])
def test_onnx_backends_embed_like_torch(backend: str, embedder: Embedder, torch_embedder: Embedder) -> None:
    model = backend_embedder(backend, embedder)

    vectors = model.embed_texts(TEXTS)
    reference = torch_embedder.embed_texts(TEXTS)

    assert vectors.shape == (len(TEXTS), 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    cosines = (vectors * reference).sum(axis=1)
    assert cosines.min() > MIN_COSINE[backend], cosines
    # Embedded alone or in a batch, a text gets (nearly, for int8: activations are quantized per
    # batch) the same vector.
    alone = model.embed_query(TEXTS[2])
    assert float(alone @ vectors[2]) > MIN_COSINE[backend]
    # Related sentences stay closer than unrelated ones, as with torch.
    query = model.embed_query("Did the bank change its rates?")
    assert int(np.argmax(vectors @ query)) == 2


def test_export_is_cached_and_rebuilt_when_deleted(
    embedder: Embedder, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache = tmp_path / "models"
    caplog.set_level(logging.INFO, logger="assistant")
    first = Embedder(EmbeddingSettings(backend="onnx-int8"), cache_dir=cache).embed_texts(TEXTS)
    exported = sorted(cache.rglob("model.onnx"))
    assert [p.parent.name for p in exported] == ["onnx", "onnx-int8"]
    assert "exporting the embedding model" in caplog.text
    stamp = {p: p.stat().st_mtime_ns for p in exported}

    caplog.clear()
    again = Embedder(EmbeddingSettings(backend="onnx-int8"), cache_dir=cache).embed_texts(TEXTS)
    assert "exporting" not in caplog.text
    assert {p: p.stat().st_mtime_ns for p in exported} == stamp
    assert np.allclose(first, again)

    int8 = next(p for p in exported if p.parent.name == "onnx-int8")
    int8.unlink()
    caplog.clear()
    rebuilt = Embedder(EmbeddingSettings(backend="onnx-int8"), cache_dir=cache).embed_texts(TEXTS)
    assert int8.is_file() and "exporting the embedding model" in caplog.text
    assert np.allclose(first, rebuilt, atol=1e-5)


def test_a_library_refuses_another_backend_and_loses_nothing(
    tmp_path: Path, embedder: Embedder, torch_embedder: Embedder
) -> None:
    data_dir = tmp_path / "data"
    question = "Why were the negotiators recalled?"
    built = Assistant(Settings(data_dir=data_dir, embedding={"backend": "torch"}), embedder=torch_embedder)
    assert built.ingest([CORPUS_FILE]).added == 1
    torch_top = [p.id for p in built.retrieve(question, k=3, mode="dense")]
    built.close()

    # fp32 ONNX is the same function: it searches and extends the torch-made library.
    onnx = backend_embedder("onnx", embedder)
    same = Assistant(Settings(data_dir=data_dir, embedding={"backend": "onnx"}), embedder=onnx)
    assert [p.id for p in same.retrieve(question, k=3, mode="dense")] == torch_top
    same.close()

    int8 = backend_embedder("onnx-int8", embedder)
    with pytest.raises(EmbeddingMismatchError) as refused:
        Assistant(Settings(data_dir=data_dir, embedding={"backend": "onnx-int8"}), embedder=int8)
    message = str(refused.value)
    assert "torch backend" in message and "onnx-int8" in message
    assert "embedding.backend=torch" in message

    reopened = Assistant(Settings(data_dir=data_dir, embedding={"backend": "torch"}), embedder=torch_embedder)
    assert reopened.stats()["articles"] == 1
    assert [p.id for p in reopened.retrieve(question, k=3, mode="dense")] == torch_top
    reopened.close()
