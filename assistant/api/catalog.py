"""The model names ``/v1/models`` lists and ``/v1/chat/completions`` accepts, by backend."""

from __future__ import annotations

from assistant.api.schemas import EXTRACTIVE_MODEL
from assistant.config import Settings


def llm_configured(settings: Settings) -> bool:
    llm = settings.llm
    return llm.backend == "openai" or bool(llm.base_url or llm.resolved_api_key())


def available_models(settings: Settings) -> dict[str, str]:
    """Model name -> answer backend: the extractive one always, the LLM when one is configured."""
    models = {EXTRACTIVE_MODEL: "extractive"}
    if llm_configured(settings) and settings.llm.model != EXTRACTIVE_MODEL:
        models[settings.llm.model] = "openai"
    return models
