import datetime as dt

import pytest

from assistant.answer.extractive import ABSTAIN_TEXT, assess, compose, key_terms, term_found
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


# --- concise answers -------------------------------------------------------------------------------

STRIKE = (
    "The dockers' union called a strike at the port of Brindle on Monday. "
    "Its leader, Marta Oakes, said the walkout would last three days. "
    "Ferries to the islands were cancelled."
)
STRIKE_AGAIN = (
    "Port workers in Brindle walked out on Monday after their union called a strike. "
    "The union's leader Marta Oakes told reporters the stoppage would last three days. "
    "Local shops reported fewer customers."
)
WEATHER = (
    "Heavy rain is expected across the region on Tuesday. Forecasters said winds could reach gale force."
)


def test_a_single_fact_is_answered_by_one_outlet_not_padded_with_the_same_report() -> None:
    day = dt.date(2024, 5, 6)
    passages = [
        _passage("a-0", "a", STRIKE, day, dense=0.7),
        _passage("b-0", "b", STRIKE_AGAIN, day, dense=0.7),
        _passage("c-0", "c", WEATHER, day, dense=0.3),
    ]
    answer = compose("Who leads the dockers' union in Brindle?", passages, AnswerSettings())
    assert not answer.abstained
    assert "Marta Oakes" in answer.text
    assert len({c.article_id for c in answer.citations}) == 1, answer.text
    assert "rain" not in answer.text and "Ferries" not in answer.text


def test_a_list_question_gets_one_group_per_date() -> None:
    passages = [
        _passage("n-0", "new", NEW, dt.date(2024, 3, 1), offset=40),
        _passage("o-0", "old", OLD, dt.date(2020, 8, 24)),
        _passage("w-0", "weather", WEATHER, dt.date(2024, 3, 2), dense=0.2),
    ]
    answer = compose("What did the union demand?", passages, AnswerSettings())
    assert {c.article_id for c in answer.citations} == {"old", "new"}
    assert answer.text.count("**Outlet") == 2
    assert "rain" not in answer.text


def test_how_many_is_answered_by_the_sentence_that_states_a_number() -> None:
    text = (
        "The strike at the port of Brindle went on for a second day. "
        "Union members said the strike would continue until the harbour board met them. "
        "About 1,200 dockers joined the strike, the union said."
    )
    passages = [_passage("a-0", "a", text, dt.date(2024, 5, 7))]
    answer = compose("How many dockers joined the strike in Brindle?", passages, AnswerSettings())
    assert not answer.abstained
    assert answer.text.split("\n\n")[1].startswith("About 1,200 dockers")


# --- calibrated abstention -------------------------------------------------------------------------


def test_abstains_when_a_name_of_the_question_is_in_no_passage() -> None:
    passages = [
        _passage("o-0", "old", OLD, dt.date(2020, 8, 24)),
        _passage("n-0", "new", NEW, dt.date(2024, 3, 1), offset=40),
    ]
    near_topic = compose("What did the union demand from Portugal?", passages, AnswerSettings())
    assert near_topic.abstained and near_topic.citations == []
    # the same question about a place the passages do name is answered
    named = _passage("p-0", "port", STRIKE, dt.date(2024, 5, 6))
    answered = compose("What did the union call in Brindle?", [*passages, named], AnswerSettings())
    assert not answered.abstained
    # the gate is a setting
    assessment, _ = assess("What did the union demand from Portugal?", passages)
    assert "Portugal" in assessment.reason(AnswerSettings())
    assert "Portugal" not in assessment.reason(AnswerSettings(require_key_terms=False))


def test_key_terms_are_names_places_and_numbers_not_question_words() -> None:
    assert key_terms("What did Hamas demand from Saudi Arabia?") == ["Hamas", "Saudi Arabia"]
    assert key_terms("Who led the delegation to Doha in August 2020?") == ["Doha"]
    assert key_terms("How many fires did 300 balloons start on Aug. 24, 2020?") == ["300"]
    assert term_found("Israeli", "Israel said on Monday") and term_found("Gazans", "in northern Gaza")
    assert term_found("Gen. Herzi Halevi", "Halevi led it") and not term_found("Cairo", "in Doha")


def test_assessment_says_why_it_abstains() -> None:
    passages = [_passage("o-0", "old", OLD, dt.date(2020, 8, 24))]
    assessment, _ = assess("What did the union demand from Portugal?", passages)
    assert assessment.missing == ["Portugal"]
    assert "Portugal" in assessment.reason(AnswerSettings())
    assessment, _ = assess("What did the union demand in 2022?", passages)
    assert assessment.off_year and not assessment.answers(AnswerSettings())
    assessment, _ = assess("What did the union demand?", passages)
    assert assessment.answers(AnswerSettings()) and assessment.confidence >= AnswerSettings().min_coverage


def test_abstains_when_the_best_sentence_shares_only_one_word_of_the_question() -> None:
    # Near-topic: one sentence names a minister, the next a civil-defense spokesman; together they
    # cover the question's words, but no sentence says who the defense minister was.
    text = (
        "The health minister toured the hospital on Tuesday. "
        "Civil Defense spokesman Mahmoud Bassal said hundreds of wounded remained nearby."
    )
    passages = [_passage("d-0", "d", text, dt.date(2024, 3, 20), dense=0.5)]
    assessment, _ = assess("Who was the defense minister in March 2024?", passages)
    assert assessment.question_terms >= 2 and assessment.lead_terms == 1
    assert assessment.confidence >= AnswerSettings().min_coverage  # the coverage gate alone would answer
    assert "too few" in assessment.reason(AnswerSettings())
    assert compose("Who was the defense minister in March 2024?", passages, AnswerSettings()).abstained
    # the same passage answers a question it does cover, and the gate can be turned off
    assert not compose("What did the civil defense spokesman say?", passages, AnswerSettings()).abstained
    assert assessment.answers(AnswerSettings(min_lead_terms=0))


def test_between_equal_sentences_the_better_retrieved_passage_leads() -> None:
    # Same wording, one article from the week asked about (ranked first by retrieval), one older.
    text = "The festival of lights drew large crowds to the temple."
    old = _passage("o-0", "old", text, dt.date(2017, 10, 17))
    new = _passage("n-0", "new", text, dt.date(2023, 10, 24))
    old.score, new.score = 0.4, 1.2
    answer = compose("Which festival drew large crowds to the temple?", [old, new], AnswerSettings())
    assert not answer.abstained
    assert answer.citations[0].article_id == "new"


def test_abstains_when_the_best_sentence_borrows_its_coverage_from_its_neighbours() -> None:
    # "How many ...?": the sentence with a new number (16) scores on its neighbour's words alone.
    # ("How many more": what is counted need not be named, as "how many rockets" would need.)
    text = (
        "The militia launched a barrage of rockets at the border towns at dawn on Saturday. "
        "The militia, which has held the valley for 16 years, says any truce would be temporary."
    )
    passages = [_passage("m-0", "m", text, dt.date(2024, 3, 20))]
    question = "How many more rockets did the militia launch at the border towns on Saturday?"
    assessment, _ = assess(question, passages)
    assert assessment.lead_own < AnswerSettings().min_lead_coverage <= assessment.confidence
    only_coverage_rule = AnswerSettings(min_lead_terms=0)
    assert "by itself" in assessment.reason(only_coverage_rule)
    assert compose(question, passages, only_coverage_rule).abstained
    assert not compose(question, passages, AnswerSettings(min_lead_terms=0, min_lead_coverage=0)).abstained


def test_a_sentence_that_opens_with_a_pronoun_shares_the_words_of_the_one_before() -> None:
    text = "The council voted to build a footbridge over the river. It will cost 3.2 million dollars."
    passages = [_passage("b-0", "b", text, dt.date(2025, 5, 2))]
    answer = compose("How much will the footbridge cost?", passages, AnswerSettings())
    assert not answer.abstained and "3.2 million" in answer.text


def test_abstains_when_the_best_sentence_names_the_place_but_not_who_or_what_is_asked() -> None:
    # "What did Hamas demand from Saudi Arabia?" in small: the sentence naming the mayor and the
    # town says nothing of the union or of a demand; the one about the union's demands never names
    # the mayor.
    demands = "The union demanded a pay rise of 5 percent and shorter shifts at the depot."
    trip = "Mayor Alvarez opened the new ferry terminal on Friday after stops in Riverton and Oakdale."
    passages = [
        _passage("u-0", "u", demands, dt.date(2024, 3, 20)),
        _passage("m-0", "m", trip, dt.date(2024, 3, 20)),
    ]
    question = "What did the Transit Union demand from Mayor Alvarez of Riverton?"
    assessment, _ = assess(question, passages)
    assert assessment.action_terms >= 1 and assessment.lead_action == 0 and not assessment.lead_subject
    assert "not what it asks about" in assessment.reason(AnswerSettings(min_coverage=0.2))
    assert compose(question, passages, AnswerSettings()).abstained
    assert assessment.answers(AnswerSettings(require_lead_action=False, min_coverage=0.2))
    # the question the passage does answer is still answered
    answer = compose("What did the Transit Union demand?", passages, AnswerSettings())
    assert not answer.abstained and "pay rise" in answer.text


def test_a_sentence_that_names_who_is_asked_about_answers_without_the_questions_verb() -> None:
    # "travel" is not in the sentence ("visit" is), but it names Halvorsen: not the near-topic case.
    text = (
        "Herzi Halvorsen paid a second visit to Qatar in February, the paper reported on Monday. "
        "It was his second trip there this year."
    )
    passages = [_passage("h-0", "h", text, dt.date(2020, 8, 24))]
    question = "Why did Herzi Halvorsen travel to Qatar?"
    assessment, _ = assess(question, passages)
    assert assessment.lead_subject and assessment.lead_action == 0
    assert not compose(question, passages, AnswerSettings()).abstained


def test_next_year_in_an_article_counts_for_the_year_after_it_was_published() -> None:
    text = "A second theme park based on the cartoon pig will open near Dallas next year, the company said."
    passages = [_passage("p-0", "p", text, dt.date(2023, 3, 7))]
    question = "Which cartoon theme park will open near Dallas in 2024?"
    assert not compose(question, passages, AnswerSettings()).abstained
    # an article from two years before does not speak of 2024 with "next year"
    older = [_passage("p-0", "p", text, dt.date(2022, 3, 7))]
    assert compose(question, older, AnswerSettings()).abstained
    last = "The park opened near Dallas last year and drew large crowds of families, the company said."
    assert not compose(
        "Which park opened near Dallas in 2022?",
        [_passage("q-0", "q", last, dt.date(2023, 5, 1))],
        AnswerSettings(),
    ).abstained


TRAILER_QUESTION = "Which live-action remake got its full trailer released by the studio?"


def _trailer_reports() -> tuple[Passage, Passage]:
    """The week's report (ranked first) and one from three years before on another remake."""
    new = _passage(
        "n-0",
        "new",
        "The studio released the full trailer for its live-action remake of the mermaid film.",
        dt.date(2023, 3, 12),
    )
    old = _passage(
        "o-0",
        "old",
        "The studio released the full trailer on Thursday for its live-action remake of the warrior film, "
        "with new songs.",
        dt.date(2019, 12, 5),
    )
    new.score, old.score = 1.5, 1.0
    return new, old


def test_a_single_fact_answer_leads_with_the_article_that_states_it() -> None:
    # The week's report leads; the older article joins with another date, after it.
    answer = compose(TRAILER_QUESTION, list(_trailer_reports()), AnswerSettings())
    assert not answer.abstained
    assert [c.article_id for c in answer.citations] == ["new", "old"]
    assert answer.text.index("2023") < answer.text.index("2019")


def test_another_article_from_far_outside_the_moment_asked_about_does_not_join() -> None:
    # "this week": the retriever sets days_outside against as_of, the composer reads it off the
    # passages. The 2019 trailer is another story.
    new, old = _trailer_reports()
    new.days_outside, old.days_outside = 0, 1190
    answer = compose(TRAILER_QUESTION, [new, old], AnswerSettings())
    assert [c.article_id for c in answer.citations] == ["new"]
    old.days_outside = 12  # a report from the week before still adds its date
    assert {c.article_id for c in compose(TRAILER_QUESTION, [new, old], AnswerSettings()).citations} == {
        "new",
        "old",
    }


def test_how_many_is_answered_by_a_sentence_that_counts_what_is_asked_about() -> None:
    # "Two of the demands ...": a number, but not a count of rockets; "cease-fire" is not "fire".
    text = (
        "Two of the militia's key demands were a lasting cease-fire and the reopening of the crossing. "
        "Officials said the border towns had been quiet since the cease-fire began in the spring."
    )
    passages = [_passage("m-0", "m", text, dt.date(2024, 3, 20))]
    question = "How many rockets did the militia fire at the border towns on Saturday?"
    assert compose(question, passages, AnswerSettings()).abstained
    counted = "The militia fired 40 rockets at the border towns on Saturday, officials said."
    answer = compose(question, [_passage("c-0", "c", counted, dt.date(2024, 3, 20))], AnswerSettings())
    assert not answer.abstained and "40 rockets" in answer.text


def test_a_nearly_as_good_sentence_that_says_what_is_asked_answers_when_the_best_names_only_names() -> None:
    # The best sentence names the race and the place but not who won; the one that does, in a
    # passage that names every name of the question, answers instead of an abstention.
    winner = (
        "A young woman from Canada won the women's race down the hill in England after being knocked out."
    )
    crowd = (
        "Hundreds of people gathered near Gloucester to watch the Cooper's Hill Cheese-Rolling and Wake "
        "race on Monday."
    )
    question = "A woman from Canada won the Cooper's Hill Cheese-Rolling and Wake in England after what?"
    together = [_passage("c-0", "c", f"{winner} {crowd}", dt.date(2023, 5, 30))]
    assessment, candidates = assess(question, together)
    assert assessment.answers(AnswerSettings()) and assessment.lead_action
    assert [c.text for c in candidates] == [winner]  # the sentence naming only names is set aside
    answer = compose(question, together, AnswerSettings())
    assert not answer.abstained and "knocked out" in answer.text and "Hundreds" not in answer.text
    # in passages of their own the winner's does not name the race: rule 7 abstains
    apart = [
        _passage("w-0", "w", winner, dt.date(2023, 5, 30)),
        _passage("r-0", "r", crowd, dt.date(2023, 5, 30)),
    ]
    alone, _ = assess(question, apart)
    assert "not what it asks about" in alone.reason(AnswerSettings())
    assert compose(question, apart, AnswerSettings()).abstained
