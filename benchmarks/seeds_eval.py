"""The sample question set asked of the five real seed articles, exactly as scraped.

    .venv/bin/python benchmarks/seeds_eval.py [--seeds ../shared/seeds] [--out DIR]

`eval/questions.jsonl` is written for `eval/corpus/`, five articles retelling the seeds' facts in
the project's own words; each corpus file names the seed it retells (`summary_of` in its front
matter). This script maps every question's gold articles through that field, ingests the seed files
(`0*.txt`: raw page text, photo captions doubled, three of the five undated) into a temporary
library and runs the ordinary evaluation on it, so the composer is also measured on real page text.
Writes the usual report files to --out (default benchmarks/results/seeds, gitignored). The seeds
are read where they lie and never copied into the repository.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from assistant.library.embedding import offline_environment  # noqa: E402

offline_environment()  # before any model library is imported

_SUMMARY_OF = re.compile(r'^summary_of:\s*"?([^"\n]+)"?\s*$', re.MULTILINE)
HEADLINES = (
    "key_fact_recall",
    "citation_precision",
    "citation_recall",
    "abstention_precision",
    "abstention_recall",
    "answered_rate",
    "hit_at_1",
)


def seed_dataset(questions: Path, corpus: Path, out: Path) -> None:
    """Write `questions` to `out` with each gold article renamed to the seed it retells."""
    seed_of = {}
    for path in sorted(corpus.glob("*.md")):
        match = _SUMMARY_OF.search(path.read_text(encoding="utf-8"))
        if match:
            seed_of[path.name] = match.group(1).strip()
    lines = []
    for line in questions.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        row["gold_articles"] = [seed_of[name] for name in row.get("gold_articles", [])]
        lines.append(json.dumps(row, ensure_ascii=False))
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=Path, default=REPO.parent / "shared" / "seeds")
    parser.add_argument("--questions", type=Path, default=REPO / "eval" / "questions.jsonl")
    parser.add_argument("--corpus", type=Path, default=REPO / "eval" / "corpus")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "seeds")
    args = parser.parse_args(argv)
    seeds = sorted(args.seeds.glob("0*.txt"))
    if not seeds:
        print(f"No seed articles (0*.txt) in {args.seeds}: pass --seeds.", file=sys.stderr)
        return 2

    from assistant import Assistant, Settings
    from assistant.evaluation import run_evaluation

    with tempfile.TemporaryDirectory(prefix="seeds-eval-") as tmp:
        dataset = Path(tmp) / "questions.jsonl"
        seed_dataset(args.questions, args.corpus, dataset)
        assistant = Assistant(Settings(data_dir=Path(tmp) / "data"))
        report = assistant.ingest(seeds)
        if report.failed:
            print(f"Ingest failed: {report.summary()}", file=sys.stderr)
            return 1
        summary = run_evaluation(assistant, dataset, args.out, baseline_dir=None)
    print(f"{len(seeds)} seed articles, {summary['questions']} questions; report in {args.out}")
    for name in HEADLINES:
        print(f"{name:22} {summary[name]:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
