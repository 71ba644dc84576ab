"""A misbehaving LLM server on 127.0.0.1, written on raw sockets so it can lie in ways
a well-behaved HTTP library would not let it: hang, stall, trickle keep-alives, send
wrong-shaped chunks, bad bytes, endless lines, gzip bombs, escape sequences and keys.

The request's model id picks the behaviour; the path picks the wire format
(`/v1/chat/completions` is OpenAI, `/v1/messages` is Anthropic):

    with HostileServer() as server:
        base = server.openai_base   # then model "stall", "shape:null-choice", ...

Every streamed behaviour first sends the text `HELLO` ("Hello "), so a test can check
that the partial answer survives the fault.
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import threading
import time
import zlib
from collections.abc import Callable
from typing import Any, Self

HELLO = "Hello "
ESCAPES = "boom \x1b]52;c;aGFja2Vk\x07 \x1b]0;pwned\x07 \x1b[2J \x9b31m end"

# Valid JSON of the wrong shape, sent after HELLO: name -> chunk (OpenAI) ...
OPENAI_SHAPES: dict[str, Any] = {
    "null-choice": {"choices": [None]},
    "delta-text": {"choices": [{"index": 0, "delta": "text"}]},
    "usage-string": {"choices": [], "usage": {"prompt_tokens": "12", "completion_tokens": 3}},
    "usage-list": {"choices": [], "usage": {"prompt_tokens": [1], "completion_tokens": 3}},
    "usage-nan": {"choices": [], "usage": {"prompt_tokens": float("nan"), "completion_tokens": 3}},
    "usage-float": {"choices": [], "usage": {"prompt_tokens": 1.5, "completion_tokens": 3}},
    "usage-number": {"choices": [], "usage": 7},
    "error-number": {"error": 42},
    "error-list": {"error": ["a", 1]},
    "choices-object": {"choices": {"0": {"delta": {"content": "x"}}}},
    "choices-string": {"choices": "nope"},
    "content-number": {"choices": [{"index": 0, "delta": {"content": 5}}]},
    "index-string": {"choices": [{"index": "0", "delta": {"content": "x"}}]},
    "finish-number": {"choices": [{"index": 0, "delta": {}, "finish_reason": 7}]},
    "toolcalls-string": {"choices": [{"index": 0, "delta": {"tool_calls": "x"}}]},
    "toolcall-list": {"choices": [{"index": 0, "delta": {"tool_calls": [[1]]}}]},
    "toolcall-index-string": {"choices": [{"index": 0, "delta": {"tool_calls": [{"index": "0"}]}}]},
    "toolcall-function-string": {"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": "f"}]}}]},
    "toolcall-args-number": {
        "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"name": "f", "arguments": 5}}]}}]
    },
    "toolcall-id-list": {"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": ["x"]}]}}]},
    "chunk-list": [1, 2],
    "chunk-null": None,
    "chunk-string": "hello",
    "chunk-number": 3,
}

# ... and name -> (event name, data) (Anthropic).
ANTHROPIC_SHAPES: dict[str, tuple[str, Any]] = {
    "block-not-object": ("content_block_start", {"type": "content_block_start", "index": 1, "content_block": "text"}),
    "block-type-number": ("content_block_start", {"type": "content_block_start", "index": 1, "content_block": {"type": 5}}),
    "block-text-list": (
        "content_block_start",
        {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ["x"]}},
    ),
    "tool-input-string": (
        "content_block_start",
        {"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "t", "name": "f", "input": "x"}},
    ),
    "index-string": ("content_block_start", {"type": "content_block_start", "index": "1", "content_block": {"type": "text"}}),
    "unknown-index": (
        "content_block_delta",
        {"type": "content_block_delta", "index": 7, "delta": {"type": "input_json_delta", "partial_json": "{"}},
    ),
    "delta-not-object": ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": "text"}),
    "delta-null": ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": None}),
    "delta-text-number": ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": 5}}),
    "delta-type-list": ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": []}}),
    "message-delta-usage-string": ("message_delta", {"type": "message_delta", "delta": {}, "usage": {"output_tokens": "5"}}),
    "message-delta-usage-list": ("message_delta", {"type": "message_delta", "delta": {}, "usage": [1]}),
    "message-delta-usage-nan": ("message_delta", {"type": "message_delta", "delta": {}, "usage": {"output_tokens": float("nan")}}),
    "message-delta-stop-number": ("message_delta", {"type": "message_delta", "delta": {"stop_reason": 3}}),
    "message-start-list": ("message_start", {"type": "message_start", "message": [1]}),
    "message-start-negative": ("message_start", {"type": "message_start", "message": {"usage": {"input_tokens": -1}}}),
    "error-number": ("error", {"type": "error", "error": 42}),
    "error-list": ("error", {"type": "error", "error": ["a", 1]}),
    "type-number": ("message", {"type": 5}),
    "event-list": ("message", [1, 2]),
    "event-null": ("message", None),
}


class HostileServer:
    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.port = self._sock.getsockname()[1]
        self.stopping = threading.Event()
        self.requests: list[tuple[str, dict[str, str], dict[str, Any]]] = []
        self._threads: list[threading.Thread] = []
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()

    @property
    def openai_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def anthropic_base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> HostileServer:
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def stop(self) -> None:
        """Stop without ever closing a descriptor another thread may still be using.

        A socket closed under a thread that is about to call accept() or recv() on it
        frees its number for the next socket this process opens (the next test's
        server), and the stale call then reads that socket's traffic. So: the accept
        loop polls and is joined before the listening socket closes; connections are
        only shut down here (which wakes their threads) and each thread closes its own.
        """
        self.stopping.set()
        with self._lock:
            for conn in self._conns:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
        for thread in list(self._threads):
            thread.join(timeout=5)
        self._sock.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            ready, _, _ = select.select([self._sock], [], [], 0.05)
            if not ready:
                continue
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with self._lock:
                if self.stopping.is_set():
                    conn.close()
                    return
                self._conns.append(conn)
                thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
                self._threads.append(thread)
            thread.start()

    # -- one request per connection ---------------------------------------------------

    def _serve(self, conn: socket.socket) -> None:
        try:
            path, headers, body = _read_request(conn)
            self.requests.append((path, headers, body))
            wire = "anthropic" if path.endswith("/messages") else "openai"
            model = str(body.get("model", ""))
            _Reply(conn, wire, headers, self.stopping).run(model)
        except OSError:
            pass
        finally:
            conn.close()


def _read_request(conn: socket.socket) -> tuple[str, dict[str, str], dict[str, Any]]:
    data = b""
    while b"\r\n\r\n" not in data:
        got = conn.recv(65536)
        if not got:
            raise OSError("client went away")
        data += got
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    path = lines[0].split(" ")[1]
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        got = conn.recv(65536)
        if not got:
            raise OSError("client went away")
        rest += got
    return path, headers, json.loads(rest or b"{}")


def _sse(event: str | None, data: Any) -> bytes:
    text = data if isinstance(data, str) else json.dumps(data)
    return (f"event: {event}\n" if event else "").encode() + f"data: {text}\n\n".encode()


class _Reply:
    def __init__(self, conn: socket.socket, wire: str, headers: dict[str, str], stopping: threading.Event) -> None:
        self.conn, self.wire, self.headers, self.stopping = conn, wire, headers, stopping

    def send(self, data: bytes) -> None:
        self.conn.sendall(data)

    def wait(self, seconds: float) -> None:
        self.stopping.wait(seconds)
        if self.stopping.is_set():
            raise OSError("server stopping")

    def head(self, status: int = 200, content_type: str = "text/event-stream", extra: str = "") -> None:
        self.send(
            f"HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\nconnection: close\r\n{extra}\r\n".encode()
        )

    def error(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.head(status, content_type, f"content-length: {len(body)}\r\n")
        self.send(body)

    # -- wire-format pieces ----------------------------------------------------------

    def start(self) -> bytes:
        if self.wire == "openai":
            return b""
        return _sse("message_start", {"type": "message_start", "message": {"usage": {"input_tokens": 3, "output_tokens": 1}}}) + _sse(
            "content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
        )

    def text(self, piece: str) -> bytes:
        if self.wire == "openai":
            return _sse(None, {"choices": [{"index": 0, "delta": {"content": piece}}]})
        return _sse("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}})

    def end(self) -> bytes:
        if self.wire == "openai":
            return _sse(None, {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}) + b"data: [DONE]\n\n"
        return (
            _sse("content_block_stop", {"type": "content_block_stop", "index": 0})
            + _sse("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 2}})
            + _sse("message_stop", {"type": "message_stop"})
        )

    def hello(self) -> None:
        self.head()
        self.send(self.start() + self.text(HELLO))

    def key(self) -> str:
        return self.headers.get("authorization") or self.headers.get("x-api-key") or "(none)"

    def error_body(self, message: str, kind: str = "invalid_request_error") -> bytes:
        return json.dumps({"type": "error", "error": {"type": kind, "message": message}}).encode()

    # -- behaviours --------------------------------------------------------------------

    def run(self, model: str) -> None:
        name, _, arg = model.partition(":")
        behaviour: Callable[[str], None] = getattr(self, "b_" + name.replace("-", "_"), self.b_ok)
        behaviour(arg)

    def b_ok(self, _: str) -> None:
        self.hello()
        self.send(self.text("world") + self.end())

    def b_hang(self, _: str) -> None:
        self.wait(60)

    def b_stall(self, _: str) -> None:
        self.hello()
        self.wait(60)

    def b_trickle(self, _: str) -> None:
        """Text, then keep-alive comments forever: only the turn deadline ends it."""
        self.hello()
        while True:
            self.send(b": keep-alive\n\n")
            self.wait(0.05)

    def b_slow_first(self, arg: str) -> None:
        """Keep-alive comments (and Anthropic pings) for `arg` seconds, then the answer."""
        self.head()
        self.send(self.start())
        until = time.monotonic() + float(arg or 30)
        while time.monotonic() < until:
            self.send(b": keep-alive\n\n" if self.wire == "openai" else _sse("ping", {"type": "ping"}))
            self.wait(0.05)
        self.send(self.text(HELLO) + self.end())

    def b_shape(self, arg: str) -> None:
        self.hello()
        if self.wire == "openai":
            self.send(_sse(None, OPENAI_SHAPES[arg]))
        else:
            event, data = ANTHROPIC_SHAPES[arg]
            self.send(_sse(None if event == "message" else event, data))
        self.send(self.end())

    def b_cutjson(self, _: str) -> None:
        self.hello()
        self.send(b'data: {"choices": [{"index": 0, "delta": {"content": "x\n\n' + self.end())

    def b_badbytes(self, _: str) -> None:
        self.hello()
        self.send(b'data: {"choices": "\xff\xfe\xc3"}\n\n' + self.end())

    def b_longline(self, _: str) -> None:
        self.hello()
        self.send(b'data: {"pad": "' + b"x" * (3 << 20) + b'"}\n\n' + self.end())

    def b_gzipbomb(self, _: str) -> None:
        body = _bomb(self.wire)
        self.head(extra=f"content-encoding: gzip\r\ncontent-length: {len(body)}\r\n")
        self.send(body)

    def b_gzip(self, arg: str) -> None:
        """A well-formed compressed answer (`deflate` with arg "deflate"), or a corrupt one."""
        encoding = arg or "gzip"
        raw = self.start() + self.text(HELLO) + self.text("world") + self.end()
        wbits = zlib.MAX_WBITS | 16 if encoding == "gzip" else zlib.MAX_WBITS
        z = zlib.compressobj(6, zlib.DEFLATED, wbits)
        body = z.compress(raw) + z.flush()
        if encoding == "corrupt":
            body = body[:10] + bytes(b ^ 0x5A for b in body[10:])
            encoding = "deflate"
        self.head(extra=f"content-encoding: {encoding}\r\ncontent-length: {len(body)}\r\n")
        self.send(body)

    def b_escape_error(self, arg: str) -> None:
        self.error(int(arg or 400), self.error_body(ESCAPES))

    def b_escape_raw(self, arg: str) -> None:
        self.error(int(arg or 500), ESCAPES.encode(), "text/plain")

    def b_escape_stream(self, _: str) -> None:
        """An error inside a 200 stream, after text, holding escapes."""
        self.hello()
        if self.wire == "openai":
            self.send(_sse(None, {"error": {"message": ESCAPES}}))
        else:
            self.send(_sse("error", {"type": "error", "error": {"type": "api_error", "message": ESCAPES}}))

    def b_echo_key(self, _: str) -> None:
        self.error(401, self.error_body(f"Incorrect API key provided: {self.key()}", "authentication_error"))

    def b_echo_key_stream(self, _: str) -> None:
        self.hello()
        self.send(_sse(None if self.wire == "openai" else "error", {"type": "error", "error": {"message": f"bad key {self.key()}"}}))


_BOMBS: dict[str, bytes] = {}


def _bomb(wire: str) -> bytes:
    """A gzip body that starts like a real stream and inflates to ~24 MiB of comments."""
    if wire not in _BOMBS:
        reply = _Reply.__new__(_Reply)
        reply.wire = wire
        line = b": " + b"z" * 1022 + b"\n"
        z = zlib.compressobj(6, zlib.DEFLATED, zlib.MAX_WBITS | 16)
        parts = [z.compress(reply.start() + reply.text(HELLO))]
        block = line * 1024  # 1 MiB
        parts.extend(z.compress(block) for _ in range(24))
        parts.append(z.flush())
        _BOMBS[wire] = b"".join(parts)
    return _BOMBS[wire]
