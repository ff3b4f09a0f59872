"""Starting the web UI: launch options from Settings, and the blocking :func:`launch`."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from assistant.config import Settings

if TYPE_CHECKING:
    from assistant.core import Assistant

logger = logging.getLogger(__name__)


def launch_options(settings: Settings) -> dict[str, Any]:
    """``Blocks.launch`` keyword arguments that come from settings: password and upload size limit."""
    options: dict[str, Any] = {
        "max_file_size": int(settings.ui.max_upload_mb * 1_000_000),
        "show_error": True,
        "footer_links": ["api"],
    }
    password = settings.ui.password
    if password is not None and password.get_secret_value():
        options["auth"] = ("admin", password.get_secret_value())
        options["auth_message"] = "Log in as 'admin' with the password from the settings (ui.password)."
    return options


def launch(
    settings: Settings,
    host: str | None = None,
    port: int | None = None,
    assistant: Assistant | None = None,
) -> None:
    """Build the app for ``assistant`` (or a new one from ``settings``) and serve it until stopped."""
    from assistant.ui.blocks import build_app

    if assistant is None:
        from assistant.core import Assistant

        assistant = Assistant(settings)
    demo = build_app(assistant)
    server_name = host or settings.ui.host
    server_port = port or settings.ui.port
    logger.info("serving the web UI on http://%s:%d", server_name, server_port)
    try:
        demo.launch(server_name=server_name, server_port=server_port, **launch_options(settings))
    finally:
        assistant.close()
