"""The web UI's launch and mount options from Settings (``assistant.interfaces.serve`` serves it)."""

from __future__ import annotations

import logging
from typing import Any

from assistant.config import Settings

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


def mount_options(settings: Settings) -> dict[str, Any]:
    """``gradio.mount_gradio_app`` keyword arguments: the same password and upload limit as a launch."""
    return launch_options(settings)

