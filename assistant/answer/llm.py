"""The LLM answer backend: any OpenAI-compatible server (OpenAI, Ollama, vLLM, llama.cpp).

The official ``openai`` client does the talking, with its own retries switched off: this module
retries 429s, 5xx, timeouts and connection errors itself, with exponential backoff, so that every
failure ends in one :class:`LLMError` that names the cause and the setting to change. The API key
is never logged and never part of an error message.

What the model writes is streamed as it arrives; the final :class:`Answer` is the verified version
(see :func:`assistant.answer.citations.verify_answer`).
"""

from __future__ import annotations

import logging
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
import openai

from assistant.answer.citations import (
    DECLINE_TEXT,
    SupportScorer,
    claim_text,
    strip_citations,
    verify_answer,
)
from assistant.answer.condense import condense_rule
from assistant.config import Settings
from assistant.errors import LLMError
from assistant.models import Answer, Passage
from assistant.prompts import load_prompts

if TYPE_CHECKING:
    from assistant.embedding import Embedder

logger = logging.getLogger(__name__)

OPENAI_BASE_URL = "https://api.openai.com/v1"
LOCAL_DUMMY_KEY = "not-needed"  # Ollama, vLLM and llama.cpp accept any key
BACKOFF_BASE = 1.0  # seconds before the first retry; doubled for each further one
BACKOFF_MAX = 30.0
HISTORY_TURNS = 6  # messages of history the condensing prompt sees
HISTORY_CHARS = 600  # per message
PASSAGE_OPEN = "<<<PASSAGE {n}>>>"
PASSAGE_CLOSE = "<<<END PASSAGE {n}>>>"

T = TypeVar("T")


def format_date(passage: Passage) -> str:
    if passage.published is None:
        return "unknown"
    text = f"{passage.published.day} {passage.published:%B %Y}"
    return f"{text} (date inferred)" if passage.published_inferred else text


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
                    f"Date: {format_date(passage)}",
                    "Text:",
                    _as_data(passage.text.strip()),
                    PASSAGE_CLOSE.format(n=n),
                ]
            )
        )
    return "\n\n".join(blocks)


def format_history(history: list[dict]) -> str:
    lines = []
    for message in history[-HISTORY_TURNS:]:
        role = "User" if message.get("role") == "user" else "Assistant"
        content = strip_citations(str(message.get("content", ""))).replace("\n", " ")
        if len(content) > HISTORY_CHARS:
            content = content[:HISTORY_CHARS].rsplit(" ", 1)[0] + " ..."
        lines.append(f"{role}: {content}")
    return "\n".join(lines)


def _is_openai(base_url: str) -> bool:
    return "api.openai.com" in base_url


class LLMAnswerer:
    """Answers from retrieved passages with an OpenAI-compatible chat model, then verifies citations."""

    def __init__(self, settings: Settings, embedder: Embedder, backoff_base: float = BACKOFF_BASE) -> None:
        self.settings = settings
        self.llm = settings.llm
        self.prompts = load_prompts(settings.llm)  # PromptError here, at start-up, not mid-answer
        self.scorer = SupportScorer(embedder)
        self.backoff_base = backoff_base
        self.base_url = (self.llm.base_url or OPENAI_BASE_URL).rstrip("/")
        self._client: openai.OpenAI | None = None
        self._condensed: OrderedDict[tuple[str, tuple[tuple[str, str], ...]], str] = OrderedDict()
        self._standalone: set[str] = set()

    # --- talking to the server --------------------------------------------------------------

    def _key(self) -> str:
        key = self.llm.resolved_api_key()
        if key:
            return key
        if _is_openai(self.base_url):
            raise LLMError(
                f"No API key for {self.base_url}: set llm.api_key (ASSISTANT_LLM__API_KEY) or the "
                "OPENAI_API_KEY environment variable, or point llm.base_url at a local server "
                "(Ollama, vLLM, llama.cpp) that needs none."
            )
        return LOCAL_DUMMY_KEY

    def client(self) -> openai.OpenAI:
        if self._client is None:
            self._client = openai.OpenAI(
                base_url=self.base_url, api_key=self._key(), timeout=self.llm.timeout, max_retries=0
            )
        return self._client

    def _redact(self, text: str) -> str:
        key = self.llm.resolved_api_key()
        if key and len(key) >= 4:
            text = text.replace(key, "***")
        return re.sub(r"\b(sk-[A-Za-z0-9_-]{2})[A-Za-z0-9_*-]{6,}", r"\1***", text)

    def _detail(self, error: openai.APIStatusError) -> str:
        """The server's own explanation, shortened and with any key removed."""
        body = error.body
        message = ""
        if isinstance(body, dict):
            inner = body.get("error", body)
            message = str(inner.get("message", "") if isinstance(inner, dict) else inner)
        message = self._redact(" ".join(message.split()))[:200]
        return f": {message}" if message else ""

    def _failure(self, error: Exception, attempts: int) -> tuple[str, bool]:
        """(message for the user, whether a retry may help)."""
        where = f"the LLM server at {self.base_url}"
        tries = f"after {attempts} attempt{'s' if attempts != 1 else ''}"
        if isinstance(error, openai.APITimeoutError | httpx.TimeoutException):
            return (
                f"{where} did not answer within llm.timeout={self.llm.timeout:g}s ({tries}); "
                "raise llm.timeout or use a smaller/faster llm.model.",
                True,
            )
        if isinstance(error, openai.APIConnectionError | httpx.TransportError):
            return (
                f"Cannot connect to {where} ({tries}): is the server running? Check llm.base_url.",
                True,
            )
        if isinstance(error, openai.AuthenticationError | openai.PermissionDeniedError):
            return (
                f"{where} rejected the API key ({error.status_code}{self._detail(error)}); "
                "set a valid llm.api_key or OPENAI_API_KEY.",
                False,
            )
        if isinstance(error, openai.NotFoundError):
            return (
                f"{where} answered 404{self._detail(error)}; check llm.model={self.llm.model!r} "
                "and llm.base_url (it usually ends in /v1).",
                False,
            )
        if isinstance(error, openai.RateLimitError):
            return (
                f"{where} is rate-limiting requests (429{self._detail(error)}, {tries}); "
                "wait and try again, or raise llm.max_retries.",
                True,
            )
        if isinstance(error, openai.APIStatusError):
            status = error.status_code
            retry = status >= 500 or status in (408, 409)
            hint = (
                "the server failed; check its logs, or raise llm.max_retries"
                if retry
                else "check llm.model, llm.max_tokens and llm.base_url"
            )
            return f"{where} answered HTTP {status}{self._detail(error)} ({tries}); {hint}.", retry
        return f"{where} failed: {type(error).__name__} ({tries}); check llm.base_url.", False

    def _with_retries(self, call: Callable[[], T], purpose: str) -> T:
        attempts = self.llm.max_retries + 1
        for attempt in range(1, attempts + 1):
            try:
                return call()
            except LLMError:
                raise
            except (openai.OpenAIError, httpx.HTTPError) as e:
                message, retryable = self._failure(e, attempt)
                if not retryable or attempt == attempts:
                    logger.warning("LLM %s failed: %s", purpose, message)
                    raise LLMError(message) from e
                delay = min(self.backoff_base * 2 ** (attempt - 1), BACKOFF_MAX)
                logger.info(
                    "LLM %s failed (%s); retry %d of %d in %.2fs",
                    purpose,
                    message.split(";")[0],
                    attempt,
                    attempts - 1,
                    delay,
                )
                time.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _request(self, messages: list[dict[str, str]], stream: bool, max_tokens: int | None = None) -> Any:
        client = self.client()

        def call() -> Any:
            return client.chat.completions.create(
                model=self.llm.model,
                messages=messages,  # type: ignore[arg-type]
                temperature=self.llm.temperature,
                max_tokens=max_tokens or self.llm.max_tokens,
                stream=stream,
            )

        return self._with_retries(call, "stream" if stream else "request")

    def _stream_text(self, messages: list[dict[str, str]]) -> Iterator[str]:
        """The model's reply, piece by piece. Retries happen only before the first piece."""
        response = self._request(messages, stream=True)
        try:
            for chunk in response:
                if not chunk.choices:
                    continue
                piece = chunk.choices[0].delta.content
                if piece:
                    yield piece
        except (openai.OpenAIError, httpx.HTTPError) as e:
            message, _ = self._failure(e, 1)
            logger.warning("LLM stream broke off: %s", message)
            raise LLMError(f"The reply stopped half-way: {message}") from e
        finally:
            response.close()

    # --- follow-ups --------------------------------------------------------------------------

    def condense(self, question: str, history: list[dict] | None) -> str:
        """The follow-up rewritten by the model into a standalone question (unchanged without history)."""
        question = question.strip()
        turns = tuple(
            (str(m.get("role", "")), str(m.get("content", "")))
            for m in history or []
            if str(m.get("content", "")).strip()
        )
        if not any(role == "user" for role, _ in turns) or question in self._standalone:
            return question
        key = (question, turns)
        if key in self._condensed:
            return self._condensed[key]
        prompt = self.prompts.condense.render(history=format_history(list(history or [])), question=question)
        response = self._request([{"role": "user", "content": prompt}], stream=False, max_tokens=200)
        reply = (response.choices[0].message.content or "") if response.choices else ""
        standalone = _clean_condensed(reply, question) or condense_rule(question, history)
        logger.info("condensed follow-up %r -> %r", question, standalone)
        self._condensed[key] = standalone
        self._standalone.add(standalone)
        while len(self._condensed) > 64:
            _, dropped = self._condensed.popitem(last=False)
            self._standalone.discard(dropped)
        return standalone

    # --- answering ---------------------------------------------------------------------------

    def messages(self, question: str, passages: list[Passage]) -> list[dict[str, str]]:
        return [
            {"role": "system", "content": self.prompts.system.render()},
            {
                "role": "user",
                "content": self.prompts.answer.render(context=format_context(passages), question=question),
            },
        ]

    def stream(
        self, question: str, passages: list[Passage], history: list[dict] | None = None
    ) -> Iterator[str | Answer]:
        """The model's text as it arrives, then the verified Answer."""
        started = time.perf_counter()
        standalone = self.condense(question, history)
        if not passages:
            yield DECLINE_TEXT
            yield Answer(
                question=question,
                standalone_question=standalone,
                text=DECLINE_TEXT,
                abstained=True,
                backend="openai",
                latency_ms=(time.perf_counter() - started) * 1000,
            )
            return
        pieces: list[str] = []
        for piece in self._stream_text(self.messages(standalone, passages)):
            pieces.append(piece)
            yield piece
        raw = "".join(pieces)
        verified = verify_answer(raw, passages, self.scorer, self.llm.support_threshold)
        if verified.unsupported:
            logger.info(
                "%d claim(s) removed for lack of support: %s",
                len(verified.unsupported),
                [claim_text(c)[:80] for c in verified.unsupported],
            )
        yield Answer(
            question=question,
            standalone_question=standalone,
            text=verified.text,
            abstained=verified.abstained,
            citations=verified.citations,
            passages=list(passages),
            backend="openai",
            unsupported=verified.unsupported,
            latency_ms=(time.perf_counter() - started) * 1000,
        )

    def answer(self, question: str, passages: list[Passage], history: list[dict] | None = None) -> Answer:
        final: Answer | None = None
        for part in self.stream(question, passages, history):
            if isinstance(part, Answer):
                final = part
        assert final is not None
        return final


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
