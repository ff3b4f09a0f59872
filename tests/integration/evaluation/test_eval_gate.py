"""The answer-quality regression gate: the sample question set must not fall below the baseline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from assistant.evaluation import (
    DEFAULT_BASELINE,
    DEFAULT_DATASET,
    HEADLINE_METRICS,
    REGRESSION_MARGIN,
    EvaluationError,
    check_regression,
    load_summary,
    run_evaluation,
)
from assistant.evaluation.cli import register

pytestmark = pytest.mark.eval


def test_sample_set_does_not_regress_against_the_baseline(corpus_assistant, tmp_path: Path) -> None:
    baseline = load_summary(DEFAULT_BASELINE)
    assert baseline is not None, f"no baseline: run `assistant eval --out {DEFAULT_BASELINE}`"
    seen: list[int] = []
    out = tmp_path / "run"

    summary = run_evaluation(
        corpus_assistant, DEFAULT_DATASET, out, progress=lambda done, total: seen.append(done)
    )

    assert summary["errors"] == 0
    assert seen[-1] == summary["questions"] == baseline["questions"]
    for name in ("config.json", "rows.jsonl", "summary.json", "report.md", "report.html"):
        assert (out / name).is_file(), name
    assert load_summary(out) == json.loads((out / "summary.json").read_text())
    assert (
        "<svg" in (out / "report.html").read_text() and "http" not in (out / "report.html").read_text()[:2000]
    )
    delta = summary["baseline_delta"]
    regressions = check_regression(summary, baseline, REGRESSION_MARGIN)
    assert delta["regressions"] == regressions
    table = {name: (summary.get(name), baseline.get(name)) for name in HEADLINE_METRICS}
    assert not regressions, f"below the baseline by more than {REGRESSION_MARGIN}: {regressions}; {table}"


def test_eval_command_ingests_an_empty_library_and_fails_on_regression(
    make_assistant, tmp_path: Path
) -> None:
    dataset = tmp_path / "questions.jsonl"
    dataset.write_text("".join(DEFAULT_DATASET.read_text().splitlines(keepends=True)[:3]))
    unreachable = tmp_path / "baseline"
    unreachable.mkdir()
    (unreachable / "summary.json").write_text(json.dumps({"key_fact_recall": 2.0, "hit_at_k": 0.0}))
    app = typer.Typer()
    built: list = []

    def one_assistant():  # type: ignore[no-untyped-def]
        if not built:
            built.append(make_assistant())
        return built[0]

    @app.callback()
    def _main(ctx: typer.Context) -> None:
        ctx.obj = {"settings": None, "make_assistant": one_assistant}

    register(app)
    out = tmp_path / "out"
    args = ["eval", "--dataset", str(dataset), "--out", str(out), "--baseline", str(unreachable)]

    result = CliRunner().invoke(app, [*args, "--fail-on-regression"])

    assert result.exit_code == 1, result.output
    assert "ingesting the sample corpus" in result.output
    assert "Key-fact recall" in result.output and "Regressed" in result.output
    assert load_summary(out)["baseline_delta"]["regressions"] == ["key_fact_recall"]
    result = CliRunner().invoke(app, args)  # without the flag a regression is reported, not fatal
    assert result.exit_code == 0 and "Regressed" in result.output
    built[0].close()


def test_evaluation_refuses_a_library_without_the_gold_articles(make_assistant, tmp_path: Path) -> None:
    with pytest.raises(EvaluationError, match="not in the library"):
        run_evaluation(make_assistant(), DEFAULT_DATASET, tmp_path / "out")
