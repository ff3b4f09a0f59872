"""The FastAPI application: OpenAI-compatible chat, retrieval, the library, health, OpenAPI docs."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware

from assistant.api import chat, library
from assistant.api.auth import require_token
from assistant.api.catalog import available_models
from assistant.api.errors import ApiError, install_error_handlers
from assistant.api.limits import BodyLimitMiddleware
from assistant.api.schemas import Health, ModelCard, ModelList

if TYPE_CHECKING:
    from assistant.core import Assistant

API_PREFIXES = ("/v1", "/health")
DESCRIPTION = """Answers questions about the articles in the library, with inline `[n]` citations.

`POST /v1/chat/completions` speaks OpenAI's protocol (any OpenAI client works); the citations come in
the extra `citations` field. Authentication: `Authorization: Bearer <api.token>` when a token is set.
Errors are OpenAI-style: `{"error": {"message", "type", "param", "code"}}`."""

_STARTED = int(time.time())

models_router = APIRouter(tags=["models"])


def _cards(request: Request) -> list[ModelCard]:
    models = available_models(request.app.state.assistant.settings)
    return [ModelCard(id=name, created=_STARTED, backend=backend) for name, backend in models.items()]  # type: ignore[arg-type]


@models_router.get("/models", response_model=ModelList, summary="The answer backends, as models")
def list_models(request: Request) -> ModelList:
    return ModelList(data=_cards(request))


@models_router.get("/models/{model_id}", response_model=ModelCard, summary="One model")
def get_model(model_id: str, request: Request) -> ModelCard:
    for card in _cards(request):
        if card.id == model_id:
            return card
    raise ApiError(404, f"the model {model_id!r} does not exist", param="model", code="model_not_found")


def create_app(assistant: Assistant) -> FastAPI:
    """The API for one Assistant; its settings give the token, the limits and CORS origins."""
    settings = assistant.settings.api
    app = FastAPI(
        title="News Assistant API",
        version="1.0",
        description=DESCRIPTION,
        docs_url="/docs",
        openapi_url="/openapi.json",
        redoc_url=None,
    )
    app.state.assistant = assistant
    app.state.token = settings.resolved_token()
    install_error_handlers(app)
    secured = [Depends(require_token)]
    for router in (chat.router, library.router, models_router):
        app.include_router(router, prefix="/v1", dependencies=secured)

    @app.get("/health", response_model=Health, tags=["health"], summary="Liveness and library size")
    def health() -> Health:
        return Health(**assistant.stats())

    app.add_middleware(
        BodyLimitMiddleware,
        max_body=int(settings.max_body_kb * 1000),
        max_upload=int(settings.max_upload_mb * 1_000_000),
        prefixes=API_PREFIXES,
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    return app
