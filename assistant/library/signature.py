"""A library remembers which embedding function made its vectors, and refuses vectors from another.

The signature (model, backend, dimension) is written to ``<data_dir>/embedding.json`` when the
library gets its first vectors, and checked when the library is opened, before vectors are added and
before every dense search. Vectors are comparable when the model and the dimension are the same and
the numeric precision is the same: torch and onnx run the same fp32 function (cosine between their
vectors > 0.99999), so a library written by one may be searched and extended by the other; onnx-int8
is an approximation (cosine to fp32 0.984-1.0, mean 0.994: docs/performance.md) and is kept apart.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from assistant.errors import EmbeddingMismatchError

logger = logging.getLogger(__name__)

SIGNATURE_FILE = "embedding.json"
_PRECISION = {"torch": "fp32", "onnx": "fp32", "onnx-int8": "int8"}


@dataclass(frozen=True)
class EmbeddingSignature:
    model: str
    backend: str
    dimension: int | None = None  # None: not known yet (the model is loaded lazily)

    @property
    def precision(self) -> str:
        return _PRECISION.get(self.backend, self.backend)

    def compatible_with(self, other: EmbeddingSignature) -> bool:
        dims_agree = self.dimension is None or other.dimension is None or self.dimension == other.dimension
        return self.model == other.model and self.precision == other.precision and dims_agree

    def describe(self) -> str:
        dims = f", {self.dimension} dimensions" if self.dimension else ""
        return f"model {self.model!r} on the {self.backend} backend ({self.precision}{dims})"


class LibraryGuard:
    """Checks one library's recorded signature against the embedder that is about to use it.

    ``count`` and ``stored_dimension`` look at the library's vectors: an empty library takes the
    signature of whoever writes first; one that predates signatures is taken to be torch-made (the
    only backend there was) with the dimension of its stored vectors.
    """

    def __init__(
        self,
        path: Path,
        expected: EmbeddingSignature,
        count: Callable[[], int],
        stored_dimension: Callable[[], int | None],
    ) -> None:
        self.path = path
        self.expected = expected
        self._count = count
        self._stored_dimension = stored_dimension

    def check_open(self) -> None:
        """On opening: refuse a library of another model or precision before anything is embedded."""
        recorded = self.recorded()
        if recorded is not None and self._count() > 0:
            self._compare(recorded, self.expected)

    def before_add(self, dimension: int) -> None:
        current = EmbeddingSignature(self.expected.model, self.expected.backend, dimension)
        if self._count() == 0:
            if self.read() != current:
                self._write(current)
            return
        self._compare(self.recorded(), current)

    def before_search(self, dimension: int) -> None:
        current = EmbeddingSignature(self.expected.model, self.expected.backend, dimension)
        recorded = self.read()
        if recorded is not None and recorded.compatible_with(current):
            return  # the usual case, without counting the vectors (8 ms at 100k passages)
        if self._count() == 0:
            return
        self._compare(self.recorded(), current)

    def read(self) -> EmbeddingSignature | None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return EmbeddingSignature(str(data["model"]), str(data["backend"]), int(data["dimension"]))
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError) as e:
            raise EmbeddingMismatchError(
                f"{self.path} is unreadable ({e}); it records which embedding model made this "
                "library's vectors. Restore it, or delete it to have it inferred again."
            ) from e

    def recorded(self) -> EmbeddingSignature | None:
        """The library's signature; for a non-empty library without one, the inferred legacy one."""
        recorded = self.read()
        if recorded is not None or self._count() == 0:
            return recorded
        legacy = EmbeddingSignature(self.expected.model, "torch", self._stored_dimension())
        logger.warning(
            "%s predates embedding signatures: recording its vectors as made by %s",
            self.path.parent,
            legacy.describe(),
        )
        self._write(legacy)
        return legacy

    def _compare(self, recorded: EmbeddingSignature | None, current: EmbeddingSignature) -> None:
        if recorded is None or recorded.compatible_with(current):
            return
        setting = (
            f"set embedding.backend={recorded.backend} (ASSISTANT_EMBEDDING__BACKEND={recorded.backend})"
            if recorded.model == current.model and current.dimension in (None, recorded.dimension)
            else f"set embedding.model={recorded.model!r} and embedding.backend={recorded.backend}"
        )
        raise EmbeddingMismatchError(
            f"this library's vectors were made by {recorded.describe()}, but this assistant embeds "
            f"with {current.describe()}; the two are not comparable. To use this library, {setting}; "
            f"or point data_dir at a new folder and ingest the articles again with the new setting."
        )

    def _write(self, signature: EmbeddingSignature) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        staged = self.path.with_suffix(f".{os.getpid()}.tmp")
        staged.write_text(json.dumps(asdict(signature), indent=2) + "\n", encoding="utf-8")
        os.replace(staged, self.path)
