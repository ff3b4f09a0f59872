"""Question answering over news articles, with inline citations to dated passages.

    from assistant import Assistant, Settings
    assistant = Assistant(Settings(data_dir="..."))
    assistant.ingest(["articles/"])
    answer = assistant.ask("What did Hamas demand?")
"""

from assistant.config import Settings
from assistant.errors import AssistantError
from assistant.models import Answer, Article, Citation, Filters, IngestReport, Passage

__all__ = [
    "Answer",
    "Article",
    "Assistant",
    "AssistantError",
    "Citation",
    "Filters",
    "IngestReport",
    "Passage",
    "Settings",
]


def __getattr__(name: str) -> object:
    # The Assistant pulls in torch, Chroma and llama-index: import it only when asked for.
    if name == "Assistant":
        from assistant.core import Assistant

        return Assistant
    raise AttributeError(name)
