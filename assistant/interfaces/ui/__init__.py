"""The Gradio web UI: ``build_app(assistant)``; :mod:`assistant.interfaces.serve` serves it.

The UI holds no logic of its own; every event calls the :class:`~assistant.core.Assistant`.
Imported lazily, so that importing a module of this folder does not load Gradio.
"""

from __future__ import annotations

from typing import Any

__all__ = ["build_app", "launch_options", "mount_options"]


def __getattr__(name: str) -> Any:
    if name == "build_app":
        from assistant.interfaces.ui.blocks import build_app

        return build_app
    if name in ("launch_options", "mount_options"):
        from assistant.interfaces.ui import server

        return getattr(server, name)
    raise AttributeError(name)
