"""One writer per library: an inter-process lock on the data directory, and recovery after a crash.

Ingest, delete and ``check --repair`` run inside :func:`write_session`. It takes an exclusive
``fcntl.flock`` on ``<data_dir>/.write.lock`` (the kernel drops it when the holder dies, even by
SIGKILL), waiting up to ``reliability.lock_timeout`` seconds for another process before refusing with
:class:`LibraryBusyError`. While the write runs, ``<data_dir>/.write-in-progress`` exists; a write
that ends normally removes it. If it is still there when the next writer (or the next process that
opens the library) gets the lock, the previous writer died mid-way, so the library is checked and
repaired before anything else happens: the repair is handed in by the library's owner (the
Assistant calls :func:`assistant.library.check.repair_library` on its parts). Readers never take the
lock.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from assistant.errors import AssistantError

logger = logging.getLogger(__name__)

LOCK_FILE = ".write.lock"
IN_PROGRESS_FILE = ".write-in-progress"
_POLL_SECONDS = 0.1


class LibraryBusyError(AssistantError):
    """Another process is writing to the same data directory and did not finish in time."""


class WriteLock:
    """Exclusive inter-process lock on a data directory (re-entrant within one thread is not needed)."""

    def __init__(self, data_dir: Path, timeout: float, operation: str) -> None:
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / LOCK_FILE
        self.timeout = timeout
        self.operation = operation
        self._fd: int | None = None

    def acquire(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + self.timeout
        waited = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = _read_holder(fd)
                    os.close(fd)
                    raise LibraryBusyError(
                        f"another process ({holder}) is writing to the library in {self.data_dir}; "
                        f"waited {self.timeout:g} s (reliability.lock_timeout). Try again when it has "
                        "finished, or raise reliability.lock_timeout to wait longer"
                    ) from None
                if not waited:
                    logger.warning(
                        "another process (%s) is writing to %s; waiting up to %g s (lock_timeout)",
                        _read_holder(fd),
                        self.data_dir,
                        self.timeout,
                    )
                    waited = True
                time.sleep(_POLL_SECONDS)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}, {self.operation}".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def __enter__(self) -> WriteLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _read_holder(fd: int) -> str:
    try:
        text = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
    except OSError:
        text = ""
    return text or "pid unknown"


Repair = Callable[[str], object]
"""Checks and repairs the library after an interrupted write; given what that write was."""


@contextmanager
def write_session(
    data_dir: Path,
    timeout: float,
    operation: str,
    repair: Repair,
    prepare: Callable[[], None] | None = None,
) -> Iterator[None]:
    """Hold the data directory's write lock; ``repair`` first if the previous writer died mid-way.

    ``prepare`` runs first under the lock (the owner's chance to see other processes' writes). The
    in-progress marker is removed only when the body finishes without an exception, so an
    interrupted write (crash, kill, Ctrl-C) is repaired by whoever writes or opens the library next.
    """
    data_dir = Path(data_dir)
    marker = data_dir / IN_PROGRESS_FILE
    with WriteLock(data_dir, timeout, operation):
        if prepare is not None:
            prepare()
        if marker.exists():
            _recover(marker, repair)
        _write_marker(marker, operation)
        yield
        marker.unlink(missing_ok=True)


def recover_interrupted_write(data_dir: Path, repair: Repair) -> bool:
    """On opening a library: ``repair`` it if a writer died mid-way and nobody is writing now.

    Returns True when a repair ran. Costs one ``stat`` when the last write finished normally.
    """
    marker = Path(data_dir) / IN_PROGRESS_FILE
    if not marker.exists():
        return False
    try:
        with WriteLock(Path(data_dir), 0, "recovery"):
            if not marker.exists():  # the writer finished while we waited
                return False
            _recover(marker, repair)
            marker.unlink(missing_ok=True)
    except LibraryBusyError:
        return False  # a live writer holds the lock; it removes the marker when it is done
    return True


def _recover(marker: Path, repair: Repair) -> None:
    try:
        what = marker.read_text(encoding="utf-8").strip()
    except OSError:
        what = "a write"
    logger.warning("the previous %s did not finish; checking and repairing the library", what or "write")
    repair(what or "write")


def _write_marker(marker: Path, operation: str) -> None:
    with open(marker, "w", encoding="utf-8") as handle:
        handle.write(f"{operation} (pid {os.getpid()})\n")
        handle.flush()
        os.fsync(handle.fileno())


@contextmanager
def opening_lock(path: Path) -> Iterator[None]:
    """Serialise the first opening of an embedded store by several processes.

    Two processes that create a new Chroma directory at once both run its schema migrations, and one
    fails ("table collections already exists"). Held only while a client opens, never while it works,
    so readers never wait on a writer.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
