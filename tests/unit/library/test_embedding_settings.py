"""embedding.backend: a setting like any other, validated where it is read."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from assistant.config import Settings

pytestmark = pytest.mark.unit


def test_default_backend_is_the_quantized_onnx_model() -> None:
    assert Settings().embedding.backend == "onnx-int8"


def test_backend_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_EMBEDDING__BACKEND", "torch")
    monkeypatch.setenv("ASSISTANT_EMBEDDING__THREADS", "2")
    settings = Settings()
    assert settings.embedding.backend == "torch" and settings.embedding.threads == 2
    assert settings.with_overrides(**{"embedding.backend": "onnx"}).embedding.backend == "onnx"


def test_an_unknown_backend_is_refused_with_the_choices() -> None:
    with pytest.raises(ValidationError, match="onnx-int8"):
        Settings(embedding={"backend": "tensorrt"})
