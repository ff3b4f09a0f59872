"""Several writers and many readers on one library: never an error, never a corrupted library."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO
from tests.reliability.corpus import (
    assistant_cmd,
    cli_env,
    inspect_library,
    make_articles,
    run_cli,
    wait_for_line,
)
from tests.ui_server import running_app

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

QUESTIONS = [
    "What did Hamas demand?",
    "What happened to the bridge?",
    "Who won the election?",
    "What did the council decide about the museum?",
    "What did the ferry operator announce?",
]


def test_two_ingests_on_one_library_both_succeed(tmp_path: Path) -> None:
    """The second writer waits for the first (reliability.lock_timeout) and then does its work."""
    data_dir = tmp_path / "data"
    make_articles(tmp_path / "a", 60)
    make_articles(tmp_path / "b", 60, version=2)  # different text, so different articles
    env = cli_env(data_dir, ASSISTANT_RELIABILITY__LOCK_TIMEOUT="600")  # a loaded machine is slow
    runs = [
        subprocess.Popen(
            assistant_cmd("ingest", "--json", str(tmp_path / name)),
            env=env,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("a", "b")
    ]
    outputs = [run.communicate(timeout=300) for run in runs]
    for run, (out, errors) in zip(runs, outputs, strict=True):
        assert run.returncode == 0, errors
        assert json.loads(out)["passages_added"] == 60
    lib = inspect_library(data_dir)
    assert len(lib["article_keys"]) == 120 == len(lib["passages"]) == lib["vector_count"]
    assert set(lib["vectors"]) == set(lib["passages"]) == set(lib["bm25"]["ids"])
    checked = run_cli(data_dir, "check")
    assert checked.returncode == 0, checked.stdout


def test_a_second_writer_that_will_not_wait_is_refused_clearly(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    make_articles(tmp_path / "a", 20)
    make_articles(tmp_path / "b", 5, version=3)
    marker = tmp_path / "reached.txt"
    holder = subprocess.Popen(  # stops mid-ingest, holding the lock
        assistant_cmd("ingest", "--json", str(tmp_path / "a")),
        env=cli_env(data_dir, ASSISTANT_FAILPOINT="ingest.embedding", ASSISTANT_FAILPOINT_FILE=str(marker)),
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert wait_for_line(marker, holder, 240)  # type: ignore[arg-type]
        refused = run_cli(data_dir, "ingest", str(tmp_path / "b"), ASSISTANT_RELIABILITY__LOCK_TIMEOUT="0")
        assert refused.returncode == 2
        message = " ".join(refused.stderr.split())
        assert f"another process (pid {holder.pid}, ingest) is writing to the library" in message, message
        assert "reliability.lock_timeout" in message
        deleting = run_cli(data_dir, "delete", "0123456789abcdef", ASSISTANT_RELIABILITY__LOCK_TIMEOUT="0")
        assert deleting.returncode == 2  # no such article, and nothing was touched
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    # The lock died with its holder: the next writer gets it at once and finishes the work.
    done = run_cli(data_dir, "ingest", "--json", str(tmp_path / "a"), str(tmp_path / "b"))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["passages_added"] == 25
    assert run_cli(data_dir, "check").returncode == 0


def test_twenty_clients_ask_while_an_upload_and_a_delete_run(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    from gradio_client import Client, handle_file

    upload = tmp_path / "batch.jsonl"
    make_articles(tmp_path / "new", 150, version=4)
    upload.write_text(
        "\n".join(
            json.dumps({"id": p.stem, "title": p.read_text().split("\n")[0], "text": p.read_text()})
            for p in sorted((tmp_path / "new").iterdir())
        ),
        encoding="utf-8",
    )
    with running_app(tmp_path, embedder) as app:
        assistant = app.assistant
        before = _passage_texts(assistant)
        victim = next(a for a in assistant.articles() if "Hamas" not in a.title)
        victim_passages = set(assistant.registry.passage_ids(victim.id))
        errors: list[str] = []
        answers: list[dict[str, Any]] = []
        lock = threading.Lock()
        start = threading.Barrier(22)

        def ask(n: int) -> None:
            client = Client(app.url, verbose=False)
            start.wait()
            for round_ in range(2):
                try:
                    answer = client.predict(
                        question=QUESTIONS[(n + round_) % len(QUESTIONS)], api_name="/ask"
                    )
                except Exception as e:  # any failure is what this test counts
                    with lock:
                        errors.append(f"client {n}: {e!r}")
                    continue
                with lock:
                    answers.append(answer)

        def write(kind: str) -> None:
            client = Client(app.url, verbose=False)
            start.wait()
            try:
                if kind == "upload":
                    table = client.predict(paths=[handle_file(str(upload))], api_name="/upload")
                    rows = table["data"] if isinstance(table, dict) else table
                    assert rows[0][1] == "added", rows
                else:
                    time.sleep(0.5)
                    client.predict(article_id=victim.id, api_name="/delete")
            except Exception as e:
                with lock:
                    errors.append(f"{kind}: {e!r}")

        with ThreadPoolExecutor(22) as pool:
            jobs = [pool.submit(ask, n) for n in range(20)]
            jobs += [pool.submit(write, "upload"), pool.submit(write, "delete")]
            for job in jobs:
                job.result(timeout=600)

        assert errors == []
        assert len(answers) == 40
        after = _passage_texts(assistant)
        assert victim.id not in {a.id for a in assistant.articles()}
        assert len(after) == len(before) - len(victim_passages) + 150
        for answer in answers:
            for citation in answer["citations"]:
                pid = citation["passage_id"]
                # Cited passages exist (or existed until the delete that ran alongside) with that text.
                known = after.get(pid) or (before.get(pid) if pid in victim_passages else None)
                assert known is not None, pid
                assert citation["passage"] in known or known in citation["passage"]
        lib = inspect_library(app.data_dir)
        assert set(lib["vectors"]) == set(lib["passages"]) == set(after)
    print(f"20 clients, {len(answers)} answers, {len(errors)} errors")


def _passage_texts(assistant: Any) -> dict[str, str]:
    articles = {a.id: a for a in assistant.articles()}
    return {pid: articles[aid].text[s:e] for pid, aid, s, e in assistant.registry.all_passages()}


def test_processes_creating_one_new_library_at_once_all_open_it(tmp_path: Path) -> None:
    """Chroma migrates a new directory's schema on first open; two processes doing that at once
    failed with "table collections already exists" until the opening was serialised."""
    import sys

    code = (
        "import sys; from pathlib import Path; from assistant.config import StoreSettings; "
        "from assistant.library.vectors import VectorStore; "
        "VectorStore(Path(sys.argv[1]) / 'chroma', StoreSettings())"
    )
    failures: list[str] = []
    for attempt in range(4):
        data_dir = tmp_path / f"library-{attempt}"
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", code, str(data_dir)], cwd=REPO, stderr=subprocess.PIPE, text=True
            )
            for _ in range(3)
        ]
        for proc in procs:
            _, err = proc.communicate(timeout=120)
            if proc.returncode:
                failures.append(err[-500:])
    assert failures == []
