"""Adapter for the RealTime QA 2023 development set (news-quiz questions over 409 real articles).

A retrieved passage is a *hit* when it contains the question's answer string (case-insensitive),
as in MultiHop-RAG. Per retrieval mode we report hit@k and MRR@10 over passages, plus the share of
questions whose top 10 holds a passage from an article that contains the answer (article hit@10);
for full answers, whether the answer text contains the answer and whether a cited passage does.
Each measure is taken without a date filter and with ``Filters(until=question date)``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from assistant.evaluation.metrics import mean, percentile
from assistant.models import Filters

logger = logging.getLogger(__name__)

MODES = ("dense", "bm25", "hybrid")
HIT_KS = (1, 3, 5, 10)
MRR_DEPTH = 10


class RTQAQuestion(BaseModel):
    id: str
    question: str
    date: dt.date
    answer: str
    gold_any: list[str]


def load_questions(root: Path) -> list[RTQAQuestion]:
    path = Path(root) / "questions.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    return [RTQAQuestion.model_validate(json.loads(line)) for line in lines if line.strip()]


def article_urls(root: Path) -> dict[str, str]:
    """Benchmark article id -> url (the url is how a stored Article is matched back to it)."""
    urls = {}
    with (Path(root) / "articles.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                record = json.loads(line)
                urls[record["id"]] = record.get("url", "")
    return urls


def _norm(text: str) -> str:
    return " ".join(
        text.lower().replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"').split()
    )


def contains_answer(text: str, answer: str) -> bool:
    return _norm(answer) in _norm(text)


def first_hit_rank(passage_texts: Sequence[str], answer: str) -> int | None:
    for rank, text in enumerate(passage_texts, start=1):
        if contains_answer(text, answer):
            return rank
    return None


def _retrieval_scores(ranks: list[int | None], article_hits: list[bool]) -> dict[str, float | None]:
    scores: dict[str, float | None] = {
        f"hit@{k}": mean(1.0 if r is not None and r <= k else 0.0 for r in ranks) for k in HIT_KS
    }
    scores[f"mrr@{MRR_DEPTH}"] = mean(1.0 / r if r is not None and r <= MRR_DEPTH else 0.0 for r in ranks)
    scores["article_hit@10"] = mean(1.0 if hit else 0.0 for hit in article_hits)
    return scores


def run_realtimeqa(
    assistant: Any,
    root: Path,
    questions: Sequence[RTQAQuestion] | None = None,
    modes: Sequence[str] = MODES,
    date_filters: Sequence[bool] = (False, True),
    answers: bool = True,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict:
    """Measure retrieval per mode and full answers (default mode) on an already-ingested library."""
    questions = list(questions if questions is not None else load_questions(root))
    urls = article_urls(root)
    ids_by_url = {a.url: a.id for a in assistant.articles() if a.url}
    results: dict[str, Any] = {
        "questions": len(questions),
        "retrieval": {},
        "answers": {},
        "per_question": {},
    }
    per_question: dict[str, dict] = {
        q.id: {"answer": q.answer, "date": q.date.isoformat()} for q in questions
    }
    for until in date_filters:
        label = "until question date" if until else "no date filter"
        for mode in modes:
            ranks: list[int | None] = []
            article_hits: list[bool] = []
            t0 = time.perf_counter()
            for index, q in enumerate(questions, start=1):
                filters = Filters(until=q.date) if until else None
                passages = assistant.retrieve(q.question, k=10, filters=filters, mode=mode)
                rank = first_hit_rank([p.text for p in passages], q.answer)
                gold = {ids_by_url.get(urls.get(g, ""), "") for g in q.gold_any} - {""}
                ranks.append(rank)
                article_hits.append(any(p.article_id in gold for p in passages))
                per_question[q.id][f"rank/{mode}/{'until' if until else 'all'}"] = rank
                if progress is not None:
                    progress(f"{mode} ({label})", index, len(questions))
            scores = _retrieval_scores(ranks, article_hits)
            scores["ms_per_query"] = (time.perf_counter() - t0) * 1000 / max(1, len(questions))
            results["retrieval"].setdefault(label, {})[mode] = scores
            logger.info("%s / %s: %s", mode, label, scores)
        if not answers:
            continue
        in_text, in_cited, abstained, latencies = [], [], [], []
        for index, q in enumerate(questions, start=1):
            filters = Filters(until=q.date) if until else None
            t0 = time.perf_counter()
            answer = assistant.ask(q.question, filters=filters)
            latencies.append((time.perf_counter() - t0) * 1000)
            text_hit = contains_answer(answer.text, q.answer)
            cited_hit = any(contains_answer(c.passage, q.answer) for c in answer.citations)
            in_text.append(1.0 if text_hit else 0.0)
            in_cited.append(1.0 if cited_hit else 0.0)
            abstained.append(1.0 if answer.abstained else 0.0)
            tag = "until" if until else "all"
            per_question[q.id][f"answer/{tag}"] = {"text_hit": text_hit, "cited_hit": cited_hit}
            if progress is not None:
                progress(f"answers ({label})", index, len(questions))
        results["answers"][label] = {
            "answer_contains": mean(in_text),
            "cited_passage_contains": mean(in_cited),
            "abstained": mean(abstained),
            "latency_p50_ms": percentile(latencies, 50),
            "latency_p95_ms": percentile(latencies, 95),
        }
    results["per_question"] = per_question
    return results


def _f(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def render_markdown(results: dict) -> str:
    """Tables of a run_realtimeqa result (plus the ingest facts the script adds)."""
    lines = [f"# RealTime QA 2023: {results['questions']} questions", ""]
    ingest = results.get("ingest")
    if ingest:
        lines += [
            f"Ingest: {ingest['articles']} articles, {ingest['passages']} passages "
            f"in {ingest['seconds']:.0f} s wall, {ingest.get('cpu_seconds', 0):.0f} s CPU "
            f"({ingest.get('machine', '')}).",
            "",
        ]
    ks = " | ".join(f"hit@{k}" for k in HIT_KS)
    lines += [
        "## Retrieval (a passage is a hit when it contains the answer)",
        "",
        f"| date filter | mode | {ks} | MRR@10 | article hit@10 | ms/query |",
        "| --- | --- |" + " ---: |" * (len(HIT_KS) + 3),
    ]
    for label, modes in results["retrieval"].items():
        for mode, s in modes.items():
            hits = " | ".join(_f(s[f"hit@{k}"]) for k in HIT_KS)
            lines.append(
                f"| {label} | {mode} | {hits} | {_f(s['mrr@10'])} | {_f(s['article_hit@10'])} | "
                f"{s['ms_per_query']:.0f} |"
            )
    if results["answers"]:
        lines += [
            "",
            "## Answers (default settings: hybrid retrieval, extractive answer)",
            "",
            "| date filter | answer contains it | cited passage contains it | abstained | p50 ms | p95 ms |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
        ]
        for label, s in results["answers"].items():
            lines.append(
                f"| {label} | {_f(s['answer_contains'])} | {_f(s['cited_passage_contains'])} | "
                f"{_f(s['abstained'])} | {s['latency_p50_ms']:.0f} | {s['latency_p95_ms']:.0f} |"
            )
    return "\n".join(lines) + "\n"
