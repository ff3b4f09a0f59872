"""Turning a follow-up ("And in 2024?", "Who led it?") into a question that stands alone.

:func:`condense_rule` is the no-model fallback: a few rules that cover the common follow-ups and
leave anything else untouched. The LLM backend asks the model instead
(:class:`assistant.answer.llm.LLMCondenser`, ``prompts/condense.md``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

_WH = r"(?:what|who|whom|whose|which|where|when|why|how)"
_AUX = r"(?:did|does|do|is|are|was|were|has|have|had|will|would|could|can|should|might|may|must)"
_DETERMINERS = {"the", "a", "an", "this", "that", "these", "those", "its", "their", "his", "her"}
_PREPOSITIONS = {
    "in",
    "on",
    "at",
    "during",
    "before",
    "after",
    "since",
    "by",
    "for",
    "from",
    "until",
    "around",
    "about",
    "to",
    "with",
    "of",
    "into",
    "over",
    "under",
    "between",
    "against",
}
# "And in 2024?", "What about Israel?", "How about after the truce?"
_ELLIPTIC = re.compile(
    r"^\s*(?:and|but|also|so)?\s*(?:what|how)\s+about\s+(?P<a>.+?)\s*\??\s*$"
    r"|^\s*(?:and|but|also)\s+(?P<b>.+?)\s*\??\s*$",
    re.IGNORECASE,
)
_PRONOUNS = re.compile(r"\b(it|they|them|their|that|this|he|she|him|his|her)\b(?=\s*[?.!,]|\s|$)", re.I)
_YEAR_PHRASE = re.compile(
    r"\s+(?:in|during|since|before|after|by)\s+(?:(?:early|late|mid)\s+)?(?:[A-Z][a-z]+\s+)?\d{4}\b"
)


class RuleCondenser:
    """The :class:`~assistant.answer.base.Condenser` that needs no model: :func:`condense_rule`."""

    def condense(self, question: str, history: Sequence[Mapping[str, str]] | None) -> str:
        return condense_rule(question, history) if history else question


def _previous_questions(history: Sequence[Mapping[str, str]] | None) -> list[str]:
    return [
        str(m.get("content", "")).strip()
        for m in history or []
        if m.get("role") == "user" and str(m.get("content", "")).strip()
    ]


def condense_rule(question: str, history: Sequence[Mapping[str, str]] | None) -> str:
    """A standalone version of ``question`` given the chat ``history`` (oldest first).

    Earlier follow-ups are resolved first, so "And in 2024?" after "And in 2020?" after
    "What did Hamas demand?" still refers to Hamas's demands. A question that stands alone, or
    one no rule understands, comes back unchanged.
    """
    previous: str | None = None
    for earlier in _previous_questions(history):
        previous = earlier if previous is None else _resolve(earlier, previous)
    if previous is None:
        return question
    return _resolve(question, previous)


def _resolve(question: str, previous: str) -> str:
    question = question.strip()
    elliptic = _ELLIPTIC.match(question)
    if elliptic and not _looks_complete(elliptic.group("a") or elliptic.group("b") or ""):
        return _extend(previous, (elliptic.group("a") or elliptic.group("b") or "").strip())
    if _PRONOUNS.search(question):
        resolved = _replace_pronouns(question, previous)
        if resolved != question:
            return resolved
    if _depends_on_context(question):
        # "Who gave the order?" after a question about the recall: no rule names what it refers to,
        # so the previous question comes along as context for retrieval and for the reader.
        return f"{_stem(question)}? ({_stem(previous)})"
    return question


def _depends_on_context(question: str) -> bool:
    """A short question naming nothing of its own (no name, no year) leans on the one before."""
    words = _stem(question).split()
    names = [w for w in words[1:] if w[:1].isupper()]
    return len(words) <= 7 and not names and not re.search(r"\b\d{4}\b", question)


def _looks_complete(fragment: str) -> bool:
    """Whether "and ..." continues with a full question of its own ("and what did Israel offer?")."""
    return bool(re.match(rf"{_WH}\b|{_AUX}\b", fragment.strip(), re.IGNORECASE)) and len(fragment.split()) > 3


def _stem(question: str) -> str:
    return question.strip().rstrip("?.! ").strip()


def _extend(previous: str, addition: str) -> str:
    """Apply an elliptic follow-up to the previous question."""
    base = _stem(previous)
    first = addition.split()[0].lower() if addition.split() else ""
    if first in _PREPOSITIONS:
        # A new time frame replaces the old one: "... in 2020" + "in 2024" -> "... in 2024".
        if re.search(r"\d{4}", addition):
            base = _YEAR_PHRASE.sub("", base)
        return f"{base} {addition}?"
    subject = _proper_subject(previous)
    if subject and addition[:1].isupper():
        return f"{_stem(previous.replace(subject, addition, 1))}?"
    return f"{base}, regarding {addition}?"


def _proper_subject(question: str) -> str | None:
    """The first run of capitalised words after the question's first word ("Hamas", "Herzi Halevi")."""
    words = _stem(question).split()
    for i, word in enumerate(words[1:], start=1):
        if word[:1].isupper() and word.lower() not in _DETERMINERS:
            run = [word]
            for following in words[i + 1 :]:
                if not following[:1].isupper():
                    break
                run.append(following)
            return re.sub(r"['\u2019]s$", "", " ".join(run).rstrip(",;:"))
    return None


def _noun_phrase(question: str) -> str | None:
    """What a previous question was about: its grammatical subject, else its first noun phrase.

    "What did the Israeli delegation discuss?" -> "the Israeli delegation";
    "Why did Hamas threaten Israel?" -> "Hamas"; "Who led the delegation to Doha?" -> "the delegation".
    """
    words = _stem(question).split()
    lowered = [w.lower() for w in words]
    start = 0
    if len(words) > 2 and lowered[0] in {"which", "what"} and not re.fullmatch(_AUX, lowered[1]):
        # "Which Israeli delegation went to Doha?" -> "the Israeli delegation"
        return _determiner_phrase(["the", *words[1:]], 0)
    if lowered and re.fullmatch(_WH, lowered[0]):
        start = 1
        if len(lowered) > 1 and re.fullmatch(_AUX, lowered[1]):
            start = 2
    for i in range(start, len(words)):
        if lowered[i] in {"the", "a", "an"}:
            return _determiner_phrase(words, i)
        if words[i][:1].isupper() and i > 0:
            run = [words[i]]
            for following in words[i + 1 :]:
                if not following[:1].isupper():
                    break
                run.append(following)
            return " ".join(run)
    return None


def _determiner_phrase(words: list[str], i: int) -> str:
    """ "the" + capitalised modifiers + one head noun: "the Israeli delegation", "the truce"."""
    phrase = [words[i]]
    j = i + 1
    while j < len(words) and words[j][:1].isupper():
        phrase.append(words[j])
        j += 1
    if j < len(words) and words[j].lower() not in _PREPOSITIONS:
        phrase.append(words[j])
    return " ".join(phrase).rstrip(",;:")


def _replace_pronouns(question: str, previous: str) -> str:
    phrase = _noun_phrase(previous)
    if not phrase:
        return question
    replaced = False

    def substitute(match: re.Match[str]) -> str:
        nonlocal replaced
        if replaced:
            return match.group(0)
        word = match.group(1).lower()
        following = question[match.end() :].lstrip()[:1]
        if word in {"that", "this"} and following and following.isalpha():
            return match.group(0)  # "that delegation": a determiner, not a pronoun
        replaced = True
        if word in {"their", "his", "her"}:
            return f"{phrase}'s"
        return phrase

    result = _PRONOUNS.sub(substitute, question)
    return result
