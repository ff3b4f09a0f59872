"""SIGKILL a real `assistant ingest` at chosen points; the library must open, agree with itself and
finish the same ingest on the next run with no duplicates.

Kill points come from ASSISTANT_FAILPOINT (assistant/failpoints.py): the ingest stops at the point and
the test kills it there, so every run dies at the same place. One library goes through every kill in
turn, as a user's would through repeated power cuts.
"""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO
from tests.reliability.corpus import (
    assistant_cmd,
    cli_env,
    inspect_library,
    make_articles,
    open_and_check,
    run_cli,
    wait_for_line,
)

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

ARTICLES = 300  # one passage each: two embedding batches of 256


def drift(lib: dict[str, Any]) -> dict[str, int]:
    """What disagrees between Chroma, the registry and BM25, counted."""
    vectors, passages = lib["vectors"], lib["passages"]
    articles = set(passages.values())
    bm25 = lib["bm25"]
    bm25_ids = bm25["ids"] if bm25 else []
    return {
        "orphan_vectors": len(set(vectors) - set(passages)),
        "missing_vectors": len(set(passages) - set(vectors)),
        "vectors_of_unknown_articles": sum(1 for aid in vectors.values() if aid not in articles),
        "bm25_extra": len(set(bm25_ids) - set(passages)),
        "bm25_missing": len(set(passages) - set(bm25_ids)),
        "bm25_duplicates": len(bm25_ids) - len(set(bm25_ids)),
        "bm25_behind": int(bool(passages) and (bm25 is None or bm25["generation"] != lib["generation"])),
    }


def kill_at(data_dir: Path, folder: Path, point: str, tmp_path: Path) -> str:
    """Run `assistant ingest folder`, SIGKILL it when it reaches ``point``; the point's report line."""
    marker = tmp_path / f"failpoint-{point.replace(':', '-')}.txt"
    marker.unlink(missing_ok=True)
    env = cli_env(data_dir, ASSISTANT_FAILPOINT=point, ASSISTANT_FAILPOINT_FILE=str(marker))
    process = subprocess.Popen(
        assistant_cmd("ingest", "--json", str(folder)),
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = wait_for_line(marker, process, timeout=240)
        assert line, f"{point} was never reached: {process.stderr.read() if process.stderr else ''}"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        assert process.returncode == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
    return line


def test_sigkill_at_each_stage_leaves_a_library_that_recovers(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    data_dir = tmp_path / "data"
    folder = tmp_path / "articles"
    make_articles(folder, ARTICLES)
    kills = [
        ("ingest.embedding:2", "the second batch is embedded, nothing of it stored"),
        ("ingest.chroma_write:10", "an article's vectors are stored, its registry row is not"),
        ("registry.commit:10", "inside an open registry transaction"),
        ("bm25.save", "the new BM25 segments are written, the manifest not yet swapped"),
    ]
    found: list[dict[str, Any]] = []
    for point, _what in kills:
        kill_at(data_dir, folder, point, tmp_path)
        before = drift(inspect_library(data_dir))
        # The library opens, and opening repairs what the killed writer left behind.
        checked = open_and_check(data_dir, embedder)
        assert checked.ok, checked.summary()
        lib = inspect_library(data_dir)
        assert drift(lib) == dict.fromkeys(before, 0), (point, drift(lib))
        assert len(lib["article_keys"]) == len(set(lib["article_keys"]))
        found.append({"point": point, "drift_before_recovery": before, "articles": len(lib["article_keys"])})

    # Re-running the same ingest completes: every article once, every passage once, no drift.
    rerun = run_cli(data_dir, "ingest", "--json", str(folder))
    assert rerun.returncode == 0, rerun.stderr
    lib = inspect_library(data_dir)
    assert len(lib["article_keys"]) == ARTICLES
    assert len(set(lib["article_keys"])) == ARTICLES
    assert len(lib["passages"]) == lib["vector_count"] == ARTICLES
    assert drift(lib) == dict.fromkeys(drift(lib), 0)
    print(json.dumps(found))  # the figures for docs/reliability.md (pytest -rP shows them)


def test_sigkill_while_replacing_changed_articles(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    """Updating changed articles deletes their old vectors first: a kill there must not lose them."""
    data_dir = tmp_path / "data"
    folder = tmp_path / "articles"
    make_articles(folder, 40)
    first = run_cli(data_dir, "ingest", "--json", str(folder))
    assert first.returncode == 0, first.stderr
    make_articles(folder, 40, version=2)  # every article's text changes
    kill_at(data_dir, folder, "ingest.chroma_write:5", tmp_path)
    # Without opening an Assistant, `inspect` sees what the kill left: 4 articles replaced and committed,
    # the 5th's new vectors written under the ids of its old passages, the registry still on the old text.
    lib = inspect_library(data_dir)
    assert set(lib["vectors"]) == set(lib["passages"])  # ids agree; only the text is stale
    report = open_and_check(data_dir, embedder)
    assert report.ok, report.summary()
    rerun = run_cli(data_dir, "ingest", "--json", str(folder))
    assert rerun.returncode == 0, rerun.stderr
    result = json.loads(rerun.stdout)
    statuses = [f["status"] for f in result["files"]]
    assert statuses.count("updated") == 36 and statuses.count("unchanged") == 4, statuses
    lib = inspect_library(data_dir)
    assert drift(lib) == dict.fromkeys(drift(lib), 0)
    assert len(lib["article_keys"]) == 40 and lib["vector_count"] == 40


def test_check_finds_and_repairs_drift_made_by_hand(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    """`assistant check` names each kind of drift and exits 1; `--repair` fixes it and exits 0."""
    from assistant import Assistant, Settings
    from assistant.library.check import check_library

    data_dir = tmp_path / "data"
    folder = tmp_path / "articles"
    make_articles(folder, 12)
    assistant = Assistant(Settings(data_dir=data_dir), embedder=embedder)
    assert assistant.ingest([folder]).ok
    titles = {a.id: a.title for a in assistant.articles()}
    target = next(pid for pid, aid, _, _ in assistant.registry.all_passages() if "number 2 " in titles[aid])
    # An orphan (a vector with no registry passage), a missing vector, a stale BM25 index.
    vec = embedder.embed_texts(["stray passage"])
    assistant.vectors.add(
        ["ffffffffffffffff-0000"],
        ["stray passage"],
        vec,
        [{"article_id": "ffffffffffffffff"}],
        ["ffffffffffffffff"],
    )
    assistant.vectors.delete_ids([target])
    # A stale vector: the right id, another text (what a replace killed half-way leaves).
    stale = next(pid for pid, _, _, _ in assistant.registry.all_passages() if pid != target)
    stale_article = stale.rsplit("-", 1)[0]
    assistant.vectors.delete_ids([stale])
    assistant.vectors.add([stale], ["an older text"], vec, [{"article_id": stale_article}], [stale_article])
    # BM25 drift: the manifest marks every passage of its first segment deleted.
    manifest_file = data_dir / "bm25" / "manifest.json"
    manifest = json.loads(manifest_file.read_text())
    manifest["segments"][0]["dead"] = list(range(manifest["segments"][0]["documents"]))
    manifest_file.write_text(json.dumps(manifest))
    report = check_library(assistant)
    assert report.orphan_vectors == ["ffffffffffffffff-0000"]
    assert report.missing_vectors == [target]
    assert report.stale_vectors == [stale]
    assert "not in the registry" in report.bm25_problem
    assistant.close()

    found = run_cli(data_dir, "check")
    assert found.returncode == 1
    assert "1 orphan vectors" in found.stdout and "1 missing vectors" in found.stdout, found.stdout
    assert "1 stale vectors" in found.stdout
    fixed = run_cli(data_dir, "check", "--repair")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "repaired: 1 orphan vectors" in fixed.stdout and "consistent" in fixed.stdout, fixed.stdout
    again = open_and_check(data_dir, embedder)
    assert again.ok and again.vectors == 12
    # The repaired passage is found again by a question about it, through its vector.
    reopened = Assistant(Settings(data_dir=data_dir), embedder=embedder)
    found_again = reopened.retrieve("Essenmoor bakery rye loaves shaped like boats notice 2-1", mode="dense")
    assert target in [p.id for p in found_again]
    reopened.close()
