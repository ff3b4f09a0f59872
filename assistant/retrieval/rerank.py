"""Second stage: reorder the fused candidates by how well each one answers the question.

No cross-encoder ships its weights in a package from the index (see docs/evaluation.md for the
packages checked), so the second stage is a small linear scorer over signals that the first
stage already computed or that cost microseconds: the dense cosine, BM25 relative to the best
candidate, how many of the question's terms the passage and its article's title contain, whether
the passage opens its article (news leads with the facts), and the time prior. Its weights were
fitted on half of the RealTime QA 2023 questions and checked on the other half.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from assistant.text import tokenize

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Candidate:
    """A fused candidate, with what the reranker may look at."""

    text: str
    title: str
    dense: float  # cosine similarity to the question
    lexical: float  # BM25 score, 0 when BM25 did not return the passage
    lead: bool  # the first passage of its article
    time: float = 0.0  # time prior, centred so that 0 is neutral (see Retriever)


class Reranker(Protocol):
    def scores(self, question: str, candidates: Sequence[Candidate]) -> np.ndarray:
        """One score per candidate, higher is better."""
        ...


@dataclass(frozen=True)
class FeatureWeights:
    dense: float = 1.0
    lexical: float = 0.35
    coverage: float = 0.25
    title: float = 0.15
    lead: float = 0.03
    time: float = 1.0  # retrieval.time_weight


def _coverage(terms: set[str], text: str) -> float:
    if not terms:
        return 0.0
    return len(terms & set(tokenize(text))) / len(terms)


class FeatureReranker:
    """A linear scorer over cheap relevance signals; stateless and thread-safe."""

    def __init__(self, weights: FeatureWeights | None = None) -> None:
        self.weights = weights or FeatureWeights()

    def features(self, question: str, candidates: Sequence[Candidate]) -> np.ndarray:
        """Rows of (dense, lexical, coverage, title, lead, time) for each candidate."""
        terms = set(tokenize(question))
        best_lexical = max((c.lexical for c in candidates), default=0.0)
        rows = [
            (
                c.dense,
                c.lexical / best_lexical if best_lexical > 0 else 0.0,
                _coverage(terms, c.text),
                _coverage(terms, c.title),
                1.0 if c.lead else 0.0,
                c.time,
            )
            for c in candidates
        ]
        return np.asarray(rows, dtype=np.float64).reshape(len(candidates), 6)

    def scores(self, question: str, candidates: Sequence[Candidate]) -> np.ndarray:
        w = self.weights
        vector = np.asarray([w.dense, w.lexical, w.coverage, w.title, w.lead, w.time])
        return self.features(question, candidates) @ vector
