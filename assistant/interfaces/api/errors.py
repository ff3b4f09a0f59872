"""OpenAI-style JSON errors: ``{"error": {"message", "type", "param", "code"}}`` for every failure.

Every exception a request can raise ends here; a client never sees a traceback. Unexpected errors
are logged with their traceback on the server and answered with a generic 500.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from assistant.errors import (
    ArticleNotFoundError,
    AssistantError,
    ConfigurationError,
    LLMError,
    ModelBusyError,
)

logger = logging.getLogger(__name__)

# OpenAI's error types, by HTTP status.
_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}


class ApiError(Exception):
    """A request the API refuses; the message says what to change. ``extra`` fields travel beside
    ``error`` in the body."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.headers = headers or {}
        self.status = status
        self.message = message
        self.code = code
        self.param = param
        self.extra = extra or {}


def busy_error(error: ModelBusyError, extra: dict[str, Any] | None = None) -> ApiError:
    """429 for a full local-model queue, with ``Retry-After`` in whole seconds."""
    return ApiError(429, str(error), code="model_busy", headers=retry_after_header(error), extra=extra)


def retry_after_header(error: ModelBusyError) -> dict[str, str]:
    return {"Retry-After": str(max(1, math.ceil(error.retry_after)))}


class PayloadTooLarge(StarletteHTTPException):
    """A request body over its limit (raised while the body is read, so FastAPI passes it through)."""

    def __init__(self, limit_bytes: int, what: str) -> None:
        super().__init__(413, f"the {what} is over the {_size(limit_bytes)} limit; {_LIMIT_HINT[what]}")


_LIMIT_HINT = {
    "request body": "send less, or raise api.max_body_kb",
    "upload": "upload fewer or smaller files, or raise api.max_upload_mb",
}


def _size(n: int) -> str:
    return f"{n / 1_000_000:g} MB" if n >= 1_000_000 else f"{n / 1000:g} kB"


def error_type(status: int) -> str:
    return _TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")


def error_body(
    status: int,
    message: str,
    code: str | None = None,
    param: str | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    error = {"message": message, "type": error_type(status), "param": param, "code": code}
    return {"error": error, **(extra or {})}


def error_response(
    status: int,
    message: str,
    code: str | None = None,
    param: str | None = None,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        error_body(status, message, code, param, extra), status_code=status, headers=headers or None
    )


def assistant_error_status(error: AssistantError) -> tuple[int, str | None]:
    """HTTP status and error code for an error raised by the assistant."""
    if isinstance(error, ArticleNotFoundError):
        return 404, "article_not_found"
    if isinstance(error, ModelBusyError):
        return 429, "model_busy"
    if isinstance(error, LLMError):
        return 502, "llm_failed"
    if isinstance(error, ConfigurationError):
        return 400, "configuration_error"
    return 400, None


def _validation_message(error: RequestValidationError) -> tuple[str, str | None]:
    problems = []
    first_param: str | None = None
    for item in error.errors():
        if item.get("type") == "json_invalid":
            reason = (item.get("ctx") or {}).get("error", "")
            return f"the request body is not valid JSON ({reason}, at position {item['loc'][-1]})", None
        loc = [str(part) for part in item.get("loc", ()) if part not in ("body", "query", "path")]
        param = ".".join(loc) or None
        first_param = first_param or param
        message = str(item.get("msg", "invalid value")).removeprefix("Value error, ")
        problems.append(f"{param}: {message}" if param else message)
    return "invalid request: " + "; ".join(problems[:5]), first_param


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.message, exc.code, exc.param, exc.extra, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        message, param = _validation_message(exc)
        return error_response(400, message, "invalid_value", param)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = str(exc.detail)
        if exc.status_code == 404 and message == "Not Found":
            message = f"no such endpoint: {request.method} {request.url.path}; see /docs"
        elif exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}; see /docs"
        return error_response(exc.status_code, message, headers=dict(exc.headers or {}))

    @app.exception_handler(AssistantError)
    async def _assistant(request: Request, exc: AssistantError) -> JSONResponse:
        status, code = assistant_error_status(exc)
        headers = retry_after_header(exc) if isinstance(exc, ModelBusyError) else {}
        return error_response(status, str(exc) or type(exc).__name__, code, headers=headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return error_response(500, "internal server error; the details are in the server log")
