"""Talking to an OpenAI-compatible chat server (OpenAI, Ollama, vLLM, llama.cpp).

The official ``openai`` client does the talking, with its own retries switched off: this module
retries 429s, 5xx, timeouts and connection errors itself, with exponential backoff, so that every
failure ends in one :class:`LLMError` that names the cause and the setting to change. The API key
is never logged and never part of an error message.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import httpx
import openai

from assistant.config import LLMSettings
from assistant.errors import LLMError

logger = logging.getLogger(__name__)

OPENAI_BASE_URL = "https://api.openai.com/v1"
LOCAL_DUMMY_KEY = "not-needed"  # Ollama, vLLM and llama.cpp accept any key
BACKOFF_BASE = 1.0  # seconds before the first retry; doubled for each further one
BACKOFF_MAX = 30.0

T = TypeVar("T")


def _is_openai(base_url: str) -> bool:
    return "api.openai.com" in base_url


class ChatClient:
    """One chat server: requests with retries, streamed replies, and errors that say what to change.

    Safe to share between threads: the ``openai`` client is created once, under a lock.
    """

    def __init__(self, settings: LLMSettings, backoff_base: float = BACKOFF_BASE) -> None:
        self.settings = settings
        self.backoff_base = backoff_base
        self.base_url = (settings.base_url or OPENAI_BASE_URL).rstrip("/")
        self._client: openai.OpenAI | None = None
        self._lock = threading.Lock()
        self._logprobs_refused = False  # the server rejected a request for log-probabilities once

    def _key(self) -> str:
        key = self.settings.resolved_api_key()
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
        with self._lock:
            if self._client is None:
                self._client = openai.OpenAI(
                    base_url=self.base_url, api_key=self._key(), timeout=self.settings.timeout, max_retries=0
                )
            return self._client

    def _redact(self, text: str) -> str:
        key = self.settings.resolved_api_key()
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
                f"{where} did not answer within llm.timeout={self.settings.timeout:g}s ({tries}); "
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
                f"{where} answered 404{self._detail(error)}; check llm.model={self.settings.model!r} "
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
        attempts = self.settings.max_retries + 1
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

    def request(
        self,
        messages: list[dict[str, str]],
        stream: bool,
        max_tokens: int | None = None,
        temperature: float | None = None,
        logprobs: bool = False,
    ) -> Any:
        """One chat completion. With ``logprobs``, the server is asked for each token's log-probability;
        a server that rejects the field (HTTP 400 or 422) is asked again without it, and never again."""
        client = self.client()

        def call() -> Any:
            create = functools.partial(
                client.chat.completions.create,
                model=self.settings.model,
                messages=messages,
                temperature=self.settings.temperature if temperature is None else temperature,
                max_tokens=max_tokens or self.settings.max_tokens,
                stream=stream,
            )
            if logprobs and not self._logprobs_refused:
                try:
                    return create(logprobs=True)
                except (openai.BadRequestError, openai.UnprocessableEntityError) as e:
                    self._logprobs_refused = True
                    logger.info(
                        "%s refused log-probabilities (%s%s): the reader's answers go ungated by confidence",
                        self.base_url,
                        e.status_code,
                        self._detail(e),
                    )
            return create()

        return self._with_retries(call, "stream" if stream else "request")

    def stream_text(
        self,
        messages: list[dict[str, str]],
        max_tokens: int | None = None,
        temperature: float | None = None,
        *,
        logprobs: list[tuple[str, float]] | None = None,
    ) -> Iterator[str]:
        """The model's reply, piece by piece. Retries happen only before the first piece.

        Given a ``logprobs`` list, each written token and its log-probability are appended to it, when
        the server returns them (OpenAI, vLLM and llama.cpp do; a server that does not leaves it empty).
        """
        response = self.request(
            messages,
            stream=True,
            max_tokens=max_tokens,
            temperature=temperature,
            logprobs=logprobs is not None,
        )
        try:
            for chunk in response:
                if not chunk.choices:
                    continue
                choice = chunk.choices[0]
                if logprobs is not None and choice.logprobs is not None:
                    for token in choice.logprobs.content or []:
                        if isinstance(token.logprob, int | float):
                            logprobs.append((token.token, float(token.logprob)))
                piece = choice.delta.content
                if piece:
                    yield piece
        except (openai.OpenAIError, httpx.HTTPError) as e:
            message, _ = self._failure(e, 1)
            logger.warning("LLM stream broke off: %s", message)
            raise LLMError(f"The reply stopped half-way: {message}") from e
        finally:
            response.close()

    def complete(self, messages: list[dict[str, str]], max_tokens: int | None = None) -> str:
        """The model's whole reply to ``messages`` (no streaming)."""
        response = self.request(messages, stream=False, max_tokens=max_tokens)
        return (response.choices[0].message.content or "") if response.choices else ""
