"""The Chat tab: the conversation, the question box, filters and settings, and the sources panel."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import gradio as gr

from assistant.config import Settings
from assistant.models import AnswerReady
from assistant.ui import render
from assistant.ui.assets import SCRIPT
from assistant.ui.handlers import UIActions, build_query, user_message

EXAMPLE_QUESTIONS = [
    "What did Hamas demand?",
    "Who led the Israeli delegation to Doha in August 2020?",
    "Why were the Mossad negotiators called back from Qatar?",
    "How much money did Hamas ask Qatar for?",
]
CHAT_CONCURRENCY = 4


@dataclass
class LibraryBound:
    """Chat-tab fields whose choices or default follow the library."""

    outlets: gr.Dropdown
    as_of: gr.DateTime


def build_chat_tab(actions: UIActions, settings: Settings) -> LibraryBound:
    """Lay out and wire the Chat tab (inside ``gr.Blocks``)."""
    with gr.Tab("Chat", id="chat"), gr.Row(equal_height=False):
        conversation = gr.State([])  # plain-text chat history handed to the assistant
        turns = gr.State([])  # rendered sources, one block per answer
        with gr.Column(scale=3):
            chatbot = gr.Chatbot(
                label="Conversation",
                elem_id="chatbot",
                height=540,
                placeholder="**Ask a question about your articles**, or pick an example.",
                examples=[{"text": q} for q in EXAMPLE_QUESTIONS],
                feedback_options=None,
                buttons=["copy"],
            )
            with gr.Row():
                question = gr.Textbox(
                    placeholder="Ask about your articles\u2026",
                    show_label=False,
                    scale=6,
                    elem_id="question",
                    max_lines=4,
                )
                send = gr.Button("Ask", variant="primary", scale=1, elem_id="ask-button")
            new_chat = gr.Button("New conversation", size="sm", elem_id="new-chat")
            with gr.Accordion("Filters and settings", open=False, elem_id="filters"):
                with gr.Row():
                    since = gr.DateTime(
                        label="Published from", include_time=False, type="string", elem_id="since"
                    )
                    until = gr.DateTime(
                        label="Published until", include_time=False, type="string", elem_id="until"
                    )
                    as_of = gr.DateTime(
                        label="As of (the day you ask on; empty: the newest article's date)",
                        value=actions.default_as_of(),
                        include_time=False,
                        type="string",
                        elem_id="as-of",
                    )
                outlets = gr.Dropdown(
                    label="Outlets (none selected: all)",
                    multiselect=True,
                    choices=actions.outlets(),
                    elem_id="outlets",
                )
                k = gr.Slider(
                    1, 20, value=settings.retrieval.k, step=1, label="Passages retrieved", elem_id="k"
                )
                backend = gr.Radio(
                    ["extractive", "openai"],
                    value=actions.default_backend(),
                    label="Answer backend",
                    visible=actions.llm_configured(),
                    elem_id="backend",
                )
        with gr.Column(scale=2):
            gr.Markdown("### Sources")
            sources = gr.HTML(
                render.EMPTY_SOURCES, elem_id="sources-panel", js_on_load=SCRIPT, max_height=760
            )

    def respond(
        message: str,
        chat: list[dict[str, Any]],
        history: list[dict[str, str]],
        panels: list[str],
        since_value: Any,
        until_value: Any,
        outlet_values: list[str] | None,
        k_value: float,
        backend_value: str | None,
        as_of_value: Any,
    ) -> Iterator[tuple[Any, ...]]:
        text = (message or "").strip()
        if not text:
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        chat = [*chat, {"role": "user", "content": render.esc(text)}]
        chat.append({"role": "assistant", "content": render.streaming_markdown("")})
        yield chat, "", gr.skip(), gr.skip(), gr.skip()
        partial = ""
        try:
            chosen = backend_value if actions.llm_configured() else None
            query = build_query(
                text, history, since_value, until_value, outlet_values, k_value, chosen, as_of_value
            )
            for event in actions.stream_answer(query):
                if isinstance(event, AnswerReady):
                    answer = event.answer
                    break
                partial += event.text
                chat[-1] = {"role": "assistant", "content": render.streaming_markdown(partial)}
                yield chat, gr.skip(), gr.skip(), gr.skip(), gr.skip()
        except Exception as e:  # shown to the user; the traceback goes to the log only
            chat[-1] = {"role": "assistant", "content": render.error_markdown(user_message(e))}
            yield chat, gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        turn = len(panels) + 1
        chat[-1] = {"role": "assistant", "content": render.answer_markdown(answer, turn)}
        panels = [*panels, render.sources_html(answer, turn)]
        history = [
            *history,
            {"role": "user", "content": text},
            {"role": "assistant", "content": answer.text},
        ]
        yield chat, gr.skip(), render.sources_panel(panels), history, panels

    chat_inputs = [question, chatbot, conversation, turns, since, until, outlets, k, backend, as_of]
    chat_outputs = [chatbot, question, sources, conversation, turns]
    chat_options: dict[str, Any] = {
        "api_visibility": "private",
        "concurrency_id": "chat",
        "concurrency_limit": CHAT_CONCURRENCY,
        "show_progress": "hidden",
    }
    send.click(respond, chat_inputs, chat_outputs, **chat_options)
    question.submit(respond, chat_inputs, chat_outputs, **chat_options)

    def pick_example(event: gr.SelectData) -> str:
        value = event.value
        return str(value.get("text", "")) if isinstance(value, dict) else str(value)

    chatbot.example_select(pick_example, None, question, api_visibility="private").then(
        respond, chat_inputs, chat_outputs, **chat_options
    )

    def reset() -> tuple[Any, ...]:
        return [], [], [], render.EMPTY_SOURCES, ""

    cleared = [chatbot, conversation, turns, sources, question]
    new_chat.click(reset, None, cleared, api_visibility="private")
    chatbot.clear(reset, None, cleared, api_visibility="private")
    return LibraryBound(outlets=outlets, as_of=as_of)
