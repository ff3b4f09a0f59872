"""The local reader on RealTime QA 2023: written answers, citations, abstention and latency.

    .venv/bin/python benchmarks/local_model.py --data-dir BUILT_LIBRARY [--model qwen2.5-coder-0.5b]
        [--variants default,instruction-only] [--half even|odd] [--limit N]
        [--no-twins | --composer-twins | --twins-only] [--over-http]

Every question is asked as of its own date (retrieval's time prior), as the default answer is. Per
question the passages are retrieved and the composer's quotes written once; then each reader variant
(what it reads, which prompt) asks the model. Reported per variant:

* the answer a reader sees contains the gold answer: exactly (case-insensitive) and folded (case,
  punctuation and articles folded: "352-65" = "352 65");
* a cited passage contains it; answerable questions declined; the share of answers the model wrote
  (the others are the quotes); answers it gave that were not stated in the passages;
* latency of the written answer (p50, p95: retrieval, quotes and the model), the quotes alone, and the
  model's prompt tokens and speeds;
* with twins (each question asked of the library without its gold articles, which then cannot answer
  it): abstention precision and recall over questions + twins. The model reads the twins too, since
  its confidence may make the reader abstain (``--composer-twins``: the composer's abstentions only,
  without the model).

The model's confidence rules (``llm.reader_min_confidence``, ``llm.reader_abstain_confidence``) are
applied after the run to the same replies (``gate``): each variant is reported with its settings'
thresholds, with every verified answer written, and over a sweep of thresholds (``SWEEP``).

The library must already hold the benchmark's articles (build it with benchmarks/realtimeqa.py
--data-dir DIR). Writes benchmarks/results/local_model.{json,md} (gitignored) and prints the tables.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from library_args import library_parser  # noqa: E402

from assistant.library.embedding import offline_environment  # noqa: E402

offline_environment()  # before any model library is imported

logger = logging.getLogger("benchmarks.local_model")

# The reader's prompt as first built (the question first, then the instruction).
FIRST_PROMPT = (
    "News passages:\n\n{context}\n\nQuestion: {question}\nAnswer with the answer itself in a few words, "
    "then the number of the passage that states it, like: Joe Biden [2]\n"
)

# The reader's prompt of the first windows build: the instruction alone, then the passages.
INSTRUCTION_PROMPT = (
    "Answer the question from these news passages. Write only the answer, in a few words copied from the "
    "passage that states it, then that passage's number in brackets, like: Joe Biden [2]\n\n{context}\n\n"
    "Question: {question}\nAnswer in a few words from the passage, then its number:\n"
)

# The shipped prompt with each question stated before its passages as well as after them, so that the
# model reads the passages knowing what it looks for.
QUESTION_FIRST_PROMPT = (
    "Answer the question from the news passages. Write only the answer, in a few words copied exactly from "
    "the passage that states it, then that passage's number in brackets.\n\n"
    "Question: Why were Kestrel dishwashers recalled this week?\n"
    "Example passages:\n"
    "[1] Valley Courier, 2 June 2024: The Kestrel company recalled 1.2 million dishwashers on Tuesday "
    "because a faulty heating element can start fires. Owners should stop using them at once.\n\n"
    "[2] Valley Courier, 9 March 2021: Kestrel recalled 40,000 toasters in 2021 over a loose cord.\n\n"
    "Question: Why were Kestrel dishwashers recalled this week?\n"
    "Answer: A faulty heating element that can start fires [1]\n\n"
    "Question: Who did Marlow elect as its new mayor?\n"
    "Example passages:\n"
    "[1] Harbor Times, 4 November 2019: Marlow's council voted in 2019 to build a tram line along the river, "
    "a plan that mayor Tom Everly backed.\n\n"
    "[2] Harbor Times, 8 May 2024: Voters in Marlow elected Priya Nandakumar as mayor on Tuesday, the first "
    "woman to lead the city. She beat the incumbent by 812 votes.\n\n"
    "Question: Who did Marlow elect as its new mayor?\n"
    "Answer: Priya Nandakumar [2]\n\n"
    "Question: {question}\n"
    "Passages:\n{context}\n\n"
    "Question: {question}\n"
    "Answer:"
)

# name -> LLMSettings overrides (and "prompt": the text of a reader prompt to try instead of
# prompts/reader.md): the shapes of reader measured in docs/evaluation.md
VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},
    "passages": {"reader_context": "passages", "reader_passages": 4, "reader_passage_chars": 700},
    "w1200": {"reader_context": "windows", "reader_context_chars": 1200},
    "w1600": {"reader_context": "windows", "reader_context_chars": 1600},
    "w2000": {"reader_context": "windows", "reader_context_chars": 2000},
    "w2400": {"reader_context": "windows", "reader_context_chars": 2400},
    "first-build": {
        "reader_context": "passages",
        "reader_passages": 4,
        "reader_passage_chars": 700,
        "reader_temperature": 0.1,
        "prompt": FIRST_PROMPT,
    },
    "w1600-first-prompt": {"reader_context": "windows", "reader_context_chars": 1600, "prompt": FIRST_PROMPT},
    "instruction-only": {"prompt": INSTRUCTION_PROMPT},
    "question-first": {"prompt": QUESTION_FIRST_PROMPT},
}


def variant_settings(llm: Any, name: str, scratch: Path) -> Any:
    """The LLMSettings of a variant; a variant's own prompt text goes to a scratch prompts folder."""
    from assistant.answer.prompts import DEFAULT_PROMPTS_DIR

    update = dict(VARIANTS[name])
    prompt = update.pop("prompt", None)
    if prompt is not None:
        folder = scratch / name
        folder.mkdir(parents=True, exist_ok=True)
        source = Path(llm.prompts_dir).expanduser() if llm.prompts_dir else DEFAULT_PROMPTS_DIR
        for file in source.glob("*.md"):
            (folder / file.name).write_text(file.read_text(encoding="utf-8"), encoding="utf-8")
        (folder / "reader.md").write_text(prompt, encoding="utf-8")
        update.update(prompts_dir=folder, reader_prompt="reader.md")
    return llm.model_copy(update=update)


def http_server(llm: Any) -> tuple[Any, str]:
    """llama.cpp's own OpenAI-compatible HTTP server on 127.0.0.1, with the model and threads the local
    backend would use: ``--over-http`` reads through it with the openai backend's client, as a user's
    ``llama-server``, Ollama or vLLM would be read (``llm.openai_answer = "reader"``)."""
    import socket

    import xllamacpp

    from assistant.answer.local.catalog import resolve_model
    from assistant.answer.local.runtime import llama_params, physical_cores

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    path = resolve_model(llm.local_model, llm.models_dir)
    params = llama_params(xllamacpp, llm, path, llm.threads or physical_cores())
    params.hostnames = ["127.0.0.1"]
    params.port = port
    return xllamacpp.Server(params), f"http://127.0.0.1:{port}/v1"


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# (abstain below, quotes below) pairs of confidence thresholds reported besides the settings'
SWEEP = [(0.0, 0.0), (0.0, 0.3), (0.0, 0.4), (0.0, 0.5), (0.0, 0.6), (0.0, 0.7), (0.15, 0.4), (0.15, 0.6)]


def gate(
    row: dict[str, Any],
    abstain_below: float,
    quote_below: float,
    stale: tuple[int, float] = (0, 0.0),
) -> dict[str, Any]:
    """A row as the reader would have answered it with these thresholds: the model's verified answer
    stands when its confidence reaches ``quote_below``; below, the quotes stand; below
    ``abstain_below``, the reader abstains, and so it does below ``stale[1]`` when the composer's lead
    passage lies more than ``stale[0]`` days from the question's time (llm.reader_stale_days,
    llm.reader_stale_confidence). (The rows are measured with every threshold at 0.)"""
    confidence = row.get("confidence")
    if row["abstained"] or not row.get("written") or confidence is None:
        return row
    old = row.get("lead_days_away")
    too_old = old is not None and old > stale[0] and confidence < stale[1]
    if confidence >= quote_below and not too_old:
        return row
    if confidence < abstain_below or too_old:
        return {
            **row,
            "abstained": True,
            "written": False,
            "contains": False,
            "contains_folded": False,
            "cited_contains": False,
        }
    return {
        **row,
        "written": False,
        "contains": row["quotes_contain"],
        "contains_folded": row["quotes_contain_folded"],
        "cited_contains": row["quotes_cited_contain"],
    }


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    asked = [r for r in rows if r["case"] == "question"]
    twins = [r for r in rows if r["case"] == "twin"]
    summary: dict[str, Any] = {
        "answer_contains": mean([r["contains"] for r in asked]),
        "answer_contains_folded": mean([r["contains_folded"] for r in asked]),
        "cited_passage_contains": mean([r["cited_contains"] for r in asked]),
        "quotes_contain": mean([r["quotes_contain"] for r in asked]),
        "declined": mean([r["abstained"] for r in asked]),
        "written": mean([r["written"] for r in asked]),
        "unverified": mean([r["unverified"] for r in asked]),
        "latency_p50_s": (percentile([r["ms"] for r in asked], 50) or 0) / 1000,
        "latency_p95_s": (percentile([r["ms"] for r in asked], 95) or 0) / 1000,
        "quotes_p50_ms": percentile([r["quotes_ms"] for r in asked if r["quotes_ms"] is not None], 50),
        "prompt_tokens_mean": mean([r["prompt_tokens"] for r in asked if r["prompt_tokens"]]),
    }
    if twins:
        abstained_right = sum(r["abstained"] for r in twins)
        abstained_wrong = sum(r["abstained"] for r in asked)
        summary["twin_abstention_precision"] = abstained_right / max(1, abstained_right + abstained_wrong)
        summary["twin_abstention_recall"] = abstained_right / len(twins)
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = library_parser(__doc__, "Assistant data dir holding the benchmark's articles.")
    parser.add_argument("--model", default=None, help="llm.local_model (default: the settings').")
    parser.add_argument("--variants", default="default", help=f"Comma-separated, among {sorted(VARIANTS)}.")
    parser.add_argument("--half", choices=("even", "odd"), default=None, help="Every other question only.")
    parser.add_argument("--no-twins", action="store_true", help="Skip the twins (abstention).")
    parser.add_argument(
        "--composer-twins",
        action="store_true",
        help="Twins by the composer alone (the model does not read them): its abstentions only.",
    )
    parser.add_argument("--twins-only", action="store_true", help="Ask the twins alone, not the questions.")
    parser.add_argument("--threads", type=int, default=None, help="llm.threads (default: physical cores).")
    parser.add_argument(
        "--over-http",
        action="store_true",
        help="Serve the model with llama.cpp's OpenAI-compatible HTTP server on 127.0.0.1 and read through "
        "the openai backend's client (llm.openai_answer = reader) instead of in process.",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    from assistant import Assistant, Settings
    from assistant.answer.base import answer_of
    from assistant.answer.local.runtime import LocalLLM
    from assistant.answer.prompts import load_prompts
    from assistant.answer.reader import ReaderAnswerer, days_away, folded_in, stale_confidence
    from assistant.evaluation.realtimeqa import article_urls, contains_answer, load_questions
    from assistant.models import Filters

    overrides: dict[str, Any] = {"llm.backend": "local"}
    if args.model:
        overrides["llm.local_model"] = args.model
    if args.threads:
        overrides["llm.threads"] = args.threads
    settings = Settings(data_dir=args.data_dir).with_overrides(**overrides)
    assistant = Assistant(settings)
    if not assistant.articles():
        print(f"No articles in {args.data_dir}: build the library first.", file=sys.stderr)
        return 2
    questions = load_questions(args.data)[: args.limit]
    if args.half is not None:
        questions = questions[0 if args.half == "even" else 1 :: 2]
    urls = article_urls(args.data)
    articles = assistant.articles()
    ids_by_url = {a.url: a.id for a in articles if a.url}
    all_ids = [a.id for a in articles]
    extractive = assistant.pipeline.extractive

    t0 = time.perf_counter()
    server = None
    model: Any
    if args.over_http:
        from assistant.answer.llm_client import ChatClient

        server, url = http_server(settings.llm)
        client_settings = settings.llm.model_copy(
            update={"backend": "openai", "openai_answer": "reader", "base_url": url, "timeout": 300.0}
        )
        model = ChatClient(client_settings)
    else:
        model = LocalLLM(settings.llm)
        model.load()
    load_seconds = time.perf_counter() - t0
    readers = {}
    scratch = Path(tempfile.mkdtemp(prefix="reader-prompts-"))
    shipped: dict[str, tuple[float, float, tuple[int, float]]] = {}
    for name in args.variants.split(","):
        llm = variant_settings(settings.llm, name, scratch)
        # The model's every verified answer is kept, with its confidence; the variant's thresholds
        # are applied afterwards (gate), so that one run also measures other thresholds.
        shipped[name] = (
            llm.reader_abstain_confidence,
            llm.reader_min_confidence,
            (llm.reader_stale_days, stale_confidence(llm, "local")),
        )
        llm = llm.model_copy(
            update={
                "reader_abstain_confidence": 0.0,
                "reader_min_confidence": 0.0,
                "reader_stale_confidence": 0.0,
            }
        )
        # Over HTTP the answers are the openai backend's (so marked, their notices name "the model");
        # the thresholds above stay the catalogue model's, since the server runs the same weights.
        backend = "openai" if args.over_http else "local"
        readers[name] = ReaderAnswerer(llm, model, extractive, load_prompts(llm), backend=backend)

    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in readers}
    for index, q in enumerate(questions, start=1):
        gold = {ids_by_url.get(urls.get(g, ""), "") for g in q.gold_any} - {""}
        cases: list[tuple[str, Filters | None]] = [] if args.twins_only else [("question", None)]
        if not args.no_twins:
            cases.append(("twin", Filters(article_ids=[i for i in all_ids if i not in gold])))
        for case, filters in cases:
            t0 = time.perf_counter()
            passages = assistant.retrieve(q.question, filters=filters, as_of=q.date)
            retrieve_ms = (time.perf_counter() - t0) * 1000
            for name, reader in readers.items():
                if case == "twin" and args.composer_twins:
                    # The composer's abstentions alone: those of the model's confidence are not counted.
                    quotes = answer_of(extractive, q.question, passages)
                    rows[name].append({"id": q.id, "case": case, "abstained": quotes.abstained})
                    continue
                t1 = time.perf_counter()
                quotes_ms: float | None = None
                answer = None
                for event in reader.stream(q.question, passages):
                    if event.type == "quotes":
                        quotes_ms = (time.perf_counter() - t1) * 1000 + retrieve_ms
                    elif event.type == "answer":
                        answer = event.answer
                assert answer is not None
                total_ms = (time.perf_counter() - t1) * 1000 + retrieve_ms
                stats = getattr(model, "stats", None)  # the in-process model's; none over HTTP
                quotes = answer.quotes or answer  # an unverified answer is the quotes
                rows[name].append(
                    {
                        "id": q.id,
                        "case": case,
                        "gold": q.answer,
                        "text": answer.text,
                        "abstained": answer.abstained,
                        "unverified": bool(answer.unsupported),
                        "written": answer.quotes is not None,
                        "confidence": answer.confidence,
                        "contains": contains_answer(answer.text, q.answer),
                        "contains_folded": folded_in(q.answer, answer.text),
                        "cited_contains": any(contains_answer(c.passage, q.answer) for c in answer.citations),
                        "quotes_contain": contains_answer(quotes.text, q.answer),
                        "quotes_contain_folded": folded_in(q.answer, quotes.text),
                        "quotes_cited_contain": any(
                            contains_answer(c.passage, q.answer) for c in quotes.citations
                        ),
                        "ms": total_ms,
                        "quotes_ms": quotes_ms,
                        "prompt_tokens": stats.prompt_tokens if stats and answer.quotes is not None else None,
                        "lead_days_away": next(
                            (
                                days_away(p)
                                for p in passages
                                if quotes.citations and p.id == quotes.citations[0].passage_id
                            ),
                            None,
                        ),
                    }
                )
        if index % 5 == 0 or index == len(questions):
            args.out.mkdir(parents=True, exist_ok=True)  # rows so far, in case the run is stopped
            (args.out / "local_model.partial.json").write_text(json.dumps(rows, indent=1), encoding="utf-8")
            for name, got in rows.items():
                asked = [r for r in got if r["case"] == "question"]
                logger.info(
                    "%s %d/%d: contains %.3f folded %.3f, declined %.3f, p50 %.1fs",
                    name,
                    index,
                    len(questions),
                    mean([r["contains"] for r in asked]) or 0,
                    mean([r["contains_folded"] for r in asked]) or 0,
                    mean([r["abstained"] for r in asked]) or 0,
                    (percentile([r["ms"] for r in asked], 50) or 0) / 1000,
                )
    stats = getattr(model, "stats", None)
    if isinstance(model, LocalLLM):
        model.close()
    del server
    assistant.close()

    results: dict[str, Any] = {
        "questions": len(questions),
        "half": args.half,
        "model": settings.llm.local_model,
        "threads": settings.llm.threads,
        "load_seconds": load_seconds,
        "peak_rss_mb": peak_rss_mb(),
        "machine": f"{os.cpu_count()} CPU cores, {platform.machine()}",
        "variants": {},
        "rows": rows,
    }
    for name, got in rows.items():
        abstain_below, quote_below, stale = shipped[name]
        summary = summarise([gate(r, abstain_below, quote_below, stale) for r in got])
        summary.update(
            settings={k: v for k, v in VARIANTS[name].items() if k != "prompt"},
            prompt=VARIANTS[name].get("prompt"),
            thresholds=[abstain_below, quote_below],
            stale=list(stale),
            ungated=summarise(got),
            fresh_only=summarise([gate(r, abstain_below, quote_below) for r in got]),
            sweep=[
                {"thresholds": [low, high], **summarise([gate(r, low, high, stale) for r in got])}
                for low, high in SWEEP
            ],
        )
        results["variants"][name] = summary
    results["model_stats"] = dataclasses.asdict(stats) if stats is not None else None
    results["over_http"] = args.over_http
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "local_model" + (f"-{Path(settings.llm.local_model).stem}" if args.model else "")
    (args.out / f"{stem}.json").write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
    markdown = render(results)
    (args.out / f"{stem}.md").write_text(markdown, encoding="utf-8")
    print(markdown)
    return 0


def render(results: dict[str, Any]) -> str:
    def f(value: Any, digits: int = 3) -> str:
        return "–" if value is None else f"{value:.{digits}f}"

    lines = [
        f"# Local reader on RealTime QA 2023: {results['questions']} questions"
        + (f" ({results['half']} half)" if results["half"] else ""),
        "",
        f"Model {results['model']}, load {results['load_seconds']:.1f} s, peak RSS "
        f"{results['peak_rss_mb']:.0f} MB, {results['machine']}.",
        "",
    ]
    header = [
        "| variant | contains | folded | cited contains | quotes contain | declined | written | unverified "
        "| p50 s | p95 s | quotes p50 ms | prompt tokens | twin abst. precision | twin abst. recall |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    lines += header

    def row(label: str, s: dict[str, Any]) -> str:
        return (
            f"| {label} | {f(s['answer_contains'])} | {f(s['answer_contains_folded'])} "
            f"| {f(s['cited_passage_contains'])} | {f(s['quotes_contain'])} | {f(s['declined'])} "
            f"| {f(s['written'])} | {f(s['unverified'])} | {f(s['latency_p50_s'], 1)} "
            f"| {f(s['latency_p95_s'], 1)} | {f(s['quotes_p50_ms'], 0)} | {f(s['prompt_tokens_mean'], 0)} "
            f"| {f(s.get('twin_abstention_precision'))} | {f(s.get('twin_abstention_recall'))} |"
        )

    for name, s in results["variants"].items():
        low, high = s["thresholds"]
        lines.append(row(f"{name} (confidence: abstain < {low:g}, quotes < {high:g})", s))
        days, below = s["stale"]
        lines.append(
            row(
                f"{name}, without the stale rule (lead > {days} days away, confidence < {below:g})",
                s["fresh_only"],
            )
        )
        lines.append(row(f"{name}, every verified answer written", s["ungated"]))
    for name, s in results["variants"].items():
        lines += [
            "",
            f"Confidence thresholds, {name} (from the same replies; the stale rule as shipped):",
            "",
            *header,
        ]
        lines += [
            row(f"abstain < {t['thresholds'][0]:g}, quotes < {t['thresholds'][1]:g}", t) for t in s["sweep"]
        ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
