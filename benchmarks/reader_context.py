"""What the local reader is given to read: does its context hold the answer, and at what length?

    .venv/bin/python benchmarks/reader_context.py --data-dir BUILT_LIBRARY [--half even|odd]

The model reads for about as long as its context is (~38 prompt tokens a second on 2 cores), and it
can only state an answer that its context holds. So before any model runs, each way of building the
context is measured on RealTime QA 2023 (every question as of its own date) by two figures: how
often the context holds the gold answer (case, punctuation and articles folded) and its mean length
in characters (about 4 to a token). Shapes:

* ``passages N×C``: the composer's lead passage, then the best-ranked others, N in all, each cut to
  its C characters nearest the question (the reader as first built);
* ``windows B``: the composer's best-scored sentences, each with the sentence before and after, taken
  in score order from any passage until B characters are used, grouped by passage (rank order) and
  kept in their order within a passage.

Writes benchmarks/results/reader_context.{json,md} (gitignored) and prints the table.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from library_args import library_parser  # noqa: E402

from assistant.library.embedding import offline_environment  # noqa: E402

offline_environment()  # before any model library is imported

PASSAGE_SHAPES = [(2, 700), (3, 500), (3, 700), (4, 400), (4, 700), (6, 400), (6, 700)]
WINDOW_BUDGETS = [800, 1200, 1600, 2000, 2800]


def main(argv: list[str] | None = None) -> int:
    parser = library_parser(__doc__, "Assistant data dir holding the benchmark's articles.")
    parser.add_argument("--half", choices=("even", "odd"), default=None, help="Every other question only.")
    args = parser.parse_args(argv)

    from assistant import Assistant, Settings
    from assistant.answer.base import answer_of
    from assistant.answer.prompts import load_prompts
    from assistant.answer.reader import ReaderAnswerer, fold
    from assistant.evaluation.realtimeqa import load_questions

    settings = Settings(data_dir=args.data_dir)
    assistant = Assistant(settings)
    questions = load_questions(args.data)[: args.limit]
    if args.half is not None:
        questions = questions[0 if args.half == "even" else 1 :: 2]
    extractive = assistant.pipeline.extractive
    shapes: dict[str, ReaderAnswerer] = {}
    for n, c in PASSAGE_SHAPES:
        llm = settings.llm.model_copy(
            update={"reader_passages": n, "reader_passage_chars": c, "reader_context": "passages"}
        )
        shapes[f"passages {n}x{c}"] = ReaderAnswerer(llm, None, extractive, load_prompts(llm))  # type: ignore[arg-type]
    for budget in WINDOW_BUDGETS:
        llm = settings.llm.model_copy(update={"reader_context_chars": budget, "reader_context": "windows"})
        shapes[f"windows {budget}"] = ReaderAnswerer(llm, None, extractive, load_prompts(llm))  # type: ignore[arg-type]

    rows: list[dict[str, Any]] = []
    for q in questions:
        passages = assistant.retrieve(q.question, as_of=q.date)
        quotes = answer_of(extractive, q.question, passages)
        row: dict[str, Any] = {"id": q.id, "abstained": quotes.abstained, "shapes": {}}
        gold = f" {fold(q.answer)} "
        row["top4"] = any(gold in f" {fold(p.text)} " for p in passages[:4])
        for name, reader in shapes.items():
            _, context = reader.context(q.question, passages, quotes)
            row["shapes"][name] = {"holds": gold in f" {fold(context)} ", "chars": len(context)}
        rows.append(row)
    assistant.close()

    summary = {}
    for name in shapes:
        got = [r["shapes"][name] for r in rows]
        summary[name] = {
            "holds": sum(g["holds"] for g in got) / len(got),
            "chars": sum(g["chars"] for g in got) / len(got),
        }
    top4 = sum(r["top4"] for r in rows) / len(rows)
    results = {"questions": len(rows), "half": args.half, "top4_passages_hold": top4, "shapes": summary}
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "reader_context" + (f"-{args.half}" if args.half else "")
    (args.out / f"{stem}.json").write_text(json.dumps({**results, "rows": rows}, indent=1), encoding="utf-8")
    lines = [
        f"# Reader context on RealTime QA 2023: {len(rows)} questions"
        + (f" ({args.half} half)" if args.half else ""),
        "",
        f"The top 4 whole passages hold the answer for {top4:.3f}.",
        "",
        "| shape | holds the answer | mean chars |",
        "| --- | ---: | ---: |",
    ]
    for name, s in summary.items():
        lines.append(f"| {name} | {s['holds']:.3f} | {s['chars']:.0f} |")
    markdown = "\n".join(lines) + "\n"
    (args.out / f"{stem}.md").write_text(markdown, encoding="utf-8")
    print(markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
