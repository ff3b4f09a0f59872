"""The local backend end to end, on the toy GGUF (it writes nonsense, so its answers never verify):
quotes first, then the model's turn, and the quotes standing in whenever the model cannot answer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assistant.models import AnswerReady, QuotesReady, TextDelta, Waiting
from tests.local_model import holding, wait_until_free

pytestmark = pytest.mark.integration

HAMAS = "What did Hamas demand?"


@pytest.fixture
def local_assistant(corpus_assistant, toy_model: Path):  # type: ignore[no-untyped-def]
    """The shared sample library, asked through a local backend on the toy model."""
    from assistant import Assistant

    settings = corpus_assistant.settings.with_overrides(
        **{"llm.backend": "local", "llm.local_model": str(toy_model), "llm.threads": 1}
    )
    assistant = Assistant(settings, embedder=corpus_assistant.embedder)
    yield assistant
    assistant.close()


def test_quotes_come_first_then_the_model_and_the_quotes_stand_when_it_cannot_be_verified(
    local_assistant,  # type: ignore[no-untyped-def]
) -> None:
    events = list(local_assistant.stream(HAMAS))
    assert isinstance(events[0], QuotesReady) and not events[0].answer.abstained
    assert any(isinstance(e, TextDelta) and e.text for e in events)  # the model did write
    answer = events[-1].answer
    assert isinstance(events[-1], AnswerReady) and answer.backend == "local"
    # nonsense is stated in no passage: it is dropped, and the quotes stand, saying why
    assert answer.unsupported and "not stated in the passages" in answer.text
    assert events[0].answer.text in answer.text and answer.citations
    assert answer.confidence is not None and 0.0 <= answer.confidence <= 1.0  # how sure the model was
    assert local_assistant.local_model is not None and local_assistant.local_model.stats.requests == 1


def test_a_model_loaded_ahead_has_read_the_reader_prompt_before_the_first_question(  # type: ignore[no-untyped-def]
    local_assistant, corpus_assistant, toy_model: Path
) -> None:
    from assistant import Assistant

    local_assistant.load_local_model()  # as a server does at start-up
    model = local_assistant.local_model
    assert model is not None and model.loaded and model.stats.requests == 0
    local_assistant.ask(HAMAS)
    warmed = model.stats
    # the instruction and worked examples were read at load: the first question reuses them
    cold_assistant = Assistant(local_assistant.settings, embedder=corpus_assistant.embedder)
    try:
        cold_assistant.ask(HAMAS)
        assert cold_assistant.local_model is not None
        cold = cold_assistant.local_model.stats
    finally:
        cold_assistant.close()
    assert warmed.requests == 1 and cold.requests == 1
    assert not cold.cached_tokens and cold.prompt_tokens is not None
    assert warmed.cached_tokens is not None and warmed.cached_tokens > 100
    assert warmed.prompt_tokens is not None
    assert warmed.prompt_tokens + warmed.cached_tokens == cold.prompt_tokens  # the same prompt, split


def test_an_unanswerable_question_never_reaches_the_model(local_assistant) -> None:  # type: ignore[no-untyped-def]
    answer = local_assistant.ask("Who won the 1998 football world cup final in Paris?")
    assert answer.abstained and answer.backend == "local"
    assert local_assistant.local_model is None or local_assistant.local_model.stats.requests == 0


def test_the_backend_is_chosen_per_question(local_assistant) -> None:  # type: ignore[no-untyped-def]
    answer = local_assistant.ask(HAMAS, backend="extractive")
    assert answer.backend == "extractive" and answer.quotes is None
    assert local_assistant.local_model is None  # never loaded for an extractive question


def test_a_missing_model_falls_back_to_quotes_naming_the_install_command(
    corpus_assistant, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    from assistant import Assistant

    settings = corpus_assistant.settings.with_overrides(
        **{"llm.backend": "local", "llm.models_dir": str(tmp_path / "no-models")}
    )
    assistant = Assistant(settings, embedder=corpus_assistant.embedder)
    try:
        answer = assistant.ask(HAMAS)
    finally:
        assistant.close()
    assert answer.fallback_reason and "assistant model install" in answer.fallback_reason
    assert "assistant model install" in answer.text and answer.citations and not answer.abstained


def test_the_cli_answers_with_the_local_backend_and_json_carries_both(
    corpus_assistant, toy_model: Path
) -> None:  # type: ignore[no-untyped-def]
    cli = [
        sys.executable,
        "-m",
        "assistant.interfaces.cli",
        "--data-dir",
        str(corpus_assistant.settings.data_dir),
    ]
    env = {**os.environ, "ASSISTANT_LLM__LOCAL_MODEL": str(toy_model), "ASSISTANT_LLM__THREADS": "1"}
    done = subprocess.run(
        [*cli, "ask", HAMAS, "--backend", "local", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    answer = json.loads(done.stdout)
    assert answer["backend"] == "local" and answer["citations"]
    assert answer["unsupported"]  # the toy model's nonsense, dropped; the quotes stand
    shown = subprocess.run(
        [*cli, "ask", HAMAS, "--backend", "local"], capture_output=True, text=True, env=env, timeout=300
    )
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert "quotes from the articles" in shown.stdout and "not stated in the passages" in shown.stdout


def test_a_queued_question_that_is_closed_leaves_the_queue(local_assistant) -> None:  # type: ignore[no-untyped-def]
    local_assistant.load_local_model()
    model = local_assistant.local_model
    with holding(model):  # another answer is being written
        stream = local_assistant.stream(HAMAS)
        events = iter(stream)
        while not isinstance(event := next(events), Waiting):
            pass
        assert event.position == 1 and model.stats.waiting == 1
        stream.close()  # the user pressed Stop while it waited
        deadline = time.monotonic() + 3
        while model.stats.waiting and time.monotonic() < deadline:
            time.sleep(0.05)
        assert model.stats.waiting == 0
    wait_until_free(model)
    assert model.stats.requests == 0  # it never wrote
