"""The FastAPI application: OpenAI-compatible chat, retrieval, the library, health, OpenAPI docs."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from starlette.concurrency import run_in_threadpool

from assistant.errors import AssistantError
from assistant.interfaces.api import chat, library
from assistant.interfaces.api.auth import require_token
from assistant.interfaces.api.catalog import available_models, local_offered
from assistant.interfaces.api.errors import ApiError, install_error_handlers
from assistant.interfaces.api.limits import BodyLimitMiddleware
from assistant.interfaces.api.schemas import Health, ModelCard, ModelList

if TYPE_CHECKING:
    from assistant.core import Assistant

logger = logging.getLogger(__name__)

API_PREFIXES = ("/v1", "/health")
DESCRIPTION = """Answers questions about the articles in the library, with inline `[n]` citations.

`POST /v1/chat/completions` speaks OpenAI's protocol (any OpenAI client works); the citations come in
the extra `citations` field, and with the local model (`news-local`) its quotes in `quotes`. The local
model serves one request at a time: when its queue is full the answer is 429 with `Retry-After`.
Authentication: `Authorization: Bearer <api.token>` when a token is set.
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


def load_local_model(assistant: Assistant) -> None:
    """Load the local model now, when the server offers it: loading holds Python's GIL for seconds
    (a 1.5B model: ~2.5 s), which would stall every request in flight if the first question did it.
    A model that cannot load is logged; its requests then say why (or fall back to the quotes)."""
    if not local_offered(assistant.settings):
        return
    try:
        assistant.load_local_model()
    except AssistantError as e:
        logger.error("the local model could not be loaded at start-up: %s", e)
        return
    logger.info("the local model is loaded; model news-local answers with it")


def create_app(assistant: Assistant) -> FastAPI:
    """The API for one Assistant; its settings give the token, the limits and CORS origins.

    With ``llm.backend = "local"`` the local model is loaded when the server starts (its lifespan).
    """
    settings = assistant.settings.api

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(load_local_model, assistant)
        yield

    app = FastAPI(
        title="News Assistant API",
        version="1.0",
        description=DESCRIPTION,
        docs_url="/docs",
        openapi_url="/openapi.json",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.assistant = assistant
    app.state.token = settings.resolved_token()
    app.state.admission = threading.Lock()  # one request at a time joins the local model's queue
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
