"""The local LLM backend: a GGUF model run in this process by llama.cpp, and the installer of its models.

``catalog`` knows the models and installs them (no llama.cpp needed); ``runtime`` runs one
(imports xllamacpp only when the model is first loaded).
"""

from assistant.answer.local.catalog import (
    CATALOG,
    DEFAULT_MODEL,
    CatalogModel,
    ModelStatus,
    install_model,
    list_models,
    resolve_model,
    verify_model,
)
from assistant.answer.local.runtime import LocalLLM, LocalStats, physical_cores

__all__ = [
    "CATALOG",
    "DEFAULT_MODEL",
    "CatalogModel",
    "LocalLLM",
    "LocalStats",
    "ModelStatus",
    "install_model",
    "list_models",
    "physical_cores",
    "resolve_model",
    "verify_model",
]
