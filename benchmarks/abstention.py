"""Abstention calibration on RealTime QA 2023: each question, and its twin without its gold articles.

    .venv/bin/python benchmarks/abstention.py --data-dir COPY_OF_A_BUILT_LIBRARY [--limit N]

Every RealTime QA question is answerable from the library; its *twin* is the same question asked of
the library restricted to every article but its gold ones, which no longer answers it. For each
coverage threshold (``answer.min_coverage``) the script reports abstention precision and recall over
questions + twins and the answered rate, on the whole set and on two halves (odd questions = tuning
half, even = held-out half), plus how often the default extractive answer contains the answer string.
The library must already hold the benchmark's articles (build one with benchmarks/realtimeqa.py
--data-dir DIR, or copy a prebuilt one). Writes benchmarks/results/abstention.{json,md} (gitignored).
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from library_args import library_parser  # noqa: E402

from assistant.library.embedding import offline_environment  # noqa: E402

offline_environment()  # before any model library is imported

logger = logging.getLogger("benchmarks.abstention")


def main(argv: list[str] | None = None) -> int:
    parser = library_parser(__doc__, "Assistant data dir holding it.")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    from assistant import Assistant, Settings
    from assistant.answer.extractive import compose
    from assistant.evaluation.calibration import abstention_signals, curve, curve_markdown
    from assistant.evaluation.realtimeqa import article_urls, contains_answer, load_questions
    from assistant.models import Answer, Filters

    settings = Settings(data_dir=args.data_dir)
    assistant = Assistant(settings)
    if not assistant.articles():
        print(f"No articles in {args.data_dir}: build the library first.", file=sys.stderr)
        return 2
    questions = load_questions(args.data)[: args.limit]
    urls = article_urls(args.data)
    articles = assistant.articles()
    ids_by_url = {a.url: a.id for a in articles if a.url}
    all_ids = [a.id for a in articles]
    per_question = []
    for index, q in enumerate(questions):
        gold = {ids_by_url.get(urls.get(g, ""), "") for g in q.gold_any} - {""}
        passages = assistant.retrieve(q.question)
        answer = compose(q.question, passages, settings.answer)
        twin_passages = assistant.retrieve(
            q.question, filters=Filters(article_ids=[i for i in all_ids if i not in gold])
        )
        twin = Answer(question=q.question, text="", passages=twin_passages)
        per_question.append(
            {
                "id": q.id,
                "half": "tune" if index % 2 else "held-out",
                "answer_contains": contains_answer(answer.text, q.answer),
                "abstained": answer.abstained,
                "signals": abstention_signals(answer),
                "twin_signals": abstention_signals(twin),
            }
        )
        if (index + 1) % 20 == 0:
            logger.info("%d/%d questions", index + 1, len(questions))
    assistant.close()

    chosen = settings.answer.min_coverage
    results: dict = {"questions": len(per_question), "min_coverage": chosen, "halves": {}}
    markdown = [f"# Abstention on RealTime QA 2023: {len(per_question)} questions + their twins", ""]
    for half in ("all", "tune", "held-out"):
        rows = [r for r in per_question if half == "all" or r["half"] == half]
        points = [(r["signals"], True) for r in rows] + [(r["twin_signals"], False) for r in rows]
        data = curve(points, settings.answer)
        contains = sum(r["answer_contains"] for r in rows) / len(rows) if rows else None
        abstained = sum(r["abstained"] for r in rows) / len(rows) if rows else None
        results["halves"][half] = {"curve": data, "answer_contains": contains, "abstained": abstained}
        markdown.append(
            curve_markdown(
                data,
                chosen,
                f"{half} ({len(rows)} questions): default answer contains the "
                f"answer {contains:.3f}, abstained {abstained:.3f}",
            )
        )
    results["per_question"] = per_question
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "abstention.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    text = "\n".join(markdown)
    (args.out / "abstention.md").write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
