"""Fault-injection points for the crash-consistency tests; no effect unless ASSISTANT_FAILPOINT is set.

``ASSISTANT_FAILPOINT=<name>`` (or ``<name>:<n>`` for the n-th time the point is reached) makes the
process stop there: it appends the point's name to the file named by ``ASSISTANT_FAILPOINT_FILE``
(or writes it to stderr), then sleeps until it is killed. A test waits for that line and sends
SIGKILL, so the process dies at exactly that point. The variable is read once, at import; with it
unset, :func:`failpoint` is a single comparison.

Points: ``ingest.embedding`` (a batch is embedded, nothing of it stored), ``ingest.chroma_write``
(an article's vectors are in Chroma, its registry row is not), ``registry.commit`` (inside the
registry transaction, before COMMIT), ``bm25.save`` (the old BM25 index removed, the new one not yet
in place).
"""

from __future__ import annotations

import os
import sys
import time

_SPEC = os.environ.get("ASSISTANT_FAILPOINT", "")
_NAME, _, _NTH = _SPEC.partition(":")
_WANTED = int(_NTH) if _NTH.isdigit() else 1
_hits = 0


def failpoint(name: str) -> None:
    """Stop here, forever, if this is the configured point (and its n-th hit)."""
    if name != _NAME:
        return
    global _hits
    _hits += 1
    if _hits != _WANTED:
        return
    target = os.environ.get("ASSISTANT_FAILPOINT_FILE")
    if target:
        with open(target, "a", encoding="utf-8") as handle:
            handle.write(f"{name} {os.getpid()}\n")
    else:
        sys.stderr.write(f"FAILPOINT {name} reached in pid {os.getpid()}\n")
        sys.stderr.flush()
    while True:  # pragma: no cover - ended by the test's SIGKILL
        time.sleep(60)
