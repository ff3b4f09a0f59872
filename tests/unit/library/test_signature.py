"""A library's embedding signature: recorded on first write, checked on open, add and search."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.errors import ConfigurationError, EmbeddingMismatchError
from assistant.library.signature import EmbeddingSignature, LibraryGuard

pytestmark = pytest.mark.unit

MODEL = "all-MiniLM-L6-v2"


class FakeLibrary:
    """Just the two facts the guard reads about a library's vectors."""

    def __init__(self, count: int = 0, dimension: int | None = None) -> None:
        self.n = count
        self.dimension = dimension

    def guard(self, path: Path, backend: str, model: str = MODEL) -> LibraryGuard:
        return LibraryGuard(path, EmbeddingSignature(model, backend), lambda: self.n, lambda: self.dimension)


def test_torch_and_onnx_are_one_function_int8_is_another() -> None:
    torch = EmbeddingSignature(MODEL, "torch", 384)
    assert torch.compatible_with(EmbeddingSignature(MODEL, "onnx", 384))
    assert not torch.compatible_with(EmbeddingSignature(MODEL, "onnx-int8", 384))
    assert not torch.compatible_with(EmbeddingSignature(MODEL, "torch", 768))
    assert not torch.compatible_with(EmbeddingSignature("/models/other", "torch", 384))


def test_first_write_records_the_signature_and_later_writes_must_match(tmp_path: Path) -> None:
    path = tmp_path / "embedding.json"
    library = FakeLibrary()
    library.guard(path, "onnx-int8").before_add(384)
    assert json.loads(path.read_text()) == {"model": MODEL, "backend": "onnx-int8", "dimension": 384}
    library.n = 10

    library.guard(path, "onnx-int8").before_add(384)
    with pytest.raises(EmbeddingMismatchError) as refused:
        library.guard(path, "torch").check_open()
    message = str(refused.value)
    assert "onnx-int8" in message and "embedding.backend=onnx-int8" in message
    assert "ASSISTANT_EMBEDDING__BACKEND=onnx-int8" in message and "ingest" in message
    assert isinstance(refused.value, ConfigurationError)


def test_a_query_of_another_dimension_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "embedding.json"
    library = FakeLibrary()
    library.guard(path, "torch").before_add(384)
    library.n = 3
    guard = library.guard(path, "torch")
    guard.before_search(384)
    with pytest.raises(EmbeddingMismatchError, match="768 dimensions"):
        guard.before_search(768)
    with pytest.raises(EmbeddingMismatchError):
        guard.before_add(768)


def test_an_emptied_library_takes_the_next_writers_signature(tmp_path: Path) -> None:
    path = tmp_path / "embedding.json"
    library = FakeLibrary()
    library.guard(path, "torch").before_add(384)
    library.guard(path, "onnx-int8").check_open()  # empty: nothing to be incompatible with
    library.guard(path, "onnx-int8").before_add(384)
    assert json.loads(path.read_text())["backend"] == "onnx-int8"


def test_a_library_older_than_signatures_is_taken_as_torch_made(tmp_path: Path) -> None:
    path = tmp_path / "embedding.json"
    library = FakeLibrary(count=5, dimension=384)
    library.guard(path, "onnx").check_open()  # fp32 ONNX reads a torch library
    assert json.loads(path.read_text()) == {"model": MODEL, "backend": "torch", "dimension": 384}
    with pytest.raises(EmbeddingMismatchError, match="embedding.backend=torch"):
        library.guard(path, "onnx-int8").check_open()


def test_a_corrupt_signature_file_says_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "embedding.json"
    path.write_text("{not json")
    with pytest.raises(EmbeddingMismatchError, match="delete it"):
        FakeLibrary(count=1, dimension=384).guard(path, "torch").check_open()
