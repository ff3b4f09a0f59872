"""The model names ``/v1/models`` lists and ``/v1/chat/completions`` accepts, by backend."""

from __future__ import annotations

from assistant.config import Settings
from assistant.interfaces.api.schemas import EXTRACTIVE_MODEL, LOCAL_MODEL


def llm_configured(settings: Settings) -> bool:
    llm = settings.llm
    return llm.backend == "openai" or bool(llm.base_url or llm.resolved_api_key())


def local_offered(settings: Settings) -> bool:
    """The local model is offered when the server is set up for it (``llm.backend = "local"``): it
    is then loaded at start-up, and its requests share one queue (``llm.queue_limit``)."""
    return settings.llm.backend == "local"


def available_models(settings: Settings) -> dict[str, str]:
    """Model name -> answer backend: the extractive one always, the local model and the LLM when
    they are configured."""
    models = {EXTRACTIVE_MODEL: "extractive"}
    if local_offered(settings):
        models[LOCAL_MODEL] = "local"
    if llm_configured(settings) and settings.llm.model not in models:
        models[settings.llm.model] = "openai"
    return models
