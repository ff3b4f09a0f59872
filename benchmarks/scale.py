"""Scale benchmark: libraries of 10k, 30k and 100k passages, built from real news and measured as they grow.

    nice -n 5 .venv/bin/python benchmarks/scale.py [--sizes 10000 30000 100000] [--work DIR]
        [--queries 40] [--seed-embeddings DATA_DIR] [--chart docs/scale.svg]

The library: the 409 RealTime QA 2023 articles (../shared/benchmarks/realtimeqa-2023, ~9.9k passages),
then the same articles again as archive copies - each copy re-dated (published k years earlier) and
re-titled ("... [archive copy k]") under new record ids - until the size is reached; the last copy is
cut to land on it. One library grows through the sizes (10k, then 20k more, then 70k more).

Embeddings are cached by passage body (the text after the title line): copies share their bodies, so
only the ~9.9k unique passages are ever embedded, once; a cache file in the work dir (or a library
named by --seed-embeddings) keeps them between runs. "ingest" therefore measures everything except
repeated embedding (reading, chunking, Chroma, the registry, BM25); the embedding rate is measured and
reported on its own. A copy's vector is that of the original title + body: fine for latency and size.

Per size, a fresh process opens the library and reports: start-up time (process start to first answer),
retrieve p50/p95 (dense, BM25, hybrid, hybrid with a date filter), warm ask p50 (extractive), peak RSS,
and the cost of adding one new article (ingest call, BM25 update within it, first retrieve after it)
and of deleting it again. Prints a Markdown table, writes benchmarks/results/scale.json and the chart.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SHARED = REPO.parent / "shared" / "benchmarks" / "realtimeqa-2023"


# -- the library -----------------------------------------------------------------------------------


def load_articles() -> list[dict[str, Any]]:
    with (SHARED / "articles.jsonl").open() as f:
        return [json.loads(line) for line in f if line.strip()]


def passages_per_article(articles: list[dict[str, Any]]) -> list[int]:
    from assistant.config import ChunkingSettings
    from assistant.library.chunking import chunk_article
    from assistant.library.sources.cleanup import clean_text

    chunking = ChunkingSettings()
    return [
        len(chunk_article(clean_text(a["text"]), chunking.chunk_size, chunking.chunk_overlap))
        for a in articles
    ]


def copy_record(article: dict[str, Any], k: int) -> dict[str, Any]:
    """Archive copy k of an article (k = 0 is the article itself)."""
    if k == 0:
        return article
    record = dict(article)
    record["id"] = f"{article['id']}-copy{k}"
    record["url"] = f"{article.get('url', '')}#copy{k}"
    record["title"] = f"{article.get('title', '')} [archive copy {k}]"
    if article.get("published"):
        day = dt.date.fromisoformat(article["published"])
        record["published"] = day.replace(year=day.year - k, day=min(day.day, 28)).isoformat()
    return record


class CachingEmbedder:
    """The real embedder, with passage embeddings cached by body text; queries are never cached."""

    def __init__(self, embedder: Any, cache_file: Path) -> None:
        self._embedder = embedder
        self._file = cache_file
        self._cache: dict[str, np.ndarray] = {}
        self.embedded = 0
        self.embed_seconds = 0.0
        if cache_file.exists():
            with np.load(cache_file) as z:
                self._cache = dict(zip(z["keys"].tolist(), z["vectors"], strict=True))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._embedder, name)

    @staticmethod
    def _key(text: str) -> str:
        body = text.split("\n", 1)[1] if "\n" in text else text
        return hashlib.sha1(body.encode("utf-8")).hexdigest()

    def seed_from_library(self, data_dir: Path) -> int:
        """Reuse the vectors of a library built with the same model and chunking (title + body)."""
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        client = chromadb.PersistentClient(
            str(data_dir / "chroma"), ChromaSettings(anonymized_telemetry=False)
        )
        got = client.get_collection("passages").get(include=["embeddings", "documents"])
        for doc, vec in zip(got["documents"] or [], got["embeddings"], strict=True):  # type: ignore[arg-type]
            self._cache.setdefault(self._key("\n" + doc), np.asarray(vec, dtype=np.float32))
        return len(self._cache)

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        keys = [self._key(t) for t in texts]
        missing = sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in self._cache}.items())
        if missing:
            started = time.perf_counter()
            vectors = self._embedder.embed_texts([t for _, t in missing])
            self.embed_seconds += time.perf_counter() - started
            self.embedded += len(missing)
            for (key, _), vec in zip(missing, vectors, strict=True):
                self._cache[key] = vec
        return np.stack([self._cache[k] for k in keys]).astype(np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self._embedder.embed_query(text)

    def save(self) -> None:
        keys = list(self._cache)
        tmp = self._file.with_suffix(".tmp.npz")
        np.savez(tmp, keys=np.asarray(keys), vectors=np.stack([self._cache[k] for k in keys]))
        os.replace(tmp, self._file)


def disk_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


# -- the probe: a fresh process that opens the library ---------------------------------------------


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM). Not ru_maxrss: Linux carries a parent's peak over
    fork and exec into the child's ru_maxrss, so a probe spawned by the builder (holding the library,
    ~2.3 GB at 100k) reported the builder's memory, not its own."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def probe(data_dir: Path, spawned_at: float, queries: int, extra_article: Path) -> dict[str, Any]:
    from assistant import Assistant, Settings
    from assistant.models import Filters

    assistant = Assistant(Settings(data_dir=data_dir))
    assistant.ask("What happened this week?")
    startup = time.time() - spawned_at
    with (SHARED / "questions.jsonl").open() as f:
        questions = [json.loads(line)["question"] for line in f if line.strip()][:queries]
    recent = Filters(since=dt.date(2022, 6, 1), until=dt.date(2023, 12, 31))
    out: dict[str, Any] = {"startup_s": startup}
    # The query embedding is a constant cost that does not grow with the library: time it apart.
    embed_ms: list[float] = []
    embed_query = assistant.embedder.embed_query

    def timed_embed_query(text: str) -> np.ndarray:
        t = time.perf_counter()
        vector = embed_query(text)
        embed_ms.append((time.perf_counter() - t) * 1000)
        return vector

    assistant.embedder.embed_query = timed_embed_query  # type: ignore[method-assign]
    for name, mode, filters in (
        ("dense", "dense", None),
        ("bm25", "bm25", None),
        ("hybrid", "hybrid", None),
        ("hybrid_filtered", "hybrid", recent),
    ):
        latencies, cpu, index_only = [], [], []
        for q in questions:
            embed_ms.clear()
            t, c = time.perf_counter(), time.process_time()
            assistant.retrieve(q, mode=mode, filters=filters)
            latencies.append((time.perf_counter() - t) * 1000)
            cpu.append((time.process_time() - c) * 1000)
            index_only.append(latencies[-1] - sum(embed_ms))
        out[f"retrieve_{name}_first_ms"] = latencies[0]  # filtered: includes reading the vectors
        out[f"retrieve_{name}_without_embedding_p50_ms"] = pct(index_only, 50)
        out[f"retrieve_{name}_p50_ms"] = pct(latencies, 50)
        out[f"retrieve_{name}_p95_ms"] = pct(latencies, 95)
        out[f"retrieve_{name}_cpu_p50_ms"] = pct(cpu, 50)
    latencies, cpu, index_only = [], [], []
    for q in questions:
        embed_ms.clear()
        t, c = time.perf_counter(), time.process_time()
        assistant.ask(q)
        latencies.append((time.perf_counter() - t) * 1000)
        cpu.append((time.process_time() - c) * 1000)
        index_only.append(latencies[-1] - sum(embed_ms))
    out["ask_without_embedding_p50_ms"] = pct(index_only, 50)
    out["query_embedding_p50_ms"] = pct(embed_ms or [float("nan")], 50)
    out["ask_p50_ms"] = pct(latencies, 50)
    out["ask_p95_ms"] = pct(latencies, 95)
    out["ask_cpu_p50_ms"] = pct(cpu, 50)
    out["rss_mb"] = peak_rss_mb()
    out["filtered_passages"] = len(assistant.retriever._filter_fn(recent))
    out["vectors_held"] = len(assistant.vectors.cache)

    # Adding one article: the whole ingest call (a real embedding of its passages included), the BM25
    # update inside it, and the first retrieve after it (which reloads the retriever's article cache).
    bm25_seconds: list[float] = []
    refresh = assistant.bm25.refresh

    def timed_refresh(*args: Any, **kwargs: Any) -> None:
        t = time.perf_counter()
        refresh(*args, **kwargs)
        bm25_seconds.append(time.perf_counter() - t)

    assistant.bm25.refresh = timed_refresh  # type: ignore[method-assign]
    t = time.perf_counter()
    report = assistant.ingest([extra_article])
    out["add_one_article_s"] = time.perf_counter() - t
    out["add_one_article_passages"] = report.passages_added
    out["bm25_update_s"] = bm25_seconds[-1] if bm25_seconds else float("nan")
    out["load_average"] = os.getloadavg()[0]
    t = time.perf_counter()
    assistant.retrieve(questions[0])
    out["first_retrieve_after_add_ms"] = (time.perf_counter() - t) * 1000
    t = time.perf_counter()
    for result in report.files:
        for article_id in result.article_ids:
            assistant.delete(article_id)
    out["delete_one_article_s"] = time.perf_counter() - t
    out["bm25_segments"] = assistant.bm25.segment_sizes()
    assistant.close()
    return out


def run_probe(data_dir: Path, queries: int, extra_article: Path) -> dict[str, Any]:
    spawned = time.time()
    proc = subprocess.run(
        [sys.executable, __file__, "--probe", str(data_dir), str(spawned), str(queries), str(extra_article)],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "TOKENIZERS_PARALLELISM": "false"},
    )
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


# -- the chart -------------------------------------------------------------------------------------


def svg_chart(rows: list[dict[str, Any]], path: Path, machine: str) -> None:
    """Two panels: size -> latency (ms) and size -> peak RSS (MB). Plain SVG, no plotting library."""
    width, height, pad = 420, 300, 55
    sizes = [r["passages"] for r in rows]
    x_max = max(sizes) * 1.05

    def panel(
        x0: int, title: str, series: list[tuple[str, str, list[float]]], unit: str, target: float
    ) -> str:
        y_max = max(target, *(max(v) for _, _, v in series)) * 1.15 or 1.0
        px = lambda s: x0 + pad + (width - 2 * pad) * s / x_max  # noqa: E731
        py = lambda v: height - pad + -(height - 2 * pad) * v / y_max  # noqa: E731
        parts = [
            f'<text x="{x0 + width / 2}" y="22" text-anchor="middle" font-weight="bold">{title}</text>',
            f'<line x1="{px(0)}" y1="{py(0)}" x2="{px(x_max)}" y2="{py(0)}" stroke="#444"/>',
            f'<line x1="{px(0)}" y1="{py(0)}" x2="{px(0)}" y2="{py(y_max)}" stroke="#444"/>',
            f'<text x="{x0 + width / 2}" y="{height - 15}" text-anchor="middle">passages</text>',
            f'<text x="{x0 + 14}" y="{height / 2}" transform="rotate(-90 {x0 + 14} {height / 2})" '
            f'text-anchor="middle">{unit}</text>',
        ]
        parts.append(
            f'<line x1="{px(0)}" y1="{py(target)}" x2="{px(x_max)}" y2="{py(target)}" stroke="#999" '
            f'stroke-dasharray="5,4"/><text x="{px(x_max)}" y="{py(target) - 4}" text-anchor="end" '
            f'fill="#666">target {target:.0f} {unit} at 100k</text>'
        )
        for s in sizes:
            parts.append(f'<text x="{px(s)}" y="{py(0) + 16}" text-anchor="middle">{s // 1000}k</text>')
        for i in range(5):
            v = y_max * i / 4
            parts.append(f'<text x="{px(0) - 6}" y="{py(v) + 4}" text-anchor="end">{v:.0f}</text>')
            parts.append(f'<line x1="{px(0)}" y1="{py(v)}" x2="{px(x_max)}" y2="{py(v)}" stroke="#eee"/>')
        for n, (label, colour, values) in enumerate(series):
            points = " ".join(f"{px(s):.1f},{py(v):.1f}" for s, v in zip(sizes, values, strict=True))
            parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"/>')
            for s, v in zip(sizes, values, strict=True):
                parts.append(f'<circle cx="{px(s):.1f}" cy="{py(v):.1f}" r="3" fill="{colour}"/>')
            ly = 40 + 16 * n
            parts.append(f'<rect x="{px(0) + 10}" y="{ly - 9}" width="10" height="10" fill="{colour}"/>')
            parts.append(f'<text x="{px(0) + 25}" y="{ly}">{label}</text>')
        return "\n".join(parts)

    nan = float("nan")
    latency = [
        (f"{label} p50", colour, [r.get(f"{key}_without_embedding_p50_ms", nan) for r in rows])
        for label, colour, key in (
            ("hybrid", "#1f77b4", "retrieve_hybrid"),
            ("hybrid + date filter", "#17becf", "retrieve_hybrid_filtered"),
            ("dense", "#2ca02c", "retrieve_dense"),
            ("BM25", "#ff7f0e", "retrieve_bm25"),
            ("ask", "#d62728", "ask"),
        )
    ]
    memory = [("peak RSS of a serving process", "#9467bd", [r["rss_mb"] for r in rows])]
    body = "\n".join(
        (
            panel(0, "Latency without the query embedding", latency, "ms", 100.0),
            panel(width, "Memory", memory, "MB", 2048.0),
        )
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{2 * width}" height="{height + 20}" '
        f'font-family="sans-serif" font-size="11">\n<rect width="100%" height="100%" fill="white"/>\n'
        f"{body}\n"
        f'<text x="{width}" y="{height + 12}" text-anchor="middle" fill="#666">{machine}</text>\n</svg>\n'
    )


# -- main ------------------------------------------------------------------------------------------


def machine() -> str:
    load = os.getloadavg()[0]
    return f"{os.cpu_count()} CPU cores, load average {load:.1f} at the start (shared with other jobs)"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 30_000, 100_000])
    parser.add_argument("--work", type=Path, default=Path("/tmp/assistant-scale"))
    parser.add_argument("--queries", type=int, default=30)
    parser.add_argument("--seed-embeddings", type=Path, default=None)
    parser.add_argument("--chart", type=Path, default=REPO / "docs" / "scale.svg")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "scale.json")
    parser.add_argument("--keep", action="store_true", help="Grow the library already in --work.")
    parser.add_argument("--probe", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        data_dir, spawned, queries, extra = args.probe
        print(json.dumps(probe(Path(data_dir), float(spawned), int(queries), Path(extra))))
        return

    from assistant import Assistant, Settings
    from assistant.config import EmbeddingSettings
    from assistant.library.embedding import Embedder

    conditions = machine()
    articles = load_articles()
    per_article = passages_per_article(articles)
    work = args.work
    data_dir, copies = work / "library", work / "copies"
    if not args.keep:
        shutil.rmtree(data_dir, ignore_errors=True)
        shutil.rmtree(copies, ignore_errors=True)
    copies.mkdir(parents=True, exist_ok=True)
    extra = work / "extra-article.jsonl"
    # The article added and deleted again by each probe: the shortest one, as a new record.
    shortest = min(range(len(articles)), key=lambda i: (per_article[i], i))
    extra.write_text(json.dumps(copy_record(articles[shortest], 999)) + "\n")

    embedder = CachingEmbedder(Embedder(EmbeddingSettings()), work / "embeddings.npz")
    if args.seed_embeddings:
        print(f"embedding cache: {embedder.seed_from_library(args.seed_embeddings)} vectors", file=sys.stderr)
    assistant = Assistant(Settings(data_dir=data_dir), embedder=embedder)  # type: ignore[arg-type]

    rows: list[dict[str, Any]] = []
    cursor = 0  # records are copy 0 of every article, then copy 1 of every article, ...
    written = 0  # passages written so far
    for size in args.sizes:
        by_copy: dict[int, list[dict[str, Any]]] = {}
        while written < size:
            copy, index = divmod(cursor, len(articles))
            by_copy.setdefault(copy, []).append(copy_record(articles[index], copy))
            written += per_article[index]
            cursor += 1
        files = []  # one file per copy: a file of several copies would pass max_file_mb
        for copy, records in by_copy.items():
            path = copies / f"copy-{copy:02d}-{len(records)}.jsonl"
            path.write_text("".join(json.dumps(r) + "\n" for r in records))
            files.append(path)
        before_embedded, before_seconds = embedder.embedded, embedder.embed_seconds
        t = time.perf_counter()
        report = assistant.ingest(files, progress=True)
        seconds = time.perf_counter() - t
        embedder.save()
        embedded = embedder.embedded - before_embedded
        embed_seconds = embedder.embed_seconds - before_seconds
        stats = assistant.stats()
        row: dict[str, Any] = {
            "passages": stats["passages"],
            "articles": stats["articles"],
            "ingest_s": seconds,
            "ingest_passages": report.passages_added,
            "ingest_embedded": embedded,
            "ingest_embed_s": embed_seconds,
            "ingest_without_embedding_pps": report.passages_added / max(seconds - embed_seconds, 1e-9),
            "disk_mb": disk_mb(data_dir),
        }
        if embedded:
            row["embedding_pps"] = embedded / embed_seconds
        row.update(run_probe(data_dir, args.queries, extra))
        rows.append(row)
        print(json.dumps(row), file=sys.stderr)
        result = {"machine": conditions, "rows": rows}
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
        if len(rows) >= 2:
            svg_chart(rows, args.chart, conditions)
    assistant.close()
    svg_chart(rows, args.chart, conditions)
    print(table(rows))


def table(rows: list[dict[str, Any]]) -> str:
    """Markdown: wall-clock p50/p95, then the p50 without the query embedding (the part that scales)."""
    nan = float("nan")

    def cell(r: dict[str, Any], fmt: str, *keys: str) -> str:
        return fmt.format(*(r.get(k, nan) for k in keys)).replace("nan", "–")

    head = (
        "| passages | ingest (s) | disk (MB) | dense p50/p95 (ms) | BM25 p50/p95 | hybrid p50/p95 | "
        "hybrid + date filter | … each without the query embedding, p50 | ask p50 (ms) | ask without "
        "embedding | 1st filtered (ms) | peak RSS (MB) | add 1 article (s) | BM25 update (s) | "
        "1st retrieve after (ms) | start-up (s) |"
    )
    lines = [head, "|" + "---|" * 16]
    for r in rows:
        modes = ("dense", "bm25", "hybrid", "hybrid_filtered")
        wall = [cell(r, "{:.0f}/{:.0f}", f"retrieve_{m}_p50_ms", f"retrieve_{m}_p95_ms") for m in modes]
        bare = " / ".join(cell(r, "{:.0f}", f"retrieve_{m}_without_embedding_p50_ms") for m in modes)
        cells = [
            f"{r['passages']:,}",
            cell(r, "{:.0f}", "ingest_s"),
            cell(r, "{:.0f}", "disk_mb"),
            *wall,
            bare,
            cell(r, "{:.0f}", "ask_p50_ms"),
            cell(r, "{:.0f}", "ask_without_embedding_p50_ms"),
            cell(r, "{:.0f}", "retrieve_hybrid_filtered_first_ms"),
            cell(r, "{:.0f}", "rss_mb"),
            cell(r, "{:.2f}", "add_one_article_s"),
            cell(r, "{:.3f}", "bm25_update_s"),
            cell(r, "{:.0f}", "first_retrieve_after_add_ms"),
            cell(r, "{:.0f}", "startup_s"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
