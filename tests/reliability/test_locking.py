"""The data directory's write lock and the interrupted-write marker, in one process."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from assistant.library.locking import IN_PROGRESS_FILE, LibraryBusyError, WriteLock

pytestmark = pytest.mark.reliability


def test_a_held_lock_refuses_a_second_writer_and_names_the_holder(tmp_path: Path) -> None:
    with WriteLock(tmp_path, timeout=0, operation="ingest"), pytest.raises(LibraryBusyError) as refused:
        WriteLock(tmp_path, timeout=0.3, operation="delete x").acquire()
    message = str(refused.value)
    assert f"pid {os.getpid()}, ingest" in message and "reliability.lock_timeout" in message
    with WriteLock(tmp_path, timeout=0, operation="again"):  # released: free at once
        pass


def test_a_waiting_writer_gets_the_lock_when_it_is_released(tmp_path: Path) -> None:
    first = WriteLock(tmp_path, timeout=0, operation="first")
    first.acquire()
    threading.Timer(0.4, first.release).start()
    started = time.monotonic()
    with WriteLock(tmp_path, timeout=10, operation="second"):
        waited = time.monotonic() - started
    assert 0.3 < waited < 5


def test_an_interrupted_write_is_repaired_when_the_library_opens(make_assistant, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from assistant.library.check import check_library
    from tests.reliability.corpus import make_articles

    assistant = make_assistant()
    assert assistant.ingest([make_articles(tmp_path / "a", 6)[0].parent]).ok
    data_dir = assistant.settings.data_dir
    # What a writer killed after its Chroma write leaves: a vector the registry does not know.
    vector = assistant.embedder.embed_texts(["half-written passage"])
    assistant.vectors.add(
        ["0000000000000000-0000"],
        ["half-written passage"],
        vector,
        [{"article_id": "0000000000000000"}],
        ["0000000000000000"],
    )
    (data_dir / IN_PROGRESS_FILE).write_text("ingest (pid 1)\n")
    assert not check_library(assistant).ok
    assistant.close()

    reopened = make_assistant()
    assert not (data_dir / IN_PROGRESS_FILE).exists()
    report = check_library(reopened)
    assert report.ok and report.vectors == 6, report.summary()
    # A finished write leaves no marker behind, and so opening costs nothing.
    reopened.delete(reopened.articles()[0].id)
    assert not (data_dir / IN_PROGRESS_FILE).exists()
