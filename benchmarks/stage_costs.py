"""What each stage of answering costs: milliseconds per question and the process's memory.

    .venv/bin/python benchmarks/stage_costs.py --data-dir DIR [--limit N]

DIR is a library that already holds the RealTime QA 2023 articles (build one with
benchmarks/realtimeqa.py --data-dir DIR). For every question (asked as of its own date) the script
times, separately and in this order: the query embedding, Chroma's dense search, BM25, the whole
`retrieve` without and with the second stage, and composing the extractive answer from the
retrieved passages; then the whole warm `ask`. It prints medians and p95s and the peak RSS, and
writes benchmarks/results/stage_costs.json (gitignored). The data is read where it lies.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from library_args import library_parser  # noqa: E402

from assistant.library.embedding import offline_environment  # noqa: E402

offline_environment()  # before any model library is imported


def _ms(fn):  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    out = fn()
    return (time.perf_counter() - t0) * 1000, out


def main(argv: list[str] | None = None) -> int:
    parser = library_parser(__doc__, "Library holding its articles.")
    args = parser.parse_args(argv)

    from assistant import Assistant, Settings
    from assistant.answer.extractive import compose
    from assistant.evaluation.metrics import percentile
    from assistant.evaluation.realtimeqa import load_questions

    assistant = Assistant(Settings(data_dir=args.data_dir))
    if assistant.stats()["passages"] == 0:
        print(f"{args.data_dir} holds no articles: build it with realtimeqa.py --data-dir", file=sys.stderr)
        return 2
    retriever = assistant.retriever
    questions = load_questions(args.data)[: args.limit]
    retriever.retrieve(questions[0].question, as_of=questions[0].date)  # warm: model, caches, BM25
    stages = ("embed query", "dense search", "bm25", "retrieve (RRF)", "retrieve (reranked)")
    stages += ("compose", "ask")
    times: dict[str, list[float]] = {name: [] for name in stages}
    k = assistant.settings.retrieval.k
    n = assistant.settings.retrieval.candidates
    for q in questions:
        ms, vec = _ms(lambda q=q: assistant.embedder.embed_query(q.question))
        times["embed query"].append(ms)
        times["dense search"].append(_ms(lambda vec=vec: retriever.vectors.search(vec, n, None))[0])
        times["bm25"].append(_ms(lambda q=q: retriever.bm25.search(q.question, 1000))[0])
        times["retrieve (RRF)"].append(
            _ms(lambda q=q: retriever.retrieve(q.question, k=k, as_of=q.date, rerank=False))[0]
        )
        ms, passages = _ms(lambda q=q: retriever.retrieve(q.question, k=k, as_of=q.date))
        times["retrieve (reranked)"].append(ms)
        times["compose"].append(
            _ms(lambda q=q, ps=passages: compose(q.question, ps, assistant.settings.answer))[0]
        )
        times["ask"].append(_ms(lambda q=q: assistant.ask(q.question, as_of=q.date))[0])
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    stats = assistant.stats()
    result = {
        "machine": f"{os.cpu_count()} CPU cores, {platform.machine()}",
        "load_average": os.getloadavg(),
        "library": stats,
        "questions": len(questions),
        "peak_rss_mb": round(peak_mb),
        "ms": {
            name: {"p50": round(percentile(v, 50) or 0.0, 1), "p95": round(percentile(v, 95) or 0.0, 1)}
            for name, v in times.items()
        },
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "stage_costs.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(
        f"{result['machine']}, load {result['load_average'][0]:.1f}; {stats['passages']} passages; "
        f"{len(questions)} questions; peak RSS {result['peak_rss_mb']} MB"
    )
    print("| stage | p50 ms | p95 ms |\n| --- | ---: | ---: |")
    for name, v in result["ms"].items():
        print(f"| {name} | {v['p50']} | {v['p95']} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
