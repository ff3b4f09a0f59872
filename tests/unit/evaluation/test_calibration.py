import datetime as dt

import pytest

from assistant.config import AnswerSettings
from assistant.evaluation.calibration import abstention_signals, curve, html_section, markdown_section
from assistant.models import Answer, Passage

pytestmark = pytest.mark.unit


def _signals(confidence: float, missing: list[str] | None = None) -> dict:
    return {"confidence": confidence, "best_dense": 0.6, "missing": missing or [], "off_year": False}


POINTS = [
    (_signals(0.9), True),
    (_signals(0.5), True),
    (_signals(0.25), True),
    (_signals(0.2), False),
    (_signals(0.8, ["Portugal"]), False),  # a key term in no passage: abstained at any threshold
]


def test_curve_trades_abstention_recall_for_answered_questions() -> None:
    by_threshold = {p["threshold"]: p for p in curve(POINTS, AnswerSettings(), thresholds=(0.0, 0.3, 0.6))}
    assert by_threshold[0.0] == {
        "threshold": 0.0,
        "abstention_precision": 1.0,
        "abstention_recall": 0.5,
        "answered_rate": 1.0,
    }
    assert by_threshold[0.3]["abstention_precision"] == pytest.approx(2 / 3)
    assert by_threshold[0.3]["abstention_recall"] == 1.0
    assert by_threshold[0.3]["answered_rate"] == pytest.approx(2 / 3)
    assert by_threshold[0.6]["answered_rate"] == pytest.approx(1 / 3)


def test_report_section_marks_the_threshold_in_use() -> None:
    rows = [{"answerable": ok, "abstention_signals": s} for s, ok in POINTS]
    config = {"settings": {"answer": {"min_coverage": 0.3}}}
    lines = markdown_section(rows, config)
    assert "## Abstention curve" in lines
    assert any(line.startswith("| **0.30** | 0.67 | 1.00 | 0.67 |") for line in lines)
    page = html_section(rows, config)
    assert "<svg" in page and "0.67" in page
    assert markdown_section([{"answerable": True}], config) == [] and html_section([], config) == ""


def test_signals_are_recomputed_from_the_answer_passages() -> None:
    text = "The union demanded a pay rise of 5 percent and shorter shifts at the port."
    passage = Passage(
        id="p",
        article_id="a",
        title="T",
        source="S",
        published=dt.date(2024, 1, 2),
        text=text,
        start=0,
        end=len(text),
        dense_score=0.7,
    )
    answer = Answer(question="What did the union demand from Portugal?", text="", passages=[passage])
    signals = abstention_signals(answer)
    assert signals["missing"] == ["Portugal"] and signals["best_dense"] == 0.7
    answer = Answer(question="What did the union demand?", text="", passages=[passage])
    assert abstention_signals(answer)["confidence"] > 0.5
