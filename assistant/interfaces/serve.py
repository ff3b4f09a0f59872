"""Serving: the bind policy, ``assistant api`` (the API alone) and ``assistant serve`` (API + web UI).

Without ``api.token`` the server binds to loopback only and says so; asked for any other host
without a token, it refuses to start. ``serve`` also mounts the Gradio UI under ``/ui`` (``/``
redirects there); on a non-loopback host that needs ``ui.password`` too, since the UI can upload
and delete articles.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import TYPE_CHECKING

from fastapi import FastAPI
from fastapi.responses import RedirectResponse

from assistant.config import Settings
from assistant.errors import ConfigurationError
from assistant.interfaces.api.app import create_app
from assistant.interfaces.ui.server import mount_options

if TYPE_CHECKING:
    from assistant.core import Assistant

logger = logging.getLogger(__name__)

UI_PATH = "/ui"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bind_host(settings: Settings, host: str, with_ui: bool = False) -> str:
    """The host to bind, or :class:`ConfigurationError` when serving it would be unprotected."""
    if settings.api.resolved_token() is None:
        if not is_loopback(host):
            raise ConfigurationError(
                f"refusing to serve on {host} without a token: set api.token "
                "(ASSISTANT_API__TOKEN) so clients must authenticate, or bind to 127.0.0.1"
            )
        logger.warning(
            "no api.token set: serving on %s only (loopback), without authentication; "
            "set api.token (ASSISTANT_API__TOKEN) to serve on other interfaces",
            host,
        )
    elif with_ui and not is_loopback(host):
        password = settings.ui.password
        if password is None or not password.get_secret_value():
            raise ConfigurationError(
                f"refusing to serve the web UI on {host} without a password: set ui.password "
                "(ASSISTANT_UI__PASSWORD), or bind to 127.0.0.1"
            )
    return host


def build_server_app(assistant: Assistant, with_ui: bool = True, **ui_options: object) -> FastAPI:
    """The API, with the web UI mounted under ``/ui`` when ``with_ui``; ``/`` redirects to the UI,
    or to the API's docs without it."""
    app = create_app(assistant)
    home = f"{UI_PATH}/" if with_ui else "/docs"

    @app.get("/", include_in_schema=False)
    def _home() -> RedirectResponse:
        return RedirectResponse(home)

    if with_ui:
        import gradio as gr

        from assistant.interfaces.ui.blocks import build_app  # Gradio loads only when serving the UI

        demo = build_app(assistant, **ui_options)  # type: ignore[arg-type]
        app = gr.mount_gradio_app(app, demo, path=UI_PATH, **mount_options(assistant.settings))
        # Gradio checks that a request's file paths were uploaded by a user only once the Blocks
        # "has launched", which mount_gradio_app never sets; without this, a request could make
        # the UI ingest any file the server can read.
        demo.has_launched = True
    return app


def run(
    settings: Settings,
    host: str | None = None,
    port: int | None = None,
    assistant: Assistant | None = None,
    with_ui: bool = False,
) -> None:
    """Serve until stopped: the API alone (``assistant api``) or with the UI (``assistant serve``)."""
    import uvicorn

    defaults = settings.ui if with_ui else settings.api
    bind = bind_host(settings, host or defaults.host, with_ui=with_ui)
    bind_port = port or defaults.port
    if assistant is None:
        from assistant.core import Assistant

        assistant = Assistant(settings)
    try:
        app = build_server_app(assistant, with_ui=with_ui)
        where = f"http://{bind}:{bind_port}"
        logger.info(
            "serving the API on %s/v1 (docs: %s/docs)%s",
            where,
            where,
            f", the web UI on {where}{UI_PATH}/" if with_ui else "",
        )
        uvicorn.run(app, host=bind, port=bind_port, log_level="info", timeout_graceful_shutdown=5)
    finally:
        assistant.close()


def launch(
    settings: Settings,
    host: str | None = None,
    port: int | None = None,
    assistant: Assistant | None = None,
) -> None:
    """``assistant serve``: the web UI under ``/ui`` and the HTTP API beside it, until stopped.

    ``/`` redirects to the UI; the default address is ``ui.host:ui.port``.
    """
    run(settings, host=host, port=port, assistant=assistant, with_ui=True)
