"""Chroma as a server: one process ingests, another answers, through a real `chroma run` server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.chroma_server import chroma_server, free_port
from tests.conftest import CORPUS_DIR, REPO

pytestmark = pytest.mark.integration

@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with chroma_server(tmp_path_factory.mktemp("chroma-server")) as url:
        yield url


def _cli(data_dir: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ASSISTANT_STORE__CHROMA_URL": url, "ASSISTANT_STORE__COLLECTION": "shared-news"}
    return subprocess.run(
        [sys.executable, "-m", "assistant.interfaces.cli", "--data-dir", str(data_dir), *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=600,
    )


def test_one_process_ingests_another_answers(make_assistant, chroma_url: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data_dir = tmp_path / "shared-data"
    store = {"chroma_url": chroma_url, "collection": "shared-news"}
    reader = make_assistant(data_dir=data_dir, store=store)  # opened before anything is ingested
    assert reader.retrieve("What did Hamas demand?") == []

    files = sorted(CORPUS_DIR.iterdir())
    ingest = _cli(data_dir, chroma_url, "ingest", *map(str, files[:-1]), "--json")
    assert ingest.returncode == 0, ingest.stderr
    assert json.loads(ingest.stdout)["passages_added"] > 0
    assert not (data_dir / "chroma").exists(), "the vectors live on the server, not in data_dir"

    answer = reader.ask("What did Hamas demand?")
    assert not answer.abstained and answer.citations
    for mode in ("dense", "bm25"):
        assert reader.retrieve("Hamas demands", mode=mode), mode

    # A later ingest by the other process (a new article) reaches this one's BM25 and dense search.
    last = files[-1]
    ingest = _cli(data_dir, chroma_url, "ingest", str(last), "--json")
    assert ingest.returncode == 0, ingest.stderr
    (new_id,) = json.loads(ingest.stdout)["files"][0]["article_ids"]
    title = reader.article(new_id).title
    for mode in ("dense", "bm25"):
        hits = reader.retrieve(title, k=5, mode=mode)
        assert new_id in {p.article_id for p in hits}, mode

    # A delete by this process is seen by the next CLI run.
    reader.delete(new_id)
    listing = _cli(data_dir, chroma_url, "articles", "--json")
    assert listing.returncode == 0, listing.stderr
    assert new_id not in listing.stdout
    assert reader.vectors.count() == reader.stats()["passages"]


def test_unreachable_server_is_a_clear_error_without_the_token(make_assistant, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from assistant.errors import StoreError

    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(StoreError) as info:
        make_assistant(store={"chroma_url": url, "chroma_token": "s3cret-token"})
    message = str(info.value)
    assert url in message and "store.chroma_url" in message and "chroma run" in message
    assert "s3cret-token" not in message


def test_a_malformed_url_names_the_setting(make_assistant) -> None:  # type: ignore[no-untyped-def]
    from assistant.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="store.chroma_url"):
        make_assistant(store={"chroma_url": "localhost:8000"})


def test_a_server_that_goes_away_is_a_clear_error(make_assistant, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from assistant.errors import StoreError

    with chroma_server(tmp_path / "short-lived") as url:
        assistant = make_assistant(store={"chroma_url": url})
        assistant.ingest([sorted(CORPUS_DIR.iterdir())[0]])
        assert assistant.retrieve("Qatar", mode="dense")
    with pytest.raises(StoreError, match="store.chroma_url"):
        assistant.retrieve("Qatar", mode="dense")
