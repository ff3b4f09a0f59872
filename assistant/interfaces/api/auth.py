"""Bearer-token authentication for the /v1 endpoints (``api.token``)."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from assistant.interfaces.api.errors import ApiError

_CHALLENGE = {"WWW-Authenticate": "Bearer"}
_bearer = HTTPBearer(
    auto_error=False, description="The api.token setting, as `Authorization: Bearer <token>`."
)


def require_token(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    """Pass when no token is configured (loopback only) or the request carries the right one."""
    expected: str | None = request.app.state.token
    if expected is None:
        return
    if credentials is None:
        raise ApiError(
            401,
            "missing API token: send the header 'Authorization: Bearer <token>' with the api.token setting",
            code="missing_api_key",
            headers=_CHALLENGE,
        )
    if not secrets.compare_digest(credentials.credentials.encode(), expected.encode()):
        raise ApiError(
            401,
            "invalid API token: it must equal the api.token setting",
            code="invalid_api_key",
            headers=_CHALLENGE,
        )
