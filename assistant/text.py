"""The one text module: sentences, words, stop words, stems, citation markers and dates.

Chunking, BM25, the extractive composer and citation verification all read text through these
functions, so a sentence, a word or a ``[n]`` marker means the same thing everywhere. (The
evaluation metrics keep a deliberately independent matcher; they import only the stop words and the
citation markers from here.)
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from functools import lru_cache

import Stemmer

# --- sentences ----------------------------------------------------------------------------------

# Words ending in a period that do not end a sentence.
_ABBREVIATION_LIST = """
    mr mrs ms dr prof gen maj lt col capt cmdr sgt adm rep sen gov pres sec st jr sr rev hon
    inc ltd co corp dept est fig no vs etc al approx jan feb mar apr jun jul aug sep sept oct nov dec
    mon tue tues wed thu thur thurs fri sat sun mt ft u.s u.k u.n e.g i.e a.m p.m d.c"""
ABBREVIATIONS = frozenset(_ABBREVIATION_LIST.split())
# Abbreviations that are also everyday words ("in the sun. Then ...") count only when capitalised.
_CAPITALISED_ONLY = frozenset({"sat", "sun", "wed"})
_BOUNDARY = re.compile(r"[.!?\u2026]+[\"'\u201d\u2019)\]]*\s+|\n+")
_INITIALISM = re.compile(r"(?:[a-z]\.)+[a-z]")


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """(start, end) offsets of the sentences of text[start:end], whitespace trimmed, never empty.

    Lines (paragraphs, list items) always end a sentence. A period after an abbreviation ("Mr.",
    "U.S.", "Wed. Mar. 5"), an initial ("J. Smith") or before a lower-case word does not. Citation
    markers written after the full stop ("... in Doha. [2] Next") stay with the sentence they follow.
    """
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    cursor = start
    for match in _BOUNDARY.finditer(text, start, end):
        if match.start() < cursor:
            continue  # inside markers already given to the previous sentence
        if match.group(0)[0] in ".!?\u2026" and not _ends_sentence(text, cursor, match.start()):
            continue
        cut = match.start() + len(match.group(0).rstrip())
        trailing = _TRAILING_MARKERS.match(text, cut, end)
        next_start = match.end()
        if trailing and match.group(0)[0] != "\n":
            cut = trailing.end()
            next_start = max(next_start, cut)
        _append_trimmed(text, cursor, cut, spans)
        cursor = next_start
    _append_trimmed(text, cursor, end, spans)
    return spans


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text`` as strings (see :func:`sentence_spans`)."""
    return [text[a:b] for a, b in sentence_spans(text)]


def _ends_sentence(text: str, sentence_start: int, dot: int) -> bool:
    if text[dot] != ".":
        return True
    word_start = dot
    while word_start > sentence_start and not text[word_start - 1].isspace():
        word_start -= 1
    written = text[word_start:dot].strip("\"'\u201c\u2018([")
    word = written.lower()
    if word in _CAPITALISED_ONLY:
        if written[:1].isupper():
            return False
    elif word in ABBREVIATIONS or (len(word) == 1 and word.isalpha()):
        return False
    # "U.S." style initialisms.
    if _INITIALISM.fullmatch(word):
        return False
    following = text[dot + 1 : dot + 3].lstrip()
    return not following[:1].islower()


def _append_trimmed(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        spans.append((start, end))


# --- words --------------------------------------------------------------------------------------

_WORD = re.compile(r"[a-z0-9]+(?:['.][a-z0-9]+|,\d{3}(?!\d))*")
_STOPWORD_LIST = """
    a about above after again against all also am an and any are as at be because been before being
    below between both but by can could d did do does doing don down during each few for from further had
    has have having he her here hers herself him himself his how however i if in into is it its itself
    just ll m me more most my myself no nor not now o of off on once only or other our ours ourselves out
    over own re s same she should so some such t than that the their theirs them themselves then there
    these they this those through to too under until up ve very was we were what whats when where which
    while who whom why will with would y you your yours yourself yourselves
    according say says said tell told"""
STOPWORDS = frozenset(_STOPWORD_LIST.split())
"""Words that carry no content: dropped by BM25, the composer, verification and the metrics."""

SOURCE_WORDS = frozenset({"article", "articles", "passage", "passages", "reported", "reports"})
"""Words a generated claim uses about its sources rather than its facts (ignored by verification)."""

STEMMER = "snowball-english-libstemmer-2.2"
"""Which stemmer made the stems: a BM25 index tokenised by another one is rebuilt."""

_stemmers = threading.local()  # a PyStemmer object is not to be shared between threads


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """The Snowball (Porter 2) stem of a lower-cased word; numbers come back unchanged.

    PyStemmer runs the Snowball project's own C stemmer. (NLTK's Python port, used before, gives the
    same stems but for a handful of words such as "realization", and its import took 1-2 s.)
    """
    if word[:1].isdigit():
        return word
    stemmer = getattr(_stemmers, "english", None)
    if stemmer is None:
        stemmer = _stemmers.english = Stemmer.Stemmer("english")
    return str(stemmer.stemWord(word))


def words(text: str) -> list[str]:
    """Lower-cased words as written: "Hamas's" -> "hamas", "U.S." -> "us", "40,000" -> "40000"."""
    out = []
    for word in _WORD.findall(text.lower().replace("\u2019", "'")):
        word = word.replace("'s", "").replace(".", "").replace(",", "")
        if word:
            out.append(word)
    return out


def tokenize(text: str) -> list[str]:
    """Lower-cased, stemmed content words: the lexical view of a text used by BM25 and the composer."""
    return [stem(word) for word in words(text) if word not in STOPWORDS]


def content_words(text: str) -> set[str]:
    """The stemmed content words of a claim or passage, as citation verification compares them.

    :func:`tokenize` without the words about sources and without single letters; numbers are kept
    whole ("$40 million" -> {"40", "million"}).
    """
    return {
        stem(word)
        for word in words(text)
        if word not in STOPWORDS and word not in SOURCE_WORDS and (len(word) > 1 or word.isdigit())
    }


# --- citation markers ---------------------------------------------------------------------------

# One citation group: [3], [1, 3], [1-2], [1,3-4]. Adjacent groups ([1][3]) are separate matches.
_NUM_OR_RANGE = r"\d{1,3}(?:\s*[-\u2013]\s*\d{1,3})?"
CITATION_RE = re.compile(rf"\[({_NUM_OR_RANGE}(?:\s*,\s*{_NUM_OR_RANGE})*)\]")
_TRAILING_MARKERS = re.compile(r"(?:[ \t]*" + CITATION_RE.pattern + r")+")
_MAX_RANGE = 20  # a "[1-300]" is a typo, not three hundred citations


def expand_group(group: str) -> list[int]:
    """The numbers of one marker's inside: "1, 3-4" -> [1, 3, 4]."""
    numbers: list[int] = []
    for part in group.split(","):
        part = part.strip()
        bounds = re.split(r"\s*[-\u2013]\s*", part)
        if len(bounds) == 2:
            low, high = int(bounds[0]), int(bounds[1])
            if low <= high and high - low < _MAX_RANGE:
                numbers.extend(range(low, high + 1))
            else:
                numbers.extend([low, high])
        else:
            numbers.append(int(part))
    return numbers


def citation_numbers(text: str) -> list[int]:
    """Every cited number in order of appearance, repeats kept."""
    numbers: list[int] = []
    for match in CITATION_RE.finditer(text):
        numbers.extend(expand_group(match.group(1)))
    return numbers


def parse_citations(text: str) -> list[int]:
    """Cited numbers in order of first appearance, each once: "a [2] b [1, 2] c [3-4]" -> [2, 1, 3, 4]."""
    return list(dict.fromkeys(citation_numbers(text)))


def strip_citations(text: str) -> str:
    """The text without its markers."""
    stripped = re.sub(r"[ \t]*" + CITATION_RE.pattern, "", text)
    return re.sub(r"[ \t]{2,}", " ", stripped).strip()


# --- dates --------------------------------------------------------------------------------------


def format_date(day: dt.date | None, inferred: bool = False, unknown: str = "date unknown") -> str:
    """How a publication date is shown to people and to models: "20 March 2024 (date inferred)"."""
    if day is None:
        return unknown
    text = f"{day.day} {day:%B %Y}"
    return f"{text} (date inferred)" if inferred else text
