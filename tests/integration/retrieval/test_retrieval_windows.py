"""Passages are matched small and returned in their window: a whole sentence of context each side."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.text import sentence_spans

pytestmark = pytest.mark.integration

# Short paragraphs, one sentence each, so that every passage of 120 characters holds one or two.
SENTENCES = [
    "The Riverton council met in the old library on Thursday evening.",
    "Residents filled every seat and stood along the back wall.",
    "The council voted to build a footbridge over the Mill River.",
    "It will cost 3.2 million dollars and open in the spring of 2027.",
    "The mayor thanked the engineers who drew up the plans for free.",
    "A second vote, on the bus station, was put off until June.",
    "The meeting ended shortly before ten o'clock at night.",
]
FRONT = "---\ntitle: Council backs the footbridge\nsource: Riverton Gazette\npublished: 2025-05-02\n---\n"
ARTICLE = FRONT + "\n\n".join(SENTENCES) + "\n"


@pytest.fixture
def library(make_assistant, tmp_path: Path):  # type: ignore[no-untyped-def]
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "bridge.md").write_text(ARTICLE)

    def make(window: int):  # type: ignore[no-untyped-def]
        assistant = make_assistant(
            chunking={"chunk_size": 120, "chunk_overlap": 0},
            retrieval={"window_sentences": window, "k": 3, "per_article": 3},
        )
        assert assistant.ingest([folder]).ok
        return assistant

    return make


def test_a_passage_comes_back_with_a_sentence_of_context_on_each_side(library) -> None:  # type: ignore[no-untyped-def]
    assistant = library(1)
    wide = assistant.retrieve("How much will the footbridge cost?", k=1)[0]
    assistant.retriever.settings.window_sentences = 0
    bare = assistant.retriever.retrieve("How much will the footbridge cost?", k=1)[0]
    assert wide.id == bare.id
    article_text = assistant.retriever._articles[wide.article_id].text
    # exact offsets into the article, whole sentences, one more on each side than the passage holds
    assert article_text[wide.start : wide.end] == wide.text
    assert wide.start < bare.start and wide.end > bare.end
    spans = sentence_spans(article_text)
    starts, ends = {s for s, _ in spans}, {e for _, e in spans}
    assert wide.start in starts and wide.end in ends
    before = [s for s, e in spans if e <= bare.start]
    after = [e for s, e in spans if s >= bare.end]
    assert wide.start == before[-1] and wide.end == min(after)
    assert "3.2 million" in wide.text


def test_windows_never_reach_into_another_returned_passage_of_the_article(library) -> None:  # type: ignore[no-untyped-def]
    assistant = library(1)
    assistant.retriever.settings.merge_adjacent = False  # merged, they would come back as one
    passages = assistant.retrieve("What did the council vote on the footbridge and the bus station?", k=3)
    assert len(passages) >= 2
    cores = {pid: assistant.retriever._passage_article[pid] for pid in (p.id for p in passages)}
    for p in passages:
        for other, (_, start, end) in cores.items():
            if other != p.id:
                # this window may touch the other passage but never overlaps its own text
                assert p.end <= start or p.start >= end


def test_the_answer_quotes_and_cites_the_window_verbatim(library) -> None:  # type: ignore[no-untyped-def]
    answer = library(1).ask("How much will the footbridge cost?")
    assert not answer.abstained and "3.2 million" in answer.text
    for citation in answer.citations:
        assert citation.quote in citation.passage


OTHER = (
    "---\ntitle: Oakdale opens a bus station\nsource: Oakdale Times\npublished: 2025-05-03\n---\n"
    "Oakdale opened its new bus station on Friday morning.\n\n"
    "The council of Oakdale said the station cost 4 million dollars.\n"
)


def test_touching_passages_of_one_article_come_back_as_one(make_assistant, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "bridge.md").write_text(ARTICLE)
    (folder / "station.md").write_text(OTHER)
    assistant = make_assistant(
        chunking={"chunk_size": 120, "chunk_overlap": 0},
        retrieval={"window_sentences": 1, "k": 3, "per_article": 3},
    )
    assert assistant.ingest([folder]).ok
    question = "What did the Riverton council vote on the footbridge and the bus station?"
    retriever = assistant.retriever
    retriever.settings.merge_adjacent = False
    apart = retriever.retrieve(question, k=3)
    retriever.settings.merge_adjacent = True
    merged = retriever.retrieve(question, k=3)

    texts = {aid: retriever._articles[aid].text for aid in {p.article_id for p in apart + merged}}
    bridge = [p for p in apart if p.article_id == apart[0].article_id]
    assert len(bridge) >= 2  # windows of one article that touch or overlap ...
    one = [p for p in merged if p.article_id == apart[0].article_id]
    assert len(one) == 1  # ... come back as one passage
    (joined,) = one
    # at the rank and with the id of the better one, over the union of their spans, verbatim
    assert merged[0].id == apart[0].id == joined.id
    assert joined.start == min(p.start for p in bridge) and joined.end == max(p.end for p in bridge)
    assert joined.text == texts[joined.article_id][joined.start : joined.end]
    # the freed slots go to the next passages: the other article now comes back too
    assert {p.article_id for p in merged} > {apart[0].article_id}
    assert len(merged) <= 3
    # no sentence twice in the context
    for a in merged:
        for b in merged:
            if a is not b and a.article_id == b.article_id:
                assert a.end < b.start or b.end < a.start
    context = "\n\n".join(p.text for p in merged)
    for sentence in SENTENCES:
        assert context.count(sentence) <= 1
