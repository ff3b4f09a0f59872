"""RealTime QA 2023 benchmark: ingest its 409 articles once, then measure retrieval and answers.

    .venv/bin/python benchmarks/realtimeqa.py [--data ../shared/benchmarks/realtimeqa-2023] [--limit N]

Writes benchmarks/results/realtimeqa.json and .md (gitignored) and prints the Markdown tables.
The data is read where it lies and never copied into the repository.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from assistant.library.embedding import offline_environment  # noqa: E402

offline_environment()  # before any model library is imported
DEFAULT_DATA = REPO.parent / "shared" / "benchmarks" / "realtimeqa-2023"

logger = logging.getLogger("benchmarks.realtimeqa")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="Folder of the benchmark.")
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="Assistant data dir (default: a temp dir)."
    )
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results", help="Results folder.")
    parser.add_argument("--limit", type=int, default=None, help="Only the first N questions.")
    parser.add_argument("--no-answers", action="store_true", help="Measure retrieval only.")
    parser.add_argument(
        "--conditions",
        default="none,as_of",
        help="Comma-separated: none (question only), as_of (asked on the question date), "
        "until (hard date filter). Default: none,as_of.",
    )
    parser.add_argument("--modes", default=None, help="Comma-separated retrieval modes (default: all).")
    parser.add_argument(
        "--half",
        choices=("even", "odd"),
        default=None,
        help="Only every other question (even or odd positions): a held-out check of tuned settings.",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not (args.data / "articles.jsonl").is_file():
        print(f"No benchmark at {args.data}: pass --data.", file=sys.stderr)
        return 2

    from assistant import Assistant, Settings
    from assistant.evaluation.realtimeqa import MODES, load_questions, render_markdown, run_realtimeqa

    with tempfile.TemporaryDirectory(prefix="rtqa-") as tmp:
        data_dir = args.data_dir or Path(tmp) / "data"
        settings = Settings(data_dir=data_dir)
        t0 = time.perf_counter()
        assistant = Assistant(settings)
        load_seconds = time.perf_counter() - t0
        t0, cpu0 = time.perf_counter(), time.process_time()
        report = assistant.ingest([args.data / "articles.jsonl"])
        ingest_seconds = time.perf_counter() - t0
        # CPU seconds of this process: comparable across runs even when other work shares the cores.
        ingest_cpu_seconds = time.process_time() - cpu0
        stats = assistant.stats()
        logger.info("Ingested %s in %.1fs: %s", stats, ingest_seconds, report.summary())
        questions = load_questions(args.data)[: args.limit]
        if args.half is not None:
            questions = questions[0 if args.half == "even" else 1 :: 2]
        last: dict[str, float] = {"t": 0.0}

        def progress(stage: str, done: int, total: int) -> None:
            if done == total or time.monotonic() - last["t"] > 30:
                last["t"] = time.monotonic()
                logger.info("%s: %d/%d", stage, done, total)

        results = run_realtimeqa(
            assistant,
            args.data,
            questions=questions,
            modes=args.modes.split(",") if args.modes else MODES,
            conditions=args.conditions.split(","),
            answers=not args.no_answers,
            progress=progress,
        )
        assistant.close()
    results["ingest"] = {
        "articles": stats.get("articles"),
        "passages": stats.get("passages"),
        "seconds": ingest_seconds,
        "cpu_seconds": ingest_cpu_seconds,
        "load_average_1m": os.getloadavg()[0],
        "model_load_seconds": load_seconds,
        "failed_files": len(report.failed),
        "machine": f"{os.cpu_count()} CPU cores, {platform.machine()}, "
        f"embedding on {settings.embedding.device}",
    }
    results["settings"] = settings.model_dump(mode="json", exclude={"llm": {"api_key"}, "ui": {"password"}})
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "realtimeqa.json").write_text(
        json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8"
    )
    markdown = render_markdown(results)
    (args.out / "realtimeqa.md").write_text(markdown, encoding="utf-8")
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
