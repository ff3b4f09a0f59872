"""The embedded default answerer: no model, no network. It quotes, it never paraphrases.

From the retrieved passages it scores every sentence by how much of the question it covers (the
question's content words weighted by how rare each is among the candidates, judged in the sentence,
in its neighbourhood and in its passage) and by its passage's dense similarity. The best sentence
leads. Another sentence joins it only when it says something the answer does not say yet and is
nearly as good an answer: from the same article, or from another article when that article adds a
different fact or a different date — never as padding. Sentences are grouped by article, oldest
first (a single-fact answer opens with its lead's article), each quoted verbatim with an inline [n]
pointing at its passage.

It abstains when the library does not answer: no passage is close enough to the question, no
sentence covers enough of it, a key term of the question (a name, a place, a number, a year) is
found in no retrieved passage — "What did Hamas demand from Saudi Arabia?" over articles that never
name Saudi Arabia — or the best sentence names only the question's other names ("… after stops in
Saudi Arabia and Egypt": neither Hamas nor a demand). ``assess`` exposes that decision's inputs for
calibration.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

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
    "releas": ("free", "freed", "freeing"),
    "free": ("releas",),
    "fire": ("launch", "shot"),
    "launch": ("fire", "shot"),
    "recal": ("order", "call", "home"),
    "leav": ("left",),
}
_RELATED_WEIGHT = 0.6
# A sentence opening with one of these takes its subject from the sentence before.
_PRONOUNS = frozenset(
    ["it", "its", "he", "his", "she", "her", "they", "their", "them", "this", "that", "these", "those"]
)
_MIN_WORDS = 5
# How a sentence's coverage of the question is judged: its own words, its neighbours' (the sentence
# before often names who "he" is), its whole passage's.
_OWN, _WINDOW, _PASSAGE = 0.6, 0.25, 0.15
# Sentences that join the lead: at least this share of the lead's score ...
_JOIN_RATIO = 0.75
# ... and at least this share of their content words not said yet by the answer.
_NOVELTY = 0.5
_YEAR = re.compile(r"\b(?:19|20)\d{2}\b")
# Share of a sentence's coverage kept when its passage names none of the question's key terms.
_KEY_FLOOR = 0.25
# Share kept by a sentence that states no new number, for a question asking for one.
_NO_NUMBER = 0.35
# Weight kept by a day or month of the question among its terms.
_DATE_WEIGHT = 0.3
# Share kept by a sentence of an article neither from nor naming the month asked about.
_OTHER_MONTH = 0.8
# Taken off a sentence's score per place its passage ranks below the first in retrieval.
_RANK_PENALTY = 0.005
# Weight of the passage's retrieval score (scaled 0..1 over the passages), which carries the
# reranker's judgement and the time prior: a sentence of an article from the week asked about
# should beat an equally worded one from three years before. It orders the sentences only: whether
# to answer at all is judged on the sentence's own score (with it, the best-ranked passage's weaker
# sentence became the one judged, and RealTime QA abstentions rose from 6 % to 12-17 %).
_RETRIEVAL_WEIGHT = 0.15
# A sentence of another article than the lead's joins only from within this many days of the window
# the question names ("this week", "in March 2024"): one from years before is padding.
_OUTSIDE_DAYS = 30
# Added to the score of a sentence that names someone or something, or a number, the question does not.
_NEW_NAME_BONUS = 0.05
_ASKS_NUMBER = re.compile(
    r"\bhow (?:many|much|far|long|old)\b|\bwhat (?:number|amount|percentage|share)\b", re.I
)
_NUMERAL = re.compile(
    r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|dozens?|hundreds?|"
    r"thousands?|millions?|billions?|half|twice)\b",
    re.I,
)


@dataclass
class _Candidate:
    passage_rank: int
    passage: Passage
    index: int  # position of the sentence in its passage
    start: int  # offsets into the article
    end: int
    text: str
    own: float = 0.0
    coverage: float = 0.0
    score: float = 0.0
    retrieval: float = 0.0  # its passage's retrieval score, scaled 0..1 over the passages
    words: set[str] = field(default_factory=set)

    @property
    def rank_score(self) -> float:
        """What the answer is chosen by: the sentence's score plus its passage's retrieval score."""
        return self.score + _RETRIEVAL_WEIGHT * self.retrieval


@dataclass
class Assessment:
    """Why the composer answers or abstains: what calibration and the evaluation report read."""

    confidence: float  # coverage of the question by the best sentence in its context, 0..1
    best_dense: float  # cosine similarity of the closest passage
    missing: list[str]  # key terms of the question that no retrieved passage names
    off_year: bool  # the question names a year no retrieved passage is from or mentions
    # distinct question terms (dates aside) in the best sentence itself, and in the question
    lead_terms: int = 0
    question_terms: int = 0
    lead_own: float = 1.0  # coverage of the question by the best sentence's own words, 0..1
    # the question's words outside its names ("demand" in "What did Hamas demand from Saudi
    # Arabia?"), how many of them the best sentence itself says, and whether it names the first
    # name of the question (most often who the question is about: "Hamas")
    action_terms: int = 0
    lead_action: int = 0
    lead_subject: bool = True

    def answers(self, settings: AnswerSettings) -> bool:
        return not self.reason(settings)

    def reason(self, settings: AnswerSettings) -> str:
        """Empty when the composer answers; else why it abstains."""
        if self.off_year:
            return "no passage from the year asked about"
        if self.missing and settings.require_key_terms:
            return f"no passage names {', '.join(self.missing)}"
        if self.best_dense < settings.min_relevance:
            return "no passage close enough to the question"
        if self.confidence < settings.min_coverage:
            return "no sentence covers enough of the question"
        if self.question_terms >= settings.min_lead_terms and self.lead_terms < settings.min_lead_terms:
            return "the best sentence shares too few of the question's words"
        if self.lead_own < settings.min_lead_coverage:
            return "the best sentence covers too little of the question by itself"
        if settings.require_lead_action and _names_only_others(self):
            return "the best sentence names what the question names, not what it asks about"
        return ""


def question_terms(question: str) -> list[str]:
    years = set(_YEAR.findall(question))
    return [t for t in dict.fromkeys(tokenize(question)) if t not in _QUESTION_WORDS and t not in years]


# --- key terms: names, places, numbers -------------------------------------------------------------

_CAPITALISED = re.compile(r"[A-Z][\w.&'’-]*")
_NUMBER = re.compile(r"\b\d[\d,.]*\b")
_NOT_NAMES = frozenset(
    [
        "a",
        "an",
        "the",
        "this",
        "that",
        "these",
        "those",
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "why",
        "how",
        "is",
        "are",
        "was",
        "were",
        "do",
        "does",
        "did",
        "can",
        "could",
        "will",
        "would",
        "should",
        "has",
        "have",
        "had",
        "i",
        "in",
        "on",
        "at",
        "of",
        "for",
        "to",
        "from",
        "by",
        "with",
        "and",
        "or",
        "but",
        "according",
        "former",
        "recently",
        "new",
        "latest",
        "last",
        "next",
        "first",
        "week",
        "month",
        "year",
        "mr",
        "mrs",
        "ms",
        "dr",
        "gen",
        "maj",
    ]
)
_MONTHS = {
    m[:3]: m
    for m in [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ]
}
_ALIASES = {
    "us": ("u.s", "united states", "america"),
    "usa": ("u.s", "united states", "america"),
    "america": ("u.s", "united states", "american"),
    "uk": ("u.k", "britain", "british", "united kingdom"),
    "britain": ("u.k", "british", "united kingdom"),
    "un": ("u.n", "united nations"),
    "eu": ("european union",),
}


def key_terms(question: str) -> list[str]:
    """Names, places and numbers of the question ("Saudi Arabia", "Cairo", "40"), as written.

    A capitalised word that does not open a sentence is taken for a name; adjacent ones form one
    name. Years are left to the year rule; question words, months alone and titles are not names.
    """
    out: list[str] = []
    for sentence in re.split(r"(?<=[.?!:])\s+(?=[A-Z\"“‘'])", question.strip()):
        words = sentence.split()
        run: list[str] = []
        for position, raw in enumerate(words):
            word = raw.strip("\"'“”‘’()[],;:?!")
            is_name = (
                position > 0
                and bool(_CAPITALISED.fullmatch(word))
                and word.lower().rstrip(".") not in _NOT_NAMES
                and word.lower()[:3] not in _MONTHS
            )
            if is_name:
                run.append(word)
                continue
            if run:
                out.append(" ".join(run))
                run = []
            number = _NUMBER.fullmatch(word.rstrip(".,"))
            after_month = position > 0 and words[position - 1].lower()[:3] in _MONTHS
            # A day of the month is written many ways ("Aug. 24", "on Monday"): not a key term.
            if number and not _YEAR.fullmatch(word.rstrip(".,")) and not after_month and len(word) > 1:
                out.append(word.rstrip(".,"))
        if run:
            out.append(" ".join(run))
    return list(dict.fromkeys(out))


def _words(text: str) -> set[str]:
    return {w.strip(".'’").lower().removesuffix("'s").removesuffix("’s") for w in text.split()} | set(
        re.findall(r"[a-z0-9]+", text.lower())
    )


def _word_found(word: str, bag: set[str], text: str) -> bool:
    word = word.lower().strip(".'’").removesuffix("'s").removesuffix("’s")
    if not word:
        return True
    if word in bag:
        return True
    if any(alias in text for alias in _ALIASES.get(word.replace(".", ""), ())):
        return True
    if word[0].isdigit():
        return word.replace(",", "") in text.replace(",", "")
    # "Israeli" meets "Israel", "Qatari" meets "Qatar", "Palestinians" meets "Palestinian".
    stem = word[: max(5, len(word) - 2)] if len(word) >= 5 else None
    return stem is not None and any(
        b.startswith(stem) or (word.startswith(b) and 4 <= len(b) >= len(word) - 3) for b in bag
    )


def term_found(term: str, text: str, bag: set[str] | None = None) -> bool:
    """Whether a key term (a name of one or more words, or a number) occurs in a text.

    A name of several words is found when most of its words are ("Gen. Herzi Halevi" in "Halevi").
    """
    low = text.lower()
    bag = _words(text) if bag is None else bag
    parts = [p for p in term.split() if p.lower().strip(".") not in _NOT_NAMES] or term.split()
    found = sum(1 for p in parts if _word_found(p, bag, low))
    return found * 2 >= len(parts)


# --- what an answer must tell ------------------------------------------------------------------

_AMOUNT = re.compile(
    r"[$€£¥%]|\b(?:million|billion|trillion|thousand|percent|per cent|dollars?|euros?)\b", re.I
)


def _tells_something_new(sentence: str, question_words: set[str]) -> bool:
    """A name (a capitalised word past the first) or a number the question does not hold."""
    for position, raw in enumerate(sentence.split()):
        word = raw.strip("\"'“”‘’()[],;:?!.")
        if not word or word.lower() in question_words or word.lower() in _NOT_NAMES:
            continue
        if word[0].isdigit() or (position > 0 and word[0].isupper() and word.lower()[:3] not in _MONTHS):
            return True
    return False


def _about_months(passage: Passage, months: set[tuple[str, str]]) -> bool:
    """Published in a month asked about, or naming that month and year."""
    published = passage.published
    if published is None:
        return True
    low = passage.text.lower()
    return any(
        (published.strftime("%b").lower() == month and str(published.year) == year)
        or (month in low and year in low)
        for month, year in months
    )


_COUNTED = re.compile(r"\bhow many ([A-Za-z][\w'’-]*)", re.I)


def _counted(question: str) -> str | None:
    """What "How many ...?" counts ("rockets"), as a term; None for "how many times" and the like."""
    match = _COUNTED.search(question)
    if match is None:
        return None
    terms = tokenize(match.group(1))
    return terms[0] if terms and terms[0] not in ("time", "more", "other") else None


def _states_new_number(sentence: str, question: str, amount: bool = False) -> bool:
    """The sentence states a number (digits or words) that is not one the question already gives;
    for "how much", an amount (money, a percentage, millions)."""
    if amount and not _AMOUNT.search(sentence):
        return False
    asked = {n.rstrip(".,") for n in re.findall(r"\d[\d,.]*", question)}
    for match in _NUMERAL.finditer(sentence):
        if not match.group(0).isdigit():
            return True
    return any(n.rstrip(".,") not in asked for n in re.findall(r"\d[\d,.]*", sentence))


# --- assessing and composing ----------------------------------------------------------------------


def assess(question: str, passages: list[Passage]) -> tuple[Assessment, list[_Candidate]]:
    """Score every candidate sentence and sum up how well the passages answer the question."""
    terms = question_terms(question)
    candidates = _candidates(passages)
    best_dense = max((p.dense_score or 0.0 for p in passages), default=0.0)
    years = set(_YEAR.findall(question))
    if years:
        # "What did Hamas demand in 2024?": a year in the question keeps the answer to that year.
        candidates = [c for c in candidates if _about_years(c.passage, years)]
    off_year = bool(years) and not candidates and bool(passages)
    if not terms or not candidates:
        return Assessment(0.0, best_dense, [], off_year), []
    in_scope = {c.passage.id: c.passage for c in candidates}
    # The outlet and the title name things too ("According to Alwaght, ...").
    texts = {pid: f"{p.source}\n{p.title}\n{p.text}" for pid, p in in_scope.items()}
    bags = {pid: _words(t) for pid, t in texts.items()}
    keys = key_terms(question)
    # Each key term counts by how rare it is among the passages: a passage without "Hezbollah"
    # answers another question, one without "Israel" (named everywhere) may still answer this one.
    has = {k: {pid for pid in texts if term_found(k, texts[pid], bags[pid])} for k in keys}
    key_weight = {k: math.log((len(texts) + 1) / (len(has[k]) + 0.5)) + 0.1 for k in keys}
    total_key = sum(key_weight.values())
    key_share = {
        pid: sum(key_weight[k] for k in keys if pid in has[k]) / total_key if keys else 1.0 for pid in texts
    }
    weights = _term_weights(terms, candidates)
    wants_number = bool(_ASKS_NUMBER.search(question))
    counted = _counted(question)
    question_words = _words(question)
    wants_amount = bool(re.search(r"\bhow much\b", question, re.I))
    # "in August 2020": the month asked about, with its year.
    months = {
        (m.group(1).lower()[:3], m.group(2))
        for m in re.finditer(r"\b([A-Z][a-z]{2,8})\.? (?:\d{1,2}, )?((?:19|20)\d{2})\b", question)
        if m.group(1).lower()[:3] in _MONTHS
    }
    passage_cover = {pid: _coverage(terms, weights, set(tokenize(texts[pid]))) for pid in texts}
    low = min(p.score for p in in_scope.values())
    spread = max(p.score for p in in_scope.values()) - low
    retrieval = {pid: (p.score - low) / spread if spread > 0 else 0.0 for pid, p in in_scope.items()}
    by_passage: dict[str, list[_Candidate]] = defaultdict(list)
    for cand in candidates:
        by_passage[cand.passage.id].append(cand)
    for cand in candidates:
        cand.words = set(tokenize(cand.text))
        neighbours = [c for c in by_passage[cand.passage.id] if abs(c.index - cand.index) <= 1]
        window = set().union(*(c.words for c in neighbours))
        cand.own = _coverage(terms, weights, cand.words)
        blended = (
            _OWN * cand.own
            + _WINDOW * _coverage(terms, weights, window)
            + _PASSAGE * passage_cover[cand.passage.id]
        )
        # A sentence whose passage does not name the question's key terms answers another question,
        # and "How many ...?" is answered by a sentence that states a number the question does not.
        cand.coverage = blended * (_KEY_FLOOR + (1 - _KEY_FLOOR) * key_share[cand.passage.id])
        if wants_number and not (
            _states_new_number(cand.text, question, wants_amount)
            and (counted is None or _coverage([counted], {counted: 1.0}, cand.words) > 0)
        ):
            cand.coverage *= _NO_NUMBER
        dense = cand.passage.dense_score or 0.0
        cand.score = 0.7 * cand.coverage + 0.3 * dense - _RANK_PENALTY * cand.passage_rank
        cand.retrieval = retrieval[cand.passage.id]
        if months and not _about_months(cand.passage, months):
            cand.score *= _OTHER_MONTH
        # An answer tells something the question does not: a name or a number it does not give.
        # A sentence that only echoes the question (or asks one) does not answer it.
        if _tells_something_new(cand.text, question_words):
            cand.score += _NEW_NAME_BONUS
        if cand.text.rstrip("\"'”’)").endswith("?"):
            cand.score *= 0.5
    top = max(candidates, key=lambda c: c.score)
    missing = [k for k in keys if not has[k]]
    # "Who was Israel's defense minister?" is not answered by a sentence that only says "Civil Defense".
    topical = [t for t in terms if not _is_date_term(t)]
    # What the question asks about, apart from whom: "demand" in "What did Hamas demand from Saudi
    # Arabia?". A sentence naming Saudi Arabia and nothing of a demand answers another question.
    name_words = set(tokenize(" ".join(keys)))
    action = [t for t in topical if t not in name_words]

    def judged(lead: _Candidate) -> Assessment:
        said = set(lead.words)
        said_text = lead.text
        if lead.text.split(maxsplit=1)[0].lower().strip("\"'“‘(") in _PRONOUNS:
            # "It will cost 3.2 million dollars": what "it" is, the sentence before says.
            before = [
                c
                for c in candidates
                if c.passage.article_id == lead.passage.article_id and 0 <= lead.start - c.end <= 3
            ]
            said |= set().union(*(c.words for c in before))
            said_text = " ".join([c.text for c in before] + [lead.text])
        found = [t for t in topical if _coverage([t], {t: 1.0}, said) or _compound_of(t, said)]
        return Assessment(
            lead.coverage,
            best_dense,
            missing,
            False,
            len(found),
            len(topical),
            lead.own,
            action_terms=len(action),
            lead_action=sum(1 for t in action if t in found),
            lead_subject=not keys or term_found(keys[0], said_text),
        )

    assessment = judged(top)
    if _names_only_others(assessment):
        # The best sentence only names the question's other names ("… the Cooper's Hill
        # Cheese-Rolling race …"). A nearly as good one of a passage naming all of them, that says
        # what the question asks or whom it is about ("A woman from Canada won …"), may answer;
        # the sentences that only name names are then not quoted.
        verdicts = {id(c): judged(c) for c in candidates}
        keep = [c for c in candidates if not _names_only_others(verdicts[id(c)])]
        alternatives = [
            c for c in keep if c.score >= _JOIN_RATIO * top.score and key_share[c.passage.id] >= 1.0 - 1e-9
        ]
        if alternatives:
            return verdicts[id(max(alternatives, key=lambda c: c.score))], keep
    return assessment, candidates


def _names_only_others(assessment: Assessment) -> bool:
    """Rule 7's test: none of the question's words outside its names, and not its first name."""
    return bool(assessment.action_terms) and not assessment.lead_action and not assessment.lead_subject


def compose(question: str, passages: list[Passage], settings: AnswerSettings) -> Answer:
    assessment, candidates = assess(question, passages)
    if not candidates or not assessment.answers(settings):
        return abstain(question, passages)
    chosen = _select(question, candidates, settings)
    return _write(question, chosen, passages)


def abstain(question: str, passages: list[Passage]) -> Answer:
    return Answer(question=question, text=ABSTAIN_TEXT, abstained=True, citations=[], passages=passages)


_NEXT_YEAR = re.compile(r"\b(?:next|coming) year\b", re.I)
_LAST_YEAR = re.compile(r"\b(?:last|past|previous) year\b", re.I)


def _about_years(passage: Passage, years: set[str]) -> bool:
    """Published in one of the years or naming one, also as "next year" or "last year" from its
    publication date; an undated article may be from any year."""
    published = passage.published
    if published is None:
        return True
    if str(published.year) in years or any(y in passage.text for y in years):
        return True
    return (str(published.year + 1) in years and bool(_NEXT_YEAR.search(passage.text))) or (
        str(published.year - 1) in years and bool(_LAST_YEAR.search(passage.text))
    )


def _candidates(passages: list[Passage]) -> list[_Candidate]:
    seen: set[tuple[str, int]] = set()
    out: list[_Candidate] = []
    for rank, passage in enumerate(passages):
        for index, (s, e) in enumerate(sentence_spans(passage.text)):
            text = passage.text[s:e]
            key = (passage.article_id, passage.start + s)
            if key in seen or len(text.split()) < _MIN_WORDS:
                continue
            seen.add(key)
            out.append(_Candidate(rank, passage, index, passage.start + s, passage.start + e, text))
    return out


def _term_weights(terms: list[str], candidates: list[_Candidate]) -> dict[str, float]:
    """Inverse document frequency of each term among the candidate sentences (rarer = more telling)."""
    n = len(candidates)
    bags = [set(tokenize(c.text)) for c in candidates]
    weights = {}
    for term in terms:
        df = sum(1 for bag in bags if term in bag)
        weights[term] = max(math.log((n + 1) / (df + 0.5)), 0.1)
        if _is_date_term(term):
            # "on Oct. 7": the date says when, the other words what; the year rule and the key
            # terms already hold the answer to the date.
            weights[term] *= _DATE_WEIGHT
    return weights


def _is_date_term(term: str) -> bool:
    return term.isdigit() or term[:3] in _MONTHS


def _coverage(terms: list[str], weights: dict[str, float], bag: set[str]) -> float:
    total = sum(weights.values())
    got = 0.0
    for term in terms:
        if term in bag:
            got += weights[term]
        elif any(rel in bag for rel in _RELATED.get(term, ())) or _prefix_match(term, bag):
            got += _RELATED_WEIGHT * weights[term]
    return got / total if total else 0.0


def _compound_of(term: str, bag: set[str]) -> bool:
    """'footbridge' is a 'bridge': the term ends with a word of the bag (five letters or more)."""
    return any(len(word) >= 5 and term.endswith(word) for word in bag)


def _prefix_match(term: str, bag: set[str]) -> bool:
    """'gazan' meets 'gaza', 'isra' (Israeli) meets 'israel': one stem begins the other."""
    if len(term) < 4:
        return False
    return any(
        len(word) >= 4 and (word.startswith(term) or term.startswith(word))
        for word in bag
        if word[0] == term[0]
    )


_SINGLE_FACT = re.compile(
    r"^\s*(?:who|whom|whose|which|when|where|how (?:many|much|far|long|old)|what (?:is|was) the "
    r"(?:name|number|amount|date|title)|what (?:year|day|date|time))\b",
    re.IGNORECASE,
)


def is_single_fact(question: str) -> bool:
    """'Who led...', 'Which newspaper...', 'How many...': one fact, one or two sentences."""
    return bool(_SINGLE_FACT.match(question))


def _select(question: str, candidates: list[_Candidate], settings: AnswerSettings) -> list[_Candidate]:
    """The lead sentence, then only sentences that add a fact (or a date) and nearly as well answer.

    A sentence joins when it scores at least _JOIN_RATIO of the lead and at least _NOVELTY of its
    words are not yet in the answer (a different fact, not a restatement). For a single-fact
    question another article joins only with another date than those already quoted, so two
    outlets repeating one report are quoted once.
    """
    ranked = sorted(candidates, key=lambda c: -c.rank_score)
    lead = ranked[0]
    single = is_single_fact(question)
    budget = settings.max_sentences_single_fact if single else settings.max_sentences
    floor = max(_JOIN_RATIO * lead.rank_score, 0.0)
    chosen = [lead]
    said = set(lead.words)
    terms = set(question_terms(question))
    per_article: dict[str, int] = defaultdict(int)
    per_article[lead.passage.article_id] = 1
    dates = {lead.passage.published}
    for cand in ranked[1:]:
        if len(chosen) >= budget:
            break
        if cand.rank_score < floor or cand.own < settings.min_coverage * 0.5:
            continue
        article = cand.passage.article_id
        if per_article[article] >= settings.max_sentences_per_article:
            continue
        fresh = cand.words - terms
        novelty = len(fresh - said) / len(fresh) if fresh else 0.0
        if novelty < _NOVELTY:
            continue
        if single and not per_article[article] and cand.passage.published in dates:
            continue  # another outlet on the same day tells the same report again
        outside = cand.passage.days_outside
        if article != lead.passage.article_id and outside is not None and outside > _OUTSIDE_DAYS:
            continue  # "this week": a report from months before is about another moment
        chosen.append(cand)
        said |= cand.words
        per_article[article] += 1
        dates.add(cand.passage.published)
    return chosen


def _write(question: str, chosen: list[_Candidate], passages: list[Passage]) -> Answer:
    groups: dict[str, list[_Candidate]] = defaultdict(list)
    for cand in chosen:
        groups[cand.passage.article_id].append(cand)
    # A single fact leads with the article that states it; a list goes by date, oldest first, so
    # that what was said in 2020 and in 2024 stays apart.
    first = chosen[0].passage.article_id if is_single_fact(question) else None

    def article_order(aid: str) -> tuple[int, int, str, str]:
        p = groups[aid][0].passage
        return (
            0 if aid == first else 1,
            0 if p.published else 1,
            p.published.isoformat() if p.published else "",
            p.title,
        )

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
