"""The Gradio web UI: ``build_app(assistant)`` and the blocking ``launch(settings, host, port)``.

The UI holds no logic of its own; every event calls the :class:`~assistant.core.Assistant`.
Imported lazily, so the HTTP API and the MCP server can use :mod:`assistant.ui.uploads` without
loading Gradio.
"""

from __future__ import annotations

from typing import Any

__all__ = ["build_app", "launch", "launch_options"]


def __getattr__(name: str) -> Any:
    if name == "build_app":
        from assistant.ui.blocks import build_app

        return build_app
    if name in ("launch", "launch_options", "mount_options"):
        from assistant.ui import server

        return getattr(server, name)
    raise AttributeError(name)
