"""The embedded default answerer: no model, no network. It quotes, it never paraphrases.

From the retrieved passages it picks the sentences that answer the question (lexical coverage of the
question's content words, weighted by how rare each word is among the candidates, plus the passage's
dense similarity), groups them by article, oldest article first, and writes each verbatim with an
inline [n] pointing at its passage. It abstains when no passage is close enough to the question or no
sentence covers enough of it.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from assistant.answer.base import text_deltas
from assistant.config import AnswerSettings
from assistant.models import Answer, AnswerReady, Citation, Passage, StreamEvent
from assistant.text import format_date, sentence_spans, tokenize

ABSTAIN_TEXT = "The articles don't say. None of the ingested articles answers this question."

# Words that make a question a question, not what it is about.
_QUESTION_WORDS = frozenset(
    tokenize("happen happened mention mentioned report reported article articles news much many")
)
# A few verbs that news reports say in several ways ("demanded", "conditions", "insisted on").
_RELATED = {
    "demand": ("condit", "insist", "call", "want", "ask", "requir"),
    "want": ("demand", "seek", "insist"),
    "say": ("state", "told", "announc"),
    "kill": ("dead", "death", "die"),
    "meet": ("met", "visit", "talk"),
    "visit": ("trip", "travel", "met"),
    "pay": ("fund", "payment", "money", "aid"),
}
_RELATED_WEIGHT = 0.6
_MIN_COVERAGE = 0.40  # share of the question's weighted terms the best sentence (in context) must hold
_SENTENCE_SHARE = 0.6  # weight of a sentence's own words in its coverage; the rest is its passage's
_MIN_WORDS = 5


@dataclass
class _Candidate:
    passage_rank: int
    passage: Passage
    start: int  # offsets into the article
    end: int
    text: str
    coverage: float
    score: float


_YEAR = re.compile(r"\b(?:19|20)\d{2}\b")


def question_terms(question: str) -> list[str]:
    years = set(_YEAR.findall(question))
    return [t for t in dict.fromkeys(tokenize(question)) if t not in _QUESTION_WORDS and t not in years]


def _about_years(candidate: _Candidate, years: set[str]) -> bool:
    """Published in one of the years or naming one; an undated article may be from any year."""
    published = candidate.passage.published
    if published is None:
        return True
    return str(published.year) in years or any(y in candidate.passage.text for y in years)


def compose(question: str, passages: list[Passage], settings: AnswerSettings) -> Answer:
    terms = question_terms(question)
    candidates = _candidates(passages)
    if not terms or not candidates:
        return abstain(question, passages)
    weights = _term_weights(terms, candidates)
    best_dense = max((p.dense_score or 0.0) for p in passages)
    # A sentence answers in the context of its passage: "he had to stay in Doha" needs the sentence
    # before it to name Haniyeh. Coverage blends the sentence's own words with its passage's.
    passage_cover = {p.id: _coverage(terms, weights, set(tokenize(p.text))) for p in passages}
    for cand in candidates:
        own = _coverage(terms, weights, set(tokenize(cand.text)))
        cand.coverage = _SENTENCE_SHARE * own + (1 - _SENTENCE_SHARE) * passage_cover[cand.passage.id]
        dense = cand.passage.dense_score or 0.0
        # Which sentences to quote is decided mostly by their own words.
        cand.score = 0.55 * own + 0.15 * cand.coverage + 0.3 * dense - 0.01 * cand.passage_rank
    # "What did Hamas demand in 2024?": a year in the question keeps the answer to that year; facts
    # from other years are left out rather than mixed in, and with nothing from that year it abstains.
    years = set(_YEAR.findall(question))
    if years:
        candidates = [c for c in candidates if _about_years(c, years)]
        if not candidates:
            return abstain(question, passages)
    top = max(candidates, key=lambda c: c.score)
    if best_dense < settings.min_relevance or top.coverage < _MIN_COVERAGE:
        return abstain(question, passages)
    chosen = _select(candidates, top.score, settings)
    return _write(question, chosen, passages)


def abstain(question: str, passages: list[Passage]) -> Answer:
    return Answer(question=question, text=ABSTAIN_TEXT, abstained=True, citations=[], passages=passages)


def _candidates(passages: list[Passage]) -> list[_Candidate]:
    seen: set[tuple[str, int]] = set()
    out: list[_Candidate] = []
    for rank, passage in enumerate(passages):
        for s, e in sentence_spans(passage.text):
            text = passage.text[s:e]
            key = (passage.article_id, passage.start + s)
            if key in seen or len(text.split()) < _MIN_WORDS:
                continue
            seen.add(key)
            out.append(_Candidate(rank, passage, passage.start + s, passage.start + e, text, 0.0, 0.0))
    return out


def _term_weights(terms: list[str], candidates: list[_Candidate]) -> dict[str, float]:
    """Inverse document frequency of each term among the candidate sentences (rarer = more telling)."""
    n = len(candidates)
    bags = [set(tokenize(c.text)) for c in candidates]
    weights = {}
    for term in terms:
        df = sum(1 for bag in bags if term in bag)
        weights[term] = max(math.log((n + 1) / (df + 0.5)), 0.1)
    return weights


def _coverage(terms: list[str], weights: dict[str, float], bag: set[str]) -> float:
    total = sum(weights.values())
    got = 0.0
    for term in terms:
        if term in bag:
            got += weights[term]
        elif any(rel in bag for rel in _RELATED.get(term, ())):
            got += _RELATED_WEIGHT * weights[term]
    return got / total if total else 0.0


def _select(candidates: list[_Candidate], best: float, settings: AnswerSettings) -> list[_Candidate]:
    """The strongest sentences, a few per article, so that every relevant article gets its say."""
    floor = max(0.55 * best, _MIN_COVERAGE * 0.7)
    by_article: dict[str, list[_Candidate]] = defaultdict(list)
    for cand in sorted(candidates, key=lambda c: -c.score):
        if cand.score >= floor and cand.coverage >= _MIN_COVERAGE * 0.6:
            bucket = by_article[cand.passage.article_id]
            if len(bucket) < settings.max_sentences_per_article:
                bucket.append(cand)
    # Round-robin over articles (best article first) until the sentence budget is spent.
    ordered = sorted(by_article.values(), key=lambda b: -b[0].score)
    chosen: list[_Candidate] = []
    depth = 0
    while len(chosen) < settings.max_sentences and any(depth < len(b) for b in ordered):
        for bucket in ordered:
            if depth < len(bucket) and len(chosen) < settings.max_sentences:
                chosen.append(bucket[depth])
        depth += 1
    return chosen


def _write(question: str, chosen: list[_Candidate], passages: list[Passage]) -> Answer:
    groups: dict[str, list[_Candidate]] = defaultdict(list)
    for cand in chosen:
        groups[cand.passage.article_id].append(cand)

    def article_order(aid: str) -> tuple[int, str, str]:
        p = groups[aid][0].passage
        return (0 if p.published else 1, p.published.isoformat() if p.published else "", p.title)

    numbers: dict[str, int] = {}
    quotes: dict[str, list[_Candidate]] = defaultdict(list)
    by_passage: dict[str, Passage] = {}
    blocks: list[str] = []
    for aid in sorted(groups, key=article_order):
        sentences = sorted(groups[aid], key=lambda c: c.start)
        lines = []
        for cand in sentences:
            pid = cand.passage.id
            if pid not in numbers:
                numbers[pid] = len(numbers) + 1
                by_passage[pid] = cand.passage
            quotes[pid].append(cand)
            lines.append(f"{_escape_markdown(cand.text)} [{numbers[pid]}]")
        blocks.append(f"{heading(sentences[0].passage)}\n\n" + " ".join(lines))
    citations = [
        Citation.from_passage(
            n, by_passage[pid], _span_text(by_passage[pid], quotes[pid]), by_passage[pid].score
        )
        for pid, n in numbers.items()
    ]
    return Answer(question=question, text="\n\n".join(blocks), citations=citations, passages=passages)


def _span_text(passage: Passage, sentences: list[_Candidate]) -> str:
    """The quoted sentences as one verbatim span of the passage (first to last), for highlighting."""
    start = min(c.start for c in sentences) - passage.start
    end = max(c.end for c in sentences) - passage.start
    return passage.text[start:end]


def heading(passage: Passage) -> str:
    """'**The Washington Post, 20 March 2024** — Title': who said it and when, before what they said."""
    source = passage.source or "Unknown outlet"
    when = format_date(passage.published, passage.published_inferred)
    title = f" — *{_escape_markdown(passage.title)}*" if passage.title else ""
    return f"**{_escape_markdown(source)}, {when}**{title}"


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|])")


def _escape_markdown(text: str) -> str:
    """Article text is shown as text: Markdown control characters are escaped, so [n] stays ours."""
    return _MD_SPECIAL.sub(r"\\\1", text)


class ExtractiveAnswerer:
    """The :class:`~assistant.answer.base.Answerer` that quotes: :func:`compose`, streamed."""

    backend = "extractive"

    def __init__(self, settings: AnswerSettings) -> None:
        self.settings = settings

    def stream(self, question: str, passages: list[Passage]) -> Iterator[StreamEvent]:
        answer = compose(question, passages, self.settings)
        answer.backend = self.backend
        yield from text_deltas(answer.text)
        yield AnswerReady(answer=answer)
