"""Answer-quality metrics on hand-made rows: what a reader of the evaluation report relies on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.evaluation import check_regression, metrics
from assistant.evaluation.dataset import DatasetError, load_questions

pytestmark = pytest.mark.unit

PAYMENT = "Qatar has been sending Gaza about 30 million dollars each month to pay salaries and buy fuel."
TRUCE = "The truce collapsed on Friday and the negotiators were called home from Doha."


def test_hit_at_k_counts_only_the_first_k_passages() -> None:
    retrieved = ["x", "y", "gold"]
    assert metrics.hit_at_k(retrieved, {"gold"}, 2) == 0.0
    assert metrics.hit_at_k(retrieved, {"gold"}, 3) == 1.0
    assert metrics.hit_at_k(retrieved, {"gold"}) == 1.0
    assert metrics.hit_at_k(retrieved, set()) is None  # no gold article: retrieval is not judged


def test_mrr_is_the_inverse_rank_of_the_first_gold_passage() -> None:
    assert metrics.reciprocal_rank(["x", "gold", "gold"], {"gold"}) == pytest.approx(0.5)
    assert metrics.reciprocal_rank(["gold"], {"gold"}) == 1.0
    assert metrics.reciprocal_rank(["x", "y"], {"gold"}) == 0.0


def test_evidence_recall_accepts_containment_and_large_token_overlap() -> None:
    contexts = [f"Officials said on Monday that {PAYMENT.lower()} The money keeps flowing.", TRUCE]
    assert metrics.evidence_recall([PAYMENT], contexts) == 1.0  # contained, case-insensitively
    # Split across two passages: most of the quote's words are in the second one.
    partial = "Qatar has been sending Gaza about 30 million dollars each month."
    assert metrics.evidence_recall([partial + " It also paid for fuel."], [partial]) == 1.0
    assert metrics.evidence_recall([PAYMENT, "Egypt opened the Rafah crossing to trucks."], contexts) == 0.5
    assert metrics.evidence_recall([], contexts) is None


def test_key_fact_recall_needs_one_variant_of_each_fact() -> None:
    answer = "Hamas asked for $30 Million a month and for the blockade to be eased [1]."
    facts = [["$30 million", "30 million dollars"], ["blockade"], ["power plant"]]
    assert metrics.key_fact_recall(answer, facts) == pytest.approx(2 / 3)
    assert metrics.key_fact_recall(answer, []) is None


def test_cited_sentences_keep_markers_written_after_the_full_stop() -> None:
    text = "Qatar pays Gaza every month. [1] The truce collapsed [2]. Nobody cites this."
    assert metrics.cited_sentences(text) == [
        ("Qatar pays Gaza every month.", [1]),
        ("The truce collapsed.", [2]),
        ("Nobody cites this.", []),
    ]


def test_citation_precision_counts_gold_citations_that_support_their_sentence() -> None:
    answer = "Qatar sends Gaza about 30 million dollars each month [1]. The negotiators went home [2]."
    supporting = {1: ("gold", PAYMENT)}
    assert metrics.citation_precision(answer.split(" The")[0], supporting, {"gold"}) == 1.0
    # [2] is from a gold article but its passage does not back the sentence citing it.
    not_supporting = {1: ("gold", PAYMENT), 2: ("gold", PAYMENT)}
    assert metrics.citation_precision(answer, not_supporting, {"gold"}) == 0.5
    # A supporting passage from an article outside the gold set does not count either.
    off_gold = {1: ("gold", PAYMENT), 2: ("other", TRUCE)}
    assert metrics.citation_precision(answer, off_gold, {"gold"}) == 0.5
    assert metrics.citation_precision(answer, {1: ("gold", PAYMENT), 2: ("gold", TRUCE)}, {"gold"}) == 1.0
    assert metrics.citation_precision("No citations here.", {}, {"gold"}) is None


def test_citation_recall_is_the_share_of_gold_articles_cited() -> None:
    assert metrics.citation_recall(["a", "x"], {"a", "b"}) == 0.5
    assert metrics.citation_recall([], {"a"}) == 0.0
    assert metrics.citation_recall(["a"], set()) is None


def test_faithfulness_is_the_share_of_cited_sentences_their_passages_support() -> None:
    answer = "Qatar sends Gaza 30 million dollars each month [1]. The talks moved to Cairo [1]. Unmarked."
    assert metrics.faithfulness(answer, {1: ("a", PAYMENT)}) == 0.5
    assert metrics.faithfulness("A marker to nowhere [4].", {1: ("a", PAYMENT)}) == 0.0
    assert metrics.faithfulness("Nothing is cited.", {1: ("a", PAYMENT)}) is None


def test_support_threshold_is_content_word_recall() -> None:
    assert metrics.support("Qatar sends money to Gaza", PAYMENT) >= metrics.SUPPORT_THRESHOLD
    assert metrics.support("Egypt closed the Rafah crossing", PAYMENT) < metrics.SUPPORT_THRESHOLD


def test_abstention_precision_and_recall() -> None:
    abstained = [True, True, False, False, True]
    answerable = [False, True, False, True, True]
    scores = metrics.abstention_scores(abstained, answerable)
    assert scores["abstention_precision"] == pytest.approx(1 / 3)  # one of three abstentions was right
    assert scores["abstention_recall"] == pytest.approx(1 / 2)  # one of two unanswerables caught
    assert metrics.abstention_scores([False], [True]) == {
        "abstention_precision": None,
        "abstention_recall": None,
    }


def test_percentiles_interpolate_between_ranks() -> None:
    assert metrics.percentile([30, 10, 20], 50) == 20
    assert metrics.percentile([10, 20, 30, 40, 50], 95) == pytest.approx(48.0)
    assert metrics.percentile([7], 95) == 7
    assert metrics.percentile([], 50) is None


def test_summary_of_rows_and_failures_first() -> None:
    good = {
        "category": "single_fact",
        "answerable": True,
        "abstained": False,
        "response": "Qatar sends Gaza 30 million dollars each month [1].",
        "key_facts": [["30 million"]],
        "evidence": [PAYMENT],
        "gold_article_ids": ["a"],
        "retrieved_article_ids": ["a", "b"],
        "retrieved_contexts": [PAYMENT, TRUCE],
        "citations": [{"number": 1, "article_id": "a", "passage": PAYMENT}],
        "latency_ms": 100.0,
    }
    wrong = {
        **good,
        "response": "The truce collapsed [1].",
        "retrieved_article_ids": ["b"],
        "retrieved_contexts": [TRUCE],
        "citations": [{"number": 1, "article_id": "b", "passage": TRUCE}],
        "latency_ms": 300.0,
    }
    unanswerable = {
        "category": "unanswerable",
        "answerable": False,
        "abstained": True,
        "response": "The articles do not say.",
        "latency_ms": 200.0,
    }
    rows = []
    for row in (good, wrong, unanswerable):
        row = dict(row)
        row["metrics"] = metrics.score_row(row)
        row["failures"] = metrics.failures(row, row["metrics"])
        rows.append(row)
    assert rows[0]["failures"] == [] and rows[2]["failures"] == []
    assert "no gold passage retrieved" in rows[1]["failures"]
    summary = metrics.summarise(rows)
    assert summary["questions"] == 3 and summary["failed"] == 1
    assert summary["hit_at_k"] == 0.5 and summary["key_fact_recall"] == 0.5
    assert summary["citation_precision"] == 0.5 and summary["citation_recall"] == 0.5
    assert summary["abstention_precision"] == 1.0 and summary["abstention_recall"] == 1.0
    assert summary["latency_p50_ms"] == 200.0
    assert summary["by_category"]["unanswerable"]["abstained"] == 1.0


def test_regression_check_flags_only_drops_beyond_the_margin() -> None:
    baseline = {"hit_at_k": 0.9, "key_fact_recall": 0.8, "citation_precision": 0.7, "faithfulness": 1.0}
    current = {"hit_at_k": 0.86, "key_fact_recall": 0.6, "citation_precision": 0.9, "faithfulness": None}
    assert check_regression(current, baseline, margin=0.05) == ["key_fact_recall", "faithfulness"]
    assert check_regression(baseline, baseline, margin=0.0) == []


def test_bad_question_file_names_the_line(tmp_path: Path) -> None:
    good = {"id": "q1", "user_input": "Who?", "category": "single_fact", "gold_articles": ["a.md"]}
    path = tmp_path / "questions.jsonl"
    path.write_text(json.dumps(good) + "\n" + json.dumps({"id": "q2", "category": "temporal"}) + "\n")
    with pytest.raises(DatasetError, match=r"questions\.jsonl:2: .*user_input"):
        load_questions(path)
    path.write_text(json.dumps(good) + "\n{not json\n")
    with pytest.raises(DatasetError, match=r":2: not valid JSON"):
        load_questions(path)
    path.write_text(json.dumps(good) + "\n\n" + json.dumps(good) + "\n")
    with pytest.raises(DatasetError, match=r":3: id 'q1' is already used on line 1"):
        load_questions(path)
    path.write_text(json.dumps(good) + "\n")
    assert [q.user_input for q in load_questions(path)] == ["Who?"]
