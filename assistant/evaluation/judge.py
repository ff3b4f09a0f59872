"""Optional LLM-judged metrics (``assistant eval --judge``): llama-index evaluators on the configured LLM."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from assistant.errors import ConfigurationError

logger = logging.getLogger(__name__)

CORRECTNESS_SCALE = 5.0
"""CorrectnessEvaluator scores 1-5; divided by this to sit on the 0-1 scale of the other metrics."""


def make_judge(settings: Any) -> Callable[[dict], dict[str, float | None]]:
    """A function scoring one evaluation row with an LLM judge built from ``settings.llm``.

    The LLM is passed to the evaluators explicitly; llama-index's global Settings are never used.
    """
    llm_settings = settings.llm
    if llm_settings.backend != "openai":
        raise ConfigurationError(
            "--judge needs an LLM: set llm.backend = 'openai' (ASSISTANT_LLM__BACKEND=openai) and "
            "llm.base_url / llm.model for an OpenAI-compatible server."
        )
    try:
        from llama_index.core.evaluation import CorrectnessEvaluator, FaithfulnessEvaluator
        from llama_index.llms.openai_like import OpenAILike
    except ImportError as e:
        raise ConfigurationError(
            "--judge needs llama-index-core and llama-index-llms-openai-like: pip install them."
        ) from e

    llm = OpenAILike(
        model=llm_settings.model,
        api_base=llm_settings.base_url,
        api_key=llm_settings.resolved_api_key() or "not-needed",
        temperature=0.0,
        max_tokens=llm_settings.max_tokens,
        timeout=llm_settings.timeout,
        max_retries=llm_settings.max_retries,
        is_chat_model=True,
    )
    faithful = FaithfulnessEvaluator(llm=llm)
    correct = CorrectnessEvaluator(llm=llm)

    def judge(row: dict) -> dict[str, float | None]:
        scores: dict[str, float | None] = {"judge_faithfulness": None, "judge_correctness": None}
        if row.get("abstained") or not row.get("response"):
            return scores
        try:
            if row.get("retrieved_contexts"):
                result = faithful.evaluate(
                    query=row["user_input"], response=row["response"], contexts=row["retrieved_contexts"]
                )
                scores["judge_faithfulness"] = 1.0 if result.passing else 0.0
            if row.get("reference"):
                result = correct.evaluate(
                    query=row["user_input"], response=row["response"], reference=row["reference"]
                )
                if result.score is not None:
                    scores["judge_correctness"] = float(result.score) / CORRECTNESS_SCALE
        except Exception as e:  # noqa: BLE001 - a judge failure must not end the whole run
            logger.warning("LLM judge failed on %s: %s", row.get("id"), e)
        return scores

    return judge
