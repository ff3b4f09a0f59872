"""The LLM backend: a condenser and an answerer on any OpenAI-compatible server.

:class:`LLMCondenser` rewrites a follow-up into a standalone question with ``condense.md``;
:class:`LLMAnswerer` writes the answer from the retrieved passages with ``system.md`` and
``answer.md``. What the model writes is streamed as it arrives; the final :class:`Answer` is the
verified version (see :func:`assistant.answer.citations.verify_answer`). The server itself is
:class:`~assistant.answer.llm_client.ChatClient`'s business.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

from assistant.answer.base import text_deltas
from assistant.answer.citations import DECLINE_TEXT, SupportScorer, claim_text, verify_answer
from assistant.answer.condense import condense_rule
from assistant.answer.llm_client import BACKOFF_BASE, ChatClient
from assistant.answer.prompts import PromptSet, load_prompts
from assistant.config import Settings
from assistant.models import Answer, AnswerReady, Passage, StreamEvent, TextDelta, final_answer
from assistant.text import format_date, strip_citations

if TYPE_CHECKING:
    from assistant.library.embedding import Embedder

logger = logging.getLogger(__name__)

HISTORY_TURNS = 6  # messages of history the condensing prompt sees
HISTORY_CHARS = 600  # per message
PASSAGE_OPEN = "<<<PASSAGE {n}>>>"
PASSAGE_CLOSE = "<<<END PASSAGE {n}>>>"
CONDENSED_CACHE = 64  # follow-ups remembered, so asking the same one again costs no request


def _as_data(text: str) -> str:
    """Article text with anything that looks like our delimiters defused."""
    return text.replace("<<<", "\u2039\u2039\u2039").replace(">>>", "\u203a\u203a\u203a")


def format_context(passages: list[Passage]) -> str:
    """The numbered passages, each fenced by delimiters, with title, outlet and date."""
    blocks = []
    for n, passage in enumerate(passages, start=1):
        blocks.append(
            "\n".join(
                [
                    PASSAGE_OPEN.format(n=n),
                    f"Title: {_as_data(passage.title) or 'untitled'}",
                    f"Outlet: {_as_data(passage.source) or 'unknown'}",
                    f"Date: {format_date(passage.published, passage.published_inferred, 'unknown')}",
                    "Text:",
                    _as_data(passage.text.strip()),
                    PASSAGE_CLOSE.format(n=n),
                ]
            )
        )
    return "\n\n".join(blocks)


def format_history(history: Sequence[Mapping[str, str]]) -> str:
    lines = []
    for message in history[-HISTORY_TURNS:]:
        role = "User" if message.get("role") == "user" else "Assistant"
        content = strip_citations(str(message.get("content", ""))).replace("\n", " ")
        if len(content) > HISTORY_CHARS:
            content = content[:HISTORY_CHARS].rsplit(" ", 1)[0] + " ..."
        lines.append(f"{role}: {content}")
    return "\n".join(lines)


class LLMCondenser:
    """Follow-ups rewritten by the model into standalone questions (the rule where the reply is unusable).

    Thread-safe: the cache of recent follow-ups is guarded by a lock.
    """

    def __init__(self, client: ChatClient, prompts: PromptSet) -> None:
        self.client = client
        self.prompts = prompts
        self._cache: OrderedDict[tuple[str, tuple[tuple[str, str], ...]], str] = OrderedDict()
        self._lock = threading.Lock()

    def condense(self, question: str, history: Sequence[Mapping[str, str]] | None) -> str:
        """The follow-up as a standalone question (unchanged without an earlier user turn)."""
        question = question.strip()
        turns = tuple(
            (str(m.get("role", "")), str(m.get("content", "")))
            for m in history or []
            if str(m.get("content", "")).strip()
        )
        if not any(role == "user" for role, _ in turns):
            return question
        key = (question, turns)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        prompt = self.prompts.condense.render(history=format_history(history or []), question=question)
        reply = self.client.complete([{"role": "user", "content": prompt}], max_tokens=200)
        standalone = _clean_condensed(reply, question) or condense_rule(question, history)
        logger.info("condensed follow-up %r -> %r", question, standalone)
        with self._lock:
            self._cache[key] = standalone
            while len(self._cache) > CONDENSED_CACHE:
                self._cache.popitem(last=False)
        return standalone


class LLMAnswerer:
    """Answers from retrieved passages with an OpenAI-compatible chat model, then verifies citations.

    ``condenser`` is the same server's :class:`LLMCondenser`; the pipeline calls it once per question
    before retrieval, so the answerer itself only ever sees standalone questions.
    """

    backend = "openai"

    def __init__(self, settings: Settings, embedder: Embedder, backoff_base: float = BACKOFF_BASE) -> None:
        self.settings = settings
        self.llm = settings.llm
        self.prompts = load_prompts(settings.llm)  # PromptError here, at start-up, not mid-answer
        self.scorer = SupportScorer(embedder)
        self.client = ChatClient(settings.llm, backoff_base=backoff_base)
        self.condenser = LLMCondenser(self.client, self.prompts)

    # --- answering ---------------------------------------------------------------------------

    def messages(self, question: str, passages: list[Passage]) -> list[dict[str, str]]:
        return [
            {"role": "system", "content": self.prompts.system.render()},
            {
                "role": "user",
                "content": self.prompts.answer.render(context=format_context(passages), question=question),
            },
        ]

    def stream(self, question: str, passages: list[Passage]) -> Iterator[StreamEvent]:
        """The model's text as it arrives, then the verified Answer (``question`` stands alone)."""
        if not passages:
            yield from text_deltas(DECLINE_TEXT)
            yield AnswerReady(
                answer=Answer(question=question, text=DECLINE_TEXT, abstained=True, backend=self.backend)
            )
            return
        pieces: list[str] = []
        for piece in self.client.stream_text(self.messages(question, passages)):
            pieces.append(piece)
            yield TextDelta(text=piece)
        verified = verify_answer("".join(pieces), passages, self.scorer, self.llm.support_threshold)
        if verified.unsupported:
            logger.info(
                "%d claim(s) removed for lack of support: %s",
                len(verified.unsupported),
                [claim_text(c)[:80] for c in verified.unsupported],
            )
        answer = Answer(
            question=question,
            text=verified.text,
            abstained=verified.abstained,
            citations=verified.citations,
            passages=list(passages),
            backend=self.backend,
            unsupported=verified.unsupported,
        )
        yield AnswerReady(answer=answer)

    def answer(self, question: str, passages: list[Passage]) -> Answer:
        return final_answer(self.stream(question, passages))


_YEAR = re.compile(r"\b(?:19|20)\d{2}\b")


def _clean_condensed(reply: str, follow_up: str) -> str:
    """The question out of a model's condensing reply (labels, quotes and extra lines removed).

    Empty when the reply is not a usable question — not ending in "?", echoing the passage markers,
    or losing a year the follow-up named ("And in 2024?") — so that the rule takes over: a small
    model's answer or garbage must never become the search query.
    """
    lines = [line.strip() for line in reply.strip().splitlines() if line.strip()]
    if not lines:
        return ""
    line = re.sub(r"^(?:standalone question|question)\s*:\s*", "", lines[0], flags=re.IGNORECASE)
    line = line.strip().strip("\"'\u201c\u201d").strip()
    if not 0 < len(line) <= 300 or not line.endswith("?") or "<<" in line or ">>" in line:
        return ""
    if not set(_YEAR.findall(follow_up)) <= set(_YEAR.findall(line)):
        return ""
    return line
