"""JSON and JSON Lines readers: one article per record, plus the field mapping other readers share.

A record needs `text` (or `content`); it may carry `title`, `url`, `published` (or `date`),
`source` (or `outlet`, `publisher`, `site_name`), `author` (str) or `authors` (list) and `id`.
Records that cannot be read are skipped with a warning; a file with no readable record fails.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from assistant.errors import EmptyDocumentError, IngestError
from assistant.library.sources.cleanup import clean_text
from assistant.library.sources.dates import resolve_date
from assistant.models import ArticleMeta

logger = logging.getLogger(__name__)

TEXT_FIELDS = ("text", "content")
SOURCE_FIELDS = ("source", "outlet", "publisher", "site_name", "sitename")
DATE_FIELDS = ("published", "date")
_AUTHOR_SPLIT = re.compile(r"\s*(?:;|\band\b|&)\s*")
_BY = re.compile(r"^by\s+", re.IGNORECASE)
_MAX_REASONS = 3


class RecordError(ValueError):
    """One record of a multi-record file cannot be read; the message says why."""


class Records(list[tuple[ArticleMeta, str]]):
    """The articles read from a file, and why any records of it were skipped (for the ingest report)."""

    skipped: list[str]

    def __init__(self, articles: list[tuple[ArticleMeta, str]], skipped: list[str]) -> None:
        super().__init__(articles)
        self.skipped = skipped

    def skipped_reason(self) -> str:
        if not self.skipped:
            return ""
        shown = "; ".join(self.skipped[:_MAX_REASONS])
        more = f" (and {len(self.skipped) - _MAX_REASONS} more)" if len(self.skipped) > _MAX_REASONS else ""
        return f"skipped {len(self.skipped)} unreadable record(s): {shown}{more}"


def meta_from_fields(
    fields: Mapping[str, Any], text: str, *, path: Path, key: str, default_title: str = ""
) -> ArticleMeta:
    """Article metadata from a mapping of the usual field names (records, front matter, HTML)."""
    url = _first_str(fields, ("url", "link", "canonical_url"))
    published, inferred = resolve_date(_first(fields, DATE_FIELDS), text)
    return ArticleMeta(
        title=_first_str(fields, ("title", "headline")) or default_title,
        source=_first_str(fields, SOURCE_FIELDS) or outlet_from_url(url),
        authors=normalise_authors(_first(fields, ("authors", "author"))),
        published=published,
        published_inferred=inferred,
        url=url,
        path=str(path),
        key=key,
    )


def normalise_authors(value: Any) -> list[str]:
    """A list of author names from a string ("A; B", "By A and B") or a list of strings."""
    if value is None:
        return []
    items: Iterable[Any] = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    names: list[str] = []
    for item in items:
        if not isinstance(item, str):
            item = item.get("name", "") if isinstance(item, Mapping) else ""
        for name in _split_names(_BY.sub("", " ".join(str(item).split()))):
            if name not in names:
                names.append(name)
    return names


def _split_names(byline: str) -> list[str]:
    """Split a byline: "A, B and C" gives three names; a lone "Last, First" stays one name."""
    parts = [part.strip(" ,") for part in _AUTHOR_SPLIT.split(byline)]
    split: list[str] = []
    for part in parts:
        pieces = [piece.strip() for piece in part.split(",")]
        if len(parts) == 1 and len(pieces) == 2 and all(" " not in piece for piece in pieces):
            pieces = [part]  # "Doe, Jane"
        split.extend(piece for piece in pieces if piece)
    return split


def outlet_from_url(url: str) -> str:
    """The site's host name ("cnn.com") when a record names no outlet; "" without a URL."""
    if not url:
        return ""
    host = (urlsplit(url).hostname or "").lower()
    return host.removeprefix("www.")


def read_jsonl(text: str, path: Path) -> list[tuple[ArticleMeta, str]]:
    """One article per line; malformed or text-less lines are skipped with a warning."""
    resolved = str(path.resolve())
    articles: list[tuple[ArticleMeta, str]] = []
    problems: list[str] = []
    for line_number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            problems.append(f"line {line_number}: malformed JSON ({e.msg})")
            continue
        try:
            articles.append(_read_record(record, path, resolved, str(line_number)))
        except RecordError as e:
            problems.append(f"line {line_number}: {e}")
    return _keep_good(articles, problems, path)


def read_json(text: str, path: Path) -> list[tuple[ArticleMeta, str]]:
    """A single JSON object or a list of objects, one article each."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise IngestError(
            f"{path.name} is not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}"
        ) from e
    records = data if isinstance(data, list) else [data]
    resolved = str(path.resolve())
    articles: list[tuple[ArticleMeta, str]] = []
    problems: list[str] = []
    for number, record in enumerate(records, start=1):
        try:
            articles.append(_read_record(record, path, resolved, str(number)))
        except RecordError as e:
            problems.append(f"record {number}: {e}")
    return _keep_good(articles, problems, path)


def _read_record(record: Any, path: Path, resolved: str, position: str) -> tuple[ArticleMeta, str]:
    if not isinstance(record, dict):
        raise RecordError(f"expected a JSON object, found {type(record).__name__}")
    raw = _first(record, TEXT_FIELDS)
    if not isinstance(raw, str) or not raw.strip():
        raise RecordError("no 'text' or 'content' field with article text")
    text = clean_text(raw)
    if not text:
        raise RecordError("no article text left after removing page boilerplate")
    identity = _first_str(record, ("id",)) or _first_str(record, ("url",)) or position
    meta = meta_from_fields(record, text, path=path, key=f"{resolved}#{identity}")
    return meta, text


def _keep_good(articles: list[tuple[ArticleMeta, str]], problems: list[str], path: Path) -> Records:
    if not articles:
        if not problems:
            raise EmptyDocumentError(f"{path.name} holds no records")
        shown = "; ".join(problems[:_MAX_REASONS])
        more = f" (and {len(problems) - _MAX_REASONS} more)" if len(problems) > _MAX_REASONS else ""
        raise IngestError(f"{path.name} has no usable record: {shown}{more}")
    if problems:
        logger.warning(
            "%s: skipped %d unreadable record(s), kept %d: %s",
            path,
            len(problems),
            len(articles),
            "; ".join(problems[:_MAX_REASONS]),
        )
    return Records(articles, problems)


def _first(fields: Mapping[str, Any], names: Iterable[str]) -> Any:
    for name in names:
        value = fields.get(name)
        if value not in (None, "", []):
            return value
    return None


def _first_str(fields: Mapping[str, Any], names: Iterable[str]) -> str:
    value = _first(fields, names)
    if value is None or isinstance(value, (dict, list)):
        return ""
    return " ".join(str(value).split())
