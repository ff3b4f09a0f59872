"""When a question is about: relative time expressions resolved against the moment it is asked.

News questions name a moment ("this week", "yesterday", "in March 2024", "the latest"). `resolve`
turns the first such expression into a date window, or into a plain preference for recent
articles; `time_prior` scores an article's publication date against it. Retrieval uses the score
as a soft prior: it reorders, it never filters, and an undated article gets the neutral score.

Conventions (all windows are inclusive and never end after ``as_of``):

- "today" / "tonight" / "this morning": as_of; "yesterday": the day before.
- "this week": the seven days ending on as_of; "last week": the seven days before those.
- "this weekend" / "last weekend" / "this past weekend": the latest Saturday-Sunday on or before as_of.
- "this month" / "this year": from the first day of the month / year to as_of;
  "last month" / "last year": the previous calendar month / year.
- "N days/weeks/months ago": a window of one unit around that day; "past/last N days/weeks/months":
  from N units before as_of to as_of.
- "March 5, 2024", "March 2024", "in March" (the latest March on or before as_of), "in 2023".
- A weekday ("on Monday", "delayed Wednesday"): the latest such day on or before as_of.
- "recently", "latest", "most recent", "now", "currently", "current", and any moment after as_of
  ("in 2030"): no window, a preference for articles near as_of.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
import re
from dataclasses import dataclass

_MONTHS = {
    "january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7,
    "august": 8, "september": 9, "october": 10, "november": 11, "december": 12,
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "sept": 9,
    "oct": 10, "nov": 11, "dec": 12,
}  # fmt: skip
_WEEKDAYS = {
    "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5, "sunday": 6,
}  # fmt: skip
_NUMBERS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "a couple of": 2, "a few": 3,
    "several": 3,
}  # fmt: skip
_UNIT_DAYS = {"day": 1, "week": 7, "month": 30, "year": 365}

# Full month names only, plus the unambiguous abbreviations followed by a period or a day/year:
# "may" and "mar" alone are ordinary words.
_MONTH_RE = (
    r"(?P<month>january|february|march|april|may|june|july|august|september|october|november"
    r"|december|jan\.?|feb\.?|apr\.?|jun\.?|jul\.?|aug\.?|sept?\.?|oct\.?|nov\.?|dec\.?)"
)
_NUMBER_RE = (
    r"(?P<n>\d{1,3}|an?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve"
    r"|a couple of|a few|several)"
)
_UNIT_RE = r"(?P<unit>day|week|month|year)s?"

_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern, re.IGNORECASE))
    for name, pattern in (
        ("full_date", rf"\b{_MONTH_RE}\s+(?P<day>[0-3]?\d)(?:st|nd|rd|th)?,?\s+(?P<year>(?:19|20)\d\d)\b"),
        ("month_year", rf"\b{_MONTH_RE}\s+(?:of\s+)?(?P<year>(?:19|20)\d\d)\b"),
        ("ago", rf"\b{_NUMBER_RE}\s+{_UNIT_RE}\s+ago\b"),
        ("past_n", rf"\b(?:past|last|previous)\s+{_NUMBER_RE}\s+{_UNIT_RE}\b"),
        ("today", r"\b(?:today|tonight|this (?:morning|afternoon|evening))\b"),
        ("yesterday", r"\byesterday\b"),
        ("this_weekend", r"\b(?:this(?: past)?|last|past) weekend\b"),
        ("this_week", r"\b(?:this(?: past)? week|past week)\b"),
        ("last_week", r"\b(?:last|previous) week\b"),
        ("this_month", r"\b(?:this(?: past)? month|past month)\b"),
        ("last_month", r"\b(?:last|previous) month\b"),
        ("this_year", r"\b(?:this(?: past)? year|past year)\b"),
        ("last_year", r"\b(?:last|previous) year\b"),
        ("in_month", rf"\b(?:in|during|since|early|late|mid-?)\s+{_MONTH_RE}(?![\w-])(?!\s+\d)"),
        ("in_year", r"\b(?:in|during|throughout)\s+(?:early\s+|late\s+|mid-?)?(?P<year>(?:19|20)\d\d)\b"),
        ("weekday", r"\b(?P<weekday>monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b"),
        ("recent", r"\b(?:recent(?:ly)?|latest|most recent|newest|now|currently|current|so far)\b"),
    )
)


@dataclass(frozen=True)
class TimeFrame:
    """The moment a question is about, resolved against ``as_of``.

    ``start``/``end`` bound the window (inclusive); both are None for a plain recency preference.
    ``expression`` is the text that named it ("" when the frame only comes from ``as_of``).
    """

    as_of: dt.date
    start: dt.date | None = None
    end: dt.date | None = None
    expression: str = ""

    @property
    def has_window(self) -> bool:
        return self.start is not None and self.end is not None


def _month_window(year: int, month: int) -> tuple[dt.date, dt.date]:
    return dt.date(year, month, 1), dt.date(year, month, calendar.monthrange(year, month)[1])


def _number(text: str) -> int:
    text = " ".join(text.lower().split())
    return int(text) if text.isdigit() else _NUMBERS[text]


def _window(name: str, match: re.Match[str], as_of: dt.date) -> tuple[dt.date, dt.date] | None:
    """The (start, end) an expression names, or None for a recency preference."""
    day = dt.timedelta(days=1)
    groups = match.groupdict()
    month = _MONTHS.get((groups.get("month") or "").lower().rstrip("."), 0)
    if name == "full_date":
        try:
            date = dt.date(int(groups["year"]), month, int(groups["day"]))
        except ValueError:
            return None
        return date, date
    if name == "month_year":
        return _month_window(int(groups["year"]), month)
    if name in ("ago", "past_n"):
        units = _number(groups["n"]) * _UNIT_DAYS[groups["unit"].lower()]
        if name == "past_n":
            return as_of - units * day, as_of
        centre, half = as_of - units * day, max(1, _UNIT_DAYS[groups["unit"].lower()] // 2)
        return centre - half * day, min(as_of, centre + half * day)
    if name == "today":
        return as_of, as_of
    if name == "yesterday":
        return as_of - day, as_of - day
    if name == "this_weekend":
        sunday = as_of - ((as_of.weekday() + 1) % 7) * day
        if as_of.weekday() == 5:  # on a Saturday "this weekend" is today
            return as_of, as_of
        return sunday - day, sunday
    if name == "this_week":
        return as_of - 6 * day, as_of
    if name == "last_week":
        return as_of - 13 * day, as_of - 7 * day
    if name == "this_month":
        return as_of.replace(day=1), as_of
    if name == "last_month":
        first = as_of.replace(day=1) - day
        return _month_window(first.year, first.month)
    if name == "this_year":
        return dt.date(as_of.year, 1, 1), as_of
    if name == "last_year":
        return dt.date(as_of.year - 1, 1, 1), dt.date(as_of.year - 1, 12, 31)
    if name == "in_month":
        year = as_of.year if month <= as_of.month else as_of.year - 1
        start, end = _month_window(year, month)
        return start, min(end, as_of)
    if name == "in_year":
        year = int(groups["year"])
        return dt.date(year, 1, 1), min(dt.date(year, 12, 31), max(as_of, dt.date(year, 1, 1)))
    if name == "weekday":
        back = (as_of.weekday() - _WEEKDAYS[groups["weekday"].lower()]) % 7
        date = as_of - back * day
        return date, date
    return None


def resolve(question: str, as_of: dt.date) -> TimeFrame:
    """The first time expression in `question` (in the order of `_PATTERNS`) resolved against as_of.

    A question without one gets a frame with no window: a preference for articles near as_of.
    Pure: no clock, no I/O.
    """
    for name, pattern in _PATTERNS:
        match = pattern.search(question)
        if match is None:
            continue
        window = _window(name, match, as_of)
        if window is None:
            return TimeFrame(as_of=as_of, expression=match.group(0))
        start, end = window
        if start > as_of:  # a future moment ("in 2030"): the news about it is recent news
            return TimeFrame(as_of=as_of, expression=match.group(0))
        return TimeFrame(as_of=as_of, start=min(start, end), end=end, expression=match.group(0))
    return TimeFrame(as_of=as_of)


def has_time_expression(question: str) -> bool:
    return bool(resolve(question, dt.date(2000, 1, 1)).expression)


def days_outside(published: dt.date | None, frame: TimeFrame | None) -> int | None:
    """Days between a publication date and the window a question names (0 inside it); None when
    the article is undated or the question names no window ("this week" does, "the latest" not)."""
    if published is None or frame is None or not frame.has_window:
        return None
    assert frame.start is not None and frame.end is not None
    return _days_from(published, frame.start, frame.end)


def _days_from(day: dt.date, start: dt.date, end: dt.date) -> int:
    """Days from `day` to the window start..end (inclusive); 0 inside it."""
    if day < start:
        return (start - day).days
    if day > end:
        return (day - end).days
    return 0


def time_prior(published: dt.date | None, frame: TimeFrame, scale_days: float, neutral: float = 0.5) -> float:
    """How well a publication date fits the frame, in [0, 1]; `neutral` for an undated article.

    Inside the window (or on as_of, without one) scores 1, decaying as exp(-distance / scale)
    outside it; an article published after as_of decays four times faster, since the question
    is asked at as_of and cannot be about what came later.
    """
    if published is None:
        return neutral
    start = frame.start if frame.has_window else frame.as_of
    end = frame.end if frame.has_window else frame.as_of
    assert start is not None and end is not None
    distance = _days_from(published, start, end)
    if published > frame.as_of:
        distance = max(distance, 4 * (published - frame.as_of).days)
    return math.exp(-distance / max(scale_days, 1e-6))
