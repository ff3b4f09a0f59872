"""The Chat tab: the conversation, the question box, filters and settings, and the sources panel.

With the local backend an answer comes in two beats: the composer's quotes at once, then the model's
short answer above them. While the model is pending the message shows a status line (its place in
the queue, or "writing" with the seconds it has taken, redrawn every second) and a Stop button
cancels the answer: Gradio closes the ``respond`` generator, which closes the assistant's stream,
which cancels the model's generation; the message keeps the quotes.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import gradio as gr

from assistant.config import Settings
from assistant.interfaces.ui import render
from assistant.interfaces.ui.assets import SCRIPT
from assistant.interfaces.ui.handlers import UIActions, build_query, user_message, with_ticks
from assistant.models import Answer, AnswerReady, QuotesReady, TextDelta, Waiting

EXAMPLE_QUESTIONS = [
    "What did Hamas demand?",
    "Who led the Israeli delegation to Doha in August 2020?",
    "Why were the Mossad negotiators called back from Qatar?",
    "How much money did Hamas ask Qatar for?",
]
CHAT_CONCURRENCY = 4


@dataclass
class PendingView:
    """What the chat shows of one answer while it is written."""

    turn: int
    quotes: Answer | None = None  # the composer's quotes (backend "local"), once they came
    ahead: int | None = None  # requests ahead of this one in the local model's queue
    partial: str = ""  # the text written so far
    local: bool = False  # the local model answers: show the status line and the quotes
    started: float = field(default_factory=time.monotonic)  # when the model started on it

    def see(self, event: QuotesReady | Waiting | TextDelta) -> None:
        if isinstance(event, QuotesReady):
            self.quotes, self.local, self.started = event.answer, True, time.monotonic()
        elif isinstance(event, Waiting):
            if event.position == 0 and self.ahead:  # its turn came: the clock starts now
                self.started = time.monotonic()
            self.ahead, self.local = event.position, True
        else:
            self.partial += event.text

    def markdown(self) -> str:
        if not self.local:
            return render.streaming_markdown(self.partial)
        if self.ahead:
            status = render.waiting_status(self.ahead)
        else:
            status = render.writing_status(time.monotonic() - self.started)
        return render.pending_markdown(status, self.partial, self.quotes, self.turn)


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
        # the answer being written: {"turn", "question", "quotes", "final"} (for the Stop button)
        pending = gr.State(None)
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
                stop = gr.Button("Stop", variant="stop", scale=1, visible=False, elem_id="stop-button")
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
                    actions.backend_choices(),
                    value=actions.default_backend(),
                    label="Answer backend",
                    elem_id="backend",
                )
        with gr.Column(scale=2):
            gr.Markdown("### Sources")
            sources = gr.HTML(
                render.EMPTY_SOURCES, elem_id="sources-panel", js_on_load=SCRIPT, max_height=760
            )

    skip_all = (gr.skip(),) * 7  # as many as chat_outputs

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
            yield skip_all
            return
        turn = len(panels) + 1
        chat = [*chat, {"role": "user", "content": render.esc(text)}]
        chat.append({"role": "assistant", "content": render.streaming_markdown("")})
        state: dict[str, Any] = {"turn": turn, "question": text, "quotes": None, "final": None}
        view = PendingView(turn)
        hidden = gr.Button(visible=False)
        try:
            chosen = backend_value if backend_value in actions.backend_choices() else None
            query = build_query(
                text, history, since_value, until_value, outlet_values, k_value, chosen, as_of_value
            )
            stoppable = gr.Button(visible=True) if actions.writes_with_model(query) else gr.skip()
            yield chat, "", gr.skip(), gr.skip(), gr.skip(), state, stoppable
            shown = chat[-1]["content"]
            with contextlib.closing(with_ticks(actions.stream_answer(query))) as events:
                for event in events:
                    if isinstance(event, AnswerReady):
                        answer = event.answer
                        break
                    sources: Any = gr.skip()
                    if event is not None:
                        view.see(event)
                    if isinstance(event, QuotesReady):
                        state = {**state, "quotes": event.answer}
                        quoted = render.quotes_sources_html(event.answer, turn)
                        sources = render.sources_panel([*panels, quoted])
                    content = view.markdown()
                    if content == shown and event is None:
                        yield skip_all  # a tick with nothing to redraw: still a point to stop at
                        continue
                    shown = content
                    chat[-1] = {"role": "assistant", "content": content}
                    yield chat, gr.skip(), sources, gr.skip(), gr.skip(), state, gr.skip()
                else:
                    raise RuntimeError("the answer stream ended without an answer")
        except Exception as e:  # shown to the user; the traceback goes to the log only
            chat[-1] = {"role": "assistant", "content": render.error_markdown(user_message(e))}
            state = {**state, "final": chat[-1]["content"]}
            yield chat, "", render.sources_panel(panels), gr.skip(), gr.skip(), state, hidden
            return
        chat[-1] = {"role": "assistant", "content": render.answer_markdown(answer, turn)}
        state = {**state, "final": chat[-1]["content"]}
        panels = [*panels, render.sources_html(answer, turn)]
        history = [
            *history,
            {"role": "user", "content": text},
            {"role": "assistant", "content": answer.text},
        ]
        yield chat, gr.skip(), render.sources_panel(panels), history, panels, state, hidden

    chat_inputs = [question, chatbot, conversation, turns, since, until, outlets, k, backend, as_of]
    chat_outputs = [chatbot, question, sources, conversation, turns, pending, stop]
    chat_options: dict[str, Any] = {
        "api_visibility": "private",
        "concurrency_id": "chat",
        "concurrency_limit": CHAT_CONCURRENCY,
        "show_progress": "hidden",
    }
    asked: list[dict[str, Any]] = [  # the events that answer a question (Stop cancels them)
        send.click(respond, chat_inputs, chat_outputs, **chat_options),
        question.submit(respond, chat_inputs, chat_outputs, **chat_options),
    ]

    def stop_answer(
        chat: list[dict[str, Any]],
        history: list[dict[str, str]],
        panels: list[str],
        state: dict[str, Any] | None,
    ) -> tuple[Any, ...]:
        """Stop the answer being written (its event is cancelled alongside): keep the quotes."""
        hidden = gr.Button(visible=False)
        if not state or not chat or chat[-1].get("role") != "assistant":
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), hidden
        if state.get("final") is not None:  # it had just finished: show it as it ended
            chat = [*chat[:-1], {"role": "assistant", "content": state["final"]}]
            return chat, render.sources_panel(panels), gr.skip(), gr.skip(), gr.skip(), hidden
        turn, quotes = state["turn"], state.get("quotes")
        content = render.stopped_markdown(quotes, turn)
        chat = [*chat[:-1], {"role": "assistant", "content": content}]
        if quotes is not None:
            panels = [*panels, render.quotes_sources_html(quotes, turn)]
            history = [
                *history,
                {"role": "user", "content": state["question"]},
                {"role": "assistant", "content": quotes.text},
            ]
        state = {**state, "final": content}
        return chat, render.sources_panel(panels), history, panels, state, hidden

    def pick_example(event: gr.SelectData) -> str:
        value = event.value
        return str(value.get("text", "")) if isinstance(value, dict) else str(value)

    asked.append(
        chatbot.example_select(pick_example, None, question, api_visibility="private").then(
            respond, chat_inputs, chat_outputs, **chat_options
        )
    )
    stop.click(
        stop_answer,
        [chatbot, conversation, turns, pending],
        [chatbot, sources, conversation, turns, pending, stop],
        cancels=asked,
        api_visibility="private",
        concurrency_id="stop",
        concurrency_limit=None,
        show_progress="hidden",
    )

    def reset() -> tuple[Any, ...]:
        return [], [], [], render.EMPTY_SOURCES, "", None, gr.Button(visible=False)

    cleared = [chatbot, conversation, turns, sources, question, pending, stop]
    # a new conversation stops the answer being written, if any
    new_chat.click(reset, None, cleared, api_visibility="private", cancels=asked)
    chatbot.clear(reset, None, cleared, api_visibility="private", cancels=asked)
    return LibraryBound(outlets=outlets, as_of=as_of)
