"""A fake LLM server on 127.0.0.1 speaking the OpenAI and Anthropic wire formats.

Real HTTP/1.1 with real SSE framing (chunked, flushed per event), one thread per request,
so engine tests exercise parsing, errors, cuts and cancellation for real:

    with FakeLLM() as fake:
        fake.script("gpt-x", Reply("hello"), Reply(status=429))
        ...  # point a provider at fake.openai_base or fake.anthropic_base

A model with nothing scripted answers `echo: <last user text>` (or `tool said: <result>`
when the last message is a tool result).
"""

from __future__ import annotations

import itertools
import json
import select
import socket
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    text: str = ""
    tool_calls: list[tuple[str, dict]] = field(default_factory=list)  # (name, arguments)
    delay: float = 0.0  # seconds before the response starts
    chunk_delay: float = 0.0  # seconds between streamed chunks (text, tool calls, reasoning)
    chunk_size: int = 4  # characters per streamed text chunk
    status: int = 200  # non-200 -> a JSON error body in the provider's format
    error: str = "fake error"  # message for status != 200 or error_event
    cut_after: int | None = None  # stream this many text chunks, then drop the connection
    error_event: bool = False  # after the text, an error event after HTTP 200 (overloaded_error)
    finish: str = "stop"  # "stop" or "length"
    usage: tuple[int, int] | None = None  # (input, output); default derived from request/text
    same_index_tool_calls: bool = False  # openai: every tool call at index 0, new id = new call
    retry_after: float | None = None  # adds a Retry-After header on error statuses
    # Thinking before the answer: anthropic streams it as a thinking block signed with
    # `signature`; openai as `reasoning_field` deltas ("reasoning_content" or "reasoning").
    reasoning: str = ""
    signature: str = "sig-fake"
    redacted: str = ""  # anthropic: a redacted_thinking block with this data
    reasoning_field: str = "reasoning_content"
    cost: float | None = None  # openai: usage.cost, as OpenRouter and LiteLLM send it
    cache_read: int = 0  # input tokens read from the prompt cache (part of the input)
    cache_write: int = 0  # anthropic: input tokens written to the prompt cache
    headers: dict[str, str] = field(default_factory=dict)  # extra response headers
    # openai: top-level Dedalus extras in the whole reply and the last chunk.
    tools_executed: list[str] | None = None
    mcp_tool_results: list[dict] | None = None


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]  # lower-cased names
    body: dict
    model: str
    wire: str  # "openai" or "anthropic"
    # Set by the server as the response goes: the whole response was sent, or the
    # client closed the connection before the end (a cancelled stream).
    completed: bool = False
    disconnected: bool = False


class _ClientGone(Exception):
    pass


class _Stopping(Exception):
    pass


class _Cut(Exception):
    """The reply was cut on purpose (cut_after): the response is not complete."""


class FakeLLM:
    def __init__(self, *, keys: dict[str, str] | None = None) -> None:
        self.keys = dict(keys or {})
        self.requests: list[Recorded] = []
        self._scripts: dict[str, deque[Reply]] = defaultdict(deque)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._ids = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""
        self.openai_base = ""
        self.anthropic_base = ""

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> FakeLLM:
        fake = self

        class Handler(_Handler):
            server_fake = fake

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        server.block_on_close = False  # stop() must not wait for a reply mid-delay
        self._server = server
        port = server.server_address[1]
        self.url = f"http://127.0.0.1:{port}"
        self.openai_base = self.url + "/v1"
        self.anthropic_base = self.url
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None

    def __enter__(self) -> FakeLLM:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- scripting -------------------------------------------------------------------

    def script(self, model: str, *replies: Reply) -> None:
        with self._lock:
            self._scripts[model].extend(replies)

    def requests_for(self, model: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.model == model]

    def _next_reply(self, model: str, wire: str, body: dict) -> Reply:
        with self._lock:
            queue = self._scripts.get(model)
            if queue:
                return queue.popleft()
        return Reply(text=_echo(wire, body))

    def _record(self, rec: Recorded) -> None:
        with self._lock:
            self.requests.append(rec)

    def _new_id(self) -> int:
        with self._lock:
            return next(self._ids)


# -- default reply and usage ----------------------------------------------------------


def _text_of(content: Any) -> str:
    """Text of a message content: a string, or a list of text / tool_result blocks."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    parts = []
    for block in content:
        if isinstance(block, dict):
            if block.get("type") == "text":
                parts.append(block.get("text", ""))
            elif block.get("type") == "tool_result":
                parts.append(_text_of(block.get("content")))
    return "".join(parts)


def _echo(wire: str, body: dict) -> str:
    messages = body.get("messages") or []
    if not messages:
        return "echo: "
    last = messages[-1]
    if wire == "openai":
        if last.get("role") == "tool":
            return f"tool said: {_text_of(last.get('content'))}"
        for m in reversed(messages):
            if m.get("role") == "user":
                return f"echo: {_text_of(m.get('content'))}"
        return "echo: "
    content = last.get("content")
    if last.get("role") == "user" and isinstance(content, list):
        results = [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"]
        if results:
            return "tool said: " + "".join(_text_of(b.get("content")) for b in results)
    for m in reversed(messages):
        if m.get("role") == "user":
            return f"echo: {_text_of(m.get('content'))}"
    return "echo: "


def _word_count(body: dict) -> int:
    words = len(_text_of(body.get("system")).split())
    for m in body.get("messages") or []:
        if isinstance(m.get("system"), str):
            words += len(m["system"].split())
        words += len(_text_of(m.get("content")).split())
    return words


def _pieces(s: str, size: int) -> list[str]:
    size = max(1, size)
    return [s[i : i + size] for i in range(0, len(s), size)]


_ANTHROPIC_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


# -- the handler ---------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_fake: FakeLLM

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet tests
        pass

    def do_GET(self) -> None:  # noqa: N802
        self._send_json(404, {"error": {"message": "not found"}})

    def do_POST(self) -> None:  # noqa: N802
        fake = self.server_fake
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {}
        path = self.path.split("?", 1)[0]
        if path.endswith("/chat/completions"):
            wire = "openai"
        elif path.endswith("/messages"):
            wire = "anthropic"
        else:
            self._send_json(404, {"error": {"message": f"no route {path}"}})
            return
        rec = Recorded(
            path=path,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            model=str(body.get("model", "")),
            wire=wire,
        )
        fake._record(rec)
        self.wire = wire
        self.rec = rec

        if wire in fake.keys and not self._key_ok(fake.keys[wire]):
            self._send_error(Reply(status=401, error="invalid x-api-key" if wire == "anthropic"
                                   else "Incorrect API key provided"))
            return
        reply = fake._next_reply(rec.model, wire, body)
        try:
            self._wait(reply.delay)
            if reply.status != 200:
                self._send_error(reply)
            elif body.get("stream"):
                self._stream(reply, body)
            else:
                self._complete(reply, body)
            rec.completed = True
        except _ClientGone:
            rec.disconnected = True
        except (BrokenPipeError, ConnectionResetError):
            rec.disconnected = True
        except (_Stopping, _Cut):
            pass
        self.close_connection = True

    def _key_ok(self, key: str) -> bool:
        if self.wire == "openai":
            return self.headers.get("authorization") == f"Bearer {key}"
        return self.headers.get("x-api-key") == key

    # -- waiting that notices a stopping server or a client that went away -------------

    def _wait(self, seconds: float) -> None:
        stopping = self.server_fake._stopping
        if stopping.is_set():
            raise _Stopping
        if seconds <= 0:
            return
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            readable, _, _ = select.select([self.connection], [], [], min(left, 0.05))
            if stopping.is_set():
                raise _Stopping
            if readable:
                try:
                    data = self.connection.recv(1, socket.MSG_PEEK)
                except OSError:
                    raise _ClientGone from None
                if not data:
                    raise _ClientGone
                # The client sent something unexpected; keep waiting without spinning.
                stopping.wait(min(left, 0.05))

    # -- plain responses ---------------------------------------------------------------

    def _send_json(self, status: int, payload: dict, extra: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def _send_error(self, reply: Reply) -> None:
        status = reply.status
        if self.wire == "openai":
            kind = "invalid_request_error" if status < 500 else "server_error"
            if status == 429:
                kind = "rate_limit_exceeded"
            payload = {"error": {"message": reply.error, "type": kind, "param": None, "code": None}}
        else:
            kind = _ANTHROPIC_ERROR_TYPES.get(status, "api_error")
            payload = {"type": "error", "error": {"type": kind, "message": reply.error}}
        extra = dict(reply.headers)
        if reply.retry_after is not None:
            extra["Retry-After"] = f"{reply.retry_after:g}"
        self._send_json(status, payload, extra)

    def _usage(self, reply: Reply, body: dict) -> tuple[int, int]:
        if reply.usage is not None:
            return reply.usage
        return _word_count(body), max(1, len(reply.text) // 4)

    def _complete(self, reply: Reply, body: dict) -> None:
        fake = self.server_fake
        n = fake._new_id()
        usage_in, usage_out = self._usage(reply, body)
        calls = [(f"{i}_{n}", name, args) for i, (name, args) in enumerate(reply.tool_calls)]
        if self.wire == "openai":
            message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
            if reply.reasoning:
                message[reply.reasoning_field] = reply.reasoning
            if calls:
                message["tool_calls"] = [
                    {"id": f"call_{cid}", "type": "function",
                     "function": {"name": name, "arguments": json.dumps(args)}}
                    for cid, name, args in calls
                ]
            payload: dict[str, Any] = {
                "id": f"chatcmpl-{n}", "object": "chat.completion", "created": 0,
                "model": self.rec.model,
                "choices": [{"index": 0, "message": message,
                             "finish_reason": self._openai_finish(reply)}],
                "usage": self._openai_usage(reply, usage_in, usage_out),
                **self._dedalus_extras(reply),
            }
        else:
            content: list[dict[str, Any]] = self._thinking_blocks(reply)
            if reply.text:
                content.append({"type": "text", "text": reply.text})
            for cid, name, args in calls:
                content.append({"type": "tool_use", "id": f"toolu_{cid}", "name": name, "input": args})
            payload = {
                "id": f"msg_{n}", "type": "message", "role": "assistant", "model": self.rec.model,
                "content": content, "stop_reason": self._anthropic_stop(reply),
                "stop_sequence": None,
                "usage": {**self._anthropic_input(reply, usage_in), "output_tokens": usage_out},
            }
        if reply.cut_after is not None:
            # Promise the whole body, send half, then drop the connection.
            data = json.dumps(payload).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self._drop()
        self._send_json(200, payload, reply.headers)

    @staticmethod
    def _openai_usage(reply: Reply, usage_in: int, usage_out: int) -> dict[str, Any]:
        usage: dict[str, Any] = {"prompt_tokens": usage_in, "completion_tokens": usage_out,
                                 "total_tokens": usage_in + usage_out}
        if reply.cache_read:
            usage["prompt_tokens_details"] = {"cached_tokens": reply.cache_read}
        if reply.cost is not None:
            usage["cost"] = reply.cost
        return usage

    @staticmethod
    def _anthropic_input(reply: Reply, usage_in: int) -> dict[str, int]:
        """Anthropic counts cache reads and writes apart from input_tokens."""
        usage = {"input_tokens": max(0, usage_in - reply.cache_read - reply.cache_write)}
        if reply.cache_read or reply.cache_write:
            usage["cache_read_input_tokens"] = reply.cache_read
            usage["cache_creation_input_tokens"] = reply.cache_write
        return usage

    @staticmethod
    def _dedalus_extras(reply: Reply) -> dict[str, Any]:
        extras: dict[str, Any] = {}
        if reply.tools_executed is not None:
            extras["tools_executed"] = reply.tools_executed
        if reply.mcp_tool_results is not None:
            extras["mcp_tool_results"] = reply.mcp_tool_results
        return extras

    @staticmethod
    def _thinking_blocks(reply: Reply) -> list[dict[str, Any]]:
        blocks: list[dict[str, Any]] = []
        if reply.reasoning:
            blocks.append({"type": "thinking", "thinking": reply.reasoning, "signature": reply.signature})
        if reply.redacted:
            blocks.append({"type": "redacted_thinking", "data": reply.redacted})
        return blocks

    @staticmethod
    def _openai_finish(reply: Reply) -> str:
        if reply.tool_calls:
            return "tool_calls"
        return "length" if reply.finish == "length" else "stop"

    @staticmethod
    def _anthropic_stop(reply: Reply) -> str:
        if reply.tool_calls:
            return "tool_use"
        return "max_tokens" if reply.finish == "length" else "end_turn"

    # -- streaming ---------------------------------------------------------------------

    def _start_stream(self, headers: dict[str, str] | None = None) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.flush()

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _event(self, name: str | None, payload: Any) -> None:
        data = payload if isinstance(payload, str) else json.dumps(payload)
        head = f"event: {name}\n" if name else ""
        self._chunk(f"{head}data: {data}\n\n".encode())

    def _drop(self) -> None:
        """Close the socket abruptly, mid-body, with no terminator."""
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.connection.close()
        raise _Cut

    def _stream(self, reply: Reply, body: dict) -> None:
        self._start_stream(reply.headers)
        text_chunks = _pieces(reply.text, reply.chunk_size)
        if self.wire == "openai":
            self._stream_openai(reply, body, text_chunks)
        else:
            self._stream_anthropic(reply, body, text_chunks)

    def _text_phase(self, reply: Reply, text_chunks: list[str], send) -> None:
        """Stream the text chunks, or only `cut_after` of them and drop the connection."""
        for i, piece in enumerate(text_chunks):
            if reply.cut_after is not None and i >= reply.cut_after:
                self._drop()
            if i:
                self._wait(reply.chunk_delay)
            send(piece)
        if reply.cut_after is not None:
            self._drop()

    def _stream_openai(self, reply: Reply, body: dict, text_chunks: list[str]) -> None:
        n = self.server_fake._new_id()
        base = {"id": f"chatcmpl-{n}", "object": "chat.completion.chunk", "created": 0,
                "model": self.rec.model}

        def chunk(delta: dict, finish: str | None = None) -> None:
            self._event(None, {**base, "choices": [
                {"index": 0, "delta": delta, "finish_reason": finish}]})

        chunk({"role": "assistant", "content": ""})
        for i, piece in enumerate(_pieces(reply.reasoning, reply.chunk_size) if reply.reasoning else []):
            if i:
                self._wait(reply.chunk_delay)
            # content "" beside the reasoning, as OpenRouter sends it
            chunk({"content": "", reply.reasoning_field: piece})
        self._text_phase(reply, text_chunks, lambda piece: chunk({"content": piece}))
        if reply.error_event:
            self._event(None, {"error": {"message": reply.error, "type": "server_error"}})
            self._end_stream()
            return
        for i, (name, args) in enumerate(reply.tool_calls):
            index = 0 if reply.same_index_tool_calls else i
            self._wait(reply.chunk_delay)
            chunk({"tool_calls": [{"index": index, "id": f"call_{i}_{n}", "type": "function",
                                   "function": {"name": name, "arguments": ""}}]})
            for piece in _pieces(json.dumps(args), reply.chunk_size):
                chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
        chunk({}, self._openai_finish(reply))
        if (body.get("stream_options") or {}).get("include_usage"):
            usage_in, usage_out = self._usage(reply, body)
            self._event(None, {**base, "choices": [],
                               "usage": self._openai_usage(reply, usage_in, usage_out),
                               **self._dedalus_extras(reply)})
        elif self._dedalus_extras(reply):
            self._event(None, {**base, "choices": [], **self._dedalus_extras(reply)})
        self._event(None, "[DONE]")
        self._end_stream()

    def _stream_anthropic(self, reply: Reply, body: dict, text_chunks: list[str]) -> None:
        n = self.server_fake._new_id()
        usage_in, usage_out = self._usage(reply, body)
        self._event("message_start", {"type": "message_start", "message": {
            "id": f"msg_{n}", "type": "message", "role": "assistant", "model": self.rec.model,
            "content": [], "stop_reason": None, "stop_sequence": None,
            "usage": {**self._anthropic_input(reply, usage_in), "output_tokens": 1}}})
        self._event("ping", {"type": "ping"})
        index = self._stream_thinking(reply)
        text_index = index
        if text_chunks:
            self._event("content_block_start", {"type": "content_block_start", "index": text_index,
                                                "content_block": {"type": "text", "text": ""}})

        def text_delta(piece: str) -> None:
            self._event("content_block_delta", {"type": "content_block_delta", "index": text_index,
                                                "delta": {"type": "text_delta", "text": piece}})

        self._text_phase(reply, text_chunks, text_delta)
        if text_chunks:
            self._event("content_block_stop", {"type": "content_block_stop", "index": text_index})
            index += 1
        if reply.error_event:
            self._event("error", {"type": "error", "error": {
                "type": "overloaded_error", "message": reply.error}})
            self._end_stream()
            return
        for i, (name, args) in enumerate(reply.tool_calls):
            self._wait(reply.chunk_delay)
            self._event("content_block_start", {"type": "content_block_start", "index": index,
                        "content_block": {"type": "tool_use", "id": f"toolu_{i}_{n}",
                                          "name": name, "input": {}}})
            for piece in _pieces(json.dumps(args), reply.chunk_size):
                self._event("content_block_delta", {"type": "content_block_delta", "index": index,
                            "delta": {"type": "input_json_delta", "partial_json": piece}})
            self._event("content_block_stop", {"type": "content_block_stop", "index": index})
            index += 1
        self._event("ping", {"type": "ping"})
        self._event("message_delta", {"type": "message_delta",
                    "delta": {"stop_reason": self._anthropic_stop(reply), "stop_sequence": None},
                    "usage": {"output_tokens": usage_out}})
        self._event("message_stop", {"type": "message_stop"})
        self._end_stream()

    def _stream_thinking(self, reply: Reply) -> int:
        """Thinking blocks before the answer, as Anthropic streams them; the next index."""
        index = 0
        if reply.reasoning:
            self._event("content_block_start", {"type": "content_block_start", "index": index,
                        "content_block": {"type": "thinking", "thinking": "", "signature": ""}})
            for i, piece in enumerate(_pieces(reply.reasoning, reply.chunk_size)):
                if i:
                    self._wait(reply.chunk_delay)
                self._event("content_block_delta", {"type": "content_block_delta", "index": index,
                            "delta": {"type": "thinking_delta", "thinking": piece}})
            self._event("content_block_delta", {"type": "content_block_delta", "index": index,
                        "delta": {"type": "signature_delta", "signature": reply.signature}})
            self._event("content_block_stop", {"type": "content_block_stop", "index": index})
            index += 1
        if reply.redacted:
            self._event("content_block_start", {"type": "content_block_start", "index": index,
                        "content_block": {"type": "redacted_thinking", "data": reply.redacted}})
            self._event("content_block_stop", {"type": "content_block_stop", "index": index})
            index += 1
        return index

