"""Answer-quality metrics computed from text alone (no model, no LLM): pure functions.

Every per-question metric returns ``None`` when it does not apply (e.g. retrieval metrics of a
question that has no gold article); summaries average over the questions where it applies.

The sentence splitter and the word matcher here are deliberately independent of
:mod:`assistant.text`: an evaluation that judged answers with the very tokenizer and stemmer that
wrote and verified them would share their blind spots, and a change to the answer path would move
the yardstick along with it. Only the stop-word list and the ``[n]`` marker syntax are shared (the
same words carry no content, and a marker is a marker, on both sides).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence

from assistant.text import CITATION_RE, STOPWORDS, citation_numbers

SUPPORT_THRESHOLD = 0.5
"""Share of a sentence's content words that must occur in a passage for it to support the sentence."""

EVIDENCE_OVERLAP = 0.6
"""Share of an evidence quote's tokens that a passage must hold when it does not contain the quote."""

_WORD = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?")
_MARKERS_AFTER_END = re.compile(r"([.!?][\"”’)]*)((?:\s*" + CITATION_RE.pattern + r")+)")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([.!?,;:])")
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])[\"”’)]*\s+(?=[A-Z0-9\"“‘(*\[-])|\n+")


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens, with a trailing plural/possessive 's' removed so 'talks' meets 'talk'."""
    out = []
    for word in _WORD.findall(text.lower().replace("’", "'")):
        word = word.split("'")[0]
        if len(word) > 3 and word.endswith("s") and not word.endswith("ss") and word not in STOPWORDS:
            word = word[:-1]
        out.append(word)
    return out


def content_words(text: str) -> set[str]:
    return {t for t in tokens(CITATION_RE.sub(" ", text)) if t not in STOPWORDS}


def _normalise(text: str) -> str:
    return " ".join(text.lower().replace("’", "'").replace("“", '"').replace("”", '"').split())


# --- retrieval -------------------------------------------------------------------------------------


def hit_at_k(retrieved_article_ids: Sequence[str], gold: Iterable[str], k: int | None = None) -> float | None:
    """1.0 when one of the first k retrieved passages is from a gold article."""
    gold_set = set(gold)
    if not gold_set:
        return None
    ranked = retrieved_article_ids if k is None else retrieved_article_ids[:k]
    return 1.0 if any(a in gold_set for a in ranked) else 0.0


def reciprocal_rank(retrieved_article_ids: Sequence[str], gold: Iterable[str]) -> float | None:
    """1/rank of the first passage from a gold article; 0.0 when none was retrieved."""
    gold_set = set(gold)
    if not gold_set:
        return None
    for rank, article_id in enumerate(retrieved_article_ids, start=1):
        if article_id in gold_set:
            return 1.0 / rank
    return 0.0


def quote_found(quote: str, passage: str) -> bool:
    """The passage contains the quote, or holds at least EVIDENCE_OVERLAP of its tokens."""
    if _normalise(quote) in _normalise(passage):
        return True
    quote_tokens = Counter(tokens(quote))
    if not quote_tokens:
        return False
    passage_tokens = Counter(tokens(passage))
    shared = sum((quote_tokens & passage_tokens).values())
    return shared / sum(quote_tokens.values()) >= EVIDENCE_OVERLAP


def evidence_recall(evidence: Sequence[str], retrieved_contexts: Sequence[str]) -> float | None:
    """Share of the evidence quotes found in some retrieved passage."""
    if not evidence:
        return None
    found = sum(1 for quote in evidence if any(quote_found(quote, p) for p in retrieved_contexts))
    return found / len(evidence)


# --- answer ----------------------------------------------------------------------------------------


def key_fact_recall(response: str, key_facts: Sequence[Sequence[str]]) -> float | None:
    """Share of key facts of which the answer states some variant (case-insensitive)."""
    if not key_facts:
        return None
    text = _normalise(response)
    found = sum(1 for variants in key_facts if any(_normalise(v) in text for v in variants))
    return found / len(key_facts)


def cited_sentences(response: str) -> list[tuple[str, list[int]]]:
    """Split a Markdown answer into sentences, each with the [n] markers it carries.

    Markers written after the full stop ("... demanded money. [1]") belong to the sentence before.
    """
    moved = _MARKERS_AFTER_END.sub(lambda m: f"{m.group(2)}{m.group(1)}", response)
    out: list[tuple[str, list[int]]] = []
    for piece in _SENTENCE_BREAK.split(moved):
        piece = piece.strip()
        if not piece:
            continue
        numbers = citation_numbers(piece)
        sentence = _SPACE_BEFORE_PUNCT.sub(r"\1", " ".join(CITATION_RE.sub(" ", piece).split()))
        out.append((sentence, list(dict.fromkeys(numbers))))
    return out


def support(sentence: str, passage: str) -> float:
    """Content-word recall of the sentence in the passage (1.0 for a sentence with no content words)."""
    words = content_words(sentence)
    if not words:
        return 1.0
    return len(words & content_words(passage)) / len(words)


def supports(sentence: str, passage: str) -> bool:
    return support(sentence, passage) >= SUPPORT_THRESHOLD


def citation_precision(
    response: str, citations: dict[int, tuple[str, str]], gold: Iterable[str]
) -> float | None:
    """Share of citations that come from a gold article and support a sentence that cites them.

    ``citations`` maps each citation number to (article id, passage text).
    """
    if not citations:
        return None
    gold_set = set(gold)
    sentences = cited_sentences(response)
    good = 0
    for number, (article_id, passage) in citations.items():
        if article_id not in gold_set:
            continue
        if any(number in numbers and supports(sentence, passage) for sentence, numbers in sentences):
            good += 1
    return good / len(citations)


def citation_recall(cited_article_ids: Iterable[str], gold: Iterable[str]) -> float | None:
    """Share of the gold articles that the answer cites."""
    gold_set = set(gold)
    if not gold_set:
        return None
    return len(gold_set & set(cited_article_ids)) / len(gold_set)


def faithfulness(response: str, citations: dict[int, tuple[str, str]]) -> float | None:
    """Share of the answer's cited sentences supported by the passages they cite (taken together).

    A marker pointing at no citation counts as unsupported. ``None`` when no sentence cites.
    """
    cited = [(s, numbers) for s, numbers in cited_sentences(response) if numbers]
    if not cited:
        return None
    supported = 0
    for sentence, numbers in cited:
        passages = " ".join(citations[n][1] for n in numbers if n in citations)
        if passages and supports(sentence, passages):
            supported += 1
    return supported / len(cited)


# --- across questions ------------------------------------------------------------------------------


def abstention_scores(abstained: Sequence[bool], answerable: Sequence[bool]) -> dict[str, float | None]:
    """Precision and recall of abstaining, the positive class being 'abstained' / 'unanswerable'."""
    true_pos = sum(1 for a, ok in zip(abstained, answerable, strict=True) if a and not ok)
    predicted = sum(1 for a in abstained if a)
    actual = sum(1 for ok in answerable if not ok)
    return {
        "abstention_precision": true_pos / predicted if predicted else None,
        "abstention_recall": true_pos / actual if actual else None,
    }


def percentile(values: Sequence[float], q: float) -> float | None:
    """q-th percentile (0-100) with linear interpolation between closest ranks; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    if low == high:
        return float(ordered[low])
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def mean(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


# --- names ----------------------------------------------------------------------------------------

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

LABELS = {
    "hit_at_1": "Retrieval hit@1",
    "hit_at_k": "Retrieval hit@k",
    "mrr": "Retrieval MRR",
    "evidence_recall": "Evidence recall@k",
    "key_fact_recall": "Key-fact recall",
    "citation_precision": "Citation precision",
    "citation_recall": "Citation recall",
    "faithfulness": "Faithfulness (proxy)",
    "abstention_precision": "Abstention precision",
    "abstention_recall": "Abstention recall",
    "answered_rate": "Answered (answerable questions)",
    "judge_faithfulness": "LLM judge: faithful",
    "judge_correctness": "LLM judge: correctness",
    "latency_p50_ms": "Latency p50 (ms)",
    "latency_p95_ms": "Latency p95 (ms)",
}
"""How each metric is named in the reports, the CLI table and the UI."""

RATIO_METRICS = [*HEADLINE_METRICS, "hit_at_1", "answered_rate", "judge_faithfulness", "judge_correctness"]
"""The metrics on a 0..1 scale, in the order the reports show them."""

# --- one question, and a whole run -----------------------------------------------------------------

PER_QUESTION_METRICS = ("hit_at_1", *(name for name in HEADLINE_METRICS if not name.startswith("abstention")))


def score_row(row: dict) -> dict[str, float | None]:
    """Per-question metrics of an evaluation row (ragas field names plus ids, see runner.py)."""
    gold = row.get("gold_article_ids", [])
    retrieved = row.get("retrieved_article_ids", [])
    citations = {c["number"]: (c["article_id"], c["passage"]) for c in row.get("citations", [])}
    answerable = row.get("answerable", True)
    return {
        "hit_at_1": hit_at_k(retrieved, gold, 1),
        "hit_at_k": hit_at_k(retrieved, gold),
        "mrr": reciprocal_rank(retrieved, gold),
        "evidence_recall": evidence_recall(row.get("evidence", []), row.get("retrieved_contexts", [])),
        "key_fact_recall": key_fact_recall(row.get("response", ""), row.get("key_facts", []))
        if answerable
        else None,
        "citation_precision": citation_precision(row.get("response", ""), citations, gold)
        if answerable
        else None,
        "citation_recall": citation_recall((a for a, _ in citations.values()), gold) if answerable else None,
        "faithfulness": faithfulness(row.get("response", ""), citations),
    }


FAIL_KEY_FACTS = 0.5
"""An answerable question fails when its answer states less than this share of the key facts."""


def failures(row: dict, metrics: dict[str, float | None]) -> list[str]:
    """Why a question counts as failed (empty when it passed); shown first in the reports."""
    reasons: list[str] = []
    if row.get("error"):
        return [f"error: {row['error']}"]
    if not row.get("answerable", True):
        if not row.get("abstained"):
            reasons.append("answered an unanswerable question")
        return reasons
    if row.get("abstained"):
        reasons.append("abstained")
    if metrics.get("hit_at_k") == 0.0:
        reasons.append("no gold passage retrieved")
    kfr = metrics.get("key_fact_recall")
    if kfr is not None and kfr < FAIL_KEY_FACTS and not row.get("abstained"):
        reasons.append(f"key facts {kfr:.0%}")
    faith = metrics.get("faithfulness")
    if faith is not None and faith < 1.0:
        reasons.append(f"unsupported cited sentences ({faith:.0%} supported)")
    return reasons


def summarise(rows: Sequence[dict]) -> dict:
    """Means of the per-question metrics, abstention scores, latency percentiles, per-category means."""
    summary: dict = {"questions": len(rows)}
    for name in PER_QUESTION_METRICS:
        summary[name] = mean(r["metrics"].get(name) for r in rows)
    summary.update(
        abstention_scores([bool(r.get("abstained")) for r in rows], [r.get("answerable", True) for r in rows])
    )
    answerable = [r for r in rows if r.get("answerable", True)]
    summary["answered_rate"] = (
        sum(1 for r in answerable if not r.get("abstained")) / len(answerable) if answerable else None
    )
    latencies = [float(r["latency_ms"]) for r in rows if r.get("latency_ms") is not None]
    summary["latency_p50_ms"] = percentile(latencies, 50)
    summary["latency_p95_ms"] = percentile(latencies, 95)
    summary["failed"] = sum(1 for r in rows if r.get("failures"))
    summary["errors"] = sum(1 for r in rows if r.get("error"))
    by_category: dict[str, dict] = {}
    for category in sorted({r.get("category", "") for r in rows}):
        members = [r for r in rows if r.get("category", "") == category]
        by_category[category] = {
            "questions": len(members),
            "failed": sum(1 for r in members if r.get("failures")),
        }
        for name in ("hit_at_k", "key_fact_recall", "citation_precision", "faithfulness"):
            by_category[category][name] = mean(r["metrics"].get(name) for r in members)
        if category == "unanswerable":
            by_category[category]["abstained"] = mean(float(bool(r.get("abstained"))) for r in members)
    summary["by_category"] = by_category
    return summary
