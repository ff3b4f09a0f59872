"""What the UI's events do: thin calls into :class:`~assistant.core.Assistant`, shaped for Gradio.

No answering, retrieval or ingestion logic lives here; errors become messages a user can read.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from assistant.errors import AssistantError, QueryError
from assistant.interfaces.ui import render
from assistant.interfaces.uploads import UploadRejected, remove_stored, store_upload
from assistant.models import BACKENDS, Answer, Filters, Query, StreamEvent

if TYPE_CHECKING:
    from assistant.core import Assistant

logger = logging.getLogger(__name__)

ChatMessages = list[dict[str, Any]]
UNEXPECTED = "Something went wrong on the server; the details are in the server log."
Progress = Callable[[int, int, str], None]
TICK_SECONDS = 1.0  # a pending answer's status line is redrawn at least this often
_END = object()


class InputError(QueryError):
    """A value typed into the UI is not usable; the message says what is expected."""


def parse_date(value: object, label: str) -> dt.date | None:
    """A date from a text box, a date picker (string) or a timestamp; blank means no limit."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return dt.datetime.fromtimestamp(float(value), tz=dt.UTC).date()
    text = str(value).strip()
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError as e:
        raise InputError(f"{label} must be a date like 2020-08-24, not {text!r}.") from e


def build_filters(since: object, until: object, sources: list[str] | None) -> Filters:
    """Filters from the UI's fields; their order is checked with the rest of the question by Query."""
    start, end = parse_date(since, "'From' date"), parse_date(until, "'To' date")
    return Filters(since=start, until=end, sources=list(sources or []))


def build_query(
    question: str,
    history: list[dict[str, Any]] | None = None,
    since: object = None,
    until: object = None,
    outlets: list[str] | None = None,
    k: float | None = None,
    backend: str | None = None,
    as_of: object = None,
) -> Query:
    """The Query of one chat message or API call; blanks and 0 mean "the default"."""
    return Query.of(
        question,
        history=[m for m in history or [] if isinstance(m, dict)],
        filters=build_filters(since, until, outlets),
        k=int(k) if k else None,
        backend=backend or None,
        as_of=parse_date(as_of, "'As of' date"),
    )


def user_message(exc: Exception) -> str:
    """What a user is told about an exception: our own message, or that the server log has details."""
    if isinstance(exc, AssistantError):
        return str(exc) or type(exc).__name__
    logger.exception("UI request failed", exc_info=exc)
    return UNEXPECTED


def message_text(content: object) -> str:
    """Plain text of a chat message's content (a string or Gradio's list of parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(message_text(part) for part in content)
    if isinstance(content, dict):
        return str(content.get("text") or content.get("content") or "")
    return ""


def with_ticks(
    events: Iterator[StreamEvent], interval: float = TICK_SECONDS
) -> Generator[StreamEvent | None, None, None]:
    """The stream's events, and ``None`` (a tick) whenever ``interval`` seconds pass without one.

    The stream is read on a thread of its own, so a caller is never blocked longer than ``interval``:
    it can redraw a clock while the model reads its prompt or waits its turn, and it can be closed
    (Gradio closes a cancelled or abandoned event's generator) without waiting for the next token.
    Closing this generator closes the stream as soon as its thread gets control back, which at the
    latest is its next event; closing the assistant's stream cancels the model's generation.
    Exceptions of the stream are raised here, in the caller's thread.
    """
    items: queue.SimpleQueue[object] = queue.SimpleQueue()
    stop = threading.Event()

    def pump() -> None:
        try:
            for event in events:
                if stop.is_set():
                    break
                items.put(event)
                if stop.is_set():
                    break
        except BaseException as e:  # handed to the caller's thread
            items.put(e)
        finally:
            close = getattr(events, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:  # pragma: no cover - a stream that fails while closing
                    logger.exception("closing an answer stream failed")
            items.put(_END)

    threading.Thread(target=pump, name="ui-answer", daemon=True).start()
    try:
        while True:
            try:
                item = items.get(timeout=interval)
            except queue.Empty:
                yield None
                continue
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield cast(StreamEvent, item)
    finally:
        stop.set()


class UIActions:
    """The UI's view of one Assistant."""

    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant
        self.uploads_dir = Path(assistant.settings.data_dir) / "uploads"
        ui_settings = assistant.settings.ui
        self.max_upload_bytes = int(ui_settings.max_upload_mb * 1_000_000)

    # -- chat -----------------------------------------------------------------------------------

    def llm_configured(self) -> bool:
        llm = self.assistant.settings.llm
        return bool(llm.base_url or llm.resolved_api_key())

    def default_backend(self) -> str:
        return self.assistant.settings.llm.backend

    def backend_choices(self) -> list[str]:
        """The backends offered: extractive and local always, openai when a server or key is set
        (or when it is the default, so that the default is a choice)."""
        offered = {"extractive", "local", self.default_backend()}
        if self.llm_configured():
            offered.add("openai")
        return [backend for backend in BACKENDS if backend in offered]

    def writes_with_model(self, query: Query) -> bool:
        """Whether a model writes this question's answer (it can then take a while and be stopped)."""
        return (query.backend or self.default_backend()) != "extractive"

    def default_as_of(self) -> str:
        return self.assistant.default_as_of().isoformat()

    def stream_answer(self, query: Query) -> Iterator[StreamEvent]:
        """Text deltas, then the final Answer (the assistant's own stream)."""
        return self.assistant.stream(query)

    def ask(self, query: Query) -> Answer:
        return self.assistant.ask(query)

    def outlets(self) -> list[str]:
        return sorted(self.assistant.sources(), key=str.lower)

    # -- library --------------------------------------------------------------------------------

    def library_rows(self) -> list[list[Any]]:
        return render.library_rows(self.assistant.articles())

    def article_choices(self) -> list[tuple[str, str]]:
        return render.article_choices(self.assistant.articles())

    def stats(self) -> dict[str, int]:
        return dict(self.assistant.stats())

    def upload(self, files: list[str], on_file: Progress | None = None) -> list[list[Any]]:
        """Copy each upload to the data directory and ingest the copies; one result row per file."""
        rows: dict[int, list[Any]] = {}
        stored: dict[Path, tuple[int, str]] = {}
        for index, name in enumerate(files):
            client_name = Path(name).name
            try:
                copy = store_upload(Path(name), client_name, self.uploads_dir, self.max_upload_bytes)
            except UploadRejected as e:
                rows[index] = render.upload_row(client_name, None, str(e))
                continue
            except OSError as e:
                logger.warning("could not store upload %s: %s", client_name, e)
                rows[index] = render.upload_row(client_name, None, "could not be stored on the server")
                continue
            stored[copy.path] = (index, copy.display_name)
        if stored:
            report = self.assistant.ingest(list(stored), on_file=on_file)
            by_path = {Path(result.path).resolve(): result for result in report.files}
            for path, (index, display) in stored.items():
                result = by_path.get(path)
                rows[index] = render.upload_row(display, result, "" if result else "not reported by ingest")
        return [rows[i] for i in sorted(rows)]

    def delete(self, article_id: str) -> str:
        article = self.assistant.article(article_id)
        self.assistant.delete(article_id)
        still_used = any(a.path == article.path for a in self.assistant.articles())
        if article.path and not still_used:
            remove_stored(article.path, self.uploads_dir)
        return f"Deleted \u201c{article.title or article_id}\u201d."
