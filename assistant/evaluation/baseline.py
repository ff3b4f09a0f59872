"""The regression gate: a run's headline metrics against a baseline run's."""

from __future__ import annotations

from pathlib import Path

from assistant.evaluation.defaults import CHECKOUT
from assistant.evaluation.metrics import HEADLINE_METRICS

REGRESSION_MARGIN = 0.05
"""Absolute drop (on a 0-1 scale) below the baseline that counts as a regression. With ~30 questions
one question more or less changes a mean by ~0.03, so a single flaky question does not trip the gate."""


def check_regression(summary: dict, baseline: dict, margin: float = REGRESSION_MARGIN) -> list[str]:
    """Names of headline metrics more than ``margin`` below the baseline (or gone missing)."""
    regressed = []
    for name in HEADLINE_METRICS:
        before = baseline.get(name)
        if before is None:
            continue
        now = summary.get(name)
        if now is None or before - now > margin + 1e-9:
            regressed.append(name)
    return regressed


def baseline_delta(
    summary: dict, baseline: dict, baseline_dir: Path, margin: float = REGRESSION_MARGIN
) -> dict:
    """Per-metric current/baseline/delta, plus which headline metrics regressed."""
    names = [*HEADLINE_METRICS, "hit_at_1", "answered_rate", "latency_p50_ms", "latency_p95_ms"]
    deltas = {}
    for name in names:
        now, before = summary.get(name), baseline.get(name)
        deltas[name] = {
            "current": now,
            "baseline": before,
            "delta": None if now is None or before is None else now - before,
        }
    return {
        "baseline_dir": display_path(baseline_dir),
        "baseline_dataset_sha256": baseline.get("dataset_sha256"),
        "margin": margin,
        "metrics": deltas,
        "regressions": check_regression(summary, baseline, margin),
    }


def display_path(path: Path) -> str:
    """Repository-relative when inside the repository, so committed results hold no local paths."""
    try:
        return str(path.resolve().relative_to(CHECKOUT))
    except ValueError:
        return str(path)
