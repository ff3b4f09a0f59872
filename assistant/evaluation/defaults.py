"""Where the evaluation finds its question set and sample corpus, and writes its results.

The question set and the sample corpus are package data (``sample/``), so ``assistant eval`` works
from an installed wheel too. In a source checkout ``sample/`` links to the repository's ``eval/``
folder, where they are edited, and results go to ``eval/results/``; installed elsewhere, results go
to ``eval-results/`` under the working directory.
"""

from __future__ import annotations

from pathlib import Path

SAMPLE = Path(__file__).resolve().parent / "sample"
DEFAULT_DATASET = SAMPLE / "questions.jsonl"
DEFAULT_CORPUS = SAMPLE / "corpus"

CHECKOUT = Path(__file__).resolve().parents[2]
_IN_CHECKOUT = (CHECKOUT / "pyproject.toml").is_file() and (CHECKOUT / "eval").is_dir()
RESULTS = CHECKOUT / "eval" / "results" if _IN_CHECKOUT else Path("eval-results")
DEFAULT_OUT = RESULTS / "latest"
DEFAULT_BASELINE = RESULTS / "baseline"
