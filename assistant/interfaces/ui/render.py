"""HTML and table rendering for the web UI: pure functions from the assistant's records to markup.

Article text is untrusted, so everything taken from it goes through :func:`html.escape`. Citation
links point at the source cards by id (``src-<turn>-<n>``); the script in
:mod:`assistant.interfaces.ui.assets` scrolls to and highlights the card when a link is clicked.

With the local backend an answer comes in two beats: the composer's quotes at once, then the model's
short answer above them. The two are numbered apart, so the quotes' cards live under the key
``<turn>q`` (``src-3q-1``) and the written answer's under ``<turn>`` (``src-3-1``).
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from assistant.models import Answer, Article, Citation, FileResult, Passage

EMPTY_SOURCES = (
    '<div class="na-sources-empty">Sources appear here once the assistant answers: each cited '
    "article with its outlet, date and the passage that supports the answer.</div>"
)
_CITE = re.compile(r"\[(\d{1,3})\]")
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?\u201d\"])\s+")
# The chat renders Markdown: "[text](url)", "![alt](url)", "[text][ref]" and "[ref]: url" in article
# text would become live links or images that load from anywhere. Breaking the character after "]"
# into an HTML entity leaves the text readable and the syntax dead.
_MARKDOWN_LINK = re.compile(r"\](\s*)([(\[:])")
_ENTITIES = {"(": "&#40;", "[": "&#91;", ":": "&#58;"}

LIBRARY_HEADERS = ["ID", "Title", "Outlet", "Published", "Passages", "Source", "Ingested"]
UPLOAD_HEADERS = ["File", "Result", "Articles", "Details"]


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def card_id(turn: int | str, number: int) -> str:
    """The id of source card ``number`` of a turn (``3``) or of its quotes (``3q``)."""
    return f"src-{turn}-{number}"


def quotes_key(turn: int) -> str:
    """The card-id namespace of a turn's quotes, apart from its written answer's (``3`` -> ``3q``)."""
    return f"{turn}q"


def format_date(published: dt.date | None, inferred: bool) -> str:
    if published is None:
        return "date unknown"
    return f"{published.isoformat()} (inferred)" if inferred else published.isoformat()


def _link_citations(escaped_text: str, numbers: set[int], turn: int | str) -> str:
    def replace(match: re.Match[str]) -> str:
        number = int(match.group(1))
        if number not in numbers:
            return match.group(0)
        target = card_id(turn, number)
        return (
            f'<a class="na-cite" href="#{target}" data-target="{target}" '
            f'title="Show source {number}">[{number}]</a>'
        )

    return _CITE.sub(replace, escaped_text)


def inert_markdown(escaped: str) -> str:
    """HTML-escaped text with Markdown link, image and reference syntax disarmed."""
    return _MARKDOWN_LINK.sub(lambda m: "]" + m.group(1) + _ENTITIES[m.group(2)], escaped)


def streaming_markdown(partial: str) -> str:
    """The answer while it streams in: escaped, with a typing marker."""
    return inert_markdown(esc(partial)) + " \u258c"


def _linked(answer: Answer, turn: int | str) -> str:
    """The answer's text, escaped, its [n] linked to the cards of ``turn``."""
    linked = _link_citations(esc(answer.text), {c.number for c in answer.citations}, turn)
    return inert_markdown(linked)  # after linking, so "[1][2]" stays two citation links


def _abstention(answer: Answer) -> str:
    return (
        '<div class="na-abstain"><strong>\u2139\ufe0f Not answered by your articles.</strong> '
        f"{inert_markdown(esc(answer.text))}</div>"
    )


def answer_markdown(answer: Answer, turn: int) -> str:
    """The finished answer for the chat: [n] linked to its source card; abstentions set apart.

    A model's answer that carries the composer's quotes (backend "local") shows them beneath it, as
    does the local model's abstention (it found no answer it was sure of in them).
    """
    if answer.abstained:
        text = _abstention(answer)
        if answer.quotes is not None and not answer.quotes.abstained:
            text += "\n\n" + quotes_markdown(answer.quotes, turn)
        return text
    # A fallback answer's text already says that the language model failed.
    text = _linked(answer, turn)
    if answer.quotes is not None:
        text += "\n\n" + quotes_markdown(answer.quotes, turn)
    return text


QUOTES_HEADING = "Quotes from the articles"


def quotes_markdown(quotes: Answer, turn: int) -> str:
    """The composer's quotes under their own heading, [n] linked to the quote cards (``<turn>q``)."""
    body = _abstention(quotes) if quotes.abstained else _linked(quotes, quotes_key(turn))
    # Blank lines around the Markdown body, so that it is rendered inside the <div>.
    head = f'<div class="na-quotes-head">{QUOTES_HEADING}</div>'
    return f'<div class="na-quotes">\n\n{head}\n\n{body}\n\n</div>'


def waiting_status(ahead: int) -> str:
    """The status line of a question waiting for the local model behind ``ahead`` requests."""
    return f"\u23f3 Waiting for the local model: {ahead} ahead"


def writing_status(seconds: float) -> str:
    """The status line while the local model writes, with the whole seconds it has taken so far."""
    return f"\u270d\ufe0f The local model is writing\u2026 {max(0, int(seconds))} s"


_MODEL_MARKERS = re.compile(r"\s*\[\d{1,3}\]")


def pending_markdown(status: str, partial: str, quotes: Answer | None, turn: int) -> str:
    """A local answer being written: the status line, the model's words so far, the quotes beneath.

    The model's own ``[n]`` number the passages it read, not the cards: they are left out until its
    answer is verified and numbered.
    """
    parts = [
        f'<div class="na-status">{esc(status)}</div>',
        streaming_markdown(_MODEL_MARKERS.sub("", partial).strip()),
    ]
    if quotes is not None:
        parts.append(quotes_markdown(quotes, turn))
    return "\n\n".join(parts)


STOPPED_WITH_QUOTES = "\u23f9\ufe0f Stopped: the model's answer was not finished; the quotes stand."
STOPPED_EARLY = "\u23f9\ufe0f Stopped before an answer was written."


def stopped_markdown(quotes: Answer | None, turn: int) -> str:
    """An answer stopped by the user: a note, and the quotes when they had come."""
    if quotes is None:
        return f'<div class="na-status na-stopped">{STOPPED_EARLY}</div>'
    note = f'<div class="na-status na-stopped">{STOPPED_WITH_QUOTES}</div>'
    return note + "\n\n" + quotes_markdown(quotes, turn)


def error_markdown(message: str) -> str:
    message = inert_markdown(esc(message))
    return f'<div class="na-error"><strong>\u26a0\ufe0f Could not answer.</strong> {message}</div>'


def highlight(passage: str, quote: str) -> str:
    """The passage, escaped, with the supporting sentence(s) of ``quote`` wrapped in <mark>."""
    spans: list[tuple[int, int]] = []
    quote = quote.strip()
    if quote:
        start = passage.find(quote)
        if start >= 0:
            spans.append((start, start + len(quote)))
        else:
            for sentence in _SENTENCE_SPLIT.split(quote):
                sentence = sentence.strip()
                found = passage.find(sentence) if len(sentence) > 12 else -1
                if found >= 0:
                    spans.append((found, found + len(sentence)))
    spans.sort()
    out: list[str] = []
    cursor = 0
    for start, end in spans:
        if start < cursor:
            continue
        out.append(esc(passage[cursor:start]))
        out.append(f"<mark>{esc(passage[start:end])}</mark>")
        cursor = end
    out.append(esc(passage[cursor:]))
    return "".join(out)


def _origin(url: str, path: str) -> str:
    if url.startswith(("http://", "https://")):
        return f'<a href="{esc(url)}" target="_blank" rel="noopener noreferrer">{esc(url)}</a>'
    if path:
        return f'<span class="na-file" title="{esc(path)}">{esc(Path(path).name)}</span>'
    return ""


def _meta_line(source: str, published: dt.date | None, inferred: bool, url: str, path: str) -> str:
    parts = [f'<span class="na-outlet">{esc(source or "unknown outlet")}</span>']
    date = esc(format_date(published, False))
    if inferred and published is not None:
        date += (
            ' <span class="na-inferred" title="No date in the article metadata; inferred from the text">'
            "(inferred)</span>"
        )
    parts.append(f'<span class="na-date">{date}</span>')
    origin = _origin(url, path)
    if origin:
        parts.append(origin)
    return '<div class="na-meta">' + " \u00b7 ".join(parts) + "</div>"


def citation_card(citation: Citation, turn: int | str) -> str:
    return (
        f'<div class="na-source" id="{card_id(turn, citation.number)}" data-number="{citation.number}">'
        f'<div class="na-title"><span class="na-num">[{citation.number}]</span> '
        f"{esc(citation.title or 'Untitled article')}</div>"
        + _meta_line(
            citation.source, citation.published, citation.published_inferred, citation.url, citation.path
        )
        + f'<blockquote class="na-passage">{highlight(citation.passage, citation.quote)}</blockquote></div>'
    )


def passage_card(passage: Passage) -> str:
    return (
        '<div class="na-source na-retrieved">'
        f'<div class="na-title">{esc(passage.title or "Untitled article")}</div>'
        + _meta_line(passage.source, passage.published, passage.published_inferred, passage.url, passage.path)
        + f'<blockquote class="na-passage">{esc(passage.text)}</blockquote></div>'
    )


CITED_LABEL = "Cited by the answer"
QUOTED_LABEL = "Quoted beneath the answer"


def sources_html(answer: Answer, turn: int) -> str:
    """The sources of one answer: cited cards, then the other retrieved passages folded away.

    A model's answer that carries quotes lists its own cards, then the quotes' cards (``<turn>q``),
    each group under a label.
    """
    if answer.quotes is None:
        return _sources(answer.question, [(answer.citations, turn, "")], answer.passages, turn)
    groups: list[tuple[Sequence[Citation], int | str, str]] = [
        (answer.citations, turn, CITED_LABEL),
        (answer.quotes.citations, quotes_key(turn), QUOTED_LABEL),
    ]
    return _sources(answer.question, groups, answer.passages, turn)


def quotes_sources_html(quotes: Answer, turn: int) -> str:
    """The sources of quotes shown alone (the model still writing, or stopped): the quote cards."""
    groups: list[tuple[Sequence[Citation], int | str, str]] = [
        (quotes.citations, quotes_key(turn), QUOTES_HEADING)
    ]
    return _sources(quotes.question, groups, quotes.passages, turn)


def _sources(
    question: str,
    groups: Sequence[tuple[Sequence[Citation], int | str, str]],
    passages: Sequence[Passage],
    turn: int,
) -> str:
    cited = [c for citations, _, _ in groups for c in citations]
    cited_ids = {c.passage_id for c in cited if c.passage_id}
    cited_text = {c.passage for c in cited}
    others = [p for p in passages if p.id not in cited_ids and p.text not in cited_text]
    parts = [f'<div class="na-turn" data-turn="{turn}">']
    parts.append(f'<div class="na-question">Sources for: \u201c{esc(question)}\u201d</div>')
    if cited:
        for citations, key, label in groups:
            if not citations:
                continue
            if label:
                parts.append(f'<div class="na-group">{esc(label)}</div>')
            parts.extend(citation_card(c, key) for c in citations)
    else:
        parts.append('<div class="na-none">No passage supports an answer to this question.</div>')
    if others:
        parts.append(
            f'<details class="na-others"><summary>Other retrieved passages ({len(others)})</summary>'
            + "".join(passage_card(p) for p in others)
            + "</details>"
        )
    parts.append("</div>")
    return "".join(parts)


def sources_panel(turns: Sequence[str]) -> str:
    """All answers' sources: the latest open, earlier ones folded (their [n] links still work)."""
    if not turns:
        return EMPTY_SOURCES
    latest = turns[-1]
    earlier = "".join(
        f'<details class="na-earlier"><summary>Earlier answer {index + 1}</summary>{block}</details>'
        for index, block in reversed(list(enumerate(turns[:-1])))
    )
    return latest + earlier


def library_rows(articles: Sequence[Article]) -> list[list[Any]]:
    rows = []
    for article in sorted(articles, key=lambda a: (a.published or dt.date.min, a.title), reverse=True):
        origin = article.url or (Path(article.path).name if article.path else "")
        ingested = article.ingested_at.strftime("%Y-%m-%d %H:%M") if article.ingested_at else ""
        rows.append(
            [
                article.id,
                article.title or "Untitled article",
                article.source,
                format_date(article.published, article.published_inferred),
                article.passage_count,
                origin,
                ingested,
            ]
        )
    return rows


def article_choices(articles: Sequence[Article]) -> list[tuple[str, str]]:
    return [
        (f"{a.title or 'Untitled article'} \u2014 {a.source or 'unknown outlet'} ({a.id[:8]})", a.id)
        for a in sorted(articles, key=lambda a: a.title.lower())
    ]


def upload_row(name: str, result: FileResult | None, reason: str = "") -> list[Any]:
    if result is None:
        return [name, "failed", 0, reason]
    return [name, result.status, len(result.article_ids), result.reason or reason]


def counts_markdown(stats: dict[str, int]) -> str:
    return f"**{stats.get('articles', 0)} articles, {stats.get('passages', 0)} passages** in the library."
