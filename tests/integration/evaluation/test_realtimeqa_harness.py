"""The RealTime QA adapter end to end on a tiny benchmark of our own: its retrieval and answer
measures, the gold-article share of citations included (the real set is read by the benchmark)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.evaluation.realtimeqa import load_questions, render_markdown, run_realtimeqa

pytestmark = pytest.mark.integration

ARTICLES = [
    {
        "id": "ferry",
        "url": "https://news.example/ferry",
        "title": "Riverton opens its new ferry terminal",
        "published": "2024-03-12",
        "source": "Riverton Gazette",
        "text": "Riverton opened its new ferry terminal on Monday. Mayor Ines Alvarez cut the ribbon "
        "before a crowd of about 400 residents.\n\nThe terminal cost 12 million dollars and took two years "
        "to build, the council said.",
    },
    {
        "id": "ferry-old",
        "url": "https://news.example/ferry-plans",
        "title": "Riverton plans a ferry terminal",
        "published": "2021-05-02",
        "source": "Riverton Gazette",
        "text": "The Riverton council approved plans for a ferry terminal on the Mill River. Building is "
        "expected to start next year, the council said.",
    },
    {
        "id": "bakery",
        "url": "https://news.example/bakery",
        "title": "Oakdale bakery wins a regional prize",
        "published": "2024-03-10",
        "source": "Oakdale Times",
        "text": "An Oakdale bakery won the regional prize for its rye bread on Saturday. The owners said "
        "they would expand the shop this summer.",
    },
]
QUESTIONS = [
    {
        "id": "q1",
        "question": "Who cut the ribbon at Riverton's new ferry terminal this week?",
        "date": "2024-03-15",
        "answer": "Ines Alvarez",
        "gold_any": ["ferry"],
    },
    {
        "id": "q2",
        "question": "Which bread won an Oakdale bakery the regional prize this week?",
        "date": "2024-03-15",
        "answer": "rye",
        "gold_any": ["bakery"],
    },
]


def test_the_adapter_measures_retrieval_answers_and_cited_articles(make_assistant, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "rtqa"
    root.mkdir()
    (root / "articles.jsonl").write_text("".join(json.dumps(a) + "\n" for a in ARTICLES))
    (root / "questions.jsonl").write_text("".join(json.dumps(q) + "\n" for q in QUESTIONS))
    assistant = make_assistant()
    report = assistant.ingest([root / "articles.jsonl"])
    assert report.ok and len(assistant.articles()) == 3, report.summary()

    results = run_realtimeqa(assistant, root, load_questions(root), modes=("hybrid",), conditions=("as_of",))

    retrieval = results["retrieval"]["as of question date"]["hybrid"]
    assert retrieval["hit@1"] == 1.0 and retrieval["article_hit@10"] == 1.0
    assert retrieval["context@2000"] == 1.0
    answers = results["answers"]["as of question date"]
    assert answers["answer_contains"] == 1.0 and answers["abstained"] == 0.0
    # every cited article is the one the question was written from: no padding from the 2021 plans
    assert answers["cited_article_is_gold"] == 1.0
    assert results["per_question"]["q1"]["answer/as_of"] == {"text_hit": True, "cited_hit": True}
    table = render_markdown(results)
    assert "cited article is a gold one" in table and "| as of question date | hybrid | 1.000 |" in table
