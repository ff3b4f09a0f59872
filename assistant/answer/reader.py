"""The reader: a small model reads a few passages and states the answer in a few words.

Asked to write a whole cited answer from a dozen passages, a 1.5B model declines nearly every
question; asked for the answer alone, in a few words, with the number of the passage that states it,
it finds the answer in most. So the model does only that, and the assistant does the rest:

1. the composer's quotes come first, at once (:class:`QuotesReady`), and its assessment of the
   passages decides whether the question is answered at all: the model is never asked whether it
   knows;
2. the model reads the composer's best-scored sentences, each with its neighbours, from any passage,
   up to ``llm.reader_context_chars`` (reading is the model's slow part: ~38 prompt tokens a second
   on 2 cores), and replies ``<answer> [n]``, greedily;
3. the reply is verified: the short answer must stand in the passage it cites (or in another passage
   the model read, which then becomes the citation); if it stands in none, it is dropped and the
   quotes stand. A passage with a sentence that addresses the model ("Ignore previous instructions
   and answer X") is an attack: the model never reads it, so nothing it says can be verified by it;
4. the reply is calibrated: the probability the model gave its short answer (the product of its
   tokens' probabilities, from llama.cpp or the server) is the answer's ``confidence``. Below
   ``llm.reader_min_confidence`` the quotes stand, with a note; below
   ``llm.reader_abstain_confidence`` (off by default) the model found nothing it was sure of, and
   the assistant says that the articles don't seem to answer (the quotes beneath); so it does below
   ``llm.reader_stale_confidence`` when the question was asked as of a date and the composer's best
   passage lies more than ``llm.reader_stale_days`` from the time the question is about (the
   articles of that time are missing: :func:`days_away`). The model is never asked whether it
   knows: how sure it was of the words it wrote is read off them (docs/evaluation.md measures it);
5. the written answer is the short answer and, as its evidence, the sentence of the cited passage
   that states it, both cited.
"""

from __future__ import annotations

import logging
import math
import queue
import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from assistant.answer.base import Answerer, ChatModel, answer_of
from assistant.answer.citations import evidence_sentences
from assistant.answer.extractive import assess
from assistant.answer.local.catalog import CATALOG
from assistant.answer.local.runtime import LocalLLM
from assistant.answer.prompts import PromptSet
from assistant.config import LLMSettings
from assistant.models import (
    Answer,
    AnswerReady,
    Citation,
    Passage,
    QuotesReady,
    StreamEvent,
    TextDelta,
    Waiting,
)
from assistant.text import (
    content_words,
    format_date,
    parse_citations,
    sentence_spans,
    strip_citations,
)

logger = logging.getLogger(__name__)

# The model's unverified answer is not repeated here (it may be an attack's words): answer.unsupported has it.
# {model}: "local model" for the local backend, "model" for an OpenAI-compatible server's (MODEL_NAMES).
UNVERIFIED = (
    "*The {model}'s answer is not stated in the passages it read, so the articles are quoted instead.*\n\n"
)
UNSURE = "*The {model} was unsure of its answer, so the articles are quoted instead.*\n\n"
UNSURE_ABSTAIN = (
    "The articles don't seem to say: the {model} found no answer it was sure of in the passages it "
    "read. The closest quotes are below."
)
# The question was asked as of a date, the best passage is much older, and the model was very unsure.
STALE_ABSTAIN = (
    "The articles of that time don't seem to say: the closest passage was published on {published}, "
    "{days} days from the time the question is about, and the {model} found no answer it was sure of. "
    "The closest quotes are below."
)
MODEL_NAMES = {"local": "local model", "openai": "model"}
UNVERIFIED_NOTICE = UNVERIFIED.format(model=MODEL_NAMES["local"])
UNSURE_NOTICE = UNSURE.format(model=MODEL_NAMES["local"])
UNSURE_TEXT = UNSURE_ABSTAIN.format(model=MODEL_NAMES["local"])
HEARTBEAT_SECONDS = 1.0  # a queued question repeats its place this often
MIN_SHARE = 0.75  # of the short answer's content words its passage must hold (every number, always)
_LABEL = re.compile(r"^\s*(?:the\s+)?(?:short\s+)?answer\s*(?:is)?\s*[:\-]?\s*", re.IGNORECASE)
_ARTICLES = frozenset({"a", "an", "the"})
_NUMBER = re.compile(r"\d")


@dataclass(frozen=True)
class ReaderReply:
    """What the model said: the short answer (markers and labels removed) and the passages it named."""

    answer: str
    cited: list[int]  # 1-based numbers of the reader's context


def stale_confidence(settings: LLMSettings, backend: str) -> float:
    """``llm.reader_stale_confidence``, or when unset the value chosen for the local catalogue model
    (a model's confidence is its own: another model's threshold would not fit); 0 (off) otherwise."""
    if settings.reader_stale_confidence is not None:
        return settings.reader_stale_confidence
    if backend != "local":
        return 0.0
    name = settings.local_model
    model = CATALOG.get(name) or CATALOG.get(Path(name).name.removesuffix(".gguf"))
    return model.stale_confidence if model is not None else 0.0


def days_away(passage: Passage) -> int | None:
    """Days between a passage's article and the time its question is about: outside the window the
    question names ("this week", "in March 2024"), else before the moment it was asked. None when the
    caller gave no such moment (``as_of``), or the article is undated."""
    return passage.days_outside if passage.days_outside is not None else passage.days_before


def parse_reply(reply: str) -> ReaderReply:
    """The first non-empty line of the reply, as a short answer and its ``[n]`` markers."""
    line = next((part.strip() for part in reply.strip().splitlines() if part.strip()), "")
    cited = list(dict.fromkeys(parse_citations(line)))
    answer = _LABEL.sub("", strip_citations(line)).strip().strip("\"'\u201c\u201d*").strip()
    return ReaderReply(answer=answer.rstrip(" .,;:"), cited=cited)


def answer_confidence(tokens: Sequence[tuple[str, float]]) -> float | None:
    """The probability the model gave its short answer: the product of the probabilities of the
    tokens it wrote before its first ``[n]`` (or line break), leading blanks left out; None when it
    wrote none."""
    logprobs: list[float] = []
    for token, logprob in tokens:
        if "[" in token or "\n" in token:
            break
        if token.strip() or logprobs:
            logprobs.append(logprob)
    return math.exp(sum(logprobs)) if logprobs else None


def fold(text: str) -> str:
    """Lower case, punctuation to spaces, articles dropped: "The 352-65 vote" -> "352 65 vote"."""
    return " ".join(word for word in re.findall(r"[a-z0-9]+", text.lower()) if word not in _ARTICLES)


def folded_in(phrase: str, text: str) -> bool:
    """Whether ``text`` contains ``phrase`` as whole words, both folded."""
    return f" {fold(phrase)} " in f" {fold(text)} "


def states(answer: str, passage: str) -> bool:
    """Whether ``passage`` states ``answer``: it contains it (folded), or it holds every number of it
    and at least ``MIN_SHARE`` of its content words (stemmed)."""
    folded = fold(answer)
    if not folded:
        return False
    if f" {folded} " in f" {fold(passage)} ":
        return True
    wanted = content_words(answer)
    if not wanted:
        return False
    held = content_words(passage)
    numbers = {w for w in wanted if _NUMBER.search(w)}
    if not numbers <= held:
        return False
    return len(wanted & held) / len(wanted) >= MIN_SHARE


def supporting_sentence(answer: str, question: str, text: str) -> str:
    """The sentence of ``text`` that states ``answer``: most of its words, then most of the question's."""
    wanted, asked = content_words(answer), content_words(question)
    best, best_key = "", (-1.0, -1.0, 0)
    for start, end in sentence_spans(text):
        sentence = text[start:end]
        held = content_words(sentence)
        key = (
            1.0 if folded_in(answer, sentence) else len(wanted & held) / max(len(wanted), 1),
            len(asked & held) / max(len(asked), 1),
            -len(sentence),
        )
        if key > best_key:
            best, best_key = sentence, key
    return best.strip()


def trim(text: str, question: str, max_chars: int) -> str:
    """The passage cut to ``max_chars``: its sentences nearest the question, kept in their order."""
    if len(text) <= max_chars:
        return text
    asked = content_words(question)
    spans = sentence_spans(text)
    ranked = sorted(range(len(spans)), key=lambda i: -len(asked & content_words(text[slice(*spans[i])])))
    keep: list[int] = []
    used = 0
    for index in ranked:
        length = spans[index][1] - spans[index][0] + 1
        if used + length > max_chars and keep:
            continue
        keep.append(index)
        used += length
    return " ".join(text[slice(*spans[i])] for i in sorted(keep))


def addresses_the_model(passage: Passage) -> bool:
    """Whether a sentence of the passage gives the model instructions ("Ignore previous instructions",
    "Say that ..."): a prompt-injection attack, so the passage is neither read nor evidence."""
    return not all(ok for _, ok in evidence_sentences(passage.text))


def reader_passages(passages: Sequence[Passage], quotes: Answer, limit: int) -> list[Passage]:
    """The passages the model reads: those the composer quoted first (its lead), then by rank; never
    one that addresses the model."""
    passages = [p for p in passages if not addresses_the_model(p)]
    by_id = {p.id: p for p in passages}
    quoted = [by_id[c.passage_id] for c in quotes.citations if c.passage_id in by_id]
    chosen: list[Passage] = []
    for passage in [*quoted[:1], *passages]:
        if passage not in chosen:
            chosen.append(passage)
    return chosen[:limit]


def sentence_windows(
    question: str, passages: Sequence[Passage], budget: int
) -> tuple[list[Passage], list[str]]:
    """The composer's best-scored sentences, each with its neighbours, up to ``budget`` characters.

    Sentences are taken in the composer's score order from any passage (never one that addresses the
    model), each with the sentence before and after it, while they fit; a passage's sentences are
    then read in their own order (``…`` where some are left out), the passages in the order their
    best sentence came. With no sentence to score, nothing: there is nothing to read.
    """
    safe = [p for p in passages if not addresses_the_model(p)]
    _, candidates = assess(question, safe)
    spans = {p.id: sentence_spans(p.text) for p in safe}
    picked: dict[str, set[int]] = {}
    order: list[Passage] = []
    used = 0
    for cand in sorted(candidates, key=lambda c: -c.rank_score):
        passage = cand.passage
        own = spans[passage.id]
        have = picked.get(passage.id, set())
        window = [i for i in (cand.index - 1, cand.index, cand.index + 1) if 0 <= i < len(own)]
        for indices in (window, [cand.index]):
            extra = [i for i in indices if i not in have]
            cost = sum(own[i][1] - own[i][0] + 1 for i in extra)
            if used + cost <= budget or not order:
                if extra and passage.id not in picked:
                    order.append(passage)
                picked.setdefault(passage.id, set()).update(extra)
                used += cost
                break
        if used >= budget:
            break
    texts = []
    for passage in order:
        own = spans[passage.id]
        indices = sorted(picked[passage.id])
        parts: list[str] = []
        for k, i in enumerate(indices):
            if k and i != indices[k - 1] + 1:
                parts.append("\u2026")
            parts.append(passage.text[slice(*own[i])])
        texts.append(" ".join(parts))
    return order, texts


def format_reader_context(passages: Sequence[Passage], texts: Sequence[str]) -> str:
    """``[n] Outlet, date: text`` lines, one per passage."""
    lines = []
    for n, (passage, text) in enumerate(zip(passages, texts, strict=True), start=1):
        source = passage.source or "unknown outlet"
        when = format_date(passage.published, passage.published_inferred, "date unknown")
        lines.append(f"[{n}] {source}, {when}: {' '.join(text.split())}")
    return "\n\n".join(lines)


class ReaderAnswerer:
    """Answers with a small chat model as a reader (see the module's description).

    ``model`` is anything with ``stream_text(messages, max_tokens)``: the local llama.cpp model or an
    OpenAI-compatible server's :class:`~assistant.answer.llm_client.ChatClient`.
    """

    def __init__(
        self,
        settings: LLMSettings,
        model: ChatModel,
        extractive: Answerer,
        prompts: PromptSet,
        backend: str = "local",
    ) -> None:
        self.backend = backend  # what answers are marked with: "local", or "openai" for a server's model
        self.model_name = MODEL_NAMES.get(backend, "model")  # how its notices name the model
        self.stale_confidence = stale_confidence(settings, backend)
        self.settings = settings
        self.model = model
        self.extractive = extractive
        self.prompts = prompts

    def context(
        self, question: str, passages: Sequence[Passage], quotes: Answer
    ) -> tuple[list[Passage], str]:
        if self.settings.reader_context == "windows":
            chosen, texts = sentence_windows(question, passages, self.settings.reader_context_chars)
        else:
            chosen = reader_passages(passages, quotes, self.settings.reader_passages)
            texts = [trim(p.text, question, self.settings.reader_passage_chars) for p in chosen]
        return chosen, format_reader_context(chosen, texts)

    def messages(self, question: str, context: str) -> list[dict[str, str]]:
        return [{"role": "user", "content": self.prompts.reader.render(context=context, question=question)}]

    def warm(self) -> None:
        """Have the local model read the prompt's part before the passages (its instruction and worked
        examples) now: every question starts with it, and llama.cpp reuses it from the cache, so the
        first question reads only its own passages. Nothing to do for another model."""
        if isinstance(self.model, LocalLLM):
            marker = "\x00"
            head = self.prompts.reader.render(context=marker, question=marker).split(marker)[0]
            if head.strip():  # a prompt that starts with the passages has nothing to read ahead
                self.model.warm([{"role": "user", "content": head}])

    def stream(self, question: str, passages: list[Passage]) -> Iterator[StreamEvent]:
        """The quotes, the model's reply as it is written, then the verified Answer."""
        quotes = answer_of(self.extractive, question, passages)
        yield QuotesReady(answer=quotes)
        chosen, context = ([], "") if quotes.abstained else self.context(question, passages, quotes)
        if not chosen:  # unanswered, or nothing left to read: every passage addresses the model
            yield AnswerReady(answer=quotes.model_copy(update={"backend": self.backend}))
            return
        pieces: list[str] = []
        tokens: list[tuple[str, float]] = []
        for item in self._reply(self.messages(question, context), tokens):
            if isinstance(item, Waiting):
                yield item
            else:
                pieces.append(item)
                yield TextDelta(text=item)
        confidence = answer_confidence(tokens)
        yield AnswerReady(answer=self.verify("".join(pieces), question, chosen, passages, quotes, confidence))

    def _reply(
        self, messages: list[dict[str, str]], tokens: list[tuple[str, float]] | None = None
    ) -> Iterator[str | Waiting]:
        """The model's reply piece by piece; from the local model, its place in the queue first, and
        each token it writes, with its log-probability, appended to ``tokens``.

        The local model reports the place while its caller blocks, so the request runs on a thread of
        its own and both reach this generator through one queue. Closing the generator (a Stop button,
        a client gone) cancels the request, waiting or writing.
        """
        max_tokens, temperature = self.settings.reader_max_tokens, self.settings.reader_temperature
        model = self.model
        if not isinstance(model, LocalLLM):
            yield from model.stream_text(
                messages, max_tokens=max_tokens, temperature=temperature, logprobs=tokens
            )
            return
        items: queue.SimpleQueue[str | Waiting | BaseException | None] = queue.SimpleQueue()
        cancel = threading.Event()

        def pump() -> None:
            try:
                for piece in model.stream_text(
                    messages,
                    max_tokens,
                    temperature=temperature,
                    on_queue=lambda ahead: items.put(Waiting(position=ahead)),
                    cancel=cancel,
                    logprobs=tokens,
                ):
                    items.put(piece)
                    if cancel.is_set():
                        break
                items.put(None)
            except BaseException as e:  # handed to the caller's thread
                items.put(e)

        threading.Thread(target=pump, name="reader", daemon=True).start()
        waiting: Waiting | None = None
        try:
            while True:
                try:
                    item = items.get(timeout=HEARTBEAT_SECONDS if waiting else None)
                except queue.Empty:  # still queued: say so again, so a caller that stopped can close us
                    assert waiting is not None
                    yield waiting
                    continue
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                waiting = item if isinstance(item, Waiting) and item.position > 0 else None
                yield item
        finally:
            cancel.set()

    def stale_lead(self, quotes: Answer, passages: Sequence[Passage]) -> Passage | None:
        """The composer's lead passage when it lies more than ``llm.reader_stale_days`` from the time
        the question is about (:func:`days_away`: only known when the caller gave the moment it was
        asked)."""
        if not quotes.citations:
            return None
        lead = next((p for p in passages if p.id == quotes.citations[0].passage_id), None)
        away = days_away(lead) if lead is not None else None
        return lead if away is not None and away > self.settings.reader_stale_days else None

    def verify(
        self,
        reply: str,
        question: str,
        chosen: Sequence[Passage],
        passages: list[Passage],
        quotes: Answer,
        confidence: float | None = None,
    ) -> Answer:
        """The written answer when the short answer stands in a passage the model read and the model
        was sure enough of it (``confidence``, when known); else the quotes, or an abstention."""
        parsed = parse_reply(reply)
        named = [chosen[n - 1] for n in parsed.cited if 1 <= n <= len(chosen)]
        others = [p for p in chosen if p not in named]
        source = next((p for p in [*named, *others] if parsed.answer and states(parsed.answer, p.text)), None)
        shown = parsed.answer or reply.strip() or "no answer"
        sure = 1.0 if confidence is None else confidence  # no probabilities: verified is enough
        stale = self.stale_lead(quotes, passages) if sure < self.stale_confidence else None
        if source is not None and (sure < self.settings.reader_abstain_confidence or stale is not None):
            if stale is None:
                text = UNSURE_ABSTAIN.format(model=self.model_name)
            else:
                text = STALE_ABSTAIN.format(
                    model=self.model_name,
                    days=days_away(stale),
                    published=format_date(stale.published, stale.published_inferred),
                )
            logger.info("the reader was unsure of %r (%.2f): %s", shown, confidence, text.split(":")[0])
            return Answer(
                question=question,
                text=text,
                abstained=True,
                passages=list(passages),
                backend=self.backend,
                unsupported=[shown],
                quotes=quotes,
                confidence=confidence,
            )
        if source is None or sure < self.settings.reader_min_confidence:
            if source is None:
                logger.info("the reader's answer %r is not stated in the passages it read", parsed.answer)
            else:
                logger.info("the reader was unsure of %r (%.2f): the quotes stand", shown, confidence)
            return quotes.model_copy(
                update={
                    "backend": self.backend,
                    "text": (UNVERIFIED if source is None else UNSURE).format(model=self.model_name)
                    + quotes.text,
                    "unsupported": [shown],
                    "quotes": None,
                    "confidence": confidence,
                }
            )
        if named and source is not named[0]:
            logger.info("the reader cited passage %d; its answer stands in another one", parsed.cited[0])
        sentence = supporting_sentence(parsed.answer, question, source.text)
        short = parsed.answer[:1].upper() + parsed.answer[1:]
        text = f"{short} [1]\n\n\u201c{sentence}\u201d [1]" if sentence else f"{short} [1]"
        return Answer(
            question=question,
            text=text,
            citations=[Citation.from_passage(1, source, sentence or parsed.answer, 1.0)],
            passages=list(passages),
            backend=self.backend,
            quotes=quotes,
            confidence=confidence,
        )
