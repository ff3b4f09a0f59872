"""Calibrate ``llm.support_threshold``: support scores of true, fabricated and misattributed claims.

    .venv/bin/python benchmarks/support_calibration.py [--label NAME] [--corpus eval/corpus]

The claims (benchmarks/data/support_claims.jsonl) are about the sample corpus and written in the
project's own words: close and loose paraphrases of what a passage says, fabrications (changed
numbers, swapped names or places, invented or reversed facts), injected output ("PWNED"), and every
true claim once more cited to a passage of another article. Each claim is scored against its
passage, as chunked by the ingester, with :class:`~assistant.answer.citations.SupportScorer` (token
recall plus sentence-embedding similarity, title/outlet/date counting as metadata), and the share
kept at each threshold is printed as a Markdown table and written to
benchmarks/results/support_calibration[-NAME].json. Run it from another checkout (PYTHONPATH) to
compare versions of the scorer on the same claims.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CLAIMS = REPO / "benchmarks" / "data" / "support_claims.jsonl"
THRESHOLDS = (0.40, 0.45, 0.50, 0.55, 0.60)
GROUPS = ("true", "loose", "fabricated", "other passage", "injected")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--label", default="", help="Suffix of the result file (e.g. before, after).")
    parser.add_argument("--corpus", type=Path, default=REPO / "eval" / "corpus")
    args = parser.parse_args(argv)

    import assistant
    from assistant import Assistant, Settings
    from assistant.answer.citations import SupportScorer, passage_metadata
    from assistant.models import ArticleRef, Passage

    claims = [json.loads(line) for line in CLAIMS.read_text(encoding="utf-8").splitlines() if line.strip()]
    with tempfile.TemporaryDirectory() as data_dir:
        library = Assistant(Settings(data_dir=Path(data_dir)))
        library.ingest([args.corpus])
        articles = {Path(a.path).name: a for a in library.articles()}
        passages: dict[str, list[Passage]] = {}
        for pid, aid, start, end in library.registry.all_passages():
            article = next(a for a in articles.values() if a.id == aid)
            reference = ArticleRef.of(article).model_dump()
            passage = Passage(**reference, id=pid, text=article.text[start:end], start=start, end=end)
            passages.setdefault(Path(article.path).name, []).append(passage)
        for found in passages.values():
            found.sort(key=lambda p: p.start)
        files = sorted(passages)

        cases: list[tuple[str, str, Passage]] = []
        for claim in claims:
            own = next(p for p in passages[claim["file"]] if claim["anchor"] in p.text)
            cases.append((claim["kind"], claim["claim"], own))
            if claim["kind"] in ("true", "loose"):
                other = files[(files.index(claim["file"]) + 1) % len(files)]
                cases.append(("other passage", claim["claim"], passages[other][0]))
        scorer = SupportScorer(library.embedder)
        supports = scorer.score_many(
            [(text, passage.text) for _, text, passage in cases], [passage_metadata(p) for _, _, p in cases]
        )
        library.close()

    table: dict[str, dict[str, float]] = {}
    for group in GROUPS:
        scores = [s.score for (kind, _, _), s in zip(cases, supports, strict=True) if kind == group]
        row = {"n": len(scores), "median": statistics.median(scores), "min": min(scores)}
        row.update({f"kept_{t:.2f}": sum(s >= t for s in scores) / len(scores) for t in THRESHOLDS})
        table[group] = row
    lines = [
        f"support scores ({Path(assistant.__file__).parent})",
        "",
        "| claims | n | min | median | " + " | ".join(f"kept at {t:.2f}" for t in THRESHOLDS) + " |",
        "| --- | ---: | ---: | ---: | " + " | ".join("---:" for _ in THRESHOLDS) + " |",
    ]
    for group, row in table.items():
        kept = " | ".join(f"{row[f'kept_{t:.2f}']:.0%}" for t in THRESHOLDS)
        lines.append(f"| {group} | {row['n']:.0f} | {row['min']:.2f} | {row['median']:.2f} | {kept} |")
    print("\n".join(lines))
    out = (
        REPO / "benchmarks" / "results" / f"support_calibration{'-' + args.label if args.label else ''}.json"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    details = [
        {
            "kind": kind,
            "claim": text,
            "passage_id": passage.id,
            "score": round(s.score, 4),
            "lexical": round(s.lexical, 4),
            "semantic": round(s.semantic, 4),
        }
        for (kind, text, passage), s in zip(cases, supports, strict=True)
    ]
    out.write_text(json.dumps({"table": table, "claims": details}, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
