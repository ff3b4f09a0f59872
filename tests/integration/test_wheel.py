"""A normal (non-editable) install: the wheel carries the prompts and the evaluation defaults.

The wheel is built from this checkout and installed into a fresh venv outside the repository. The
venv borrows the heavy dependencies (torch, Chroma, ...) from this checkout's own environment
through a ``.pth`` line, which adds that folder to ``sys.path`` without running its ``.pth`` files,
so the checkout's editable install stays out and the ``assistant`` package comes from the wheel.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.integration

HAMAS = "What did Hamas demand?"
NOT_SOURCE = (
    ".venv",
    ".git",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    "*_cache",
    "results",
    ".assistant",
)


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{args[:3]} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    return done.stdout


def test_the_installed_wheel_answers_from_its_own_sample_corpus(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    # Built from a clean copy: a build/ folder left in the checkout would carry stale modules along.
    source = tmp_path / "source"
    shutil.copytree(REPO, source, symlinks=True, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    wheels = tmp_path / "wheels"
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w"]
    _run([*build, str(wheels), str(source)], tmp_path, env)
    (wheel,) = wheels.glob("news_assistant-*.whl")

    target = tmp_path / "venv"
    venv.create(target, with_pip=False)
    python = target / "bin" / "python"
    install = [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps"]
    _run([*install, "--no-index", str(wheel)], tmp_path, env)
    site = Path(
        _run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], tmp_path, env
        ).strip()
    )
    (site / "borrowed-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    where = json.loads(
        _run(
            [
                str(python),
                "-c",
                "import json, assistant.answer.prompts as p, assistant.evaluation.defaults as d;"
                "p.load_prompts(__import__('assistant.config').config.LLMSettings());"
                "print(json.dumps({'package': p.__file__, 'corpus': str(d.DEFAULT_CORPUS),"
                " 'questions': d.DEFAULT_DATASET.is_file(), 'prompts': str(p.DEFAULT_PROMPTS_DIR),"
                " 'prompt_files': sorted(f.name for f in p.DEFAULT_PROMPTS_DIR.iterdir())}))",
            ],
            tmp_path,
            env,
        )
    )
    assert Path(where["package"]).is_relative_to(target), "assistant must come from the wheel"
    assert Path(where["corpus"]).is_relative_to(target) and where["questions"]
    # prompts/ of the checkout, mapped into the package by the build: the wheel carries its own copy
    assert Path(where["prompts"]).is_relative_to(target), where["prompts"]
    assert {"system.md", "answer.md", "condense.md", "reader.md"} <= set(where["prompt_files"])
    with zipfile.ZipFile(wheel) as archive:
        packed = {name for name in archive.namelist() if name.startswith("assistant/prompt_files/")}
    assert packed == {
        f"assistant/prompt_files/{name}" for name in ("answer.md", "condense.md", "reader.md", "system.md")
    }

    cli = [str(target / "bin" / "assistant"), "--data-dir", str(tmp_path / "data")]
    _run([*cli, "ingest", where["corpus"], "--json"], tmp_path, env)
    answer = json.loads(_run([*cli, "ask", HAMAS, "--json"], tmp_path, env))
    assert not answer["abstained"] and answer["citations"]
    assert all(f"[{c['number']}]" in answer["text"] for c in answer["citations"])
    assert {Path(c["path"]).parent for c in answer["citations"]} == {Path(where["corpus"])}
