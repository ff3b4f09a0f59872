"""The Evaluation tab: the latest report's metrics, a chart, the report itself, and a run button."""

from __future__ import annotations

from typing import Any

import gradio as gr

from assistant.interfaces.ui.evaluation_view import METRIC_HEADERS, EvaluationView, chart_frame
from assistant.interfaces.ui.handlers import user_message


def build_evaluation_tab(evaluation: EvaluationView) -> None:
    """Lay out and wire the Evaluation tab (inside ``gr.Blocks``)."""
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

    eval_outputs = [eval_status, eval_table, eval_chart, eval_report]
    eval_tab.select(evaluation.load, None, eval_outputs, api_visibility="private")

    def run_evaluation(progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:  # noqa: B008
        progress(0, desc="Preparing the sample library")

        def report(done: int, total: int) -> None:
            progress((done, total), desc="Evaluating", unit="questions")

        try:
            evaluation.run(progress=report)
        except Exception as e:
            raise gr.Error(f"The evaluation failed: {user_message(e)}") from e
        return evaluation.load()

    run_eval.click(
        run_evaluation,
        None,
        eval_outputs,
        api_visibility="private",
        concurrency_id="evaluation",
        concurrency_limit=1,
    )
