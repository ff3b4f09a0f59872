"""Splits a cleaned article into passages made of whole sentences, with offsets into the article."""

from __future__ import annotations

from dataclasses import dataclass

from assistant.text import sentence_spans


@dataclass(frozen=True)
class Span:
    start: int
    end: int


def chunk_article(text: str, chunk_size: int, overlap: int = 1) -> list[Span]:
    """Greedy packing of sentences up to chunk_size characters.

    A passage never cuts a sentence, except a run-on "sentence" longer than twice chunk_size, which is
    cut at whitespace. The last ``overlap`` sentences of a passage open the next one, so a fact that
    straddles two passages is still whole in one of them.
    """
    sentences = [s for para in _paragraph_spans(text) for s in _bounded(text, *para, chunk_size)]
    passages: list[Span] = []
    i = 0
    while i < len(sentences):
        j = i
        start = sentences[i][0]
        while j + 1 < len(sentences) and sentences[j + 1][1] - start <= chunk_size:
            j += 1
        passages.append(Span(start, sentences[j][1]))
        if j + 1 >= len(sentences):
            break
        # Step back by `overlap` sentences, but always move forward.
        i = max(j + 1 - overlap, i + 1)
    return passages


def _paragraph_spans(text: str) -> list[tuple[int, int]]:
    spans = []
    start = 0
    for part in text.split("\n\n"):
        end = start + len(part)
        if part.strip():
            spans.append((start, end))
        start = end + 2
    return spans


def _bounded(text: str, start: int, end: int, chunk_size: int) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for s, e in sentence_spans(text, start, end):
        while e - s > 2 * chunk_size:
            cut = text.rfind(" ", s, s + chunk_size)
            cut = cut if cut > s else s + chunk_size
            out.append((s, cut))
            s = cut
            while s < e and text[s].isspace():
                s += 1
        if e > s:
            out.append((s, e))
    return out
