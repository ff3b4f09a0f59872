"""A scripted OpenAI-compatible chat server for tests, on 127.0.0.1 in a background thread.

    with ScriptedLLMServer() as server:
        server.reply("Hamas asked for money [1].")         # next request gets this text
        server.fail(429)                                    # ... or an HTTP error
        server.reply("late", delay=5)                       # ... or a slow reply
        settings.llm.base_url = server.url                  # http://127.0.0.1:PORT/v1
        ...
        server.requests[0]["messages"]                      # what the client sent
        server.reply("Qatar [1]", logprob=-0.1)             # each streamed piece's log-probability,
                                                            # when the request asks for them
        server.refuse_logprobs = True                       # 400 to a request that asks for them

``POST /v1/chat/completions`` answers with the next scripted reply, as one JSON completion or, when
the request says ``"stream": true``, as server-sent events (``data: {chunk}`` ... ``data: [DONE]``)
like the real API. With nothing scripted it answers 500, so a test never hangs on a missing reply.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class ScriptedReply:
    text: str = ""
    status: int = 200
    delay: float = 0.0  # seconds before the response starts
    chunk_delay: float = 0.0  # seconds between streamed chunks
    chunk_size: int = 12  # characters per streamed chunk
    logprob: float | None = None  # each streamed piece's log-probability, for a request asking for them


class ScriptedLLMServer:
    def __init__(self, expected_key: str | None = None) -> None:
        self.expected_key = expected_key  # when set, other keys get a 401 like OpenAI's
        self.refuse_logprobs = False  # when set, a request asking for log-probabilities gets a 400
        self.replies: deque[ScriptedReply] = deque()
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def reply(
        self,
        text: str,
        delay: float = 0.0,
        chunk_delay: float = 0.0,
        chunk_size: int = 12,
        logprob: float | None = None,
    ) -> None:
        self.replies.append(
            ScriptedReply(
                text=text, delay=delay, chunk_delay=chunk_delay, chunk_size=chunk_size, logprob=logprob
            )
        )

    def fail(self, status: int, times: int = 1, delay: float = 0.0) -> None:
        for _ in range(times):
            self.replies.append(ScriptedReply(status=status, delay=delay))

    def start(self) -> ScriptedLLMServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> ScriptedLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def next_reply(self) -> ScriptedReply:
        with self._lock:
            return (
                self.replies.popleft() if self.replies else ScriptedReply(status=500, text="nothing scripted")
            )

    def record(self, body: dict[str, Any], headers: dict[str, str]) -> None:
        with self._lock:
            self.requests.append(body)
            self.headers.append(headers)


def _error_body(status: int, message: str) -> bytes:
    kinds = {401: "invalid_request_error", 429: "rate_limit_exceeded", 404: "not_found_error"}
    error = {"message": message, "type": kinds.get(status, "server_error"), "code": status}
    return json.dumps({"error": error}).encode()


def _handler(server: ScriptedLLMServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep test output quiet
            pass

        def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            # A client that gave up (the timeout test) needs no answer.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self._answer()

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            if not self.path.rstrip("/").endswith("/chat/completions"):
                self._send(404, _error_body(404, f"no route {self.path}"))
                return
            server.record(body, {k.lower(): v for k, v in self.headers.items()})
            key = self.headers.get("Authorization", "").removeprefix("Bearer ").strip()
            if server.expected_key is not None and key != server.expected_key:
                # The real API echoes (part of) the key it refused: the client must not repeat it.
                self._send(401, _error_body(401, f"Incorrect API key provided: {key}."))
                return
            if server.refuse_logprobs and "logprobs" in body:
                self._send(400, _error_body(400, "logprobs is not supported by this server"))
                return
            reply = server.next_reply()
            if reply.delay:
                time.sleep(reply.delay)
            if reply.status != 200:
                self._send(reply.status, _error_body(reply.status, reply.text or f"scripted {reply.status}"))
                return
            if body.get("stream"):
                self._stream(body, reply)
            else:
                self._send(200, json.dumps(_completion(body, reply.text)).encode())

        def _stream(self, body: dict[str, Any], reply: ScriptedReply) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Connection", "close")
            self.end_headers()
            text = reply.text
            pieces = [text[i : i + reply.chunk_size] for i in range(0, len(text), reply.chunk_size)]
            events = [_chunk(body, {"role": "assistant", "content": ""}, None)]
            logprob = reply.logprob if body.get("logprobs") else None
            events += [_chunk(body, {"content": piece}, None, logprob) for piece in pieces]
            events.append(_chunk(body, {}, "stop"))
            try:
                for event in events:
                    self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                    self.wfile.flush()
                    if reply.chunk_delay:
                        time.sleep(reply.chunk_delay)
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                pass
            self.close_connection = True

    return Handler


def _completion(body: dict[str, Any], text: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-scripted",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "scripted"),
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


def _chunk(
    body: dict[str, Any], delta: dict[str, str], finish: str | None, logprob: float | None = None
) -> dict[str, Any]:
    choice: dict[str, Any] = {"index": 0, "delta": delta, "finish_reason": finish}
    if logprob is not None:  # one token per piece, as the real API reports each token it wrote
        token = {"token": delta["content"], "logprob": logprob, "bytes": None, "top_logprobs": []}
        choice["logprobs"] = {"content": [token]}
    return {
        "id": "chatcmpl-scripted",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": body.get("model", "scripted"),
        "choices": [choice],
    }
