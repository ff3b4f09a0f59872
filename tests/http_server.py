"""Serve an ASGI app with a real uvicorn server on 127.0.0.1 and a free port, in a thread."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def uvicorn_server(app: Any, port: int | None = None) -> Iterator[str]:
    """The server's base URL (``http://127.0.0.1:PORT``) while it runs."""
    import uvicorn

    port = port or free_port()
    # Open streams (a Gradio client's heartbeat, a browser's queue) would hold a graceful shutdown
    # for as long as they stay open: give them a second, as `assistant serve` gives them five.
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=1
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"uvicorn did not start on port {port}")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
