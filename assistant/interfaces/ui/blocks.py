"""The Gradio app: Chat (with the sources panel), Library and Evaluation tabs, and named API endpoints.

Each tab is laid out and wired by its own module; what each event does is a call into
:class:`~assistant.interfaces.ui.handlers.UIActions`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import gradio as gr

from assistant.evaluation.defaults import DEFAULT_DATASET, DEFAULT_OUT
from assistant.interfaces.ui.api import register_api
from assistant.interfaces.ui.chat_tab import CHAT_CONCURRENCY, build_chat_tab
from assistant.interfaces.ui.evaluation_tab import build_evaluation_tab
from assistant.interfaces.ui.evaluation_view import EvaluationView
from assistant.interfaces.ui.handlers import UIActions
from assistant.interfaces.ui.library_tab import build_library_tab

if TYPE_CHECKING:
    from assistant.core import Assistant


def build_app(
    assistant: Assistant,
    *,
    eval_dir: Path | None = None,
    eval_dataset: Path | None = None,
) -> gr.Blocks:
    """The web UI for one Assistant. Call ``.launch()`` on it, or serve it with
    :func:`assistant.interfaces.serve.launch`."""
    actions = UIActions(assistant)
    evaluation = EvaluationView(
        assistant,
        out_dir=eval_dir or DEFAULT_OUT,
        dataset=eval_dataset or DEFAULT_DATASET,
    )
    with gr.Blocks(title="News Assistant", analytics_enabled=False) as demo:
        gr.Markdown(
            "## News Assistant\nAsk about the articles in your library. Every claim links to the "
            "passage it comes from; the assistant says so when the articles do not answer."
        )
        with gr.Tabs():
            bound = build_chat_tab(actions, assistant.settings)
            build_library_tab(demo, actions, assistant.settings, bound.outlets)
            build_evaluation_tab(evaluation)
        # A page opened after new articles arrived asks "as of" the newest of them.
        demo.load(actions.default_as_of, None, bound.as_of, api_visibility="private")
        register_api(actions)
    demo.queue(default_concurrency_limit=CHAT_CONCURRENCY, max_size=256)
    return demo
