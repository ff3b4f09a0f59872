"""The Gradio app: Chat (with the sources panel), Library and Evaluation tabs, and named API endpoints.

The layout and its wiring live here; what each event does is a call into :class:`UIActions`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

from assistant.errors import AssistantError
from assistant.evaluation.runner import DEFAULT_DATASET, DEFAULT_OUT
from assistant.models import Answer
from assistant.sources import SUPPORTED_SUFFIXES
from assistant.ui import render
from assistant.ui.api import register_api
from assistant.ui.assets import SCRIPT
from assistant.ui.evaluation_view import METRIC_HEADERS, EvaluationView, chart_frame
from assistant.ui.handlers import UIActions, build_filters

if TYPE_CHECKING:
    from assistant.core import Assistant

logger = logging.getLogger(__name__)

EXAMPLE_QUESTIONS = [
    "What did Hamas demand?",
    "Who led the Israeli delegation to Doha in August 2020?",
    "Why were the Mossad negotiators called back from Qatar?",
    "How much money did Hamas ask Qatar for?",
]
UPLOAD_TYPES = sorted(SUPPORTED_SUFFIXES)
CHAT_CONCURRENCY = 4
_UNEXPECTED = "Something went wrong on the server while answering; the details are in the server log."


def _user_message(exc: Exception) -> str:
    if isinstance(exc, AssistantError):
        return str(exc) or type(exc).__name__
    logger.exception("UI request failed", exc_info=exc)
    return _UNEXPECTED


def build_app(
    assistant: Assistant,
    *,
    eval_dir: Path | None = None,
    eval_dataset: Path | None = None,
) -> gr.Blocks:
    """The web UI for one Assistant. Call ``.launch()`` on it, or use :func:`assistant.ui.launch`."""
    actions = UIActions(assistant)
    evaluation = EvaluationView(
        assistant,
        out_dir=eval_dir or DEFAULT_OUT,
        dataset=eval_dataset or DEFAULT_DATASET,
    )
    settings = assistant.settings

    with gr.Blocks(title="News Assistant", analytics_enabled=False) as demo:
        conversation = gr.State([])  # plain-text chat history handed to the assistant
        turns = gr.State([])  # rendered sources, one block per answer
        gr.Markdown(
            "## News Assistant\nAsk about the articles in your library. Every claim links to the "
            "passage it comes from; the assistant says so when the articles do not answer."
        )
        with gr.Tabs():
            with gr.Tab("Chat", id="chat"), gr.Row(equal_height=False):
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

            with gr.Tab("Library", id="library"):
                counts = gr.Markdown(elem_id="library-counts")
                with gr.Row(equal_height=False):
                    with gr.Column(scale=2):
                        files = gr.File(
                            label=(
                                f"Upload articles ({', '.join(UPLOAD_TYPES)}; at most "
                                f"{settings.ui.max_upload_mb:g} MB each)"
                            ),
                            file_count="multiple",
                            file_types=UPLOAD_TYPES,
                            elem_id="upload-files",
                        )
                        add = gr.Button("Add to library", variant="primary", elem_id="add-button")
                    with gr.Column(scale=3):
                        results = gr.DataFrame(
                            headers=render.UPLOAD_HEADERS,
                            label="Upload results",
                            interactive=False,
                            elem_id="upload-results",
                            wrap=True,
                        )
                library = gr.DataFrame(
                    headers=render.LIBRARY_HEADERS,
                    label="Articles (select a row to pick it for deletion)",
                    interactive=False,
                    elem_id="library-table",
                    wrap=True,
                    column_widths=["12%", "32%", "14%", "12%", "8%", "14%", "8%"],
                )
                with gr.Row():
                    to_delete = gr.Dropdown(label="Article", choices=[], elem_id="delete-choice", scale=4)
                    delete = gr.Button("Delete article", variant="stop", elem_id="delete-button", scale=1)
                library_status = gr.Markdown(elem_id="library-status")

            with gr.Tab("Evaluation", id="evaluation") as eval_tab:
                eval_status = gr.Markdown(elem_id="eval-status")
                with gr.Row():
                    eval_table = gr.DataFrame(
                        headers=METRIC_HEADERS, label="Metrics", interactive=False, elem_id="eval-table"
                    )
                    eval_chart = gr.BarPlot(
                        chart_frame({}),
                        x="metric",
                        y="value",
                        y_lim=[0, 1],
                        label="Scores (0\u20131)",
                        x_label_angle=-30,
                        elem_id="eval-chart",
                    )
                run_eval = gr.Button("Run on the sample set", elem_id="run-eval")
                eval_report = gr.HTML(elem_id="eval-report")

        # -- chat ---------------------------------------------------------------------------------

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
        ) -> Iterator[tuple[Any, ...]]:
            text = (message or "").strip()
            if not text:
                yield gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
                return
            chat = [*chat, {"role": "user", "content": render.esc(text)}]
            chat.append({"role": "assistant", "content": render.streaming_markdown("")})
            yield chat, "", gr.skip(), gr.skip(), gr.skip()
            answer: Answer | None = None
            partial = ""
            try:
                filters = build_filters(since_value, until_value, outlet_values)
                chosen = backend_value if actions.llm_configured() else None
                for piece in actions.stream_answer(text, list(history), filters, int(k_value), chosen):
                    if isinstance(piece, Answer):
                        answer = piece
                    else:
                        partial += piece
                        chat[-1] = {"role": "assistant", "content": render.streaming_markdown(partial)}
                        yield chat, gr.skip(), gr.skip(), gr.skip(), gr.skip()
                if answer is None:
                    raise AssistantError("The assistant finished without an answer.")
            except Exception as e:  # shown to the user; the traceback goes to the log only
                chat[-1] = {"role": "assistant", "content": render.error_markdown(_user_message(e))}
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

        chat_inputs = [question, chatbot, conversation, turns, since, until, outlets, k, backend]
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

        new_chat.click(
            reset, None, [chatbot, conversation, turns, sources, question], api_visibility="private"
        )
        chatbot.clear(
            reset, None, [chatbot, conversation, turns, sources, question], api_visibility="private"
        )

        # -- library ------------------------------------------------------------------------------

        def refresh_library() -> tuple[Any, ...]:
            return (
                render.counts_markdown(actions.stats()),
                actions.library_rows(),
                gr.update(choices=actions.article_choices(), value=None),
                gr.update(choices=actions.outlets()),
            )

        library_outputs = [counts, library, to_delete, outlets]

        def upload(paths: list[str] | None, progress: gr.Progress = gr.Progress()) -> list[list[Any]]:  # noqa: B008
            """Add uploaded article files to the library; one result row per file."""
            if not paths:
                raise gr.Error("Choose one or more article files first.")
            progress(0, desc="Storing uploads")

            def on_file(done: int, total: int, path: str) -> None:
                progress((done, total), desc=f"Ingested {Path(path).name}", unit="files")

            try:
                return actions.upload(list(paths), on_file=on_file)
            except Exception as e:
                raise gr.Error(_user_message(e)) from e

        add.click(
            upload, files, results, api_name="upload", concurrency_id="library", concurrency_limit=1
        ).then(refresh_library, None, library_outputs, api_visibility="private").then(
            lambda: None, None, files, api_visibility="private"
        )

        def pick_row(event: gr.SelectData) -> Any:
            row = event.row_value or []
            return gr.update(value=row[0]) if row else gr.skip()

        library.select(pick_row, None, to_delete, api_visibility="private")

        def delete_article(article_id: str | None) -> str:
            if not article_id:
                return "Pick an article to delete first."
            try:
                return actions.delete(article_id)
            except Exception as e:
                return f"\u26a0\ufe0f {_user_message(e)}"

        delete.click(
            delete_article, to_delete, library_status, api_visibility="private", concurrency_id="library"
        ).then(refresh_library, None, library_outputs, api_visibility="private")

        demo.load(refresh_library, None, library_outputs, api_visibility="private")

        # -- evaluation ---------------------------------------------------------------------------

        eval_outputs = [eval_status, eval_table, eval_chart, eval_report]
        eval_tab.select(evaluation.load, None, eval_outputs, api_visibility="private")

        def run_evaluation(progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:  # noqa: B008
            progress(0, desc="Preparing the sample library")

            def report(done: int, total: int) -> None:
                progress((done, total), desc="Evaluating", unit="questions")

            try:
                evaluation.run(progress=report)
            except Exception as e:
                raise gr.Error(f"The evaluation failed: {_user_message(e)}") from e
            return evaluation.load()

        run_eval.click(
            run_evaluation,
            None,
            eval_outputs,
            api_visibility="private",
            concurrency_id="evaluation",
            concurrency_limit=1,
        )

        # -- named API endpoints ------------------------------------------------------------------
        register_api(actions)

    demo.queue(default_concurrency_limit=CHAT_CONCURRENCY, max_size=256)
    return demo
