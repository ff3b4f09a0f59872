"""Runs the question set through an Assistant and writes rows, a summary and reports to a folder."""

from __future__ import annotations

import datetime as dt
import json
import logging
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from assistant.errors import AssistantError
from assistant.evaluation import metrics
from assistant.evaluation.calibration import abstention_signals
from assistant.evaluation.dataset import EvalQuestion, dataset_hash, load_questions

logger = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[2]
DEFAULT_DATASET = REPO / "eval" / "questions.jsonl"
DEFAULT_CORPUS = REPO / "eval" / "corpus"
DEFAULT_OUT = REPO / "eval" / "results" / "latest"
DEFAULT_BASELINE = REPO / "eval" / "results" / "baseline"

HEADLINE_METRICS: tuple[str, ...] = (
    "hit_at_k",
    "mrr",
    "evidence_recall",
    "key_fact_recall",
    "citation_precision",
    "citation_recall",
    "faithfulness",
    "abstention_precision",
    "abstention_recall",
)
"""Metrics the regression gate watches. Latency is left out: it measures the machine, not the answers."""

REGRESSION_MARGIN = 0.05
"""Absolute drop (on a 0-1 scale) below the baseline that counts as a regression. With ~30 questions
one question more or less changes a mean by ~0.03, so a single flaky question does not trip the gate."""


class EvaluationError(AssistantError):
    """The evaluation cannot run as asked (e.g. the gold articles are not in the library)."""


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
        "baseline_dir": _display_path(baseline_dir),
        "baseline_dataset_sha256": baseline.get("dataset_sha256"),
        "margin": margin,
        "metrics": deltas,
        "regressions": check_regression(summary, baseline, margin),
    }


def load_summary(out_dir: Path) -> dict | None:
    """summary.json of a finished run, or None when the folder holds none (or an unreadable one)."""
    path = Path(out_dir) / "summary.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        logger.warning("Ignoring unreadable %s: %s", path, e)
        return None


def gold_ids_by_file(assistant: Any) -> dict[str, set[str]]:
    """Article ids of the library, keyed by the file name they were ingested from."""
    by_file: dict[str, set[str]] = {}
    for article in assistant.articles():
        if article.path:
            by_file.setdefault(Path(article.path).name, set()).add(article.id)
    return by_file


def _row(question: EvalQuestion, gold_ids: list[str], answer: Any, latency_ms: float) -> dict:
    passages = answer.passages
    return {
        "id": question.id,
        "category": question.category,
        "answerable": question.answerable,
        "user_input": question.user_input,
        "history": question.history_dicts(),
        "standalone_question": answer.standalone_question,
        "response": answer.text,
        "reference": question.reference,
        "retrieved_contexts": [p.text for p in passages],
        "retrieved_article_ids": [p.article_id for p in passages],
        "retrieved_files": [Path(p.path).name if p.path else "" for p in passages],
        "gold_articles": question.gold_articles,
        "gold_article_ids": gold_ids,
        "key_facts": question.key_facts,
        "evidence": question.evidence,
        "citations": [
            {
                "number": c.number,
                "article_id": c.article_id,
                "file": Path(c.path).name if c.path else "",
                "passage": c.passage,
            }
            for c in answer.citations
        ],
        "abstained": answer.abstained,
        "abstention_signals": abstention_signals(answer),
        "backend": answer.backend,
        "fallback_reason": answer.fallback_reason,
        "latency_ms": latency_ms,
        "error": None,
    }


def _error_row(question: EvalQuestion, gold_ids: list[str], error: Exception, latency_ms: float) -> dict:
    return {
        "id": question.id,
        "category": question.category,
        "answerable": question.answerable,
        "user_input": question.user_input,
        "history": question.history_dicts(),
        "response": "",
        "reference": question.reference,
        "retrieved_contexts": [],
        "retrieved_article_ids": [],
        "gold_articles": question.gold_articles,
        "gold_article_ids": gold_ids,
        "key_facts": question.key_facts,
        "evidence": question.evidence,
        "citations": [],
        "abstained": False,
        "latency_ms": latency_ms,
        "error": f"{type(error).__name__}: {error}",
    }


def _git_commit() -> str | None:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.strip() or None


def _display_path(path: Path) -> str:
    """Repository-relative when inside the repository, so committed results hold no local paths."""
    try:
        return str(path.resolve().relative_to(REPO))
    except ValueError:
        return str(path)


def _public_settings(settings: Any) -> dict:
    data = settings.model_dump(mode="json")
    data.get("llm", {}).pop("api_key", None)
    data.get("ui", {}).pop("password", None)
    return data


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")


def run_evaluation(
    assistant: Any,
    dataset: Path = DEFAULT_DATASET,
    out_dir: Path = DEFAULT_OUT,
    k: int | None = None,
    backend: str | None = None,
    judge: bool = False,
    progress: Callable[[int, int], None] | None = None,
    baseline_dir: Path | None = DEFAULT_BASELINE,
) -> dict:
    """Ask every question of ``dataset``, score the answers, write the results to ``out_dir``.

    Writes config.json, rows.jsonl, summary.json, report.md and report.html; returns the summary.
    ``progress(done, total)`` is called after each question. When ``baseline_dir`` holds a
    summary.json (and is not ``out_dir`` itself) the summary gains a ``baseline_delta`` section.
    """
    from assistant.evaluation.report import render_html, render_markdown

    dataset, out_dir = Path(dataset), Path(out_dir)
    questions = load_questions(dataset)
    by_file = gold_ids_by_file(assistant)
    missing = sorted({name for q in questions for name in q.gold_articles if name not in by_file})
    if missing:
        raise EvaluationError(
            f"Gold articles of {dataset.name} are not in the library: {', '.join(missing)}. "
            "Ingest the corpus the questions were written for first "
            f"(e.g. assistant ingest {DEFAULT_CORPUS})."
        )
    judge_fn = None
    if judge:
        from assistant.evaluation.judge import make_judge

        judge_fn = make_judge(assistant.settings)

    settings = assistant.settings
    k_used = k or settings.retrieval.k
    backend_used = backend or settings.llm.backend
    started = dt.datetime.now(dt.UTC)
    rows: list[dict] = []
    for index, question in enumerate(questions, start=1):
        gold_ids = sorted({i for name in question.gold_articles for i in by_file[name]})
        t0 = time.perf_counter()
        try:
            answer = assistant.ask(
                question.user_input, history=question.history_dicts(), k=k, backend=backend
            )
        except AssistantError as e:
            logger.warning("Question %s failed: %s", question.id, e)
            row = _error_row(question, gold_ids, e, (time.perf_counter() - t0) * 1000)
        else:
            row = _row(question, gold_ids, answer, (time.perf_counter() - t0) * 1000)
        row["metrics"] = metrics.score_row(row)
        if judge_fn is not None and not row["error"]:
            row["metrics"].update(judge_fn(row))
        row["failures"] = metrics.failures(row, row["metrics"])
        rows.append(row)
        if progress is not None:
            progress(index, len(questions))

    summary = metrics.summarise(rows)
    if judge_fn is not None:
        for name in ("judge_faithfulness", "judge_correctness"):
            summary[name] = metrics.mean(r["metrics"].get(name) for r in rows)
    summary.update(
        {
            "k": k_used,
            "backend": backend_used,
            "dataset": _display_path(dataset),
            "dataset_sha256": dataset_hash(dataset),
            "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "margin": REGRESSION_MARGIN,
        }
    )
    same_dir = baseline_dir is not None and Path(baseline_dir).resolve() == out_dir.resolve()
    baseline = None if baseline_dir is None or same_dir else load_summary(Path(baseline_dir))
    if baseline is not None and baseline_dir is not None:
        summary["baseline_delta"] = baseline_delta(summary, baseline, Path(baseline_dir))

    config = {
        "started_at": started.isoformat(timespec="seconds"),
        "dataset": _display_path(dataset),
        "dataset_sha256": summary["dataset_sha256"],
        "questions": len(questions),
        "k": k_used,
        "backend": backend_used,
        "judge": judge,
        "git_commit": _git_commit(),
        "library": assistant.stats(),
        "settings": _public_settings(settings),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_json(out_dir / "config.json", config)
    with (out_dir / "rows.jsonl").open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
    _write_json(out_dir / "summary.json", summary)
    (out_dir / "report.md").write_text(render_markdown(summary, rows, config), encoding="utf-8")
    (out_dir / "report.html").write_text(render_html(summary, rows, config), encoding="utf-8")
    logger.info("Evaluation of %d questions written to %s", len(rows), out_dir)
    return summary


def load_rows(out_dir: Path) -> list[dict]:
    """rows.jsonl of a finished run (empty when absent)."""
    path = Path(out_dir) / "rows.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
