"""The Gradio web UI: ``build_app(assistant)`` and the blocking ``launch(settings, host, port)``.

The UI holds no logic of its own; every event calls the :class:`~assistant.core.Assistant`.
"""

from assistant.ui.blocks import build_app
from assistant.ui.server import launch, launch_options

__all__ = ["build_app", "launch", "launch_options"]
