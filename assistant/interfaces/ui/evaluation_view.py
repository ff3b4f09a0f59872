"""The Evaluation tab's data: the latest ``assistant eval`` summary as a table, a chart and the report.

"Run on the sample set" evaluates a separate library (``<data_dir>/eval-sample``) holding only the
sample corpus, sharing the loaded embedding model, so the user's own library is never changed and
the run always has the articles the questions were written for.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from assistant.evaluation.defaults import DEFAULT_CORPUS, DEFAULT_DATASET, DEFAULT_OUT
from assistant.evaluation.metrics import LABELS, RATIO_METRICS
from assistant.evaluation.runner import load_summary, run_evaluation

if TYPE_CHECKING:
    from assistant.core import Assistant

logger = logging.getLogger(__name__)

METRIC_HEADERS = ["Metric", "Value", "Baseline", "Change"]
_EXTRA_METRICS = ("latency_p50_ms", "latency_p95_ms")


def _fmt(value: Any, digits: int) -> str:
    return "" if not isinstance(value, int | float) else f"{value:.{digits}f}"


def metrics_rows(summary: dict[str, Any]) -> list[list[str]]:
    deltas = (summary.get("baseline_delta") or {}).get("metrics", {})
    regressions = set((summary.get("baseline_delta") or {}).get("regressions", []))
    rows = []
    for name in [*RATIO_METRICS, *_EXTRA_METRICS]:
        value = summary.get(name)
        if value is None and name not in deltas:
            continue
        digits = 0 if name.startswith("latency") else 3
        delta = deltas.get(name, {})
        change = _fmt(delta.get("delta"), digits)
        if change and not change.startswith("-"):
            change = "+" + change
        if name in regressions:
            change += " (regressed)"
        rows.append(
            [LABELS.get(name, name), _fmt(value, digits), _fmt(delta.get("baseline"), digits), change]
        )
    return rows


def chart_frame(summary: dict[str, Any]) -> pd.DataFrame:
    """The 0..1 metrics, for the bar chart."""
    rows = [
        {"metric": LABELS.get(name, name), "value": float(summary[name])}
        for name in RATIO_METRICS
        if isinstance(summary.get(name), int | float)
    ]
    return pd.DataFrame(rows, columns=["metric", "value"])


def report_iframe(out_dir: Path) -> str:
    report = out_dir / "report.html"
    if not report.is_file():
        return ""
    content = report.read_text(encoding="utf-8", errors="replace")
    return (
        '<iframe class="na-report" title="Evaluation report" sandbox="allow-scripts" '
        f'style="width:100%;height:900px;border:0" srcdoc="{html.escape(content, quote=True)}"></iframe>'
    )


def status_text(summary: dict[str, Any] | None, out_dir: Path) -> str:
    if summary is None:
        return (
            f"No evaluation report in `{out_dir}` yet. Run `assistant eval`, or press "
            "**Run on the sample set** below (about a minute)."
        )
    return (
        f"Latest evaluation (`{out_dir}`): {summary.get('questions', '?')} questions, "
        f"{summary.get('failed', '?')} with failures; backend {summary.get('backend', '?')}, "
        f"k={summary.get('k', '?')}; finished {summary.get('finished_at', '?')}."
    )


class EvaluationView:
    def __init__(
        self,
        assistant: Assistant,
        out_dir: Path = DEFAULT_OUT,
        dataset: Path = DEFAULT_DATASET,
        corpus: Path = DEFAULT_CORPUS,
    ) -> None:
        self.assistant = assistant
        self.out_dir = Path(out_dir)
        self.dataset = Path(dataset)
        self.corpus = Path(corpus)

    def load(self) -> tuple[str, list[list[str]], pd.DataFrame, str]:
        summary = load_summary(self.out_dir)
        if summary is None:
            return status_text(None, self.out_dir), [], chart_frame({}), ""
        return (
            status_text(summary, self.out_dir),
            metrics_rows(summary),
            chart_frame(summary),
            report_iframe(self.out_dir),
        )

    def run(self, progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
        """Evaluate the sample question set on a library of the sample corpus only."""
        from assistant.core import Assistant

        settings = self.assistant.settings
        scratch = settings.with_overrides(data_dir=str(Path(settings.data_dir) / "eval-sample"))
        sample = Assistant(scratch, embedder=self.assistant.embedder)
        try:
            report = sample.ingest([self.corpus])
            if not report.ok:
                logger.warning("sample corpus ingest: %s", report.summary())
            return run_evaluation(sample, dataset=self.dataset, out_dir=self.out_dir, progress=progress)
        finally:
            sample.close()
