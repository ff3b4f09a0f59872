"""Ingest and answer end to end, with the real Chroma and the real embedding model."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.errors import QueryError
from assistant.models import AnswerReady, Query, TextDelta
from tests.conftest import CORPUS_DIR, REPO

pytestmark = pytest.mark.integration

HAMAS = "What did Hamas demand?"


def _has_any(text: str, variants: list[str]) -> bool:
    low = text.lower()
    return any(v.lower() in low for v in variants)


def _assert_verbatim(assistant, answer) -> None:  # type: ignore[no-untyped-def]
    for c in answer.citations:
        article = assistant.article(c.article_id)
        assert article.text[c.start : c.end] == c.passage
        for sentence in [c.quote]:
            assert sentence in article.text, "a quoted sentence must appear verbatim in its article"


def test_hamas_demands_over_sample_corpus(corpus_assistant) -> None:  # type: ignore[no-untyped-def]
    answer = corpus_assistant.ask(HAMAS)
    assert not answer.abstained
    cited_articles = {c.article_id for c in answer.citations}
    assert len(cited_articles) >= 2
    years = {c.published.year for c in answer.citations if c.published}
    assert {2020, 2024} <= years, "the 2020 and the 2024 demands are both part of the answer"
    text = answer.text
    for variants in (["fishing"], ["permit", "work in israel"], ["blockade"], ["40 million"]):
        assert _has_any(text, variants), variants
    for variants in (["north"], ["lasting", "permanent", "sustainable", "end to the war"]):
        assert _has_any(text, variants), variants
    # numbered in order of first use, each cited in the text, only cited ones listed
    assert [c.number for c in answer.citations] == list(range(1, len(answer.citations) + 1))
    positions = [text.index(f"[{c.number}]") for c in answer.citations]
    assert positions == sorted(positions)
    _assert_verbatim(corpus_assistant, answer)
    # dates are kept apart: the 2020 article comes before the 2024 one
    assert text.index("2020") < text.index("2024")


def test_hamas_demands_over_real_seed_articles(make_assistant, seeds_dir: Path) -> None:  # type: ignore[no-untyped-def]
    assistant = make_assistant()
    report = assistant.ingest(sorted(seeds_dir.glob("0*.txt")))
    assert report.added == 5 and report.ok, report.summary()
    answer = assistant.ask(HAMAS)
    assert not answer.abstained
    assert len({c.article_id for c in answer.citations}) >= 2
    for variants in (
        ["fishing zone"],
        ["blockade"],
        ["40 million"],
        ["northern gaza"],
        ["lasting cease-fire", "permanent cease-fire", "sustainable"],
    ):
        assert _has_any(answer.text, variants), variants
    _assert_verbatim(assistant, answer)
    # no scraped-page noise reaches the library
    for article in assistant.articles():
        assert "Advertisement" not in article.text
        assert "read more:" not in article.text.lower()


@pytest.mark.parametrize(
    "question", ["What is the capital of Australia?", "Who won the 2018 World Cup final?"]
)
def test_unanswerable_question_abstains(corpus_assistant, question: str) -> None:  # type: ignore[no-untyped-def]
    answer = corpus_assistant.ask(question)
    assert answer.abstained
    assert answer.citations == []
    assert "don't say" in answer.text


def test_stream_yields_text_then_answer(corpus_assistant) -> None:  # type: ignore[no-untyped-def]
    *deltas, final = list(corpus_assistant.stream(HAMAS))
    assert deltas and all(isinstance(event, TextDelta) for event in deltas)
    assert isinstance(final, AnswerReady)
    assert "".join(delta.text for delta in deltas) == final.answer.text
    assert final.answer.citations


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"question": "   "}, "the question is empty: ask something about the articles"),
        (
            {"question": HAMAS, "filters": {"since": "2024-05-01", "until": "2020-01-01"}},
            "'From' date is after",
        ),
        ({"question": HAMAS, "k": 0}, "k is a number of passages from 1 to 100"),
        ({"question": HAMAS, "backend": "gpt-5"}, "one of 'extractive', 'openai', 'local'"),
    ],
)
def test_a_bad_question_is_refused_before_anything_runs(corpus_assistant, arguments, message) -> None:  # type: ignore[no-untyped-def]
    for call in (corpus_assistant.ask, corpus_assistant.stream):
        with pytest.raises(QueryError, match=re.escape(message)):
            call(**arguments)  # stream() refuses on the call itself, not on the first next()


def test_as_of_is_recorded_and_defaults_to_the_newest_article(corpus_assistant) -> None:  # type: ignore[no-untyped-def]
    newest = max(a.published for a in corpus_assistant.articles() if a.published)
    assert corpus_assistant.default_as_of() == newest
    answer = corpus_assistant.ask(HAMAS, as_of=dt.date(2024, 4, 1))
    assert answer.as_of == dt.date(2024, 4, 1) and not answer.abstained
    assert len(corpus_assistant.ask(Query.of(HAMAS, k=4)).passages) == 4


def test_answer_is_json_serialisable(corpus_assistant) -> None:  # type: ignore[no-untyped-def]
    answer = corpus_assistant.ask(HAMAS)
    data = json.loads(answer.model_dump_json())
    assert data["citations"][0]["passage"]
    assert {
        "number",
        "article_id",
        "title",
        "source",
        "published",
        "url",
        "path",
        "passage",
        "quote",
        "start",
        "end",
        "score",
    } <= set(data["citations"][0])


def test_filters_restrict_by_date_and_outlet(corpus_assistant) -> None:  # type: ignore[no-untyped-def]
    recent = corpus_assistant.retrieve(HAMAS, k=8, filters={"since": "2024-01-01"})
    assert recent and all(p.published and p.published >= dt.date(2024, 1, 1) for p in recent)
    old = corpus_assistant.ask(HAMAS, filters={"until": "2020-12-31"})
    assert old.citations and all(c.published and c.published.year == 2020 for c in old.citations)
    outlet = corpus_assistant.sources()[0]
    only = corpus_assistant.retrieve(HAMAS, k=8, filters={"sources": [outlet]})
    assert only and {p.source for p in only} == {outlet}
    for mode in ("dense", "bm25"):
        got = corpus_assistant.retrieve(HAMAS, k=5, filters={"sources": [outlet]}, mode=mode)
        assert got and {p.source for p in got} == {outlet}


def test_hybrid_retrieval_spans_articles(corpus_assistant) -> None:  # type: ignore[no-untyped-def]
    passages = corpus_assistant.retrieve(HAMAS, k=8)
    per_article: dict[str, int] = {}
    for p in passages:
        per_article[p.article_id] = per_article.get(p.article_id, 0) + 1
    assert len(per_article) >= 3
    assert max(per_article.values()) <= corpus_assistant.settings.retrieval.per_article


ARTICLE_V1 = """---
title: Riverton council votes on the new bridge
source: Riverton Gazette
published: 2025-05-02
---
The Riverton town council voted seven to two on Thursday to build a footbridge over the Mill River.

The bridge will cost 3.2 million dollars and open in 2027, the mayor said.
"""
ARTICLE_V2 = ARTICLE_V1.replace("3.2 million", "4.9 million").replace("2027", "2028")


def test_reingest_update_and_delete(make_assistant, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assistant = make_assistant()
    folder = tmp_path / "articles"
    folder.mkdir()
    article = folder / "bridge.md"
    article.write_text(ARTICLE_V1)
    first = assistant.ingest([folder])
    assert first.added == 1
    before = assistant.stats()

    again = assistant.ingest([folder])
    assert again.unchanged == 1 and again.added == 0 and again.passages_added == 0
    assert assistant.stats() == before

    article.write_text(ARTICLE_V2)
    changed = assistant.ingest([folder])
    assert changed.updated == 1
    assert assistant.stats()["articles"] == 1
    texts = [p.text for p in assistant.retrieve("How much will the bridge cost?", k=10)]
    assert any("4.9 million" in t for t in texts)
    assert not any("3.2 million" in t for t in texts), "a stale passage of the old version survived"
    assert assistant.vectors.count() == assistant.stats()["passages"]
    for mode in ("dense", "bm25"):
        assert not any(
            "3.2 million" in p.text for p in assistant.retrieve("bridge cost 3.2 million", mode=mode)
        )

    (aid,) = [a.id for a in assistant.articles()]
    assistant.delete(aid)
    assert assistant.stats() == {"articles": 0, "passages": 0}
    assert assistant.vectors.count() == 0
    assert assistant.retrieve("bridge", mode="bm25") == []
    with pytest.raises(Exception, match="no article"):
        assistant.delete(aid)


def test_bad_files_are_reported_and_the_rest_ingested(make_assistant, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "good.md").write_text(ARTICLE_V1)
    (folder / "empty.txt").write_text("")
    (folder / "binary.txt").write_bytes(b"\x00\x01\x02binary\x00")
    (folder / "garbled.txt").write_bytes(b"Story\n\nSome \x81\x8d\x90 text that is neither UTF-8 nor cp1252.")
    (folder / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (folder / "big.txt").write_text("Big story\n\n" + "word " * 400_000)
    assistant = make_assistant(max_file_mb=1)
    report = assistant.ingest([folder, tmp_path / "missing-folder"])
    assert report.added == 1
    failed = {Path(f.path).name: f.reason for f in report.failed}
    assert {"empty.txt", "binary.txt", "garbled.txt", "image.png", "big.txt", "missing-folder"} <= set(failed)
    assert all(reason for reason in failed.values())
    assert not report.ok
    assert assistant.stats()["articles"] == 1


def test_second_process_sees_the_same_index(corpus_assistant) -> None:  # type: ignore[no-untyped-def]
    data_dir = corpus_assistant.settings.data_dir
    code = (
        "import json, sys\n"
        "from assistant import Assistant, Settings\n"
        "a = Assistant(Settings(data_dir=sys.argv[1]))\n"
        "ans = a.ask('What did Hamas demand?')\n"
        "print(json.dumps({'n': a.stats()['articles'], 'cited': len(ans.citations)}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(data_dir)],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
        timeout=300,
    )
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["n"] == corpus_assistant.stats()["articles"]
    assert got["cited"] >= 2


def test_cli_ingest_ask_articles_delete(tmp_path: Path) -> None:
    data = tmp_path / "cli-data"
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "bridge.md").write_text(ARTICLE_V1)
    (folder / "bad.txt").write_text("")
    cli = [sys.executable, "-m", "assistant.interfaces.cli", "--data-dir", str(data)]

    ingest = subprocess.run([*cli, "ingest", str(folder), "--json"], capture_output=True, text=True, cwd=REPO)
    assert ingest.returncode == 1, "a failed file makes the exit status non-zero"
    report = json.loads(ingest.stdout)
    assert [f["status"] for f in sorted(report["files"], key=lambda f: f["path"])] == ["failed", "added"]

    ask = subprocess.run(
        [*cli, "ask", "How much will the footbridge cost?", "--json"],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
    )
    answer = json.loads(ask.stdout)
    assert not answer["abstained"] and "3.2 million" in answer["text"]
    assert answer["citations"][0]["source"] == "Riverton Gazette"

    listing = subprocess.run(
        [*cli, "articles", "--json"], capture_output=True, text=True, cwd=REPO, check=True
    )
    (article,) = json.loads(listing.stdout)
    assert article["title"] == "Riverton council votes on the new bridge"

    gone = subprocess.run([*cli, "delete", article["id"]], capture_output=True, text=True, cwd=REPO)
    assert gone.returncode == 0
    missing = subprocess.run([*cli, "delete", article["id"]], capture_output=True, text=True, cwd=REPO)
    assert missing.returncode == 2 and "no article" in missing.stderr


def test_cli_shows_the_same_message_for_a_bad_question(tmp_path: Path) -> None:
    cli = [sys.executable, "-m", "assistant.interfaces.cli", "--data-dir", str(tmp_path / "cli-data")]
    dates = ["--since", "2024-05-01", "--until", "2020-01-01"]
    for args in (["ask", HAMAS, *dates], ["ask", HAMAS, "--k", "0"], ["ask", " ", "--as-of", "2024-01-01"]):
        done = subprocess.run([*cli, *args], capture_output=True, text=True, cwd=REPO, timeout=300)
        assert done.returncode == 2 and "Traceback" not in done.stderr
        message = " ".join(done.stderr.split())
        assert any(
            m in message
            for m in (
                "'From' date is after the 'To' date",
                "k is a number of passages",
                "the question is empty",
            )
        ), message
    bad_day = subprocess.run(
        [*cli, "ask", HAMAS, "--as-of", "May 5"], capture_output=True, text=True, cwd=REPO
    )
    assert bad_day.returncode == 2 and "--as-of must be a date as YYYY-MM-DD" in " ".join(
        bad_day.stderr.split()
    )


def test_sample_corpus_is_what_make_run_ingests() -> None:
    files = sorted(CORPUS_DIR.glob("*.md"))
    assert len(files) == 5


@pytest.mark.llm
def test_cli_and_settings_file_select_the_openai_backend(tmp_path: Path) -> None:
    """--backend/--base-url/--model on the CLI and the same keys in assistant.toml reach the server."""
    from tests.llm_server import ScriptedLLMServer

    data = tmp_path / "cli-llm"
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "bridge.md").write_text(ARTICLE_V1)
    cli = [sys.executable, "-m", "assistant.interfaces.cli", "--data-dir", str(data)]
    subprocess.run([*cli, "ingest", str(folder)], capture_output=True, text=True, cwd=REPO, check=True)
    question = "How much will the footbridge cost?"
    with ScriptedLLMServer() as server:
        server.reply("The footbridge will cost 3.2 million dollars and open in 2027, the mayor said [1].")
        flags = ["--backend", "openai", "--base-url", server.url, "--model", "scripted-model"]
        out = subprocess.run(
            [*cli, *flags, "ask", question, "--json"],
            capture_output=True,
            text=True,
            cwd=REPO,
            check=True,
            timeout=300,
        )
        answer = json.loads(out.stdout)
        assert answer["backend"] == "openai" and not answer["abstained"]
        assert "3.2 million" in answer["text"] and answer["citations"][0]["source"] == "Riverton Gazette"
        assert server.requests[-1]["model"] == "scripted-model"

        toml = tmp_path / "assistant.toml"
        toml.write_text(
            f'data_dir = "{data}"\n[llm]\nbackend = "openai"\nbase_url = "{server.url}"\n'
            'model = "from-the-file"\nmax_retries = 0\n'
        )
        server.fail(500, times=5)
        env = {**os.environ, "ASSISTANT_CONFIG": str(toml)}
        out = subprocess.run(
            [sys.executable, "-m", "assistant.interfaces.cli", "ask", question, "--json"],
            capture_output=True,
            text=True,
            cwd=REPO,
            check=True,
            env=env,
            timeout=300,
        )
        fallback = json.loads(out.stdout)
        assert server.requests[-1]["model"] == "from-the-file"
        assert fallback["backend"] == "extractive" and fallback["fallback_reason"]
        assert "3.2 million" in fallback["text"], "the extractive answer stands in when the server fails"


def test_an_index_tokenised_by_another_stemmer_is_saved_again_by_the_next_to_open(  # type: ignore[no-untyped-def]
    make_assistant, tmp_path: Path
) -> None:
    from assistant.text import STEMMER

    first = make_assistant()
    first.ingest([CORPUS_DIR / "2020-08-24-times-of-israel-halevi-doha.md"])
    expected = [p.id for p in first.retrieve("Israeli delegation in Doha", k=5)]
    first.close()
    manifest = tmp_path / "data" / "bm25" / "manifest.json"
    state = json.loads(manifest.read_text())
    del state["stemmer"]  # as the index was saved before the stemmer was recorded
    manifest.write_text(json.dumps(state))

    second = make_assistant()
    try:
        assert json.loads(manifest.read_text())["stemmer"] == STEMMER  # rebuilt and saved at opening
        assert not second.bm25.saved_by_another_stemmer()
        assert [p.id for p in second.retrieve("Israeli delegation in Doha", k=5)] == expected
    finally:
        second.close()
