"""``assistant eval``: runs the question set, prints the summary and the change against the baseline."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from assistant.errors import AssistantError
from assistant.evaluation.baseline import REGRESSION_MARGIN
from assistant.evaluation.defaults import DEFAULT_BASELINE, DEFAULT_CORPUS, DEFAULT_DATASET, DEFAULT_OUT
from assistant.evaluation.metrics import LABELS, RATIO_METRICS
from assistant.evaluation.runner import run_evaluation

logger = logging.getLogger(__name__)


def _fmt(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def summary_table(summary: dict) -> Table:
    delta = summary.get("baseline_delta") or {}
    deltas, regressions = delta.get("metrics", {}), set(delta.get("regressions", []))
    table = Table(title=f"Evaluation: {summary['questions']} questions, {summary['failed']} failed")
    table.add_column("metric")
    table.add_column("value", justify="right")
    if deltas:
        table.add_column("baseline", justify="right")
        table.add_column("Δ", justify="right")
    names = [n for n in RATIO_METRICS if summary.get(n) is not None or n in deltas]
    for name in [*names, "latency_p50_ms", "latency_p95_ms"]:
        digits = 0 if name.startswith("latency") else 2
        cells = [LABELS.get(name, name), _fmt(summary.get(name), digits)]
        if deltas:
            d = deltas.get(name, {})
            change = d.get("delta")
            style = "red" if name in regressions else ("green" if change and change > 0 else "")
            text = "" if change is None else f"{change:+.{digits}f}"
            cells += [_fmt(d.get("baseline"), digits), f"[{style}]{text}[/{style}]" if style else text]
        table.add_row(*cells)
    return table


def register(app: typer.Typer) -> None:
    """Add the ``eval`` command to the assistant's typer app."""

    @app.command("eval")
    def eval_command(
        ctx: typer.Context,
        dataset: Annotated[Path, typer.Option(help="Question set (JSON Lines).")] = DEFAULT_DATASET,
        backend: Annotated[
            str | None, typer.Option(help="Answer backend: extractive, local or openai (default: settings).")
        ] = None,
        k: Annotated[
            int | None, typer.Option(help="Passages retrieved per question (default: settings).")
        ] = None,
        out: Annotated[Path, typer.Option(help="Folder for rows, summary and reports.")] = DEFAULT_OUT,
        judge: Annotated[bool, typer.Option(help="Add LLM-judged faithfulness/correctness.")] = False,
        baseline: Annotated[Path, typer.Option(help="Folder of the run to compare with.")] = DEFAULT_BASELINE,
        fail_on_regression: Annotated[
            bool,
            typer.Option(help=f"Exit 1 when a headline metric drops > {REGRESSION_MARGIN} below baseline."),
        ] = False,
    ) -> None:
        """Ask the evaluation questions and score the answers against the references."""
        console = Console()
        obj: dict[str, Any] = ctx.obj or {}
        assistant = obj["make_assistant"]()
        try:
            if not assistant.articles():
                console.print(f"The library is empty: ingesting the sample corpus {DEFAULT_CORPUS} first.")
                report = assistant.ingest([DEFAULT_CORPUS])
                console.print(f"Ingested: {report.summary()}")
            with Progress(
                TextColumn("Evaluating"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
                transient=True,
            ) as bar:
                task = bar.add_task("eval", total=None)

                def progress(done: int, total: int) -> None:
                    bar.update(task, completed=done, total=total)

                summary = run_evaluation(
                    assistant,
                    dataset=dataset,
                    out_dir=out,
                    k=k,
                    backend=backend,
                    judge=judge,
                    progress=progress,
                    baseline_dir=baseline,
                )
        except AssistantError as e:
            console.print(f"[red]Error:[/red] {e}")
            raise typer.Exit(2) from e
        console.print(summary_table(summary))
        console.print(f"Report: {out / 'report.html'} (and report.md, rows.jsonl, summary.json)")
        delta = summary.get("baseline_delta")
        if delta is None:
            if out.resolve() == baseline.resolve():
                console.print(f"Wrote a new baseline to {baseline}: later runs are compared with it.")
            else:
                console.print(f"No baseline to compare with in {baseline}.")
            return
        regressions = delta["regressions"]
        if delta.get("baseline_dataset_sha256") not in (None, summary.get("dataset_sha256")):
            console.print(
                f"[yellow]The baseline in {baseline} was measured on another question set: "
                "the deltas compare different questions.[/yellow]"
            )
        if regressions:
            console.print(
                f"[red]Regressed by more than {delta['margin']} against {baseline}:[/red] "
                + ", ".join(regressions)
            )
            if fail_on_regression:
                raise typer.Exit(1)
        else:
            console.print(
                f"[green]No headline metric fell more than {delta['margin']} below the baseline.[/green]"
            )
