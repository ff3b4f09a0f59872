"""The HTTP API: OpenAI-compatible chat with citations, retrieval and the library (FastAPI).

``create_app(assistant)`` builds the app; ``assistant.interfaces.serve.run`` serves it (``assistant api``,
and with the web UI mounted under ``/ui``, ``assistant serve``). See docs/api.md.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    # FastAPI is imported only when the API is used.
    if name == "create_app":
        from assistant.interfaces.api.app import create_app

        return create_app
    raise AttributeError(name)
