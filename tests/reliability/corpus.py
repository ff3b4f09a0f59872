"""Synthetic articles and subprocess helpers for the reliability tests (all text made up here)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.conftest import REPO

TOWNS = [
    "Quillby",
    "Harrowgate Vale",
    "Essenmoor",
    "Tarnwick",
    "Lowbridge",
    "Corrie Bay",
    "Fennick",
    "Ostwald",
]
TOPICS = [
    ("bakery", "opened a bakery that only sells rye loaves shaped like boats"),
    ("ferry", "restarted the night ferry after a winter of repairs to its paddle wheel"),
    ("orchard", "planted four hundred pear trees along the disused canal towpath"),
    ("choir", "formed a choir of retired lighthouse keepers who sing on Sunday evenings"),
    ("library", "moved the town library into the old fire station on the market square"),
    ("bridge", "closed the stone footbridge after inspectors found a crack in its keystone"),
    ("market", "voted to hold the cheese market on Thursdays instead of Saturdays"),
    ("museum", "opened a museum of weather instruments in a converted water tower"),
]


def make_articles(folder: Path, count: int, version: int = 1) -> list[Path]:
    """``count`` one-passage plain-text articles; ``version`` changes their text (for updates)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n in range(count):
        town = TOWNS[n % len(TOWNS)]
        topic, action = TOPICS[(n // len(TOWNS)) % len(TOPICS)]
        title = f"{town} {topic} story number {n} (edition {version})"
        body = (
            f"The council of {town} {action}, according to notice {n}-{version} posted on the hall door. "
            f"Residents were asked to send comments about the {topic} before the end of month {n % 12 + 1}. "
            f"Officials said the plan would cost {100 + n * 7} crowns "
            f"and would be reviewed in year {2030 + version}."
        )
        path = folder / f"article-{n:04d}.txt"
        path.write_text(f"{title}\n\n{body}\n", encoding="utf-8")
        paths.append(path)
    return paths


def cli_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_FAILPOINT")}
    env.update(
        {
            "ASSISTANT_DATA_DIR": str(data_dir),
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "GRADIO_ANALYTICS_ENABLED": "False",
            "ANONYMIZED_TELEMETRY": "False",
            "TOKENIZERS_PARALLELISM": "false",
            "PYTHONPATH": str(REPO),
        }
    )
    env.update(extra)
    return env


def assistant_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "assistant.interfaces.cli", *args]


def run_cli(data_dir: Path, *args: str, timeout: float = 300, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        assistant_cmd(*args),
        env=cli_env(data_dir, **env),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
    )


def inspect_library(data_dir: Path) -> dict[str, Any]:
    from tests.reliability.inspect_library import inspect

    return inspect(data_dir)


def open_and_check(data_dir: Path, embedder: Any) -> Any:
    """Open the library as any process would (which repairs an interrupted write), then check it."""
    from chromadb.api.client import SharedSystemClient

    from assistant import Assistant, Settings
    from assistant.library.check import check_library

    SharedSystemClient.clear_system_cache()
    assistant = Assistant(Settings(data_dir=data_dir), embedder=embedder)
    try:
        return check_library(assistant)
    finally:
        assistant.close()
        SharedSystemClient.clear_system_cache()


def wait_for_line(path: Path, process: subprocess.Popen[str], timeout: float) -> str:
    """Wait until ``path`` has a line (a failpoint was reached) or the process ends."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return path.read_text().strip()
        if process.poll() is not None:
            return ""
        time.sleep(0.05)
    return ""
