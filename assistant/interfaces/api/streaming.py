"""The one place the API reads ``Assistant.stream()`` for a chat completion.

With ``drafts=False`` (the default, ``api.stream_drafts``) the text streamed is the final answer's
text: a model's draft is held back until it is verified, so the ``[n]`` a client shows always match
the citations it receives. Extractive answers are complete before their first piece either way.

The local model is one model for every user. :func:`start_answer` admits a request to its queue
before any response is sent, so that a full queue is an HTTP 429 with ``Retry-After``, never a hang
and never a broken stream. :func:`relay` hands the events to the event loop and closes them however
the response ends; a client that goes away (:class:`EventStream`, :func:`unless_disconnected`)
therefore cancels its generation, waiting or writing.
"""

from __future__ import annotations

import re
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import anyio
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from assistant.errors import ModelBusyError
from assistant.interfaces.api.errors import busy_error
from assistant.interfaces.api.schemas import Quotes
from assistant.models import Answer, AnswerReady, Query, QuotesReady, StreamEvent, TextDelta

if TYPE_CHECKING:
    from assistant.core import Assistant

T = TypeVar("T")


@dataclass(frozen=True)
class Held:
    """A piece of a model's draft that is not streamed (``drafts=False``). It hands control back to
    the server between the model's pieces, so that a client gone away is noticed while it writes."""


HELD = Held()
ApiEvent = StreamEvent | Held
Events = Generator[ApiEvent, None, None]


def answer_events(assistant: Assistant, query: Query, drafts: bool = False) -> Events:
    """Quotes, queue places and text deltas, then exactly one AnswerReady. Errors surface on the
    first ``next()``; closing this closes the assistant's stream (and cancels its model)."""
    stream = assistant.stream(query)
    try:
        for event in stream:
            if isinstance(event, AnswerReady):
                if not drafts:
                    yield from (TextDelta(text=piece) for piece in text_pieces(event.answer.text))
                yield event
                return
            if not isinstance(event, TextDelta):
                yield event  # QuotesReady, Waiting
            elif not drafts:
                yield HELD
            elif event.text:
                yield event
        raise RuntimeError("the assistant's stream ended without an Answer")
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()


@dataclass
class StartedAnswer:
    """An answer whose first events are read (``head``): the request passed every check.

    Whoever serves it closes it at the end (:meth:`close`), whether or not its events were read: an
    admitted request holds its place in the model's queue until then.
    """

    head: list[ApiEvent]
    rest: Events

    def events(self) -> Events:
        """Every event; closing this closes the answer."""
        try:
            yield from self.head
            yield from self.rest
        finally:
            self.rest.close()

    def close(self) -> None:
        """Cancel the answer's generation, waiting or writing (not while a thread reads its events)."""
        self.rest.close()


def start_answer(
    assistant: Assistant, query: Query, admission: threading.Lock, drafts: bool = False
) -> StartedAnswer:
    """The answer, started, or the error to answer instead (a bad question, a full model queue).

    With the local backend its quotes come first; then, under ``admission`` (one per app), the
    model's queue is asked whether it takes one more request and the request joins it: between the
    two no other HTTP request can take the last place. A full queue is :class:`ApiError` 429 with
    ``Retry-After`` and the quotes, and the model is never asked. Blocks (call it on a worker thread).
    """
    events = answer_events(assistant, query, drafts)
    quotes: Answer | None = None
    try:
        head: list[ApiEvent] = [next(events)]
        if isinstance(head[0], QuotesReady):
            quotes = head[0].answer
            with admission:
                _admit(assistant)
                head.append(next(events))  # the request joins the queue (a Waiting), or the answer is ready
    except ModelBusyError as e:  # the pipeline let the model's refusal through
        events.close()
        raise busy_error(e, _quotes_extra(quotes)) from e
    except BaseException:
        events.close()
        raise
    return StartedAnswer(head, events)


def _admit(assistant: Assistant) -> None:
    """Raise ModelBusyError when the local model's queue would refuse one more request now."""
    model = assistant.local_model
    if model is not None:
        model.queue.leave(model.queue.enter())  # the queue's own rule; leaves at once


def _quotes_extra(quotes: Answer | None) -> dict[str, object] | None:
    return {"quotes": Quotes.of(quotes).model_dump(mode="json")} if quotes is not None else None


# -- from worker threads to the event loop, and back when the client goes away ---------------------


class _End:
    pass


_END = _End()


def _next(items: Iterator[T]) -> T | _End:
    return next(items, _END)


async def relay(items: Iterator[T | None]) -> AsyncIterator[T]:
    """``items``, each pulled on a worker thread (a ``next()`` may wait for the model), ``None`` ones
    skipped. However this ends (exhausted, failed, cancelled because the client went away) the items
    are closed, on the event loop, once no thread is inside them: that cancels the model's generation.
    """
    try:
        while not isinstance(item := await anyio.to_thread.run_sync(_next, items), _End):
            if item is not None:
                yield item
    finally:
        close = getattr(items, "close", None)
        if close is not None:
            close()


class EventStream(StreamingResponse):
    """Server-sent events that stop, and close their source, as soon as the client disconnects.

    Starlette listens for the disconnect only under ASGI 2.3 and older, and otherwise notices it
    when a write fails, which never happens while a held-back draft is written; this listens always.
    """

    def __init__(self, content: AsyncIterator[str], on_close: Callable[[], None] | None = None) -> None:
        super().__init__(
            content,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
        self.on_close = on_close  # called once the response is over, however it ended

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await unless_disconnected(receive, lambda: self.stream_response(send))
        finally:
            close = getattr(self.body_iterator, "aclose", None)
            if close is not None:
                with anyio.CancelScope(shield=True):
                    await close()
            if self.on_close is not None:  # the content may never have started (gone at once)
                self.on_close()


def _drain(started: StartedAnswer, gone: threading.Event) -> Answer | None:
    events = started.events()
    try:
        for event in events:
            if gone.is_set():
                return None
            if isinstance(event, AnswerReady):
                return event.answer
        return None
    finally:
        events.close()


async def final_answer(started: StartedAnswer, receive: Receive) -> Answer | None:
    """The answer, read on one worker thread, or None when the client disconnected first: the thread
    then stops at the answer's next event (a token, a new place in the queue) and closes it."""
    gone = threading.Event()
    answers: list[Answer | None] = []

    async def read() -> None:
        answers.append(await anyio.to_thread.run_sync(_drain, started, gone))

    try:
        done = await unless_disconnected(receive, read, on_disconnect=gone.set)
    finally:
        started.close()  # no thread reads it any more; a no-op once it is complete
    return answers[0] if done else None


async def unless_disconnected(
    receive: Receive, work: Callable[[], Awaitable[None]], on_disconnect: Callable[[], None] | None = None
) -> bool:
    """Run ``work`` to its end (True) unless the client disconnects first (False: ``on_disconnect()``
    is called, then ``work`` is cancelled). Errors of ``work`` are raised as they are; a failed write
    (the client gone) is False."""
    done = False
    failure: Exception | None = None

    async def run() -> None:
        nonlocal done, failure
        try:
            await work()
            done = True
        except OSError:  # a write to a client that went away (ASGI 2.4 servers)
            pass
        except Exception as e:
            failure = e
        finally:
            group.cancel_scope.cancel()

    async with anyio.create_task_group() as group:
        group.start_soon(run)
        while (await receive())["type"] != "http.disconnect":
            pass
        if on_disconnect is not None:
            on_disconnect()
        group.cancel_scope.cancel()
    if failure is not None:
        raise failure
    return done


_PIECE = re.compile(r"\S+\s*|\s+")


def text_pieces(text: str, size: int = 48) -> Iterator[str]:
    """A finished text in pieces of about ``size`` characters, cut after whitespace."""
    piece = ""
    for token in _PIECE.findall(text):
        piece += token
        if len(piece) >= size:
            yield piece
            piece = ""
    if piece:
        yield piece
