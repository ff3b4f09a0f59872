import pytest

from assistant.retrieval.hybrid import _touch, cap_per_article, reciprocal_rank_fusion

pytestmark = pytest.mark.unit


def test_rrf_rewards_agreement_between_rankings() -> None:
    scores = reciprocal_rank_fusion([["a", "b", "c"], ["c", "a", "d"]], k=60)
    ranked = sorted(scores, key=lambda p: -scores[p])
    assert ranked[0] == "a"  # 1st and 2nd beats 3rd and 1st
    assert set(ranked) == {"a", "b", "c", "d"}
    assert scores["a"] == pytest.approx(1 / 61 + 1 / 62)


def test_cap_per_article_lets_other_articles_in() -> None:
    article = {"a1": "A", "a2": "A", "a3": "A", "b1": "B", "c1": "C"}
    chosen = cap_per_article(["a1", "a2", "a3", "b1", "c1"], article.__getitem__, cap=2, k=4)
    assert chosen == ["a1", "a2", "b1", "c1"]


def test_each_article_gets_its_best_passage_before_a_third_of_another() -> None:
    ranked = ["a1", "b1", "a2", "b2", "a3", "b3", "c1", "c2"]
    chosen = cap_per_article(ranked, lambda pid: pid[0], cap=3, k=6)
    assert "c1" in chosen and len(chosen) == 6
    assert chosen == [pid for pid in ranked if pid in chosen], "ranked order is kept"


def test_spans_touch_when_they_overlap_or_only_whitespace_lies_between() -> None:
    text = "One sentence here. Two sentences here.\n\nA third one. And a fourth."
    first, second = (0, 18), (19, 38)  # "One sentence here." | "Two sentences here."
    assert _touch(text, first, second) and _touch(text, second, first)
    assert _touch(text, (0, 30), (19, 38))  # overlapping
    assert _touch(text, second, (40, 52))  # a paragraph break between them
    assert not _touch(text, first, (40, 52))  # a sentence between them
