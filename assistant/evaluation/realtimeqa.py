"""Adapter for the RealTime QA 2023 development set (news-quiz questions over 409 real articles).

A retrieved passage is a *hit* when it contains the question's answer string (case-insensitive),
as in MultiHop-RAG. Per retrieval mode we report hit@k and MRR@10 over passages, the share of
questions whose top 10 holds a passage from an article that contains the answer (article hit@10),
and whether the first 2,000 / 4,000 characters of the ranked context (the passages' texts joined
in rank order) contain it; for full answers, whether the answer text contains the answer, whether
a cited passage does, and the share of citations whose article is one the question was written
from (``gold_any``: a citation of any other article is padding, or the answer is wrong). Each
measure is taken per condition: ``none`` (the question alone), ``as_of`` (asked on the question's
date: time expressions resolve against it and articles near it are preferred) and ``until``
(``Filters(until=question date)``, a hard filter).
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

MODES = ("dense", "bm25", "hybrid", "hybrid+rerank")
CONDITIONS = {
    "none": "question only",
    "as_of": "as of question date",
    "until": "until question date (filter)",
}
HIT_KS = (1, 3, 5, 10)
MRR_DEPTH = 10
CONTEXT_CHARS = (2000, 4000)


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


def context_hits(passage_texts: Sequence[str], answer: str) -> dict[int, bool]:
    """Whether the first N characters of the ranked context (texts joined in order) hold the answer."""
    context = "\n\n".join(passage_texts)
    return {chars: contains_answer(context[:chars], answer) for chars in CONTEXT_CHARS}


def _retrieval_scores(
    ranks: list[int | None], article_hits: list[bool], contexts: list[dict[int, bool]]
) -> dict[str, float | None]:
    scores: dict[str, float | None] = {
        f"hit@{k}": mean(1.0 if r is not None and r <= k else 0.0 for r in ranks) for k in HIT_KS
    }
    scores[f"mrr@{MRR_DEPTH}"] = mean(1.0 / r if r is not None and r <= MRR_DEPTH else 0.0 for r in ranks)
    scores["article_hit@10"] = mean(1.0 if hit else 0.0 for hit in article_hits)
    for chars in CONTEXT_CHARS:
        scores[f"context@{chars}"] = mean(1.0 if c[chars] else 0.0 for c in contexts)
    return scores


def _retrieve(assistant: Any, q: RTQAQuestion, mode: str, condition: str) -> list[Any]:
    """Ten passages for `q` through the assistant's retriever, under a mode and a condition."""
    base, _, rerank = mode.partition("+")
    filters = Filters(until=q.date) if condition == "until" else None
    as_of = q.date if condition == "as_of" else None
    return assistant.retriever.retrieve(  # type: ignore[no-any-return]
        q.question, k=10, filters=filters, mode=base, as_of=as_of, rerank=bool(rerank)
    )


def _ask(assistant: Any, q: RTQAQuestion, condition: str) -> Any:
    """The default answer, asked on the question's date under the as_of condition."""
    filters = Filters(until=q.date) if condition == "until" else None
    as_of = q.date if condition == "as_of" else None
    return assistant.ask(q.question, filters=filters, as_of=as_of)


def run_realtimeqa(
    assistant: Any,
    root: Path,
    questions: Sequence[RTQAQuestion] | None = None,
    modes: Sequence[str] = MODES,
    conditions: Sequence[str] = ("none", "as_of"),
    answers: bool = True,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict:
    """Measure retrieval per mode and condition, and full answers (default settings)."""
    unknown = set(conditions) - set(CONDITIONS)
    if unknown:
        raise ValueError(f"conditions must be among {sorted(CONDITIONS)}, not {sorted(unknown)}")
    questions = list(questions if questions is not None else load_questions(root))
    urls = article_urls(root)
    ids_by_url = {a.url: a.id for a in assistant.articles() if a.url}
    # per question, in order: the library's ids of the articles it was written from
    gold = [{ids_by_url.get(urls.get(g, ""), "") for g in q.gold_any} - {""} for q in questions]
    results: dict[str, Any] = {
        "questions": len(questions),
        "retrieval": {},
        "answers": {},
        "per_question": {},
    }
    per_question: dict[str, dict] = {
        q.id: {"answer": q.answer, "date": q.date.isoformat()} for q in questions
    }
    for condition in conditions:
        label = CONDITIONS[condition]
        for mode in modes:
            ranks: list[int | None] = []
            article_hits: list[bool] = []
            contexts: list[dict[int, bool]] = []
            t0 = time.perf_counter()
            for index, (q, q_gold) in enumerate(zip(questions, gold, strict=True), start=1):
                passages = _retrieve(assistant, q, mode, condition)
                texts = [p.text for p in passages]
                rank = first_hit_rank(texts, q.answer)
                ranks.append(rank)
                article_hits.append(any(p.article_id in q_gold for p in passages))
                contexts.append(context_hits(texts, q.answer))
                per_question[q.id][f"rank/{mode}/{condition}"] = rank
                if progress is not None:
                    progress(f"{mode} ({label})", index, len(questions))
            scores = _retrieval_scores(ranks, article_hits, contexts)
            scores["ms_per_query"] = (time.perf_counter() - t0) * 1000 / max(1, len(questions))
            results["retrieval"].setdefault(label, {})[mode] = scores
            logger.info("%s / %s: %s", mode, label, scores)
        if not answers:
            continue
        in_text, in_cited, abstained, latencies = [], [], [], []
        cited_gold: list[float] = []  # per citation: is its article one the question was written from
        for index, (q, q_gold) in enumerate(zip(questions, gold, strict=True), start=1):
            t0 = time.perf_counter()
            answer = _ask(assistant, q, condition)
            latencies.append((time.perf_counter() - t0) * 1000)
            text_hit = contains_answer(answer.text, q.answer)
            cited_hit = any(contains_answer(c.passage, q.answer) for c in answer.citations)
            in_text.append(1.0 if text_hit else 0.0)
            in_cited.append(1.0 if cited_hit else 0.0)
            abstained.append(1.0 if answer.abstained else 0.0)
            cited_gold += [1.0 if c.article_id in q_gold else 0.0 for c in answer.citations]
            per_question[q.id][f"answer/{condition}"] = {"text_hit": text_hit, "cited_hit": cited_hit}
            if progress is not None:
                progress(f"answers ({label})", index, len(questions))
        results["answers"][label] = {
            "answer_contains": mean(in_text),
            "cited_passage_contains": mean(in_cited),
            "abstained": mean(abstained),
            "cited_article_is_gold": mean(cited_gold),
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
    cs = " | ".join(f"context {c:,}" for c in CONTEXT_CHARS)
    lines += [
        "## Retrieval (a passage is a hit when it contains the answer)",
        "",
        f"| condition | mode | {ks} | MRR@10 | article hit@10 | {cs} | ms/query |",
        "| --- | --- |" + " ---: |" * (len(HIT_KS) + len(CONTEXT_CHARS) + 3),
    ]
    for label, modes in results["retrieval"].items():
        for mode, s in modes.items():
            hits = " | ".join(_f(s[f"hit@{k}"]) for k in HIT_KS)
            ctx = " | ".join(_f(s.get(f"context@{c}")) for c in CONTEXT_CHARS)
            lines.append(
                f"| {label} | {mode} | {hits} | {_f(s['mrr@10'])} | {_f(s['article_hit@10'])} | "
                f"{ctx} | {s['ms_per_query']:.0f} |"
            )
    if results["answers"]:
        lines += [
            "",
            "## Answers (default settings: hybrid retrieval, extractive answer)",
            "",
            "| condition | answer contains it | cited passage contains it | cited article is a gold one "
            "| abstained | p50 ms | p95 ms |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for label, s in results["answers"].items():
            lines.append(
                f"| {label} | {_f(s['answer_contains'])} | {_f(s['cited_passage_contains'])} | "
                f"{_f(s.get('cited_article_is_gold'))} | "
                f"{_f(s['abstained'])} | {s['latency_p50_ms']:.0f} | {s['latency_p95_ms']:.0f} |"
            )
    return "\n".join(lines) + "\n"
