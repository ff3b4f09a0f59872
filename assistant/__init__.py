"""Question answering over news articles, with inline citations to dated passages.

    from assistant import Assistant, Settings
    assistant = Assistant(Settings(data_dir="..."))
    assistant.ingest(["articles/"])
    answer = assistant.ask("What did Hamas demand?")
"""

from assistant.config import Settings
from assistant.errors import AssistantError, QueryError
from assistant.models import (
    Answer,
    AnswerReady,
    Article,
    Citation,
    Filters,
    IngestReport,
    Passage,
    Query,
    TextDelta,
    final_answer,
)

__all__ = [
    "Answer",
    "AnswerReady",
    "Article",
    "Assistant",
    "AssistantError",
    "Citation",
    "Filters",
    "IngestReport",
    "Passage",
    "Query",
    "QueryError",
    "Settings",
    "TextDelta",
    "final_answer",
]


def __getattr__(name: str) -> object:
    # The Assistant pulls in torch, Chroma and llama-index: import it only when asked for.
    if name == "Assistant":
        from assistant.core import Assistant

        return Assistant
    raise AttributeError(name)
