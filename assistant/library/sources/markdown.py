"""Markdown reader: optional YAML front matter for metadata, the body reduced to plain text.

Front matter keys: title, source (or outlet, publisher, site_name), author or authors, published
(or date), url. Without a front-matter title the first "# " heading is the title.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import frontmatter
import yaml

from assistant.errors import EmptyDocumentError, IngestError
from assistant.library.sources.cleanup import clean_text
from assistant.library.sources.jsonl import meta_from_fields
from assistant.models import ArticleMeta

logger = logging.getLogger(__name__)

_FENCE = re.compile(r"^\s{0,3}(```|~~~)")
_RULE = re.compile(r"^\s{0,3}([-*_])(?:\s*\1){2,}\s*$")
_SETEXT = re.compile(r"^\s{0,3}=+\s*$")
_HEADING = re.compile(r"^\s{0,3}#{1,6}(?:\s+(.*?))?\s*#*\s*$")
_TITLE_HEADING = re.compile(r"^\s{0,3}#\s+(.+?)\s*#*\s*$")
_REF_DEFINITION = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*\S+.*$")
_QUOTE = re.compile(r"^\s*(?:>\s?)+")
_LIST_MARKER = re.compile(r"^\s*(?:[-*+]|\d{1,3}[.)])\s+")
_INLINE = (
    (re.compile(r"!\[[^\]]*\]\([^)]*\)"), ""),  # images
    (re.compile(r"!\[[^\]]*\]\[[^\]]*\]"), ""),
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),  # links -> their text
    (re.compile(r"\[([^\]]+)\]\[[^\]]*\]"), r"\1"),
    (re.compile(r"<(https?://[^>\s]+)>"), r"\1"),  # autolinks
    (re.compile(r"</?[A-Za-z][^>]*>"), ""),  # inline HTML tags
    (re.compile(r"`([^`]+)`"), r"\1"),
    (re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"), r"\2"),
    (re.compile(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])"), r"\1"),
    (re.compile(r"(?<!\w)_(?=\S)(.+?)(?<=\S)_(?!\w)"), r"\1"),
    (re.compile(r"~~(?=\S)(.+?)(?<=\S)~~"), r"\1"),
    (re.compile(r"\\([\\`*_{}\[\]()#+\-.!>~|])"), r"\1"),  # escapes
)


def read_markdown(text: str, path: Path) -> tuple[ArticleMeta, str]:
    """(metadata, cleaned plain text) for one Markdown article."""
    try:
        post = frontmatter.loads(text)
    except (yaml.YAMLError, ValueError) as e:
        reason = " ".join(str(e).split())
        raise IngestError(f"{path.name} has malformed YAML front matter: {reason}") from e
    fields = dict(post.metadata)
    body = post.content
    title = str(fields.get("title") or "").strip()
    heading = first_title_heading(body)
    if heading is not None and (not title or heading[1] == title):
        title = title or heading[1]
        body = _drop_line(body, heading[0])
    cleaned = clean_text(markdown_to_text(body))
    if not cleaned:
        raise EmptyDocumentError(f"{path.name} has no article text left after removing markup")
    meta = meta_from_fields(
        fields, cleaned, path=path, key=str(path.resolve()), default_title=title or path.stem
    )
    return meta, cleaned


def first_title_heading(markdown: str) -> tuple[int, str] | None:
    """(line index, text) of the first level-one "# " heading outside code blocks."""
    in_fence = False
    for index, line in enumerate(markdown.split("\n")):
        if _FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence and (match := _TITLE_HEADING.match(line)):
            return index, _inline(match.group(1)).strip()
    return None


def markdown_to_text(markdown: str) -> str:
    """Plain text: markup gone, link text and code kept, images dropped, paragraphs kept apart."""
    out: list[str] = []
    in_fence = False
    for line in markdown.split("\n"):
        if _FENCE.match(line):
            in_fence = not in_fence
            out.append("")
            continue
        if in_fence:
            out.append(line)
            continue
        if _RULE.match(line) or _REF_DEFINITION.match(line):
            out.append("")
            continue
        if _SETEXT.match(line) and out and out[-1].strip():
            out.append("")
            continue
        if match := _HEADING.match(line):
            out.extend(["", _inline(match.group(1) or ""), ""])
            continue
        line = _LIST_MARKER.sub("", _QUOTE.sub("", line))
        out.append(_inline(line))
    return "\n".join(out)


def _inline(text: str) -> str:
    for pattern, replacement in _INLINE:
        text = pattern.sub(replacement, text)
    return text


def _drop_line(text: str, index: int) -> str:
    lines = text.split("\n")
    del lines[index]
    return "\n".join(lines)
