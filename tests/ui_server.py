"""Start the web UI on a free local port over a temp library holding the sample corpus (UI tests)."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CORPUS_DIR


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
    """The app, launched in this process's threads; settings are built free of the caller's env."""
    from assistant import Assistant, Settings
    from assistant.ui import build_app, launch_options

    with pytest.MonkeyPatch.context() as env:
        for name in list(os.environ):
            if name.startswith("ASSISTANT_") or name == "OPENAI_API_KEY":
                env.delenv(name)
        env.setenv("ASSISTANT_CONFIG", str(root / "no-such.toml"))
        config = Settings(data_dir=root / "data", **(settings or {}))
    assistant = Assistant(config, embedder=embedder)
    report = assistant.ingest([CORPUS_DIR])
    assert report.ok and report.added >= 5, report.summary()
    demo = build_app(assistant, eval_dir=root / "eval", **build)
    port = free_port()
    demo.launch(
        server_name="127.0.0.1",
        server_port=port,
        prevent_thread_lock=True,
        quiet=True,
        **launch_options(config),
    )
    try:
        yield RunningApp(f"http://127.0.0.1:{port}/", assistant, root, config.data_dir)
    finally:
        demo.close()
        assistant.close()
