"""Renders an evaluation run as Markdown and as one self-contained HTML page (no scripts, no CDN)."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

from assistant.evaluation import calibration
from assistant.evaluation.metrics import HEADLINE_METRICS, LABELS, RATIO_METRICS

__all__ = ["LABELS", "RATIO_METRICS", "render_html", "render_markdown"]


def _fmt(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _delta(value: float | None, digits: int = 2) -> str:
    return "" if value is None else f"{value:+.{digits}f}"


def _td(value: float | None) -> str:
    return f"<td class=n>{_fmt(value)}</td>"


def _ordered(rows: Sequence[dict]) -> list[dict]:
    """Failed questions first, then by id."""
    return sorted(rows, key=lambda r: (not r.get("failures"), r.get("id", "")))


def _present(summary: dict) -> list[str]:
    return [n for n in RATIO_METRICS if n in summary and (summary[n] is not None or n in HEADLINE_METRICS)]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(summary: dict, rows: Sequence[dict], config: dict) -> str:
    delta = summary.get("baseline_delta") or {}
    deltas = delta.get("metrics", {})
    lines = [
        "# Evaluation report",
        "",
        f"- Run: {config.get('started_at', '')} · commit {config.get('git_commit') or 'unknown'}",
        f"- Dataset: `{config.get('dataset', '')}` ({summary['questions']} questions, "
        f"sha256 {str(summary.get('dataset_sha256', ''))[:12]})",
        f"- Backend: {summary.get('backend')} · k = {summary.get('k')} · "
        f"failed questions: {summary['failed']} · errors: {summary['errors']}",
    ]
    if delta:
        regressions = delta.get("regressions", [])
        verdict = ", ".join(regressions) if regressions else "none"
        lines.append(
            f"- Baseline: `{delta['baseline_dir']}` · margin {delta['margin']} · regressions: {verdict}"
        )
    lines += ["", "## Metrics", "", "| metric | value | baseline | Δ |", "| --- | ---: | ---: | ---: |"]
    for name in [*_present(summary), "latency_p50_ms", "latency_p95_ms"]:
        digits = 0 if name.startswith("latency") else 2
        d = deltas.get(name, {})
        lines.append(
            f"| {LABELS.get(name, name)} | {_fmt(summary.get(name), digits)} | "
            f"{_fmt(d.get('baseline'), digits) if d else ''} | "
            f"{_delta(d.get('delta'), digits) if d else ''} |"
        )
    lines += calibration.markdown_section(rows, config)
    lines += [
        "",
        "## By category",
        "",
        "| category | questions | failed | hit@k | key facts | citation precision | faithfulness |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for category, c in summary.get("by_category", {}).items():
        lines.append(
            f"| {category} | {c['questions']} | {c['failed']} | {_fmt(c.get('hit_at_k'))} | "
            f"{_fmt(c.get('key_fact_recall'))} | {_fmt(c.get('citation_precision'))} | "
            f"{_fmt(c.get('faithfulness'))} |"
        )
    lines += [
        "",
        "## Questions (failures first)",
        "",
        "| id | category | hit@k | MRR | key facts | cit. prec. | faithful | abstained | ms | failures |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- |",
    ]
    for row in _ordered(rows):
        m = row["metrics"]
        lines.append(
            f"| {row['id']} | {row['category']} | {_fmt(m.get('hit_at_k'))} | {_fmt(m.get('mrr'))} | "
            f"{_fmt(m.get('key_fact_recall'))} | {_fmt(m.get('citation_precision'))} | "
            f"{_fmt(m.get('faithfulness'))} | {'yes' if row.get('abstained') else 'no'} | "
            f"{row.get('latency_ms', 0):.0f} | {_cell('; '.join(row.get('failures', [])))} |"
        )
    failed = [r for r in _ordered(rows) if r.get("failures")]
    if failed:
        lines += ["", "## Failed questions in detail"]
    for row in failed:
        lines += [
            "",
            f"### {row['id']} ({row['category']}): {'; '.join(row['failures'])}",
            "",
            f"**Question:** {row['user_input']}",
            "",
            f"**Reference:** {row.get('reference') or '–'}",
            "",
            f"**Gold articles:** {', '.join(row.get('gold_articles', [])) or '–'} · "
            f"**retrieved:** {', '.join(dict.fromkeys(row.get('retrieved_files', []))) or '–'}",
            "",
            "**Answer:**",
            "",
            *(f"> {line}" for line in (row.get("response") or "(empty)").splitlines()),
        ]
    return "\n".join(lines) + "\n"


_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#1d2330;padding:0 1rem}
h1,h2{margin:1.4rem 0 .6rem} table{border-collapse:collapse;width:100%;margin:.5rem 0}
th,td{border-bottom:1px solid #e3e6ec;padding:.3rem .45rem;text-align:left;vertical-align:top}
td.n{text-align:right;font-variant-numeric:tabular-nums} .meta{color:#555}
.bar{position:relative;background:#eef1f6;height:14px;border-radius:3px;min-width:220px}
.fill{background:#3b6fd8;height:14px;border-radius:3px} .base{position:absolute;top:-3px;width:2px;
height:20px;background:#d14} .down{color:#c0262d;font-weight:600} .up{color:#18794e}
tr.fail td:first-child{border-left:4px solid #c0262d} tr.ok td:first-child{border-left:4px solid #2a9d5b}
details pre{white-space:pre-wrap;background:#f6f7f9;padding:.5rem;border-radius:4px}
.badge{display:inline-block;padding:0 .4rem;border-radius:8px;font-size:12px;background:#fde2e2;color:#8a1c1c}
"""


def _bars(summary: dict) -> str:
    deltas = (summary.get("baseline_delta") or {}).get("metrics", {})
    regressions = set((summary.get("baseline_delta") or {}).get("regressions", []))
    head = "<th>baseline</th><th>Δ</th>" if deltas else ""
    out = [f"<table><tr><th>metric</th><th>value</th><th></th>{head}</tr>"]
    for name in _present(summary):
        value = summary.get(name)
        d = deltas.get(name, {})
        base = d.get("baseline")
        width = 0.0 if value is None else max(0.0, min(1.0, value)) * 100
        marker = (
            ""
            if base is None
            else f'<div class="base" style="left:{max(0.0, min(1.0, base)) * 100:.1f}%"></div>'
        )
        change = d.get("delta")
        css = "down" if name in regressions else ("up" if change and change > 0 else "")
        out.append(
            f"<tr><td>{html.escape(LABELS.get(name, name))}</td><td class=n>{_fmt(value)}</td>"
            f'<td><div class="bar"><div class="fill" style="width:{width:.1f}%"></div>{marker}</div></td>'
            + (f"<td class=n>{_fmt(base) if d else ''}</td>" if deltas else "")
            + (f"<td class='n {css}'>{_delta(change) if d else ''}</td>" if deltas else "")
            + "</tr>"
        )
    out.append("</table>")
    if deltas:
        out.append('<p class="meta">Red tick: baseline value. Red Δ: a regression beyond the margin.</p>')
    return "\n".join(out)


def _histogram(latencies: Sequence[float], bins: int = 12) -> str:
    if not latencies:
        return "<p>No latencies recorded.</p>"
    low, high = min(latencies), max(latencies)
    span = (high - low) or 1.0
    counts = [0] * bins
    for value in latencies:
        counts[min(bins - 1, int((value - low) / span * bins))] += 1
    width, height, pad = 640, 180, 28
    bar_w = (width - 2 * pad) / bins
    top = max(counts)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 2 * pad}" '
        f'role="img" aria-label="latency histogram">'
    ]
    for i, count in enumerate(counts):
        h = 0 if not top else count / top * height
        x, y = pad + i * bar_w, pad + height - h
        edge = low + span * i / bins
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w - 2:.1f}" height="{h:.1f}" fill="#3b6fd8">'
            f"<title>{edge:.0f}–{edge + span / bins:.0f} ms: {count}</title></rect>"
        )
        if count:
            parts.append(
                f'<text x="{x + bar_w / 2 - 1:.1f}" y="{y - 4:.1f}" font-size="11" '
                f'text-anchor="middle">{count}</text>'
            )
    axis_y = pad + height + 16
    for i in range(0, bins + 1, max(1, bins // 4)):
        parts.append(
            f'<text x="{pad + i * bar_w:.1f}" y="{axis_y}" font-size="11" text-anchor="middle">'
            f"{low + span * i / bins:.{0 if span >= 20 else 1}f}</text>"
        )
    parts.append(
        f'<text x="{width / 2}" y="{axis_y + 16}" font-size="11" text-anchor="middle">ms</text></svg>'
    )
    return "".join(parts)


def _question_rows(rows: Sequence[dict]) -> str:
    out = [
        "<table><tr><th>id</th><th>category</th><th>hit@k</th><th>MRR</th><th>key facts</th>"
        "<th>cit. prec.</th><th>faithful</th><th>abstained</th><th>ms</th><th>question and answer</th></tr>"
    ]
    for row in _ordered(rows):
        m = row["metrics"]
        failures = "".join(f'<span class="badge">{html.escape(f)}</span> ' for f in row.get("failures", []))
        retrieved = ", ".join(dict.fromkeys(row.get("retrieved_files", [])))
        detail = (
            f"<details><summary>{html.escape(row['user_input'])} {failures}</summary>"
            f"<p><b>Reference:</b> {html.escape(row.get('reference') or '–')}</p>"
            f"<p><b>Gold:</b> {html.escape(', '.join(row.get('gold_articles', [])) or '–')}; "
            f"<b>retrieved:</b> {html.escape(retrieved or '–')}</p>"
            f"<pre>{html.escape(row.get('response') or row.get('error') or '(empty)')}</pre></details>"
        )
        css = "fail" if row.get("failures") else "ok"
        out.append(
            f'<tr class="{css}"><td>{html.escape(row["id"])}</td><td>{html.escape(row["category"])}</td>'
            f"{_td(m.get('hit_at_k'))}{_td(m.get('mrr'))}{_td(m.get('key_fact_recall'))}"
            f"{_td(m.get('citation_precision'))}{_td(m.get('faithfulness'))}"
            f"<td>{'yes' if row.get('abstained') else 'no'}</td>"
            f"<td class=n>{row.get('latency_ms', 0):.0f}</td><td>{detail}</td></tr>"
        )
    out.append("</table>")
    return "\n".join(out)


def render_html(summary: dict, rows: Sequence[dict], config: dict) -> str:
    delta = summary.get("baseline_delta") or {}
    latencies = [float(r["latency_ms"]) for r in rows if r.get("latency_ms") is not None]
    regressions = delta.get("regressions")
    verdict = ""
    if delta:
        verdict = (
            f'<p class="down">Regressed beyond {delta["margin"]}: {html.escape(", ".join(regressions))}</p>'
            if regressions
            else f'<p class="up">No headline metric fell more than {delta["margin"]} below the baseline.</p>'
        )
    categories = "".join(
        f"<tr><td>{html.escape(name)}</td><td class=n>{c['questions']}</td><td class=n>{c['failed']}</td>"
        f"{_td(c.get('hit_at_k'))}{_td(c.get('key_fact_recall'))}"
        f"{_td(c.get('citation_precision'))}{_td(c.get('faithfulness'))}</tr>"
        for name, c in summary.get("by_category", {}).items()
    )
    p50, p95 = summary.get("latency_p50_ms"), summary.get("latency_p95_ms")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Evaluation report</title><style>{_STYLE}</style></head>
<body>
<h1>Evaluation report</h1>
<p class="meta">{html.escape(str(config.get("started_at", "")))} ·
commit {html.escape(str(config.get("git_commit") or "unknown"))} ·
dataset {html.escape(str(config.get("dataset", "")))} ({summary["questions"]} questions) ·
backend {html.escape(str(summary.get("backend")))} · k = {summary.get("k")} ·
failed {summary["failed"]} · errors {summary["errors"]}</p>
{verdict}
<h2>Metrics</h2>
{_bars(summary)}
<h2>Latency</h2>
<p>p50 {_fmt(p50, 0)} ms · p95 {_fmt(p95, 0)} ms{_latency_delta(delta)}</p>
{_histogram(latencies, bins=max(4, min(12, math.ceil(math.sqrt(len(latencies) or 1)) * 2)))}
{calibration.html_section(rows, config)}
<h2>By category</h2>
<table><tr><th>category</th><th>questions</th><th>failed</th><th>hit@k</th><th>key facts</th>
<th>citation precision</th><th>faithfulness</th></tr>{categories}</table>
<h2>Questions (failures first)</h2>
{_question_rows(rows)}
</body></html>
"""


def _latency_delta(delta: dict) -> str:
    metrics = delta.get("metrics", {})
    base50 = metrics.get("latency_p50_ms", {}).get("baseline")
    base95 = metrics.get("latency_p95_ms", {}).get("baseline")
    if base50 is None or base95 is None:
        return ""
    return f" (baseline p50 {base50:.0f} ms, p95 {base95:.0f} ms)"
