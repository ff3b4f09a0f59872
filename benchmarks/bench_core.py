"""Core benchmark: ingestion throughput vs the embedding model alone, warm ask latency, resident memory.

    .venv/bin/python benchmarks/bench_core.py [--articles DIR] [--repeat N]

Measures, on the seed articles (../shared/seeds) by default:
1. the embedding model's own throughput on exactly the inputs ingestion embeds;
2. a full ingest of the same files into an empty data directory (model already loaded);
3. the median and p95 latency of warm `ask` calls with the extractive default;
4. the peak resident memory of a separate process that opens the index and answers questions.
Prints a Markdown table and writes benchmarks/results/core.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

QUESTIONS = [
    "What did Hamas demand?",
    "What did Hamas demand in 2024?",
    "How much money was Qatar paying Gaza each month?",
    "Who led the Israeli delegation to Doha?",
    "Why were the Mossad negotiators recalled from Qatar?",
    "What is the capital of Australia?",
    "When did Halevi first visit Qatar?",
    "What did Israel say about the return of residents to northern Gaza?",
]


def peak_rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def answer_only(data_dir: str, repeat: int) -> None:
    """Run in a child process: open the index, answer questions, report latency and peak memory."""
    from assistant import Assistant, Settings

    assistant = Assistant(Settings(data_dir=Path(data_dir)))
    assistant.ask("warm up the model")
    latencies = []
    for _ in range(repeat):
        for q in QUESTIONS:
            t = time.perf_counter()
            assistant.ask(q)
            latencies.append((time.perf_counter() - t) * 1000)
    print(json.dumps({"latencies_ms": latencies, "peak_rss_mb": peak_rss_mb()}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--articles", type=Path, default=REPO.parent / "shared" / "seeds")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--answer-only", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.answer_only:
        answer_only(args.answer_only, args.repeat)
        return

    from assistant import Assistant, Settings
    from assistant.chunking import chunk_article
    from assistant.embedding import Embedder
    from assistant.sources import iter_files, read_file

    settings = Settings()
    embedder = Embedder(settings.embedding)
    embedder.embed_texts(["warm up"] * 8)

    files = iter_files([args.articles])
    inputs: list[str] = []
    for path in files:
        try:
            records = read_file(path, int(settings.max_file_mb * 2**20))
        except Exception:
            continue
        for meta, text in records:
            for span in chunk_article(text, settings.chunking.chunk_size, settings.chunking.chunk_overlap):
                body = text[span.start : span.end]
                inputs.append(f"{meta.title}\n{body}" if meta.title else body)

    t = time.perf_counter()
    embedder.embed_texts(inputs)
    embed_s = time.perf_counter() - t

    with tempfile.TemporaryDirectory() as tmp:
        assistant = Assistant(Settings(data_dir=Path(tmp) / "data"), embedder=embedder)
        t = time.perf_counter()
        report = assistant.ingest([args.articles])
        ingest_s = time.perf_counter() - t
        assistant.close()
        out = subprocess.run(
            [sys.executable, __file__, "--answer-only", str(Path(tmp) / "data"), "--repeat", str(args.repeat)],
            capture_output=True, text=True, check=True, env={**os.environ, "TOKENIZERS_PARALLELISM": "false"},
        )
    child = json.loads(out.stdout.strip().splitlines()[-1])
    lat = sorted(child["latencies_ms"])
    result = {
        "articles_dir": str(args.articles),
        "files": len(files),
        "passages": len(inputs),
        "ingest_report": report.summary(),
        "embed_only_s": round(embed_s, 2),
        "embed_passages_per_s": round(len(inputs) / embed_s, 1),
        "ingest_s": round(ingest_s, 2),
        "ingest_passages_per_s": round(report.passages_added / ingest_s, 1),
        "ingest_vs_embedding": round(embed_s / ingest_s, 3),
        "ask_median_ms": round(statistics.median(lat), 1),
        "ask_p95_ms": round(lat[int(0.95 * (len(lat) - 1))], 1),
        "ask_calls": len(lat),
        "answering_process_peak_rss_mb": round(child["peak_rss_mb"], 1),
        "cpu_count": os.cpu_count(),
    }
    out_dir = REPO / "benchmarks" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "core.json").write_text(json.dumps(result, indent=2))
    print("| measure | value |\n|---|---|")
    for key, value in result.items():
        print(f"| {key} | {value} |")


if __name__ == "__main__":
    main()
