"""The MCP server (``assistant mcp``): the library as tools for agents, over stdio.

Tools: ``search_articles`` (passages with their article's title, outlet, date and URL),
``ask`` (a cited Answer, from the backend asked for: ``extractive``, ``local`` or ``openai``) and
``list_articles``. Each returns the Python API's own pydantic model
as structured content (and as JSON text for clients that read only text).
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, Literal, ParamSpec, TypeVar

from pydantic import BaseModel, Field

from assistant.errors import AssistantError
from assistant.interfaces.api.errors import ApiError
from assistant.interfaces.api.schemas import ArticleSummary, summary
from assistant.models import Answer, Filters, Passage

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

    from assistant.config import Settings
    from assistant.core import Assistant

logger = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")

INSTRUCTIONS = (
    "A library of news articles. Use search_articles to find passages (each with its article's "
    "title, outlet, publication date and URL), ask for an answer whose [n] markers cite numbered "
    "sources, and list_articles to see what the library holds. Quote dates: facts change over time."
)


class SearchResult(BaseModel):
    query: str
    passages: list[Passage]


class ArticleListing(BaseModel):
    articles: list[ArticleSummary]  # type: ignore[valid-type]


Since = Annotated[dt.date | None, Field(description="Only articles published on or after (YYYY-MM-DD).")]
Until = Annotated[dt.date | None, Field(description="Only articles published on or before (YYYY-MM-DD).")]
Sources = Annotated[list[str] | None, Field(description="Only these outlets, e.g. ['The Washington Post'].")]
K = Annotated[int | None, Field(ge=1, le=50, description="Passages to retrieve (default: the settings).")]
BackendName = Annotated[
    Literal["extractive", "local", "openai"] | None,
    Field(
        description=(
            "Who writes the answer: 'extractive' quotes the articles; 'local' has the local model state "
            "the answer in a few words, verified against the passages, with the quotes beneath it (in "
            "'quotes'); 'openai' asks the configured LLM server. Default: the llm.backend setting."
        )
    ),
]


def _filters(since: dt.date | None, until: dt.date | None, sources: list[str] | None) -> Filters:
    if since and until and since > until:
        raise AssistantError("since is after until: swap them or leave one out")
    return Filters(since=since, until=until, sources=sources or [])


def _reported(tool: Callable[P, R]) -> Callable[P, R]:
    """Errors the user can act on reach the client with their message (others stay in the log)."""
    from mcp.server.mcpserver.exceptions import ToolError

    @functools.wraps(tool)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return tool(*args, **kwargs)
        except (AssistantError, ApiError) as e:
            raise ToolError(str(e)) from e

    return call


def build_server(assistant: Assistant) -> MCPServer:
    from mcp.server.mcpserver import MCPServer

    server: MCPServer = MCPServer(name="news-assistant", instructions=INSTRUCTIONS)

    @server.tool(title="Search the news articles")
    @_reported
    def search_articles(
        query: Annotated[str, Field(description="What to look for, in words.")],
        since: Since = None,
        until: Until = None,
        sources: Sources = None,
        k: K = None,
    ) -> SearchResult:
        """Passages of the library's articles that best match the query, best first, each with its
        article's id, title, outlet (source), publication date, URL and character offsets."""
        passages = assistant.retrieve(query, k=k, filters=_filters(since, until, sources))
        return SearchResult(query=query, passages=passages)

    @server.tool(title="Ask the news articles")
    @_reported
    def ask(
        question: Annotated[str, Field(description="A question about the news.")],
        since: Since = None,
        until: Until = None,
        sources: Sources = None,
        k: K = None,
        backend: BackendName = None,
    ) -> Answer:
        """An answer written from the articles: text with inline [n] markers, and citations
        (number, article id, title, outlet, date, URL, passage, quote, offsets) for each [n].
        abstained is true when the articles do not answer. With backend 'local', text is the local
        model's short answer and its evidence, and quotes holds the quoted passages (their own text
        and citations); when the model's answer cannot be verified, text is the quotes with a notice
        (quotes is then null, unsupported holds the model's answer)."""
        return assistant.ask(question, filters=_filters(since, until, sources), k=k, backend=backend)

    @server.tool(title="List the news articles")
    @_reported
    def list_articles() -> ArticleListing:
        """Every article in the library: id, title, outlet (source), publication date, URL, passages."""
        return ArticleListing(articles=[summary(a) for a in assistant.articles()])

    return server


def run(settings: Settings, assistant: Assistant | None = None, **_: Any) -> None:
    """Serve the tools over stdio until the client closes the connection."""
    if assistant is None:
        from assistant.core import Assistant

        assistant = Assistant(settings)
    try:
        build_server(assistant).run("stdio")
    finally:
        assistant.close()
