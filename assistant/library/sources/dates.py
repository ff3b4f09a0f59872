"""Publication dates: parse what a source states, or infer one from the article text.

Inference never invents a date: it only returns a full date (day, month and year) written in the
text, never one later than today, and None when the text holds none.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterator

from dateutil import parser as dateutil_parser

logger = logging.getLogger(__name__)

_MONTHS = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
    "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
}  # fmt: skip
_MONTH = (
    r"(?P<month>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_DAY = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th)?"
_YEAR = r"(?P<year>(?:1[89]|2\d)\d\d)"
# "March 6, 2024", "6 March 2024", "2024-03-06": the forms that name day, month and year.
_FULL_DATE_RES = (
    re.compile(rf"\b{_MONTH}\s+{_DAY},?\s+{_YEAR}\b", re.IGNORECASE),
    re.compile(rf"\b{_DAY}\s+(?:of\s+)?{_MONTH},?\s+{_YEAR}\b", re.IGNORECASE),
    re.compile(r"\b(?P<year>(?:1[89]|2\d)\d\d)-(?P<month>[01]\d)-(?P<day>[0-3]\d)\b"),
)
_HAS_YEAR = re.compile(r"\b\d{4}\b|^\d{8}$")
# What may surround a date on a line that is only a date: "Tuesday 25 February 2020 - 14:06",
# "Published: March 6, 2024 10:00 a.m. EST", "Updated on 6 March 2024".
_DATE_LINE_FILLER = re.compile(
    r"^(?:[\s,.:|/()–—-]"
    r"|(?:first\s+)?(?:published|updated|posted|last\s+updated|modified|on|at|am|pm"
    r"|gmt|utc|[ecmp][sd]?t|bst|cet|cest|ist|idt|z)\b"
    r"|[ap]\.m\."
    r"|(?:mon|tues?|wed(?:nes)?|thu(?:rs)?|fri|sat(?:ur)?|sun)(?:day)?\b\.?"
    r"|\d{1,2}[:.]\d{2}(?:[:.]\d{2})?"
    r")*$",
    re.IGNORECASE,
)
_PUBLISHED_LABEL = re.compile(r"^\s*(?:first\s+)?(?:published|posted)\b", re.IGNORECASE)
_UPDATED_LABEL = re.compile(r"^\s*(?:last\s+)?(?:updated|modified)\b", re.IGNORECASE)
# An agency dateline opening a paragraph: "WASHINGTON, March 6, 2024 (AP) — ...".
_DATELINE_TAIL = re.compile(r"^\s*(?:\([A-Za-z .]{1,20}\))?\s*[—–-]")
_TOP_LINES = 6


def parse_date(value: str | dt.date | dt.datetime | None) -> dt.date | None:
    """The calendar date a metadata value names, or None for anything that is not a date.

    Accepts date and datetime objects and strings such as "2024-03-06", "2024-03-06T10:00:00Z",
    "March 6, 2024", "6 March 2024" or "Wed, 06 Mar 2024 10:00:00 GMT". A string without a
    four-digit year is refused rather than guessed. Never raises.
    """
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or len(text) > 120 or not _HAS_YEAR.search(text):
        return None
    try:
        return dt.datetime.fromisoformat(text).date()
    except ValueError:
        pass
    found = next(_iter_full_dates(text), None)
    if found is not None:
        return found
    try:
        parsed = dateutil_parser.parse(text, default=dt.datetime(2000, 1, 1))
    except (ValueError, OverflowError, TypeError):
        return None
    return parsed.date() if 1800 <= parsed.year <= 2999 else None


def find_dates(text: str) -> list[dt.date]:
    """Every full date (day, month and year) written in the text, in order of appearance."""
    return [found for _, found in sorted(_iter_dated_spans(text), key=lambda item: item[0])]


def is_date_line(line: str) -> bool:
    """Whether a line holds a date and nothing else but a weekday, a time or a "Published" label."""
    line = line.strip()
    if not line or len(line) > 100:
        return False
    for pattern in _FULL_DATE_RES:
        match = pattern.search(line)
        if match and _make_date(match) is not None:
            rest = line[: match.start()] + " " + line[match.end() :]
            return bool(_DATE_LINE_FILLER.match(rest))
    return False


def infer_date(text: str, today: dt.date | None = None) -> dt.date | None:
    """A likely publication date for an article whose source gives none.

    First a dateline near the top: a line that is only a date, a "Published/Posted <date>" line
    (preferred over "Updated <date>"), or an agency dateline ("CITY, March 6, 2024 — ...").
    Otherwise the latest full date mentioned anywhere in the text (photo captions carry them).
    Dates after `today` are ignored. Returns None when the text names no full date.
    """
    today = today or dt.date.today()
    top = _top_dateline(text, today)
    if top is not None:
        return top
    candidates = [found for found in find_dates(text) if found <= today]
    return max(candidates) if candidates else None


def resolve_date(value: str | dt.date | dt.datetime | None, text: str) -> tuple[dt.date | None, bool]:
    """(published, inferred): the stated date when it parses, else one inferred from the text."""
    stated = parse_date(value)
    if stated is not None:
        return stated, False
    if value not in (None, ""):
        logger.debug("Ignoring unparseable date %r", value)
    inferred = infer_date(text)
    return inferred, inferred is not None


def _top_dateline(text: str, today: dt.date) -> dt.date | None:
    lines = [line.strip() for line in text.splitlines() if line.strip()][:_TOP_LINES]
    updated: dt.date | None = None
    for line in lines:
        spans = sorted(_iter_dated_spans(line), key=lambda item: item[0])
        if not spans:
            continue
        (start, end), found = spans[0]
        if found > today:
            continue
        labelled_published = bool(_PUBLISHED_LABEL.match(line))
        labelled_updated = bool(_UPDATED_LABEL.match(line))
        is_dateline = start <= 60 and bool(_DATELINE_TAIL.match(line[end:])) and line[:1].isupper()
        if labelled_updated:
            updated = updated or found
        elif labelled_published or is_date_line(line) or is_dateline:
            return found
    return updated


def _iter_dated_spans(text: str) -> Iterator[tuple[tuple[int, int], dt.date]]:
    seen: set[int] = set()
    for pattern in _FULL_DATE_RES:
        for match in pattern.finditer(text):
            found = _make_date(match)
            if found is not None and match.start() not in seen:
                seen.add(match.start())
                yield (match.start(), match.end()), found


def _iter_full_dates(text: str) -> Iterator[dt.date]:
    for _, found in sorted(_iter_dated_spans(text), key=lambda item: item[0]):
        yield found


def _make_date(match: re.Match[str]) -> dt.date | None:
    month_text = match.group("month")
    month = int(month_text) if month_text.isdigit() else _MONTHS[month_text[:3].lower()]
    try:
        return dt.date(int(match.group("year")), month, int(match.group("day")))
    except ValueError:
        return None
