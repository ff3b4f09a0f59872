"""HTTP API benchmark: the overhead of the HTTP layer over the Python API, and concurrent streaming.

    .venv/bin/python benchmarks/bench_api.py [--repeat N] [--clients N]

Over a temp library holding the sample corpus (eval/corpus), with a real uvicorn server on
127.0.0.1 serving the same Assistant object in this process:
1. every question of the sample set (eval/questions.jsonl, single-turn ones) is asked through the
   Python API (`Assistant.ask`) and through `POST /v1/chat/completions` (one keep-alive httpx
   client), interleaved, N times; the overhead is the median of the per-question differences
   (HTTP minus Python) and the difference of the medians;
2. the same for streamed completions (time to the last chunk);
3. N clients stream a chat at once (each a different question); every stream must end with a
   final chunk carrying citations (or an abstention) and `data: [DONE]`.
Prints JSON and writes benchmarks/results/api.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from assistant.library.embedding import offline_environment  # noqa: E402

offline_environment()  # before any model library is imported



def questions() -> list[str]:
    rows = [json.loads(line) for line in (REPO / "eval" / "questions.jsonl").read_text().splitlines() if line]
    return [row["user_input"] for row in rows if not row.get("history")]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def chat_body(question: str, stream: bool) -> dict[str, Any]:
    return {"model": "news-extractive", "stream": stream, "messages": [{"role": "user", "content": question}]}


def read_stream(http: Any, question: str) -> dict[str, Any]:
    """One streamed chat; what a client would check about it."""
    started = time.perf_counter()
    first: float | None = None
    final: dict[str, Any] | None = None
    done = False
    with http.stream("POST", "/v1/chat/completions", json=chat_body(question, True)) as response:
        status = response.status_code
        for line in response.iter_lines():
            if not line.startswith("data: "):
                continue
            data = line[len("data: ") :]
            if first is None:
                first = time.perf_counter()
            if data == "[DONE]":
                done = True
                continue
            chunk = json.loads(data)
            if "error" in chunk:
                return {"ok": False, "error": chunk["error"]["message"]}
            if chunk["choices"] and chunk["choices"][0].get("finish_reason") == "stop":
                final = chunk
    ended = time.perf_counter()
    ok = status == 200 and done and final is not None
    if ok and final is not None:
        answer = final["answer"]
        ok = bool(final["citations"]) or answer["abstained"]
    return {
        "ok": ok,
        "status": status,
        "total_ms": (ended - started) * 1000,
        "first_byte_ms": ((first or ended) - started) * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="rounds over the questions (default 5)")
    parser.add_argument("--clients", type=int, default=20, help="concurrent streaming clients (default 20)")
    args = parser.parse_args()

    import httpx

    from assistant import Assistant, Settings
    from assistant.interfaces.serve import build_server_app
    from tests.http_server import uvicorn_server

    sample = questions()
    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        os.environ["ASSISTANT_CONFIG"] = str(Path(tmp) / "none.toml")
        assistant = Assistant(Settings(data_dir=Path(tmp) / "data"))
        report = assistant.ingest([REPO / "eval" / "corpus"])
        assistant.ask("warm up the model")
        with (
            uvicorn_server(build_server_app(assistant, with_ui=False)) as base,
            httpx.Client(base_url=base, timeout=300) as http,
        ):
            http.post("/v1/chat/completions", json=chat_body("warm up", False)).raise_for_status()
            python_ms: list[float] = []
            http_ms: list[float] = []
            stream_ms: list[float] = []
            differences: list[float] = []
            stream_differences: list[float] = []
            for _ in range(args.repeat):
                for question in sample:
                    t = time.perf_counter()
                    assistant.ask(question)
                    direct = (time.perf_counter() - t) * 1000
                    t = time.perf_counter()
                    http.post("/v1/chat/completions", json=chat_body(question, False)).raise_for_status()
                    over_http = (time.perf_counter() - t) * 1000
                    streamed = read_stream(http, question)
                    assert streamed["ok"], streamed
                    python_ms.append(direct)
                    http_ms.append(over_http)
                    stream_ms.append(streamed["total_ms"])
                    differences.append(over_http - direct)
                    stream_differences.append(streamed["total_ms"] - direct)

            def one_client(index: int) -> dict[str, Any]:
                with httpx.Client(base_url=base, timeout=300) as own:
                    try:
                        return read_stream(own, sample[index % len(sample)])
                    except Exception as e:  # a failed client is a result, not a crash of the benchmark
                        return {"ok": False, "error": repr(e)}

            started = time.perf_counter()
            with ThreadPoolExecutor(max_workers=args.clients) as pool:
                concurrent = list(pool.map(one_client, range(args.clients)))
            wall = time.perf_counter() - started
        assistant.close()

    served = [c for c in concurrent if c["ok"]]
    result = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f} at the end",
        "library": {"articles": report.added, "passages": report.passages_added},
        "questions": len(sample),
        "calls_per_path": len(python_ms),
        "python_ask_ms": {"p50": statistics.median(python_ms), "p95": percentile(python_ms, 0.95)},
        "http_chat_ms": {"p50": statistics.median(http_ms), "p95": percentile(http_ms, 0.95)},
        "http_stream_ms": {"p50": statistics.median(stream_ms), "p95": percentile(stream_ms, 0.95)},
        "http_overhead_ms": {
            "p50_of_differences": statistics.median(differences),
            "difference_of_p50s": statistics.median(http_ms) - statistics.median(python_ms),
        },
        "stream_overhead_ms": {"p50_of_differences": statistics.median(stream_differences)},
        "concurrent_streams": {
            "clients": args.clients,
            "served_without_error": len(served),
            "errors": [c.get("error", c) for c in concurrent if not c["ok"]],
            "wall_s": wall,
            "total_ms_p50": statistics.median(c["total_ms"] for c in served) if served else None,
            "total_ms_max": max(c["total_ms"] for c in served) if served else None,
            "first_byte_ms_p50": statistics.median(c["first_byte_ms"] for c in served) if served else None,
        },
    }
    text = json.dumps(result, indent=2)
    print(text)
    out = REPO / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "api.json").write_text(text + "\n")


if __name__ == "__main__":
    main()
