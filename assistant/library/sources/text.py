"""Plain-text reader: a scraped article as users paste it (title line, then the body).

A leading line that is only a date is taken as the dateline, not the title. The title is the first
line when it is short and does not read like the start of a wrapped sentence; otherwise the file
name stands in. The outlet and author come from a byline only when one of a few unambiguous forms
is present ("Jane Doe is The Daily Planet's science editor.", "Source: Daily Planet").
"""

from __future__ import annotations

import re
from pathlib import Path

from assistant.errors import EmptyDocumentError
from assistant.library.sources.cleanup import clean_text
from assistant.library.sources.dates import infer_date, is_date_line
from assistant.models import ArticleMeta

MAX_TITLE_CHARS = 200
_MAX_SENTENCE_TITLE_WORDS = 25
_FOOTER_LINES = 3
_CONTINUES = (",", ";", ":", "-", "–", "—", "(", "/")
_NAME = r"[A-Z][\w.'’-]+(?: [A-Z][\w.'’-]+){1,3}"
_STAFF_BYLINE = re.compile(
    rf"^(?P<author>{_NAME}) is (?:a |an |the )?(?P<outlet>(?:The )?[A-Z][\w&.'’ -]{{1,60}}?)['’]s?"
    r"(?: [\w-]+){0,3} (?:correspondent|reporter|editor|writer|columnist|analyst|contributor)\.?$"
)
_SOURCE_LINE = re.compile(r"^source\s*:\s*(?P<outlet>[A-Z][\w .&'’-]{0,60})$", re.IGNORECASE)
_DESK_BYLINE = re.compile(r"^\((?P<author>[^()]{2,60}?\bDesk)\s*[–—-]\s*[^()]{2,40}\)$")


def read_text(text: str, path: Path) -> tuple[ArticleMeta, str]:
    """(metadata, cleaned body) for one plain-text article."""
    author, outlet, source_line = _byline(text)
    cleaned = _drop_footer(clean_text(text), source_line)
    if not cleaned:
        raise EmptyDocumentError(f"{path.name} has no article text left after removing page boilerplate")
    published = infer_date(cleaned)
    title, body = split_title(cleaned)
    return (
        ArticleMeta(
            title=title or path.stem,
            source=outlet,
            authors=[author] if author else [],
            published=published,
            published_inferred=published is not None,
            path=str(path),
            key=str(path.resolve()),
        ),
        body,
    )


def split_title(cleaned: str) -> tuple[str, str]:
    """(title, body) of cleaned text; the title is "" when the first line is not one."""
    lines = cleaned.split("\n")
    while lines and (not lines[0] or is_date_line(lines[0])):
        lines.pop(0)
    if not lines:
        return "", cleaned
    first = lines[0]
    following = lines[1] if len(lines) > 1 else ""
    if not _looks_like_title(first, following):
        return "", "\n".join(lines).strip()
    rest = lines[1:]
    while rest and (not rest[0] or rest[0] == first):
        rest.pop(0)  # blank lines, or the title repeated by the page
    body = "\n".join(rest).strip()
    return first, body or first


def _looks_like_title(line: str, following: str) -> bool:
    if len(line) >= MAX_TITLE_CHARS or line.endswith(_CONTINUES):
        return False
    if line.endswith(".") and len(line.split()) > _MAX_SENTENCE_TITLE_WORDS:
        return False
    # a wrapped sentence: the next line carries on in lower case
    return not (following and following[:1].islower())


def _byline(text: str) -> tuple[str, str, str]:
    """(author, outlet, footer line naming the outlet), each "" when absent."""
    author = outlet = source_line = ""
    lines = [" ".join(raw.split()) for raw in text.splitlines()]
    lines = [line for line in lines if line]
    for line in lines:
        if len(line) > 160:
            continue
        if match := _STAFF_BYLINE.match(line):
            author = author or match["author"]
            outlet = outlet or match["outlet"].strip()
        elif match := _DESK_BYLINE.match(line):
            author = author or match["author"].strip()
    # "Source: Outlet" is a page footer only at the very end; elsewhere it credits a chart or a quote
    for line in lines[-_FOOTER_LINES:]:
        match = _SOURCE_LINE.match(line)
        if match and match["outlet"].strip().lower() != "link":
            source_line = line
            outlet = outlet or match["outlet"].strip()
    return author, outlet, source_line


def _drop_footer(cleaned: str, footer: str) -> str:
    if not footer:
        return cleaned
    lines = cleaned.split("\n")
    for index in range(len(lines) - 1, max(len(lines) - 1 - _FOOTER_LINES, -1), -1):
        if lines[index] == footer:
            del lines[index]
            break
    return "\n".join(lines).strip()
