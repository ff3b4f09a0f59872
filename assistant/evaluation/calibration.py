"""Calibrating abstention: precision and recall of "the articles don't say" over the threshold.

The extractive composer abstains when a key term of the question is in no retrieved passage, when
no passage is close enough, or when its best sentence covers less than ``answer.min_coverage`` of
the question (``extractive.assess``). Each evaluation row records those signals; this module sweeps
the coverage threshold over them and reports, per threshold, abstention precision (abstentions that
were right), abstention recall (unanswerable questions abstained on) and the answered rate (answerable
questions answered). The same sweep runs on RealTime QA 2023 with unanswerable *twins*: each question
asked of the library without its gold articles (``benchmarks/abstention.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, fields
from typing import Any

from assistant.answer.extractive import Assessment, assess
from assistant.config import AnswerSettings
from assistant.models import Answer

THRESHOLDS: tuple[float, ...] = tuple(round(0.05 * i, 2) for i in range(0, 13))
"""Coverage thresholds swept, 0.00 to 0.60."""


def abstention_signals(answer: Answer) -> dict[str, Any]:
    """What the composer's abstention decision reads (every field of its ``Assessment``),
    recomputed from an answer's passages."""
    question = answer.standalone_question or answer.question
    assessment, _ = assess(question, answer.passages)
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(assessment).items()}


# What a recorded row without a signal reads for it, where the Assessment has no default: rows
# written before a signal existed take its default, which skips that signal's rule.
_ABSENT: dict[str, Any] = {"confidence": 0.0, "best_dense": 0.0, "missing": [], "off_year": False}


def _abstains(signals: dict[str, Any], threshold: float, settings: AnswerSettings) -> bool:
    """The composer's own decision (``Assessment.reason``) on recorded signals, at another coverage
    threshold. Rows written before a signal existed lack it and skip that rule."""
    values = {}
    for f in fields(Assessment):
        recorded = signals.get(f.name)
        values[f.name] = recorded if recorded is not None else _ABSENT.get(f.name, f.default)
    assessment = Assessment(**values)
    return not assessment.answers(settings.model_copy(update={"min_coverage": threshold}))


def curve(
    points: Sequence[tuple[dict[str, Any], bool]],
    settings: AnswerSettings | None = None,
    thresholds: Iterable[float] = THRESHOLDS,
) -> list[dict[str, float | None]]:
    """Per coverage threshold: abstention precision and recall, and the answered rate.

    ``points`` are (signals, answerable) pairs. Everything but the coverage threshold is taken
    from ``settings`` (the key-term gate and the relevance floor).
    """
    settings = settings or AnswerSettings()
    unanswerable = sum(1 for _, ok in points if not ok)
    answerable = len(points) - unanswerable
    out: list[dict[str, float | None]] = []
    for threshold in thresholds:
        abstained = [(_abstains(s, threshold, settings), ok) for s, ok in points]
        predicted = sum(1 for a, _ in abstained if a)
        right = sum(1 for a, ok in abstained if a and not ok)
        answered = sum(1 for a, ok in abstained if ok and not a)
        out.append(
            {
                "threshold": threshold,
                "abstention_precision": right / predicted if predicted else None,
                "abstention_recall": right / unanswerable if unanswerable else None,
                "answered_rate": answered / answerable if answerable else None,
            }
        )
    return out


def row_points(rows: Sequence[dict]) -> list[tuple[dict[str, Any], bool]]:
    """(signals, answerable) of the evaluation rows that recorded signals."""
    return [
        (row["abstention_signals"], bool(row.get("answerable", True)))
        for row in rows
        if isinstance(row.get("abstention_signals"), dict)
    ]


def _settings_of(config: dict) -> AnswerSettings:
    answer = (config.get("settings") or {}).get("answer") or {}
    try:
        return AnswerSettings.model_validate(answer)
    except ValueError:
        return AnswerSettings()


def _is_chosen(point: dict, chosen: float) -> bool:
    return abs(float(point["threshold"] or 0.0) - chosen) < 1e-9


def _f(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def markdown_section(rows: Sequence[dict], config: dict) -> list[str]:
    """The report's abstention-curve section (empty when the rows carry no signals)."""
    points = row_points(rows)
    if not points:
        return []
    settings = _settings_of(config)
    lines = [
        "",
        "## Abstention curve",
        "",
        "Coverage threshold (`answer.min_coverage`) against abstention precision / recall and the "
        "answered rate; the key-term gate and the relevance floor stay as configured. "
        f"**Bold**: the threshold in use ({settings.min_coverage:.2f}).",
        "",
        "| threshold | abstention precision | abstention recall | answered |",
        "| ---: | ---: | ---: | ---: |",
    ]
    for point in curve(points, settings):
        mark = "**" if _is_chosen(point, settings.min_coverage) else ""
        lines.append(
            f"| {mark}{point['threshold']:.2f}{mark} | {_f(point['abstention_precision'])} | "
            f"{_f(point['abstention_recall'])} | {_f(point['answered_rate'])} |"
        )
    return lines


def html_section(rows: Sequence[dict], config: dict) -> str:
    """The same section as an HTML table with an inline SVG of the two curves."""
    points = row_points(rows)
    if not points:
        return ""
    settings = _settings_of(config)
    data = curve(points, settings)
    rows_html = []
    for p in data:
        bold = ' style="font-weight:600"' if _is_chosen(p, settings.min_coverage) else ""
        rows_html.append(
            f"<tr{bold}><td class=n>{p['threshold']:.2f}</td>"
            f"<td class=n>{_f(p['abstention_precision'])}</td>"
            f"<td class=n>{_f(p['abstention_recall'])}</td><td class=n>{_f(p['answered_rate'])}</td></tr>"
        )
    body = "".join(rows_html)
    return (
        "<h2>Abstention curve</h2>"
        f"<p class=meta>Coverage threshold (answer.min_coverage) in use: {settings.min_coverage:.2f} "
        "(bold). Blue: abstention precision; red: abstention recall; green: answered rate.</p>"
        f"{_svg(data, settings.min_coverage)}"
        "<table><tr><th>threshold</th><th>abstention precision</th><th>abstention recall</th>"
        f"<th>answered</th></tr>{body}</table>"
    )


def _svg(data: Sequence[dict], chosen: float) -> str:
    width, height, pad = 520, 200, 30
    top = max(float(p["threshold"] or 0) for p in data) or 1.0

    def x(t: float) -> float:
        return pad + (width - 2 * pad) * t / top

    def y(v: float) -> float:
        return pad + (height - 2 * pad) * (1 - v)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        'aria-label="abstention curve">',
        f'<line x1="{x(chosen):.1f}" y1="{pad}" x2="{x(chosen):.1f}" y2="{height - pad}" '
        'stroke="#999" stroke-dasharray="4 3"/>',
    ]
    for key, colour in (
        ("abstention_precision", "#3b6fd8"),
        ("abstention_recall", "#c0262d"),
        ("answered_rate", "#18794e"),
    ):
        coords = " ".join(
            f"{x(float(p['threshold'])):.1f},{y(float(p[key])):.1f}" for p in data if p[key] is not None
        )
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{coords}"/>')
    for t in (0.0, top / 2, top):
        parts.append(
            f'<text x="{x(t):.1f}" y="{height - 8}" font-size="11" text-anchor="middle">{t:.2f}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def curve_markdown(data: Sequence[dict], chosen: float, title: str) -> str:
    lines = [
        f"### {title}",
        "",
        "| threshold | abstention precision | abstention recall | answered |",
        "| ---: | ---: | ---: | ---: |",
    ]
    for p in data:
        mark = "**" if _is_chosen(p, chosen) else ""
        lines.append(
            f"| {mark}{p['threshold']:.2f}{mark} | {_f(p['abstention_precision'])} | "
            f"{_f(p['abstention_recall'])} | {_f(p['answered_rate'])} |"
        )
    return "\n".join(lines) + "\n"
