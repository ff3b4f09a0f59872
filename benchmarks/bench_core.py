"""Core benchmark: ingestion throughput vs the embedding model alone, warm ask latency, resident memory.

    .venv/bin/python benchmarks/bench_core.py [--repeat N] [--news-articles N]

Measures:
1. the embedding model's own throughput on exactly the inputs ingestion embeds, and a full ingest
   of the same files into an empty data directory (model already loaded) — on the five seed articles
   (../shared/seeds) and on the first N real news articles of the RealTime QA set;
2. the median and p95 latency of warm `ask` calls with the extractive default, on the seeds, with
   the second-stage reranker on (the default) and off (`retrieval.rerank`);
3. the peak resident memory of a separate process that opens that index and answers questions.
`--ask-only` skips the ingest measurements (1).
Prints JSON and writes benchmarks/results/core.json.
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


def measure_ingest(files: list[Path], embedder, repeat: int) -> dict:  # type: ignore[no-untyped-def]
    """Median over `repeat` rounds of: the model alone on the exact inputs ingest embeds, then a full
    ingest of the same files into an empty data directory (same loaded model)."""
    from assistant import Assistant, Settings
    from assistant.library.chunking import chunk_article
    from assistant.library.sources import read_file

    settings = Settings()
    inputs: list[str] = []
    for path in files:
        for meta, text in read_file(path, int(settings.max_file_mb * 2**20)):
            for span in chunk_article(text, settings.chunking.chunk_size, settings.chunking.chunk_overlap):
                body = text[span.start : span.end]
                inputs.append(f"{meta.title}\n{body}" if meta.title else body)
    embed_times, ingest_times = [], []
    for _ in range(repeat):
        t = time.perf_counter()
        embedder.embed_texts(inputs)
        embed_times.append(time.perf_counter() - t)
        with tempfile.TemporaryDirectory() as tmp:
            assistant = Assistant(Settings(data_dir=Path(tmp) / "data"), embedder=embedder)
            t = time.perf_counter()
            report = assistant.ingest(files)
            ingest_times.append(time.perf_counter() - t)
            assistant.close()
        assert report.ok and report.passages_added == len(inputs), report.summary()
    embed_s, ingest_s = statistics.median(embed_times), statistics.median(ingest_times)
    return {
        "files": len(files),
        "passages": len(inputs),
        "embed_only_s": round(embed_s, 2),
        "embed_passages_per_s": round(len(inputs) / embed_s, 1),
        "ingest_s": round(ingest_s, 2),
        "ingest_passages_per_s": round(len(inputs) / ingest_s, 1),
        "ingest_throughput_vs_model": round(embed_s / ingest_s, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=Path, default=REPO.parent / "shared" / "seeds")
    parser.add_argument(
        "--news",
        type=Path,
        default=REPO.parent / "shared" / "benchmarks" / "realtimeqa-2023" / "articles.jsonl",
        help="a JSON-lines file of articles for a larger ingest",
    )
    parser.add_argument("--news-articles", type=int, default=60, help="how many records of --news to ingest")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--ask-only", action="store_true", help="only measure warm ask latency")
    parser.add_argument("--answer-only", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.answer_only:
        answer_only(args.answer_only, args.repeat)
        return

    from assistant import Assistant, Settings
    from assistant.library.embedding import Embedder

    embedder = Embedder(Settings().embedding)
    embedder.embed_texts(["warm up the model with a few sentences of text"] * 64)
    seeds = sorted(args.seeds.glob("0*.txt"))
    result: dict[str, object] = {"cpu_count": os.cpu_count()}
    if not args.ask_only:
        result["seeds"] = measure_ingest(seeds, embedder, args.repeat)
    with tempfile.TemporaryDirectory() as tmp:
        if args.news.is_file() and not args.ask_only:
            lines = args.news.read_text(encoding="utf-8").splitlines(keepends=True)[: args.news_articles]
            news = Path(tmp) / "news.jsonl"
            news.write_text("".join(lines), encoding="utf-8")
            result["news"] = measure_ingest([news], embedder, 1)

        data = Path(tmp) / "answering"
        assistant = Assistant(Settings(data_dir=data), embedder=embedder)
        assistant.ingest(seeds)
        assistant.close()
        for rerank in (True, False):
            out = subprocess.run(
                [sys.executable, __file__, "--answer-only", str(data), "--repeat", str(max(args.repeat, 5))],
                capture_output=True,
                text=True,
                check=True,
                env={
                    **os.environ,
                    "TOKENIZERS_PARALLELISM": "false",
                    "ASSISTANT_RETRIEVAL__RERANK": "true" if rerank else "false",
                },
            )
            child = json.loads(out.stdout.strip().splitlines()[-1])
            lat = sorted(child["latencies_ms"])
            result["ask" if rerank else "ask_without_rerank"] = {
                "calls": len(lat),
                "median_ms": round(statistics.median(lat), 1),
                "p95_ms": round(lat[int(0.95 * (len(lat) - 1))], 1),
                "answering_process_peak_rss_mb": round(child["peak_rss_mb"], 1),
            }
    out_dir = REPO / "benchmarks" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "core.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
