"""Request size limits, enforced before and while the body is read.

A declared ``Content-Length`` over the limit is refused at once; a body that streams past it
(chunked transfer) is cut off when it does. Uploads to ``POST /v1/articles`` have their own,
larger limit. Paths outside the API (the web UI under ``/ui``) keep their own rules.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.interfaces.api.errors import PayloadTooLarge, error_body

UPLOAD_PATH = "/v1/articles"


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_body: int, max_upload: int, prefixes: tuple[str, ...]) -> None:
        self.app = app
        self.max_body = max_body
        self.max_upload = max_upload
        self.prefixes = prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith(self.prefixes):
            await self.app(scope, receive, send)
            return
        upload = path.rstrip("/") == UPLOAD_PATH and scope.get("method") == "POST"
        limit, what = (self.max_upload, "upload") if upload else (self.max_body, "request body")
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(send, PayloadTooLarge(limit, what))
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise PayloadTooLarge(limit, what)
            return message

        await self.app(scope, counted, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refuse(send: Send, error: PayloadTooLarge) -> None:
    body = json.dumps(error_body(413, str(error.detail))).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
