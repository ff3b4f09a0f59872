import datetime as dt

import pytest

from assistant.answer.extractive import ABSTAIN_TEXT, compose
from assistant.config import AnswerSettings
from assistant.models import Passage

pytestmark = pytest.mark.unit

OLD = "The council met on Monday. The union demanded a pay rise of 5 percent and shorter shifts."
NEW = "Talks resumed in spring. The union now demands a four-day week, officials said."


def _passage(pid: str, aid: str, text: str, day: dt.date, offset: int = 0, dense: float = 0.6) -> Passage:
    return Passage(
        id=pid,
        article_id=aid,
        title=f"Story {aid}",
        source=f"Outlet {aid}",
        published=day,
        text=text,
        start=offset,
        end=offset + len(text),
        score=0.5,
        dense_score=dense,
    )


def test_answer_quotes_verbatim_groups_by_date_and_numbers_in_order() -> None:
    passages = [
        _passage("n-0", "new", NEW, dt.date(2024, 3, 1), offset=40),
        _passage("o-0", "old", OLD, dt.date(2020, 8, 24)),
    ]
    answer = compose("What did the union demand?", passages, AnswerSettings())
    assert not answer.abstained
    # oldest article first, and its citation is [1]
    assert answer.text.index("2020") < answer.text.index("2024")
    assert [c.number for c in answer.citations] == [1, 2]
    assert answer.citations[0].article_id == "old"
    assert "demanded a pay rise of 5 percent" in answer.text
    for c in answer.citations:
        assert c.quote and c.quote in c.passage
        assert f"[{c.number}]" in answer.text
    # offsets of the citation point into the article text
    assert answer.citations[1].start == 40


def test_abstains_when_nothing_matches() -> None:
    passages = [_passage("o-0", "old", OLD, dt.date(2020, 8, 24), dense=0.05)]
    answer = compose("What is the capital of Australia?", passages, AnswerSettings())
    assert answer.abstained
    assert answer.text == ABSTAIN_TEXT
    assert answer.citations == []


def test_abstains_without_passages() -> None:
    assert compose("Anything?", [], AnswerSettings()).abstained


def test_a_year_in_the_question_keeps_the_answer_to_that_year() -> None:
    passages = [
        _passage("o-0", "old", OLD, dt.date(2020, 8, 24)),
        _passage("n-0", "new", NEW, dt.date(2024, 3, 1), offset=40),
    ]
    answer = compose("What did the union demand in 2024?", passages, AnswerSettings())
    assert not answer.abstained
    assert {c.article_id for c in answer.citations} == {"new"}
    assert "four-day week" in answer.text and "pay rise" not in answer.text
