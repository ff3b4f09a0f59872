"""Sentence splitting with character offsets, and the lexical tokenizer shared by BM25 and the composer."""

from __future__ import annotations

import re
from functools import lru_cache

from nltk.stem.snowball import EnglishStemmer

# Words ending in a period that do not end a sentence.
_ABBREVIATIONS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "gen",
        "maj",
        "lt",
        "col",
        "capt",
        "cmdr",
        "sgt",
        "adm",
        "rep",
        "sen",
        "gov",
        "pres",
        "sec",
        "st",
        "jr",
        "sr",
        "rev",
        "hon",
        "inc",
        "ltd",
        "co",
        "corp",
        "dept",
        "est",
        "fig",
        "no",
        "vs",
        "etc",
        "al",
        "approx",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "mt",
        "ft",
        "u.s",
        "u.k",
        "u.n",
        "e.g",
        "i.e",
        "a.m",
        "p.m",
        "d.c",
    ]
)
_BOUNDARY = re.compile(r"[.!?]+[\"'”’)\]]*\s+|\n+")
_WORD = re.compile(r"[a-z0-9]+(?:['’.][a-z0-9]+)*")
_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "been",
        "being",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "for",
        "from",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "hers",
        "him",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "me",
        "more",
        "most",
        "my",
        "no",
        "nor",
        "not",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "also",
        "about",
        "after",
        "again",
        "against",
        "all",
        "am",
        "any",
        "because",
        "before",
        "below",
        "between",
        "both",
        "during",
        "each",
        "few",
        "further",
        "here",
        "s",
        "t",
        "don",
        "now",
        "ve",
        "ll",
        "re",
        "d",
        "m",
        "o",
        "y",
        "says",
        "said",
        "say",
        "tell",
        "told",
        "according",
        "whats",
    ]
)


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """(start, end) offsets of the sentences of text[start:end], whitespace trimmed, never empty."""
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    cursor = start
    for match in _BOUNDARY.finditer(text, start, end):
        if match.group(0)[0] in ".!?" and not _ends_sentence(text, cursor, match.start()):
            continue
        cut = match.start() + len(match.group(0).rstrip())
        _append_trimmed(text, cursor, cut, spans)
        cursor = match.end()
    _append_trimmed(text, cursor, end, spans)
    return spans


def _ends_sentence(text: str, sentence_start: int, dot: int) -> bool:
    if text[dot] != ".":
        return True
    word_start = dot
    while word_start > sentence_start and not text[word_start - 1].isspace():
        word_start -= 1
    word = text[word_start:dot].strip("\"'“‘([").lower()
    if word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha()):
        return False
    # "U.S." style initialisms and numbers such as "3." in lists.
    if re.fullmatch(r"(?:[a-z]\.)+[a-z]", word):
        return False
    following = text[dot + 1 : dot + 3].lstrip()
    return not (following[:1].islower())


def _append_trimmed(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        spans.append((start, end))


_stemmer = EnglishStemmer()


@lru_cache(maxsize=200_000)
def _stem(word: str) -> str:
    return _stemmer.stem(word)


def tokenize(text: str) -> list[str]:
    """Lower-cased, stemmed content words: the lexical view of a text used by BM25 and the composer."""
    words = _WORD.findall(text.lower().replace("’", "'"))
    out = []
    for word in words:
        word = word.replace("'s", "").replace(".", "")
        if word and word not in _STOPWORDS:
            out.append(_stem(word))
    return out
