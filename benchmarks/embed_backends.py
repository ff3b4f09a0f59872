"""Embedding backends compared on the RealTime QA 2023 articles: speed, agreement, retrieval quality.

    nice -n 5 .venv/bin/python benchmarks/embed_backends.py [--subset 1000] [--torch-library DIR]

For each backend (torch, onnx, onnx-int8), with the same batch size:
1. export + load time (the ONNX export is built into a fresh cache, as on first use);
2. embedding throughput on the first ``--subset`` passages exactly as ingest embeds them
   (title + passage), wall passages/s and CPU seconds of this process;
3. cosine of each passage's vector to torch's (min / 1st percentile / mean);
4. ingest throughput: the articles holding those passages ingested into an empty library;
5. retrieval hit@k and MRR@10 (assistant.evaluation.realtimeqa) on a library of ALL 409 articles
   built with that backend, dense and hybrid, without and with the question-date filter.
``--torch-library`` reuses a library already built with torch (a copy is opened, never the original).
Writes benchmarks/results/embed_backends.json and .md (gitignored) and prints the Markdown.
The data is read where it lies and never copied into the repository.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from assistant.library.embedding import offline_environment  # noqa: E402

offline_environment()  # before any model library is imported
DEFAULT_DATA = REPO.parent / "shared" / "benchmarks" / "realtimeqa-2023"
BACKENDS = ("torch", "onnx", "onnx-int8")

logger = logging.getLogger("benchmarks.embed_backends")


def subset_articles(articles_file: Path, passages_wanted: int, chunk_size: int, overlap: int) -> tuple:
    """The first articles whose passages add up to about ``passages_wanted``, and those passages."""
    from assistant.library.chunking import chunk_article

    records: list[dict[str, Any]] = []
    texts: list[str] = []
    with articles_file.open(encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            record = json.loads(line)
            title, text = record.get("title", ""), record["text"]
            for span in chunk_article(text, chunk_size, overlap):
                body = text[span.start : span.end]
                texts.append(f"{title}\n{body}" if title else body)
            records.append(record)
            if len(texts) >= passages_wanted:
                break
    return records, texts


def measure_backend(
    backend: str, texts: list[str], subset_file: Path, work: Path, torch_vectors: np.ndarray | None
) -> tuple[dict[str, Any], np.ndarray]:
    from assistant import Assistant, Settings
    from assistant.library.embedding import Embedder

    settings = Settings(data_dir=work / f"ingest-{backend}", embedding={"backend": backend})
    embedder = Embedder(settings.embedding, cache_dir=work / "models")
    t0 = time.perf_counter()
    embedder.embed_query("warm up")
    load_seconds = time.perf_counter() - t0
    embedder.embed_texts(texts[:64])
    t0, cpu0 = time.perf_counter(), time.process_time()
    vectors = embedder.embed_texts(texts)
    embed_seconds, embed_cpu = time.perf_counter() - t0, time.process_time() - cpu0
    row: dict[str, Any] = {
        "backend": backend,
        "export_and_load_s": load_seconds,
        "passages": len(texts),
        "embed_passages_per_s": len(texts) / embed_seconds,
        "embed_cpu_s": embed_cpu,
        "load_1m_during_embed": os.getloadavg()[0],
        "norm_min": float(np.linalg.norm(vectors, axis=1).min()),
    }
    if torch_vectors is not None:
        cos = (vectors * torch_vectors).sum(axis=1)
        row.update(cos_min=float(cos.min()), cos_p1=float(np.percentile(cos, 1)), cos_mean=float(cos.mean()))
    assistant = Assistant(settings, embedder=embedder)
    t0, cpu0 = time.perf_counter(), time.process_time()
    report = assistant.ingest([subset_file])
    ingest_seconds, ingest_cpu = time.perf_counter() - t0, time.process_time() - cpu0
    passages = assistant.stats()["passages"]
    assistant.close()
    row.update(
        ingest_passages=passages,
        ingest_passages_per_s=passages / ingest_seconds,
        ingest_cpu_s=ingest_cpu,
        ingest_failed=len(report.failed),
    )
    logger.info("%s: %s", backend, row)
    return row, vectors


def retrieval_for(backend: str, data: Path, work: Path, library: Path | None) -> dict[str, Any]:
    from assistant import Assistant, Settings
    from assistant.evaluation.realtimeqa import run_realtimeqa
    from assistant.library.embedding import Embedder

    data_dir = work / f"full-{backend}"
    if library is not None:
        shutil.copytree(library, data_dir)
    settings = Settings(data_dir=data_dir, embedding={"backend": backend})
    embedder = Embedder(settings.embedding, cache_dir=work / "models")
    assistant = Assistant(settings, embedder=embedder)
    facts: dict[str, Any] = {}
    if library is None:
        t0, cpu0 = time.perf_counter(), time.process_time()
        assistant.ingest([data / "articles.jsonl"])
        seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        passages = assistant.stats()["passages"]
        facts = {
            "full_ingest_s": seconds,
            "full_ingest_cpu_s": cpu,
            "full_ingest_passages_per_s": passages / seconds,
            "load_1m_after_ingest": os.getloadavg()[0],
        }
        logger.info("%s full ingest: %s", backend, facts)
    results = run_realtimeqa(assistant, data, modes=("dense", "hybrid"), answers=False)
    stats = assistant.stats()
    assistant.close()
    return {"stats": stats, **facts, "retrieval": results["retrieval"]}


def render(results: dict[str, Any]) -> str:
    lines = [
        f"Machine: {results['machine']}; load average during the run "
        f"{results['load_start']:.1f} → {results['load_end']:.1f}.",
        "",
        f"### Speed ({results['subset_passages']} passages of the first {results['subset_articles']} "
        f"articles, batch size {results['batch_size']})",
        "",
        "| backend | export+load s | embed passages/s | embed CPU s | ingest passages/s | ingest CPU s "
        "| cos to torch min / p1 / mean |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for row in results["speed"]:
        cos = (
            f"{row['cos_min']:.4f} / {row['cos_p1']:.4f} / {row['cos_mean']:.4f}" if "cos_min" in row else "–"
        )
        lines.append(
            f"| {row['backend']} | {row['export_and_load_s']:.1f} | {row['embed_passages_per_s']:.1f} | "
            f"{row['embed_cpu_s']:.0f} | {row['ingest_passages_per_s']:.1f} | "
            f"{row['ingest_cpu_s']:.0f} | {cos} |"
        )
    if results.get("retrieval"):
        lines += [
            "",
            "### Retrieval on all 409 articles (92 questions; a passage is a hit when it holds the answer)",
            "",
            "| backend | full ingest passages/s | date filter | mode | hit@1 | hit@5 | hit@10 | MRR@10 |",
            "| --- | ---: | --- | --- | ---: | ---: | ---: | ---: |",
        ]
        for backend, got in results["retrieval"].items():
            rate = got.get("full_ingest_passages_per_s")
            rate_text = f"{rate:.1f}" if rate else "(prebuilt)"
            for label, modes in got["retrieval"].items():
                for mode, s in modes.items():
                    lines.append(
                        f"| {backend} | {rate_text} | {label} | {mode} | {s['hit@1']:.3f} | {s['hit@5']:.3f} "
                        f"| {s['hit@10']:.3f} | {s['mrr@10']:.3f} |"
                    )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="Folder of the benchmark.")
    parser.add_argument("--subset", type=int, default=1000, help="Passages for the speed measures.")
    parser.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=BACKENDS)
    parser.add_argument("--torch-library", type=Path, default=None, help="A torch-built full library.")
    parser.add_argument(
        "--retrieval-backends",
        nargs="*",
        default=None,
        choices=BACKENDS,
        help="Backends to measure retrieval for on all articles (default: --backends; none: skip).",
    )
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results", help="Results folder.")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not (args.data / "articles.jsonl").is_file():
        print(f"No benchmark at {args.data}: pass --data.", file=sys.stderr)
        return 2
    from assistant import Settings

    defaults = Settings()
    results: dict[str, Any] = {
        "machine": f"{os.cpu_count()} CPU cores ({platform.processor() or platform.machine()}), shared",
        "load_start": os.getloadavg()[0],
        "batch_size": defaults.embedding.batch_size,
        "speed": [],
        "retrieval": {},
    }
    with tempfile.TemporaryDirectory(prefix="embed-backends-") as tmp:
        work = Path(tmp)
        chunking = defaults.chunking
        records, texts = subset_articles(
            args.data / "articles.jsonl", args.subset, chunking.chunk_size, chunking.chunk_overlap
        )
        subset_file = work / "subset.jsonl"
        subset_file.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
        results.update(subset_articles=len(records), subset_passages=len(texts))
        torch_vectors = None
        for backend in ["torch", *[b for b in args.backends if b != "torch"]]:
            if backend not in args.backends and backend != "torch":
                continue
            row, vectors = measure_backend(backend, texts, subset_file, work, torch_vectors)
            if backend == "torch":
                torch_vectors = vectors
            if backend in args.backends:
                results["speed"].append(row)
        retrieval_backends = args.backends if args.retrieval_backends is None else args.retrieval_backends
        for backend in retrieval_backends:
            library = args.torch_library if backend == "torch" else None
            results["retrieval"][backend] = retrieval_for(backend, args.data, work, library)
    results["load_end"] = os.getloadavg()[0]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "embed_backends.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    markdown = render(results)
    (args.out / "embed_backends.md").write_text(markdown, encoding="utf-8")
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
