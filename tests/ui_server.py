"""Start the server — web UI under /ui, API under /v1 — on a free local port over a temp library
holding the sample corpus (UI tests), as ``assistant serve`` does."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CORPUS_DIR
from tests.http_server import free_port, uvicorn_server

__all__ = ["RunningApp", "free_port", "running_app"]


@dataclass
class RunningApp:
    url: str
    assistant: Any
    root: Path
    data_dir: Path


@contextmanager
def running_app(
    root: Path, embedder: Any, settings: dict[str, Any] | None = None, **build: Any
) -> Iterator[RunningApp]:
    """The app, served in this process's threads; settings are built free of the caller's env."""
    from assistant import Assistant, Settings
    from assistant.interfaces.serve import build_server_app

    with pytest.MonkeyPatch.context() as env:
        for name in list(os.environ):
            if name.startswith("ASSISTANT_") or name == "OPENAI_API_KEY":
                env.delenv(name)
        env.setenv("ASSISTANT_CONFIG", str(root / "no-such.toml"))
        config = Settings(data_dir=root / "data", **(settings or {}))
    assistant = Assistant(config, embedder=embedder)
    report = assistant.ingest([CORPUS_DIR])
    assert report.ok and report.added >= 5, report.summary()
    app = build_server_app(assistant, eval_dir=root / "eval", **build)
    try:
        with uvicorn_server(app) as base:
            yield RunningApp(f"{base}/ui/", assistant, root, config.data_dir)
    finally:
        assistant.close()
