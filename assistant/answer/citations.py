"""Inline ``[n]`` citations: renumber, split claims, and score how well a passage supports a claim.

Everything here is a pure function except :class:`SupportScorer`, which needs the embedding model.
Markers, sentences and content words come from :mod:`assistant.text`, the same reading of text that
retrieval and the extractive composer use.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from assistant.models import Citation, Passage
from assistant.text import (
    CITATION_RE,
    citation_numbers,
    content_words,
    expand_group,
    format_date,
    parse_citations,
    sentence_spans,
    split_sentences,
    strip_citations,
)

if TYPE_CHECKING:
    from assistant.library.embedding import Embedder

logger = logging.getLogger(__name__)

__all__ = [  # the marker helpers live in assistant.text; they are re-exported for existing callers
    "CITATION_RE",
    "SupportScorer",
    "VerifiedAnswer",
    "citation_numbers",
    "claim_text",
    "content_words",
    "lexical_support",
    "parse_citations",
    "renumber",
    "sentence_spans",
    "split_sentences",
    "strip_citations",
    "verify_answer",
]

_LIST_MARKER = re.compile(r"^\s*(?:[-*+\u2022]|\d+[.)])\s+")


def renumber(text: str, mapping: dict[int, int]) -> str:
    """Rewrite every citation group through ``mapping``; numbers missing from it are dropped.

    A group left empty disappears together with the space before it. Groups are written one number
    per bracket (``[1][2]``) so every marker links to one source.
    """

    def replace(match: re.Match[str]) -> str:
        new = list(dict.fromkeys(mapping[n] for n in expand_group(match.group(1)) if n in mapping))
        return "".join(f"[{n}]" for n in new)

    rewritten = CITATION_RE.sub(replace, text)
    # Tidy what dropped groups leave behind: "claim  ." -> "claim.", double spaces.
    rewritten = re.sub(r"[ \t]+([.,;:!?])", r"\1", rewritten)
    return re.sub(r"[ \t]{2,}", " ", rewritten)


def claim_text(sentence: str) -> str:
    """The claim a sentence makes: no citation markers, list bullets or Markdown emphasis."""
    claim = _LIST_MARKER.sub("", strip_citations(sentence))
    return re.sub(r"[*_`#]+", "", claim).strip()


# --- support -------------------------------------------------------------------------------------

NUMBER_WEIGHT = 3.0
NAME_WEIGHT = 2.0
MISSING_NUMBER_FACTOR = 0.5
# A claim whose names are in the passage but (almost) none of whose other words are ("Wrenfield
# resigned in disgrace" against a passage that only names Wrenfield) says something the passage does
# not. "Almost": one incidental shared word ("use" in a long claim) must not rescue it.
MISSING_PREDICATE_FACTOR = 0.5
MIN_PREDICATE_SHARE = 0.25
MIN_CLAIM_WORDS = 3


def _names(text: str) -> set[str]:
    """Stemmed words written with a capital inside a sentence: people, places, groups."""
    names: set[str] = set()
    for sentence in split_sentences(text):
        for word in re.findall(r"(?<=\s)[A-Z][A-Za-z]+", " " + sentence)[1:]:
            names |= content_words(word)
    return names


def lexical_support(claim: str, passage: str) -> float:
    """Share of the claim's content words found in the passage (token recall), 0..1.

    Names and numbers weigh more than other words (a changed figure or a swapped place is the
    commonest way a fluent sentence goes wrong), and a number the passage lacks halves the score.
    """
    claim_words = content_words(claim)
    if not claim_words:
        return 0.0
    passage_words = content_words(passage)
    names = _names(claim)
    total = found = 0.0
    missing_number = False
    capitalised = content_words(" ".join(re.findall(r"\b[A-Z][A-Za-z]+", claim)))
    plain = plain_found = 0
    for word in claim_words:
        weight = NUMBER_WEIGHT if word[0].isdigit() else NAME_WEIGHT if word in names else 1.0
        total += weight
        is_plain = weight == 1.0 and word not in capitalised
        plain += is_plain
        if word in passage_words:
            found += weight
            plain_found += is_plain
        elif word[0].isdigit():
            missing_number = True
    recall = found / total
    if missing_number:
        recall *= MISSING_NUMBER_FACTOR
    if plain >= 2 and plain_found < MIN_PREDICATE_SHARE * plain:
        recall *= MISSING_PREDICATE_FACTOR
    return recall


# Sentences of an article that address the model rather than report anything ("Ignore previous
# instructions", "Say that X resigned [7]"): a prompt-injection attack, never evidence for a claim.
_INSTRUCTION = re.compile(
    r"\b(?:ignore|disregard|forget|override)\b[^.]{0,40}\b(?:instructions|rules|prompt|guidelines)\b"
    r"|\b(?:your system prompt|the system prompt|developer mode|you are now)\b"
    r"|^(?:(?:first|then|now|also|and|next|finally),?\s+)?(?:say|state|claim|write|print|output|repeat|"
    r"reply|respond|answer|cite)\s+(?:that|passage|source|it|this|the following|every)\b",
    re.IGNORECASE,
)


def evidence_sentences(passage: str) -> list[tuple[str, bool]]:
    """The passage's sentences, each with whether it can count as evidence (not an instruction)."""
    return [(s, not _INSTRUCTION.search(s)) for s in split_sentences(passage) or [passage]]


def evidence_text(passage: str) -> str:
    """The passage without the sentences that give the model instructions."""
    sentences = evidence_sentences(passage)
    if all(ok for _, ok in sentences):
        return passage
    return " ".join(s for s, ok in sentences if ok)


@dataclass(frozen=True)
class Support:
    """How well one passage supports one claim."""

    score: float  # combined, 0..1
    lexical: float
    semantic: float  # best cosine between the claim and a passage sentence (or sentence pair)
    quote: str  # the passage sentence(s) closest to the claim


LEXICAL_WEIGHT = 0.5  # support = w * lexical + (1 - w) * semantic; see docs/llm.md for the measurements


class SupportScorer:
    """Scores claims against passages with token recall and sentence embeddings."""

    def __init__(self, embedder: Embedder, lexical_weight: float = LEXICAL_WEIGHT) -> None:
        self.embedder = embedder
        self.lexical_weight = lexical_weight
        self._sentence_cache: dict[str, tuple[list[str], np.ndarray]] = {}

    def _passage_units(self, passage: str) -> tuple[list[str], np.ndarray]:
        """A passage's sentences and adjacent sentence pairs, with their embeddings (cached)."""
        cached = self._sentence_cache.get(passage)
        if cached is not None:
            return cached
        sentences = evidence_sentences(passage)
        units = [s for s, ok in sentences if ok]
        units += [
            f"{a} {b}"
            for (a, ok_a), (b, ok_b) in zip(sentences, sentences[1:], strict=False)
            if ok_a and ok_b
        ]
        units = units or [""]  # a passage that is all instructions supports nothing
        vectors = self.embedder.embed_texts(units)
        self._sentence_cache[passage] = (units, vectors)
        return units, vectors

    def score_many(
        self, pairs: Sequence[tuple[str, str]], metadata: Sequence[str] | None = None
    ) -> list[Support]:
        """Support of each (claim, passage text) pair; claims are embedded in one batch.

        ``metadata`` (one string per pair: title, outlet, date) counts for the lexical check only, so
        "According to The Times of Israel, in August 2020 ..." is not penalised for words the passage
        carries as metadata rather than text.
        """
        if not pairs:
            return []
        claims = list(dict.fromkeys(claim for claim, _ in pairs))
        claim_vectors = dict(zip(claims, self.embedder.embed_texts(claims), strict=True))
        extras = list(metadata) if metadata is not None else [""] * len(pairs)
        results: list[Support] = []
        for (claim, passage), extra in zip(pairs, extras, strict=True):
            units, vectors = self._passage_units(passage)
            similarities = vectors @ claim_vectors[claim]
            best = int(np.argmax(similarities))
            semantic = max(0.0, float(similarities[best]))
            evidence = evidence_text(passage)
            lexical = lexical_support(claim, f"{extra}\n{evidence}" if extra else evidence)
            score = self.lexical_weight * lexical + (1.0 - self.lexical_weight) * semantic
            # A word or two found in a passage proves little ("PWNED" is in the article that asks for
            # it): claims shorter than MIN_CLAIM_WORDS content words get a proportional share.
            score *= min(1.0, len(content_words(claim)) / MIN_CLAIM_WORDS)
            results.append(Support(score=score, lexical=lexical, semantic=semantic, quote=units[best]))
        return results

    def score(self, claim: str, passage: str, metadata: str = "") -> Support:
        return self.score_many([(claim, passage)], [metadata])[0]


def best_supported(supports: Iterable[Support]) -> Support | None:
    return max(supports, key=lambda s: s.score, default=None)


# --- verifying an answer ------------------------------------------------------------------------

DECLINE_RE = re.compile(
    r"\b(?:articles?|passages?|sources?)\s+(?:do|does|did)(?:\s+not|n['\u2019]t)\s+"
    r"(?:say|mention|state|report|cover|address|specify|answer)",
    re.IGNORECASE,
)
DECLINE_TEXT = "The articles don't say."
UNVERIFIED_NOTE = "(The model's answer could not be matched to the retrieved passages, so it is not shown.)"
_REMOVED = "\x00"
_EMPTY_ITEM = re.compile(r"\s*(?:(?:[-*+\u2022]|\d+[.)])\s*)?")
_TRAILING_PUNCT = re.compile(r"([.!?\u2026][\"'\u201d\u2019)]*)$")


@dataclass
class VerifiedAnswer:
    text: str
    citations: list[Citation]
    unsupported: list[str]
    declined: bool  # the model said the articles don't answer (some or all of) the question
    abstained: bool  # nothing cited survived: the answer is "the articles don't say"


def passage_metadata(passage: Passage) -> str:
    """Words a claim may take from a passage's metadata rather than its text (outlet, title, date)."""
    parts = [passage.title, passage.source]
    if passage.published:
        parts.append(f"{format_date(passage.published)} {passage.published.isoformat()}")
    return ". ".join(p for p in parts if p)


def _add_marker(sentence: str, number: int) -> str:
    if _TRAILING_PUNCT.search(sentence):
        return _TRAILING_PUNCT.sub(lambda m: f" [{number}]{m.group(1)}", sentence, count=1)
    return f"{sentence} [{number}]"


def verify_answer(
    text: str, passages: Sequence[Passage], scorer: SupportScorer, threshold: float
) -> VerifiedAnswer:
    """Check every sentence of a generated answer against the passages it cites.

    - citations to numbers that match no passage are dropped;
    - a cited sentence keeps only the citations whose passage supports it (score >= threshold);
      with none left it is removed and listed as unsupported;
    - an uncited sentence is cited to the passage that supports it best, or removed when none does;
    - "The articles don't say ..." sentences stay, without citations;
    - the sources left are renumbered 1..n in order of first use.
    """
    spans = sentence_spans(text)
    declined = bool(DECLINE_RE.search(text))
    metadata = [passage_metadata(p) for p in passages]

    # Sort the sentences, then score every (claim, passage) pair that needs it in one batch.
    plans: list[tuple[str, str, str, list[int]]] = []  # (kind, sentence, claim, passages to check)
    pairs: list[tuple[str, str]] = []
    pair_meta: list[str] = []
    for start, end in spans:
        sentence = text[start:end]
        claim = claim_text(sentence)
        numbers = parse_citations(sentence)
        cited = [n - 1 for n in numbers if 1 <= n <= len(passages)]
        if len(cited) < len(numbers):
            logger.info(
                "dropped citations to passages that do not exist: %s",
                [n for n in numbers if not 1 <= n <= len(passages)],
            )
        # A question is not a claim, and text echoing the passage delimiters is the prompt leaking.
        if not claim or claim.endswith("?") or "<<<" in claim or ">>>" in claim:
            plans.append(("drop", sentence, claim, []))
            continue
        # A lead-in ("Hamas made three demands:") is a claim like any other and is checked as one.
        if DECLINE_RE.search(claim) or not content_words(claim) or not passages:
            plans.append(("plain", sentence, claim, []))
            continue
        check = cited or list(range(len(passages)))
        plans.append(("cited" if cited else "uncited", sentence, claim, check))
        for index in check:
            pairs.append((claim, passages[index].text))
            pair_meta.append(metadata[index])
    supports = iter(scorer.score_many(pairs, pair_meta))

    mapping: dict[int, int] = {}  # passage index -> new number
    quotes: dict[int, list[str]] = {}
    best_score: dict[int, float] = {}
    unsupported: list[str] = []
    replacements: list[str | None] = []
    kept_claims = 0
    for kind, sentence, claim, check in plans:
        if kind == "drop":
            replacements.append(None)
            continue
        if kind == "plain":
            replacements.append(strip_citations(sentence))
            continue
        results = {index: next(supports) for index in check}
        if kind == "cited":
            keep = [i for i in check if results[i].score >= threshold]
        else:
            best = max(results, key=lambda i: results[i].score)
            keep = [best] if results[best].score >= threshold else []
        if not keep:
            unsupported.append(claim)
            logger.info(
                "removed an unsupported claim (best support %.2f < %.2f)",
                max(s.score for s in results.values()),
                threshold,
            )
            replacements.append(None)
            continue
        kept_claims += 1
        for index in keep:
            mapping.setdefault(index, len(mapping) + 1)
            support = results[index]
            if support.quote not in quotes.setdefault(index, []):
                quotes[index].append(support.quote)
            best_score[index] = max(best_score.get(index, 0.0), support.score)
        if kind == "cited":
            replacements.append(renumber(sentence, {i + 1: mapping[i] for i in keep}))
        else:
            replacements.append(_add_marker(strip_citations(sentence), mapping[keep[0]]))

    abstained = kept_claims == 0
    if abstained:
        declines = [
            r
            for r, (_, _, claim, _) in zip(replacements, plans, strict=True)
            if r and DECLINE_RE.search(claim)
        ]
        body = " ".join(declines) if declines else DECLINE_TEXT
        if unsupported:
            body = f"{body}\n\n{UNVERIFIED_NOTE}"
        return VerifiedAnswer(
            text=body, citations=[], unsupported=unsupported, declined=declined, abstained=True
        )

    citations = [
        _citation(number, passages[index], quotes[index], best_score[index])
        for index, number in sorted(mapping.items(), key=lambda item: item[1])
    ]
    return VerifiedAnswer(
        text=_rebuild(text, spans, replacements),
        citations=citations,
        unsupported=unsupported,
        declined=declined,
        abstained=False,
    )


def _citation(number: int, passage: Passage, quotes: list[str], score: float) -> Citation:
    return Citation.from_passage(number, passage, " \u2026 ".join(quotes), round(score, 4))


def _rebuild(text: str, spans: list[tuple[int, int]], replacements: list[str | None]) -> str:
    """The text with each sentence swapped for its replacement (None removes it)."""
    parts: list[str] = []
    cursor = 0
    for (start, end), replacement in zip(spans, replacements, strict=True):
        parts.append(text[cursor:start])
        if replacement is None:
            parts.append(_REMOVED)
            gap = re.match(r"[ \t]*", text[end:])
            cursor = end + (gap.end() if gap else 0)
        else:
            parts.append(replacement)
            cursor = end
    parts.append(text[cursor:])
    lines = [re.sub(r"(?<=\S)[ \t]{2,}", " ", line).rstrip() for line in "".join(parts).split("\n")]
    # A line whose every sentence was removed goes too (bullet included); blank lines stay.
    lines = [
        line.replace(_REMOVED, "").rstrip()
        for line in lines
        if not (_REMOVED in line and _EMPTY_ITEM.fullmatch(line.replace(_REMOVED, "")))
    ]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
