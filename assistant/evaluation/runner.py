"""Runs the question set through an Assistant: score each question, summarise the run, write it out.

rows = score_questions(assistant, questions, ...)      # ask and score, one row per question
summary = summarise_run(rows, ...)                     # means, the run's facts, the baseline delta
write_run(out_dir, rows, summary, config)              # config, rows, summary, reports
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from assistant.errors import AssistantError
from assistant.evaluation import metrics
from assistant.evaluation.baseline import REGRESSION_MARGIN, baseline_delta, display_path
from assistant.evaluation.calibration import abstention_signals
from assistant.evaluation.dataset import EvalQuestion, dataset_hash, load_questions
from assistant.evaluation.defaults import (
    CHECKOUT,
    DEFAULT_BASELINE,
    DEFAULT_CORPUS,
    DEFAULT_DATASET,
    DEFAULT_OUT,
)
from assistant.evaluation.report import render_html, render_markdown
from assistant.models import Answer, Query

logger = logging.getLogger(__name__)

Judge = Callable[[dict], dict[str, float | None]]
Progress = Callable[[int, int], None]


class EvaluationError(AssistantError):
    """The evaluation cannot run as asked (e.g. the gold articles are not in the library)."""


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


def load_rows(out_dir: Path) -> list[dict]:
    """rows.jsonl of a finished run (empty when absent)."""
    path = Path(out_dir) / "rows.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def gold_ids_by_file(assistant: Any) -> dict[str, set[str]]:
    """Article ids of the library, keyed by the file name they were ingested from."""
    by_file: dict[str, set[str]] = {}
    for article in assistant.articles():
        if article.path:
            by_file.setdefault(Path(article.path).name, set()).add(article.id)
    return by_file


# --- score ----------------------------------------------------------------------------------------


def _question_row(question: EvalQuestion, gold_ids: list[str]) -> dict:
    """What a row says about the question itself, answered or not."""
    return {
        "id": question.id,
        "category": question.category,
        "answerable": question.answerable,
        "user_input": question.user_input,
        "history": question.history_dicts(),
        "reference": question.reference,
        "gold_articles": question.gold_articles,
        "gold_article_ids": gold_ids,
        "key_facts": question.key_facts,
        "evidence": question.evidence,
    }


def _answer_fields(answer: Answer) -> dict:
    passages = answer.passages
    return {
        "standalone_question": answer.standalone_question,
        "response": answer.text,
        "retrieved_contexts": [p.text for p in passages],
        "retrieved_article_ids": [p.article_id for p in passages],
        "retrieved_files": [Path(p.path).name if p.path else "" for p in passages],
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
        "error": None,
    }


def _error_fields(error: Exception) -> dict:
    return {
        "response": "",
        "retrieved_contexts": [],
        "retrieved_article_ids": [],
        "citations": [],
        "abstained": False,
        "error": f"{type(error).__name__}: {error}",
    }


def score_questions(
    assistant: Any,
    questions: Sequence[EvalQuestion],
    k: int | None = None,
    backend: str | None = None,
    judge: Judge | None = None,
    progress: Progress | None = None,
) -> list[dict]:
    """Ask every question and score its answer: one row per question (ragas field names plus ids).

    Raises :class:`EvaluationError` when the library lacks a gold article, and a QueryError when
    ``k`` or ``backend`` is not one the assistant accepts, before any question is asked.
    """
    by_file = gold_ids_by_file(assistant)
    missing = sorted({name for q in questions for name in q.gold_articles if name not in by_file})
    if missing:
        raise EvaluationError(
            f"Gold articles of the question set are not in the library: {', '.join(missing)}. "
            "Ingest the corpus the questions were written for first "
            f"(e.g. assistant ingest {DEFAULT_CORPUS})."
        )
    queries = [Query.of(q.user_input, history=q.history_dicts(), k=k, backend=backend) for q in questions]
    rows: list[dict] = []
    for index, (question, query) in enumerate(zip(questions, queries, strict=True), start=1):
        row = _question_row(question, sorted({i for name in question.gold_articles for i in by_file[name]}))
        started = time.perf_counter()
        try:
            row.update(_answer_fields(assistant.ask(query)))
        except AssistantError as e:
            logger.warning("Question %s failed: %s", question.id, e)
            row.update(_error_fields(e))
        row["latency_ms"] = (time.perf_counter() - started) * 1000
        row["metrics"] = metrics.score_row(row)
        if judge is not None and not row["error"]:
            row["metrics"].update(judge(row))
        row["failures"] = metrics.failures(row, row["metrics"])
        rows.append(row)
        if progress is not None:
            progress(index, len(questions))
    return rows


# --- summarise ------------------------------------------------------------------------------------


def summarise_run(
    rows: Sequence[dict],
    dataset: Path,
    k: int,
    backend: str,
    judged: bool = False,
    baseline_dir: Path | None = None,
) -> dict:
    """The run's summary: metric means, what was run, and the change against the baseline (if any)."""
    summary = metrics.summarise(rows)
    if judged:
        for name in ("judge_faithfulness", "judge_correctness"):
            summary[name] = metrics.mean(r["metrics"].get(name) for r in rows)
    summary.update(
        {
            "k": k,
            "backend": backend,
            "dataset": display_path(dataset),
            "dataset_sha256": dataset_hash(dataset),
            "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "margin": REGRESSION_MARGIN,
        }
    )
    baseline = load_summary(baseline_dir) if baseline_dir is not None else None
    if baseline is not None and baseline_dir is not None:
        summary["baseline_delta"] = baseline_delta(summary, baseline, baseline_dir)
    return summary


def _git_commit() -> str | None:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=CHECKOUT, capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.strip() or None


def _public_settings(settings: Any) -> dict:
    data = settings.model_dump(mode="json")
    data.get("llm", {}).pop("api_key", None)
    data.get("ui", {}).pop("password", None)
    return data


# --- write ----------------------------------------------------------------------------------------


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")


def write_run(out_dir: Path, rows: Sequence[dict], summary: dict, config: dict) -> None:
    """config.json, rows.jsonl, summary.json, report.md and report.html in ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_json(out_dir / "config.json", config)
    with (out_dir / "rows.jsonl").open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
    _write_json(out_dir / "summary.json", summary)
    (out_dir / "report.md").write_text(render_markdown(summary, rows, config), encoding="utf-8")
    (out_dir / "report.html").write_text(render_html(summary, rows, config), encoding="utf-8")
    logger.info("Evaluation of %d questions written to %s", len(rows), out_dir)


# --- all three ------------------------------------------------------------------------------------


def run_evaluation(
    assistant: Any,
    dataset: Path = DEFAULT_DATASET,
    out_dir: Path = DEFAULT_OUT,
    k: int | None = None,
    backend: str | None = None,
    judge: bool = False,
    progress: Progress | None = None,
    baseline_dir: Path | None = DEFAULT_BASELINE,
) -> dict:
    """Ask every question of ``dataset``, score the answers, write the results to ``out_dir``.

    Writes config.json, rows.jsonl, summary.json, report.md and report.html; returns the summary.
    ``progress(done, total)`` is called after each question. When ``baseline_dir`` holds a
    summary.json (and is not ``out_dir`` itself) the summary gains a ``baseline_delta`` section.
    """
    dataset, out_dir = Path(dataset), Path(out_dir)
    questions = load_questions(dataset)
    judge_fn = None
    if judge:
        from assistant.evaluation.judge import make_judge

        judge_fn = make_judge(assistant.settings)
    settings = assistant.settings
    k_used = k or settings.retrieval.k
    backend_used = backend or settings.llm.backend
    started = dt.datetime.now(dt.UTC)

    rows = score_questions(assistant, questions, k=k, backend=backend, judge=judge_fn, progress=progress)

    same_dir = baseline_dir is not None and Path(baseline_dir).resolve() == out_dir.resolve()
    summary = summarise_run(
        rows,
        dataset,
        k_used,
        backend_used,
        judged=judge_fn is not None,
        baseline_dir=None if baseline_dir is None or same_dir else Path(baseline_dir),
    )
    config = {
        "started_at": started.isoformat(timespec="seconds"),
        "dataset": display_path(dataset),
        "dataset_sha256": summary["dataset_sha256"],
        "questions": len(questions),
        "k": k_used,
        "backend": backend_used,
        "judge": judge,
        "git_commit": _git_commit(),
        "library": assistant.stats(),
        "settings": _public_settings(settings),
    }
    write_run(out_dir, rows, summary, config)
    return summary
