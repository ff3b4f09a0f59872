"""The UI's stylesheet and its script: citation links -> source cards, and keeping the top of a
two-beat answer (the local model's status and answer, above its quotes) in view.

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
.na-status { font-size: 0.9em; opacity: 0.85; font-style: italic; margin-bottom: 2px; }
.na-stopped { font-style: normal; opacity: 1; border-left: 4px solid #64748b;
  background: rgba(100, 116, 139, 0.10); padding: 4px 10px; border-radius: 4px; }
.na-quotes { border-top: 1px dashed var(--border-color-primary, #cbd5e1); margin-top: 10px;
  padding-top: 6px; }
.na-quotes-head, .na-group { font-size: 0.85em; font-weight: 600; letter-spacing: 0.02em;
  opacity: 0.7; margin: 2px 0 6px; }
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
  // A local answer's status line and the model's answer sit above its quotes: from the moment the
  // quotes of a new answer arrive, the chat keeps that answer's top in view (it would follow its
  // bottom), until the user scrolls or asks again.
  let anchored = 0;
  let pinned = null;
  const lastBot = function () {
    const bots = document.querySelectorAll('#chatbot [data-testid="bot"]');
    return [bots.length, bots[bots.length - 1]];
  };
  const keepTop = function () {
    if (!pinned) { return; }
    const [count, last] = lastBot();
    if (!last || count !== anchored || !pinned.isConnected) { pinned = null; return; }
    const asked = document.querySelectorAll('#chatbot [data-testid="user"]');
    const top = asked.length ? asked[asked.length - 1] : last;  // the question, then its answer
    const delta = top.getBoundingClientRect().top - pinned.getBoundingClientRect().top - 36;
    if (Math.abs(delta) > 1) { pinned.scrollTop += delta; }
  };
  const release = function () { pinned = null; };
  new MutationObserver(function () {
    const chat = document.getElementById('chatbot');
    if (!chat) { return; }
    const [count, last] = lastBot();
    if (count < anchored) { anchored = 0; }
    if (last && count !== anchored && last.querySelector('.na-quotes')) {
      anchored = count;
      let box = last.parentElement;
      while (box && box !== chat && !/(auto|scroll)/.test(getComputedStyle(box).overflowY)) {
        box = box.parentElement;
      }
      pinned = box && box !== chat ? box : null;
      if (pinned && !pinned.__naWatched) {
        pinned.__naWatched = true;
        pinned.addEventListener('scroll', keepTop);
      }
      if (!chat.__naWatched) {
        chat.__naWatched = true;
        ['wheel', 'touchstart', 'keydown', 'mousedown'].forEach(function (type) {
          chat.addEventListener(type, release, {passive: true});
        });
      }
    }
    requestAnimationFrame(keepTop);
  }).observe(document.body, {childList: true, subtree: true});
}
"""

SCRIPT = _SCRIPT.replace("__CSS__", json.dumps(CSS))
