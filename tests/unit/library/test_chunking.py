import pytest

from assistant.library.chunking import chunk_article
from assistant.text import sentence_spans, tokenize

pytestmark = pytest.mark.unit

ARTICLE = (
    "Maj. Gen. Dana Levin flew to Doha on Monday. She met Qatari officials there.\n\n"
    "The talks covered the U.S. proposal for a truce. Officials said progress was slow.\n\n"
    "A second round is planned for next week. It may include Egyptian mediators."
)


def test_sentences_respect_abbreviations_and_offsets() -> None:
    spans = sentence_spans(ARTICLE)
    sentences = [ARTICLE[s:e] for s, e in spans]
    assert sentences[0] == "Maj. Gen. Dana Levin flew to Doha on Monday."
    assert "The talks covered the U.S. proposal for a truce." in sentences
    assert len(sentences) == 6


def test_passages_keep_whole_sentences_and_exact_offsets() -> None:
    passages = chunk_article(ARTICLE, chunk_size=100, overlap=0)
    sentences = {ARTICLE[s:e] for s, e in sentence_spans(ARTICLE)}
    covered = " ".join(ARTICLE[p.start : p.end] for p in passages)
    for sentence in sentences:
        assert sentence in covered
    for p in passages:
        text = ARTICLE[p.start : p.end]
        assert text == text.strip()
        # every passage starts at a sentence start and ends at a sentence end
        assert any(text.startswith(s) for s in sentences)
        assert any(text.endswith(s) for s in sentences)
        assert len(text) <= 100 or len([s for s in sentences if s in text]) == 1


def test_overlap_repeats_the_last_sentence() -> None:
    passages = chunk_article(ARTICLE, chunk_size=100, overlap=1)
    texts = [ARTICLE[p.start : p.end] for p in passages]
    assert len(texts) >= 3
    for first, second in zip(texts, texts[1:], strict=False):
        tail = [first[s:e] for s, e in sentence_spans(first)][-1]
        assert second.startswith(tail)


def test_run_on_text_is_cut_at_whitespace() -> None:
    text = " ".join(["word"] * 500)
    passages = chunk_article(text, chunk_size=200, overlap=0)
    assert len(passages) > 5
    assert all(p.end - p.start <= 400 for p in passages)
    assert all(text[p.start : p.end].startswith("word") for p in passages)


def test_empty_text_has_no_passages() -> None:
    assert chunk_article("   \n\n  ", 600) == []


def test_tokenize_stems_and_drops_stopwords() -> None:
    assert tokenize("What did Hamas demand?") == tokenize("Hamas's demands")
    assert "the" not in tokenize("the fishing zone")
