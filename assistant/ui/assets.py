"""The UI's stylesheet and its one script (citation links -> source cards).

Both are installed by the sources panel's ``js_on_load``, so an app built by :func:`build_app` looks
and behaves the same however it is launched.
"""

from __future__ import annotations

import json

CSS = """
.na-cite { font-weight: 600; text-decoration: none; color: #2563eb !important;
  cursor: pointer; padding: 0 1px; border-radius: 3px; }
.na-cite:hover { background: rgba(37, 99, 235, 0.12); text-decoration: underline; }
.na-abstain { border-left: 4px solid #d97706; background: rgba(217, 119, 6, 0.10);
  padding: 6px 10px; border-radius: 4px; font-style: italic; }
.na-error { border-left: 4px solid #dc2626; background: rgba(220, 38, 38, 0.10);
  padding: 6px 10px; border-radius: 4px; }
.na-sources-empty, .na-none { opacity: 0.7; font-style: italic; padding: 8px; }
.na-question { font-weight: 600; margin: 4px 0 8px; }
.na-source { border: 1px solid var(--border-color-primary, #ddd); border-radius: 8px;
  padding: 8px 10px; margin: 0 0 10px; transition: box-shadow 0.3s, border-color 0.3s; }
.na-source.na-active { border-color: #2563eb; box-shadow: 0 0 0 3px rgba(37, 99, 235, 0.35); }
.na-title { font-weight: 600; }
.na-num { color: #2563eb; }
.na-meta { font-size: 0.85em; opacity: 0.85; margin: 2px 0 6px; word-break: break-all; }
.na-inferred { color: #b45309; font-style: italic; }
.na-passage { margin: 0; padding: 4px 8px; border-left: 3px solid #94a3b8; font-size: 0.92em;
  white-space: pre-wrap; }
.na-passage mark { background: #fde68a; color: inherit; padding: 0 1px; }
.na-others summary, .na-earlier summary { cursor: pointer; margin: 6px 0; opacity: 0.85; }
.na-retrieved { opacity: 0.9; }
"""

_SCRIPT = """
if (!window.__naInstalled) {
  window.__naInstalled = true;
  const style = document.createElement('style');
  style.id = 'na-style';
  style.textContent = __CSS__;
  document.head.appendChild(style);
  document.addEventListener('click', function (event) {
    const link = event.target && event.target.closest
      ? event.target.closest('a.na-cite, a[href^="#src-"]') : null;
    if (!link) { return; }
    const target = link.getAttribute('data-target') || (link.getAttribute('href') || '').replace(/^#/, '');
    const card = document.getElementById(target);
    if (!card) { return; }
    event.preventDefault();
    event.stopPropagation();
    let folded = card.parentElement ? card.parentElement.closest('details') : null;
    while (folded) {
      folded.open = true;
      folded = folded.parentElement ? folded.parentElement.closest('details') : null;
    }
    document.querySelectorAll('.na-source.na-active').forEach(function (el) {
      el.classList.remove('na-active');
    });
    card.classList.add('na-active');
    card.scrollIntoView({behavior: 'smooth', block: 'center'});
  }, true);
}
"""

SCRIPT = _SCRIPT.replace("__CSS__", json.dumps(CSS))
