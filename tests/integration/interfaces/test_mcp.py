"""The MCP server, spawned as ``assistant mcp`` and driven by the ``mcp`` package's own client over stdio.

One server process (with a temp library holding the sample corpus) serves every call; the tests
below check what the calls returned.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CORPUS_DIR

pytestmark = pytest.mark.integration

QUESTION = "What did Hamas demand?"


def _command() -> tuple[str, list[str]]:
    script = Path(sys.executable).parent / "assistant"
    if script.is_file():
        return str(script), []
    return sys.executable, ["-m", "assistant.interfaces.cli"]


async def _session(data_dir: Path, config: Path, toy_model: Path) -> dict[str, Any]:
    from mcp.client import Client
    from mcp.client.stdio import StdioServerParameters

    command, prefix = _command()
    env = {
        "ASSISTANT_DATA_DIR": str(data_dir),
        "ASSISTANT_CONFIG": str(config),
        # the local backend, asked for by `ask`'s backend argument (llm.backend stays extractive)
        "ASSISTANT_LLM__LOCAL_MODEL": str(toy_model),
        "ASSISTANT_LLM__THREADS": "1",
        **{
            name: os.environ[name]
            for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "ANONYMIZED_TELEMETRY")
        },
    }
    server = StdioServerParameters(command=command, args=[*prefix, "mcp"], env=env)
    results: dict[str, Any] = {}
    async with Client(server, read_timeout_seconds=300) as client:
        results["instructions"] = client.instructions
        results["tools"] = {tool.name: tool for tool in (await client.list_tools()).tools}
        results["list"] = await client.call_tool("list_articles", {})
        results["search"] = await client.call_tool(
            "search_articles", {"query": QUESTION, "k": 3, "sources": ["The Washington Post"]}
        )
        results["ask"] = await client.call_tool("ask", {"question": QUESTION})
        results["dated"] = await client.call_tool("ask", {"question": QUESTION, "since": "2023-01-01"})
        results["local"] = await client.call_tool("ask", {"question": QUESTION, "backend": "local"})
        results["bad_backend"] = await client.call_tool("ask", {"question": QUESTION, "backend": "gpt-5"})
        results["empty"] = await client.call_tool("ask", {"question": "  "})
        results["backwards"] = await client.call_tool(
            "search_articles", {"query": QUESTION, "since": "2024-01-01", "until": "2020-01-01"}
        )
    return results


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory, embedder, toy_model: Path) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    from assistant import Assistant, Settings

    root = tmp_path_factory.mktemp("mcp")
    assistant = Assistant(Settings(data_dir=root / "data"), embedder=embedder)
    assert assistant.ingest([CORPUS_DIR]).added == 5
    assistant.close()
    return asyncio.run(_session(root / "data", root / "no-such.toml", toy_model))


def _text(result: Any) -> str:
    return "\n".join(block.text for block in result.content if getattr(block, "text", None))


def test_the_server_offers_the_three_tools_with_schemas(session: dict[str, Any]) -> None:
    tools = session["tools"]

    assert set(tools) == {"search_articles", "ask", "list_articles"}
    assert set(tools["search_articles"].input_schema["properties"]) >= {
        "query",
        "since",
        "until",
        "sources",
        "k",
    }
    assert tools["search_articles"].input_schema["required"] == ["query"]
    assert set(tools["ask"].input_schema["properties"]) >= {
        "question",
        "since",
        "until",
        "sources",
        "k",
        "backend",
    }
    assert tools["ask"].output_schema is not None
    assert "search_articles" in (session["instructions"] or "")


def test_list_articles_returns_the_library(session: dict[str, Any]) -> None:
    result = session["list"]

    articles = result.structured_content["articles"]
    assert not result.is_error and len(articles) == 5
    assert {"id", "title", "source", "published", "url", "passage_count"} <= set(articles[0])
    assert "text" not in articles[0]


def test_search_articles_returns_passages_with_their_sources_and_honours_filters(
    session: dict[str, Any],
) -> None:
    from assistant.models import Passage

    result = session["search"]

    passages = [Passage.model_validate(p) for p in result.structured_content["passages"]]
    assert not result.is_error and 1 <= len(passages) <= 3
    assert {p.source for p in passages} == {"The Washington Post"}
    assert all(p.title and p.published and p.text and p.end > p.start for p in passages)
    assert (
        json.loads(_text(result))["passages"][0]["text"] == passages[0].text
    )  # text content for plain clients


def test_ask_returns_a_cited_answer(session: dict[str, Any]) -> None:
    from assistant.models import Answer

    answer = Answer.model_validate(session["ask"].structured_content)

    assert not answer.abstained and answer.citations
    for citation in answer.citations:
        assert f"[{citation.number}]" in answer.text
        assert citation.passage and citation.article_id and citation.title
    dated = Answer.model_validate(session["dated"].structured_content)
    assert dated.citations and all(c.published and c.published.year >= 2023 for c in dated.citations)


def test_ask_with_the_local_backend_returns_the_models_answer_with_the_quotes(
    session: dict[str, Any],
) -> None:
    from assistant.models import Answer

    result = session["local"]
    answer = Answer.model_validate(result.structured_content)
    quotes = Answer.model_validate(session["ask"].structured_content)  # the extractive answer

    assert not result.is_error and answer.backend == "local" and answer.citations
    if answer.quotes is not None:  # pragma: no cover - the toy model happened to state the answer
        assert answer.quotes.text == quotes.text and answer.quotes.citations
    else:  # the toy model writes nonsense: not verified, so the quotes stand, with a notice
        assert answer.unsupported and answer.text.endswith(quotes.text)
        assert "local model" in answer.text.split("\n\n")[0]
    assert session["bad_backend"].is_error and "backend" in _text(session["bad_backend"])


def test_bad_arguments_come_back_as_tool_errors_with_the_reason(session: dict[str, Any]) -> None:
    assert session["empty"].is_error and "question is empty" in _text(session["empty"])
    assert session["backwards"].is_error and "since is after until" in _text(session["backwards"])
