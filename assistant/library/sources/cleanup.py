"""Remove scraped-page noise from article text without touching the article's own sentences.

Only whole lines are dropped, and only lines that are page furniture: ad markers, "Read more:" link
lines, comment-section and sharing prompts, bare photo credits, the staff credit that closes a
report ("… contributed to this report."), and a caption or paragraph repeated immediately. Words
inside kept lines are never changed (typographic quotes stay as they are), so quotes taken from the
cleaned text are verbatim; only whitespace is normalised.
"""

from __future__ import annotations

import re

_SPACES = re.compile(r"[ \t\f\v\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]+")
_INVISIBLE = re.compile(r"[\u200b\u200c\u200d\u2060\ufeff]")

# Each pattern must match a whole (stripped) line. Case-insensitive.
_NOISE_LINE = re.compile(
    "|".join(
        rf"(?:{pattern})"
        for pattern in (
            # ad markers: "Advertisement", "- Advertisement -", "Story continues below advertisement"
            r"[-–—\s]*(?:advertisement|advertising|sponsored(?: content)?|ad)[-–—:\s]*",
            r"(?:story|article) continues (?:below|after) (?:the )?advertisement",
            r"continue reading (?:below|the main story)",
            # "Read more:" / "See more »" / "READ MORE: <link text>"
            r"(?:read|see|watch|view) more(?:\s*(?::|»|›|>|…|\.\.\.).*)?",
            r"related(?: stories| articles| posts| coverage| content| reading| news)?(?:\s*:.*)?",
            r"more (?:stories|articles) (?:from|like this).{0,60}",
            r"trending(?: now| stories)?(?: on .{1,40})?",
            r"source link",
            r"story code\s*:\s*\d+",
            # comment sections
            r"leave a (?:comment|reply)",
            r"\d+ comments?",
            r"(?:view |show )?comments?(?: \(\d+\))?",
            r"join the conversation\b.*",
            r"(?:be the first to comment|comments are closed)\b.{0,60}",
            # sharing and subscription prompts (short whole lines only)
            r"share (?:this|the) (?:article|story|post|page)\b.{0,40}",
            r"share on (?:facebook|twitter|x|linkedin|whatsapp|email)\b.{0,40}",
            r"(?:(?:print|email|share|tweet|facebook|twitter|whatsapp|linkedin|pinterest|reddit)"
            r"[\s|/·•,]*){2,}",
            r"(?:subscribe|sign up|signup|newsletter)\b.{0,70}",
            r"(?:click|tap) here\b.{0,70}",
            r"(?:©|copyright\s*(?:©|\(c\)|\d{4})).{0,100}",
            r"all rights reserved\.?",
            r"follow us on .{1,60}",
        )
    ),
    re.IGNORECASE,
)
# A line that is only a photo credit in parentheses: "(Jane Doe/Flash90)", "(Pool via AP)".
_PHOTO_CREDIT = re.compile(
    r"\((?=[^()]*(?:/|\bvia\b|\bphoto\b|\bAP\b|\bAFP\b|\bReuters\b|\bGetty\b))[^()]{2,80}\)",
    re.IGNORECASE,
)
_SHORT_PROMPT_MAX = 100  # longer lines are prose even when they start like a prompt
# The staff credit that closes a report: "Jane Doe in Jeddah, Saudi Arabia, contributed to this report."
# It names places the story is not about, and a question about them must not find them here.
_CREDIT_LINE = re.compile(
    r".{0,300}\bcontributed(?: reporting)? to (?:this|the) (?:report|story|article)\.?|"
    r".{0,300}\bcontributed reporting(?: from .{1,80})?\.?",
    re.IGNORECASE,
)


def normalize_whitespace(text: str) -> str:
    """Unix newlines, plain spaces, no trailing blanks, paragraphs separated by one blank line."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _INVISIBLE.sub("", text)
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _join_paragraphs(_paragraphs(lines))


def is_noise_line(line: str) -> bool:
    """Whether a (stripped) line is page furniture rather than article text."""
    line = line.strip()
    if not line:
        return False
    if len(line) <= _SHORT_PROMPT_MAX and _NOISE_LINE.fullmatch(line):
        return True
    return bool(_PHOTO_CREDIT.fullmatch(line) or _CREDIT_LINE.fullmatch(line))


def clean_text(text: str) -> str:
    """The article text without scraped-page noise, paragraphs separated by a blank line."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _INVISIBLE.sub("", text)
    lines: list[str] = []
    previous = ""
    for raw in text.split("\n"):
        line = _SPACES.sub(" ", raw).strip()
        if not line:
            lines.append("")
            continue
        if is_noise_line(line):
            continue  # dropped lines leave no gap: the surrounding blank lines already separate
        if line == previous:
            continue  # a caption or paragraph doubled by the scraper: keep one copy
        lines.append(line)
        previous = line
    paragraphs: list[list[str]] = []
    for paragraph in _paragraphs(lines):
        if paragraphs and paragraph == paragraphs[-1]:
            continue  # a multi-line paragraph repeated immediately
        paragraphs.append(paragraph)
    return _join_paragraphs(paragraphs)


def _paragraphs(lines: list[str]) -> list[list[str]]:
    paragraphs: list[list[str]] = []
    current: list[str] = []
    for line in lines:
        if line:
            current.append(line)
        elif current:
            paragraphs.append(current)
            current = []
    if current:
        paragraphs.append(current)
    return paragraphs


def _join_paragraphs(paragraphs: list[list[str]]) -> str:
    return "\n\n".join("\n".join(paragraph) for paragraph in paragraphs)
