"""The second-stage scorer orders candidates by relevance signals and the time prior (pure)."""

from __future__ import annotations

import pytest

from assistant.retrieval.rerank import Candidate, FeatureReranker, FeatureWeights

pytestmark = pytest.mark.unit

QUESTION = "Which chemical leaked after the train derailed in Ohio?"


def _candidate(text: str, title: str = "", dense: float = 0.5, lexical: float = 5.0, time: float = 0.0):  # type: ignore[no-untyped-def]
    return Candidate(text=text, title=title, dense=dense, lexical=lexical, lead=False, time=time)


def test_the_passage_that_covers_the_question_outranks_a_loosely_related_one() -> None:
    on_topic = _candidate(
        "Vinyl chloride leaked after the train derailed in East Palestine, Ohio.", dense=0.6
    )
    loose = _candidate("Freight rail traffic rose in the Midwest last year.", dense=0.45, lexical=1.0)
    scores = FeatureReranker().scores(QUESTION, [loose, on_topic])
    assert scores[1] > scores[0]


def test_a_title_naming_the_question_terms_lifts_its_passage() -> None:
    text = "Officials said the cleanup would take months."
    plain = _candidate(text)
    titled = _candidate(text, title="Ohio train derailment: which chemical leaked")
    scores = FeatureReranker().scores(QUESTION, [plain, titled])
    assert scores[1] > scores[0]


def test_the_time_prior_decides_between_otherwise_equal_passages_and_can_be_turned_off() -> None:
    old = _candidate("The train derailed in Ohio and a chemical leaked.", time=-0.4)
    recent = _candidate("The train derailed in Ohio and a chemical leaked.", time=0.4)
    assert FeatureReranker().scores(QUESTION, [old, recent]).argmax() == 1
    flat = FeatureReranker(FeatureWeights(time=0.0)).scores(QUESTION, [old, recent])
    assert flat[0] == flat[1]


def test_features_are_bounded_and_need_no_lexical_match() -> None:
    rows = FeatureReranker().features(QUESTION, [_candidate("Nothing in common here.", lexical=0.0)])
    assert rows.shape == (1, 6)
    assert rows[0, 1] == 0.0 and rows[0, 2] == 0.0
