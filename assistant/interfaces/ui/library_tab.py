"""The Library tab: upload articles, see them, delete one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr

from assistant.config import Settings
from assistant.interfaces.ui import render
from assistant.interfaces.ui.handlers import UIActions, user_message
from assistant.library.sources import SUPPORTED_SUFFIXES

UPLOAD_TYPES = sorted(SUPPORTED_SUFFIXES)


def build_library_tab(demo: gr.Blocks, actions: UIActions, settings: Settings, outlets: gr.Dropdown) -> None:
    """Lay out and wire the Library tab (inside ``demo``); ``outlets`` (Chat tab) follows the library."""
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
            raise gr.Error(user_message(e)) from e

    add.click(upload, files, results, api_name="upload", concurrency_id="library", concurrency_limit=1).then(
        refresh_library, None, library_outputs, api_visibility="private"
    ).then(lambda: None, None, files, api_visibility="private")

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
            return f"\u26a0\ufe0f {user_message(e)}"

    delete.click(
        delete_article, to_delete, library_status, api_visibility="private", concurrency_id="library"
    ).then(refresh_library, None, library_outputs, api_visibility="private")

    demo.load(refresh_library, None, library_outputs, api_visibility="private")
