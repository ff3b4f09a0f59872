"""The local backend: one GGUF model run by llama.cpp inside this process (xllamacpp), shared by all users.

The model is loaded on first use, once. Requests are served one at a time in the order they came:
each waits its turn in a FIFO queue and may learn its place in it; past ``llm.queue_limit`` waiting
requests a new one is refused at once with ModelBusyError, which carries a retry-after estimate.
A consumer that stops reading a reply (closes the generator: a Stop button, a client that went
away) stops the generation within one token or one prompt step, and the next request goes on.

xllamacpp always starts llama.cpp's own HTTP listener next to the in-process API; it is bound to a
Unix socket in a private temporary folder (mode 0700), so that no network port is ever opened.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import math
import os
import queue
import shutil
import tempfile
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.answer.local.catalog import CATALOG, INSTALL_HINT, resolve_model
from assistant.config import LLMSettings
from assistant.errors import LLMError, ModelBusyError, ModelNotInstalledError

logger = logging.getLogger(__name__)

#: ``on_queue(ahead)``: how many requests are ahead of this one (the one being written included);
#: called when the request enters the queue, whenever that number changes, and with 0 when it starts.
QueueCallback = Callable[[int], None]

FIRST_GUESS_SECONDS = 30.0  # a request's duration before any was measured (retry-after estimates)
CANCEL_POLL_SECONDS = 0.2  # how often a waiting request looks at its cancel event
LLAMA_VERBOSITY = 1  # llama.cpp's own log on stderr: errors only
UNIX_PATH_MAX = 100  # sun_path holds 108 bytes; keep clear of it


def llama_params(xllamacpp: Any, settings: LLMSettings, path: Path, threads: int) -> Any:
    """llama.cpp's server parameters for ``path`` with ``settings`` (one request at a time); the caller
    says where it listens (``hostnames``, ``port``)."""
    params = xllamacpp.CommonParams()
    params.model.path = str(path)
    params.n_ctx = settings.context_size
    params.n_batch = settings.batch_size
    params.n_ubatch = settings.batch_size
    params.n_parallel = 1
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.verbosity = LLAMA_VERBOSITY
    params.cache_ram_mib = 0  # no prompt cache in RAM beyond the slot's own (it grows to 8 GiB)
    params.fit_params = False  # keep the context size asked for
    params.endpoint_slots = False
    params.ui = False
    return params


def physical_cores() -> int:
    """Physical cores this process may run on: CPU affinity, SMT siblings counted once, cgroup quota."""
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return max(1, (os.cpu_count() or 2) // 2)
    cores: set[tuple[str, str]] = set()
    for cpu in cpus:
        topology = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology")
        try:
            package = (topology / "physical_package_id").read_text().strip()
            cores.add((package, (topology / "core_id").read_text().strip()))
        except OSError:
            cores.add(("cpu", str(cpu)))
    count = len(cores) or 1
    with contextlib.suppress(OSError, ValueError):  # cgroup v2 CPU quota ("max 100000" when unlimited)
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            count = min(count, max(1, math.ceil(int(quota) / int(period))))
    return count


@dataclass(frozen=True)
class LocalStats:
    """What the model did so far; the per-request figures are those of the last finished request."""

    model_path: Path | None
    threads: int
    context_size: int
    load_seconds: float | None
    requests: int  # generations finished (or stopped) since the load
    prompt_tokens: int | None  # prompt tokens read by the last request (excluding those reused from cache)
    cached_tokens: int | None  # prompt tokens the last request reused from the previous one
    prompt_tokens_per_second: float | None
    generated_tokens: int | None
    generation_tokens_per_second: float | None
    last_seconds: float | None  # wall time the last request held the model
    average_seconds: float  # running estimate of a request's duration (used for retry-after)
    waiting: int  # requests in the queue now
    busy: bool  # a request is being written now


class _Ticket:
    """A request's place in the queue (identity only)."""

    __slots__ = ()


class RequestQueue:
    """FIFO admission to one model: one request runs, at most ``limit`` wait behind it."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._cond = threading.Condition()
        self._waiting: deque[_Ticket] = deque()
        self._active: _Ticket | None = None
        self._active_since = 0.0
        self.average_seconds = FIRST_GUESS_SECONDS
        self._measured = False

    @property
    def waiting(self) -> int:
        with self._cond:
            return len(self._waiting)

    @property
    def busy(self) -> bool:
        with self._cond:
            return self._active is not None

    def retry_after(self) -> float:
        """Seconds until the running request is expected to end, which frees a place in the queue."""
        with self._cond:
            return self._retry_after_locked()

    def enter(self) -> _Ticket:
        with self._cond:
            if (self._active is not None or self._waiting) and len(self._waiting) >= self.limit:
                waiting = len(self._waiting)
                retry = self._retry_after_locked()
                raise ModelBusyError(
                    f"The local model is busy: one answer is being written and {waiting} "
                    f"request{'s' if waiting != 1 else ''} wait (llm.queue_limit={self.limit}); "
                    f"try again in about {retry:.0f}s.",
                    retry_after=retry,
                )
            ticket = _Ticket()
            self._waiting.append(ticket)
            return ticket

    def _retry_after_locked(self) -> float:
        elapsed = time.monotonic() - self._active_since if self._active is not None else 0.0
        return float(max(1, math.ceil(self.average_seconds - elapsed)))

    def _ahead(self, ticket: _Ticket) -> int:
        return self._waiting.index(ticket) + (1 if self._active is not None else 0)

    def wait_turn(
        self, ticket: _Ticket, on_queue: QueueCallback | None, cancel: threading.Event | None
    ) -> bool:
        """Block until ``ticket`` may run (True) or ``cancel`` is set while it waits (False, queue left).

        ``on_queue`` is called outside the lock, so it may take its time or raise (the caller then
        must ``leave`` the ticket).
        """
        reported: int | None = None
        while True:
            with self._cond:
                while True:
                    if cancel is not None and cancel.is_set():
                        self._waiting.remove(ticket)
                        self._cond.notify_all()
                        return False
                    ahead = self._ahead(ticket)
                    if ahead == 0:
                        self._waiting.popleft()
                        self._active = ticket
                        self._active_since = time.monotonic()
                        break
                    if ahead != reported:
                        break
                    self._cond.wait(CANCEL_POLL_SECONDS if cancel is not None else None)
            if on_queue is not None and ahead != reported:
                on_queue(ahead)
            reported = ahead
            if ahead == 0:
                return True

    def leave(self, ticket: _Ticket, seconds: float | None = None) -> None:
        """Give up a place: the running request is done (``seconds`` it took, when it ran to its end)."""
        with self._cond:
            if self._active is ticket:
                self._active = None
                if seconds is not None:
                    self.average_seconds = (
                        seconds if not self._measured else 0.7 * self.average_seconds + 0.3 * seconds
                    )
                    self._measured = True
            else:
                with contextlib.suppress(ValueError):
                    self._waiting.remove(ticket)
            self._cond.notify_all()


_PIECE, _ERROR, _END = "piece", "error", "end"


@dataclass(eq=False)  # hashed by identity
class _Job:
    events: queue.SimpleQueue[tuple[str, Any]]
    stop: threading.Event
    cancel: threading.Event | None
    finished: bool = False  # the model ended its reply (not stopped, not failed)
    logprobs: list[tuple[str, float]] | None = None  # each written token and its log-probability
    counted: bool = True  # a warm-up is neither a request in the stats nor a duration in the queue's estimate

    def should_stop(self) -> bool:
        return self.stop.is_set() or (self.cancel is not None and self.cancel.is_set())


class LocalLLM:
    """A GGUF model in this process, with the interface of ChatClient (``stream_text``, ``complete``).

    Thread-safe and meant to be shared: create one per process and ``close()`` it when done.
    """

    def __init__(self, settings: LLMSettings) -> None:
        self.settings = settings
        self.threads = settings.threads or physical_cores()
        self.queue = RequestQueue(settings.queue_limit)
        self._load_lock = threading.Lock()
        self._server: Any = None
        self._model_path: Path | None = None
        self._socket_dir: str | None = None
        self._finalizer: weakref.finalize | None = None
        self._load_seconds: float | None = None
        self._stats_lock = threading.Lock()
        self._requests = 0
        self._timings: dict[str, Any] = {}
        self._last_seconds: float | None = None
        self._jobs: set[_Job] = set()
        self._workers: set[threading.Thread] = set()
        _LIVE.add(self)

    # -- loading --------------------------------------------------------------------------------

    @property
    def loaded(self) -> bool:
        return self._server is not None

    @property
    def model_path(self) -> Path | None:
        return self._model_path

    def load(self) -> None:
        """Load the model now (it is loaded on first use otherwise). Safe to call from many threads."""
        self._ensure_server()

    def _ensure_server(self) -> Any:
        with self._load_lock:
            if self._server is None:
                self._server = self._start()
            return self._server

    def _start(self) -> Any:
        settings = self.settings
        path = resolve_model(settings.local_model, settings.models_dir)
        try:
            import xllamacpp
        except ImportError as e:
            raise LLMError(
                "llm.backend='local' needs the xllamacpp package (pip install xllamacpp); "
                "or set llm.backend to 'extractive' or 'openai'."
            ) from e
        socket_dir = tempfile.mkdtemp(prefix="assistant-llm-")
        if len(socket_dir) > UNIX_PATH_MAX - 12:
            shutil.rmtree(socket_dir, ignore_errors=True)
            socket_dir = tempfile.mkdtemp(prefix="assistant-llm-", dir="/tmp")
        params = llama_params(xllamacpp, settings, path, self.threads)
        params.hostnames = [os.path.join(socket_dir, "llama.sock")]  # a Unix socket: no network port
        started = time.perf_counter()
        try:
            server = xllamacpp.Server(params)
        except Exception as e:
            shutil.rmtree(socket_dir, ignore_errors=True)
            name = settings.local_model if settings.local_model in CATALOG else "<name>"
            raise ModelNotInstalledError(
                f"llama.cpp could not load the model {path}: the file may be damaged or of an "
                f"architecture this llama.cpp does not know: reinstall it with `{INSTALL_HINT} {name}` or "
                f"choose another llm.local_model; or memory is short: lower llm.context_size "
                f"({settings.context_size})."
            ) from e
        self._load_seconds = time.perf_counter() - started
        self._model_path = path
        self._socket_dir = socket_dir
        self._finalizer = weakref.finalize(self, shutil.rmtree, socket_dir, True)
        logger.info(
            "local model %s loaded in %.1fs (%d threads, context %d)",
            path.name,
            self._load_seconds,
            self.threads,
            settings.context_size,
        )
        return server

    def close(self) -> None:
        """Stop the running generation and unload the model; the next request loads it again."""
        self._stop_all(wait=5.0)
        with self._load_lock:
            self._server = None  # a request still running holds its own reference until it ends
            if self._finalizer is not None:
                self._finalizer()
                self._finalizer = None
            self._socket_dir = None
            self._model_path = None

    def __enter__(self) -> LocalLLM:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _stop_all(self, wait: float) -> None:
        with self._stats_lock:
            jobs, workers = list(self._jobs), list(self._workers)
        for job in jobs:
            job.stop.set()
        deadline = time.monotonic() + wait
        for worker in workers:
            worker.join(max(0.0, deadline - time.monotonic()))

    # -- generating -----------------------------------------------------------------------------

    def _request(
        self,
        messages: list[dict[str, str]],
        max_tokens: int | None,
        temperature: float | None = None,
        logprobs: bool = False,
    ) -> dict[str, Any]:
        return {
            "messages": messages,
            "max_tokens": max_tokens or self.settings.max_tokens,
            "temperature": self.settings.temperature if temperature is None else temperature,
            "stream": True,
            "return_progress": True,  # a chunk per prompt step: a stop is noticed while the prompt is read
            "cache_prompt": True,
            **({"logprobs": True} if logprobs else {}),
        }

    def stream_text(
        self,
        messages: list[dict[str, str]],
        max_tokens: int | None = None,
        temperature: float | None = None,
        *,
        on_queue: QueueCallback | None = None,
        cancel: threading.Event | None = None,
        logprobs: list[tuple[str, float]] | None = None,
    ) -> Generator[str, None, None]:
        """The model's reply, piece by piece, once this request's turn has come.

        Nothing happens before the first ``next()``: then the model is loaded if need be, the
        request joins the queue (ModelBusyError at once when it is full) and waits, reporting its
        place to ``on_queue``. Closing the generator, or setting ``cancel`` (also while waiting),
        stops the request and frees the model for the next one. Given a ``logprobs`` list, each
        token written is appended to it with its log-probability, before its piece is yielded.
        """
        return self._stream(messages, max_tokens, temperature, on_queue, cancel, logprobs, counted=True)

    def warm(self, messages: list[dict[str, str]]) -> None:
        """Have the model read ``messages`` now, in its turn, writing one token: a later request that
        starts with the same text (a prompt's instruction and examples) reuses what was read from the
        cache. Not counted in ``stats.requests``; loads the model if need be."""
        for _ in self._stream(messages, 1, 0.0, None, None, None, counted=False):
            pass

    def _stream(
        self,
        messages: list[dict[str, str]],
        max_tokens: int | None,
        temperature: float | None,
        on_queue: QueueCallback | None,
        cancel: threading.Event | None,
        logprobs: list[tuple[str, float]] | None,
        *,
        counted: bool,
    ) -> Generator[str, None, None]:
        server = self._ensure_server()
        ticket = self.queue.enter()
        try:
            if not self.queue.wait_turn(ticket, on_queue, cancel):
                return
        except BaseException:
            self.queue.leave(ticket)
            raise
        job = _Job(queue.SimpleQueue(), threading.Event(), cancel, logprobs=logprobs, counted=counted)
        request = self._request(messages, max_tokens, temperature, logprobs=logprobs is not None)
        worker = threading.Thread(
            target=self._generate,
            args=(server, request, job, ticket),
            name="local-llm",
            daemon=True,
        )
        with self._stats_lock:
            self._jobs.add(job)
            self._workers.add(worker)
        try:
            worker.start()
        except BaseException:
            with self._stats_lock:
                self._jobs.discard(job)
                self._workers.discard(worker)
            self.queue.leave(ticket)
            raise
        error: LLMError | None = None
        try:
            while True:
                kind, value = job.events.get()
                if kind == _PIECE and error is None:
                    yield value
                elif kind == _ERROR:
                    error = error or value  # raised once the model is free again (at _END)
                elif kind == _END:
                    if error is not None:
                        raise error
                    return
        finally:
            job.stop.set()  # the worker stops llama.cpp at its next chunk and frees the model

    def complete(
        self,
        messages: list[dict[str, str]],
        max_tokens: int | None = None,
        *,
        on_queue: QueueCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> str:
        """The model's whole reply to ``messages``."""
        return "".join(self.stream_text(messages, max_tokens, on_queue=on_queue, cancel=cancel))

    def _generate(self, server: Any, request: dict[str, Any], job: _Job, ticket: _Ticket) -> None:
        """Runs on its own thread while the request holds the model; the model is freed when it returns."""
        started = time.perf_counter()

        def on_chunk(chunk: Any) -> bool:
            """Returning True stops the generation. xllamacpp swallows exceptions raised here."""
            try:
                failed = self._on_chunk(chunk, job)
            except Exception as e:  # pragma: no cover - defensive
                job.events.put((_ERROR, LLMError(f"The local model's reply could not be read: {e!r}")))
                return True
            return failed or job.should_stop()

        try:
            server.handle_chat_completions(request, on_chunk)
        except Exception as e:
            job.events.put((_ERROR, LLMError(f"The local model failed: {e}")))
        finally:
            seconds = time.perf_counter() - started
            with self._stats_lock:
                if job.counted:
                    self._requests += 1
                    self._last_seconds = seconds
                self._jobs.discard(job)
                self._workers.discard(threading.current_thread())
            self.queue.leave(ticket, seconds if job.finished and job.counted else None)
            job.events.put((_END, None))

    def _on_chunk(self, chunk: Any, job: _Job) -> bool:
        """Handle one chunk of the stream; True when it reports a failure."""
        if not isinstance(chunk, dict):
            job.events.put((_ERROR, LLMError(f"The local model sent an unreadable chunk: {chunk!r:.200}")))
            return True
        if "error" in chunk or ("message" in chunk and "choices" not in chunk):
            job.events.put((_ERROR, self._error(chunk.get("error", chunk))))
            return True
        timings = chunk.get("timings")
        if isinstance(timings, dict) and job.counted:
            with self._stats_lock:
                self._timings = timings
        choices = chunk.get("choices") or []
        if choices:
            if job.logprobs is not None:
                for token in (choices[0].get("logprobs") or {}).get("content") or []:
                    if isinstance(token, dict) and isinstance(token.get("logprob"), (int, float)):
                        job.logprobs.append((str(token.get("token", "")), float(token["logprob"])))
            piece = (choices[0].get("delta") or {}).get("content")
            if isinstance(piece, str) and piece:
                job.events.put((_PIECE, piece))
            if choices[0].get("finish_reason") is not None:
                job.finished = True
        return False

    def _error(self, error: Any) -> LLMError:
        if not isinstance(error, dict):
            return LLMError(f"The local model failed: {error!r:.300}")
        if error.get("type") == "exceed_context_size_error":
            return LLMError(
                f"The request is {error.get('n_prompt_tokens', '?')} tokens, more than the local model's "
                f"context of {error.get('n_ctx', self.settings.context_size)}: raise llm.context_size "
                "(costs memory) or send fewer passages (retrieval.k)."
            )
        return LLMError(f"The local model failed: {' '.join(str(error.get('message', error)).split())[:300]}")

    # -- state ----------------------------------------------------------------------------------

    @property
    def stats(self) -> LocalStats:
        with self._stats_lock:
            timings = dict(self._timings)
            requests, last_seconds = self._requests, self._last_seconds

        def number(key: str) -> Any:
            value = timings.get(key)
            return value if isinstance(value, int | float) else None

        return LocalStats(
            model_path=self._model_path,
            threads=self.threads,
            context_size=self.settings.context_size,
            load_seconds=self._load_seconds,
            requests=requests,
            prompt_tokens=number("prompt_n"),
            cached_tokens=number("cache_n"),
            prompt_tokens_per_second=number("prompt_per_second"),
            generated_tokens=number("predicted_n"),
            generation_tokens_per_second=number("predicted_per_second"),
            last_seconds=last_seconds,
            average_seconds=self.queue.average_seconds,
            waiting=self.queue.waiting,
            busy=self.queue.busy,
        )


_LIVE: weakref.WeakSet[LocalLLM] = weakref.WeakSet()


@atexit.register
def _stop_generations_at_exit() -> None:
    # A generation thread calling back into a finalizing interpreter can abort the process.
    for llm in list(_LIVE):
        llm._stop_all(wait=5.0)
