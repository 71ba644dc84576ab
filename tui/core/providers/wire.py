"""Reading a response body under deadlines and caps, and splitting it into SSE events.

Every wait on the network goes through `Clock.wait`, which bounds it by the request's
`Deadlines`; every byte goes through `body_chunks`, which caps the body (compressed
bodies are inflated here, a piece at a time, so a gzip bomb cannot fill memory), and
`SSEDecoder` caps each line and rejects bytes that are not UTF-8.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from tui.core._httpx import httpx

from .base import Deadlines, ProviderError

# Module constants, read at call time, so a test or an embedder can lower them.
MAX_LINE_BYTES = 1 << 20  # one SSE line
MAX_STREAM_BYTES = 1 << 30  # a whole streamed body, after inflating
MAX_REPLY_BYTES = 64 << 20  # a whole JSON reply
MAX_ERROR_BYTES = 64 << 10  # an error body: only its start is ever shown
MAX_INFLATION = 100  # inflated/compressed beyond this (plus 1 MiB) is a bomb
_PIECE = 64 << 10

T = TypeVar("T")


class Clock:
    """The request's deadlines as absolute times on the loop's clock. A parser sets
    `progressed` at the first text, thinking or tool-call delta, which ends the first-token
    wait.

    One timer serves every wait (a stream waits once per chunk, thousands of times): it is
    moved earlier when a wait's deadline is earlier, and when it fires before the current
    wait's deadline (which moved later as chunks arrived) it is set again for that one.
    """

    def __init__(self, name: str, deadlines: Deadlines) -> None:
        self.name = name
        self.deadlines = deadlines
        self._loop = asyncio.get_running_loop()
        now = self._loop.time()
        self.turn_at = now + deadlines.turn_s
        self.first_at = now + deadlines.first_token_s
        self.progressed = False
        self._timer: asyncio.TimerHandle | None = None
        self._waiter: asyncio.Task[object] | None = None  # the task inside `wait`, if any
        self._until = 0.0  # that wait's deadline
        self._expired = False  # the timer cancelled that wait

    async def wait(self, awaitable: Awaitable[T], *, idle: bool = True) -> T:
        """`await awaitable`, or a ProviderError naming the deadline that passed first."""
        when, which = self.turn_at, "turn"
        if not self.progressed and self.first_at <= when:
            when, which = self.first_at, "first"
        if idle:
            idle_at = self._loop.time() + self.deadlines.idle_s
            if idle_at < when:
                when, which = idle_at, "idle"
        task = asyncio.current_task()
        assert task is not None, "Clock.wait runs inside a task"
        cancelling = task.cancelling()
        self._waiter, self._until, self._expired = task, when, False
        if self._timer is None or self._timer.when() > when:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = self._loop.call_at(when, self._alarm)
        try:
            return await awaitable
        except asyncio.CancelledError:
            if self._expired:
                self._expired = False
                if task.uncancel() <= cancelling:  # ours alone, as asyncio.timeout decides
                    raise self.expired(which) from None
            raise
        except TimeoutError:
            raise self.expired(which) from None
        finally:
            self._waiter = None
            if self._expired:  # the awaitable swallowed our cancellation: undo its count
                self._expired = False
                task.uncancel()

    def _alarm(self) -> None:
        self._timer = None
        if self._waiter is None:
            return  # between waits: the next one sets the timer again
        if self._loop.time() < self._until:
            self._timer = self._loop.call_at(self._until, self._alarm)
            return
        self._expired = True
        self._waiter.cancel()

    def close(self) -> None:
        """The request is over: its timer goes (a stream may end long before a deadline)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def expired(self, which: str) -> ProviderError:
        d = self.deadlines
        if which == "first":
            return ProviderError(f"{self.name}: no first token within {d.first_token_s:g}s", retryable=True)
        if which == "idle":
            return ProviderError(f"{self.name}: stream stalled: nothing received for {d.idle_s:g}s", retryable=True)
        # The whole turn ran out: another attempt at the same model is unlikely to help.
        return ProviderError(f"{self.name}: no complete answer within {d.turn_s:g}s (turn deadline)")


class _Inflater:
    def __init__(self, encoding: str) -> None:
        wbits = zlib.MAX_WBITS | 16 if encoding in ("gzip", "x-gzip") else zlib.MAX_WBITS
        self._z = zlib.decompressobj(wbits)
        self._raw_deflate = encoding == "deflate"

    def feed(self, data: bytes) -> Iterator[bytes]:
        try:
            out = self._z.decompress(data, _PIECE)
        except zlib.error:
            if not self._raw_deflate:
                raise
            # Some servers send raw deflate without the zlib wrapper.
            self._raw_deflate = False
            self._z = zlib.decompressobj(-zlib.MAX_WBITS)
            out = self._z.decompress(data, _PIECE)
        yield out
        while self._z.unconsumed_tail:
            yield self._z.decompress(self._z.unconsumed_tail, _PIECE)


async def body_chunks(
    response: httpx.Response, clock: Clock, limit: int, *, what: str = "response"
) -> AsyncGenerator[bytes, None]:
    """The body's bytes, inflated, each read bounded by the clock, at most `limit`."""
    name = clock.name
    try:
        content = response.content  # a response made in memory (httpx.MockTransport)
    except httpx.ResponseNotRead:
        pass
    else:
        if len(content) > limit:
            raise _too_big(name, what, limit)
        if content:
            yield content
        return
    encoding = response.headers.get("content-encoding", "").strip().lower()
    inflater: _Inflater | None = None
    if encoding in ("gzip", "x-gzip", "deflate"):
        inflater = _Inflater(encoding)
    elif encoding not in ("", "identity"):
        raise ProviderError(f"{name}: unsupported content-encoding {encoding[:40]!r}", retryable=False)
    raw = response.aiter_raw()
    raw_total = total = 0
    while True:
        chunk = await clock.wait(anext(raw, None))
        if chunk is None:
            return
        if inflater is None:
            total += len(chunk)
            if total > limit:
                raise _too_big(name, what, limit)
            yield chunk
            continue
        raw_total += len(chunk)
        try:
            for piece in inflater.feed(chunk):
                total += len(piece)
                if total > limit or total > MAX_INFLATION * raw_total + (1 << 20):
                    raise _too_big(name, what, limit, compressed=True)
                if piece:
                    yield piece
        except zlib.error:
            raise ProviderError(f"{name}: the compressed {what} is corrupt", retryable=True) from None


async def read_body(response: httpx.Response, clock: Clock, limit: int, *, what: str = "reply") -> bytes:
    pieces = [chunk async for chunk in body_chunks(response, clock, limit, what=what)]
    return b"".join(pieces)


def _too_big(name: str, what: str, limit: int, compressed: bool = False) -> ProviderError:
    if compressed:
        return ProviderError(f"{name}: the compressed {what} inflates past its cap (a zip bomb?)", retryable=True)
    return ProviderError(f"{name}: the {what} is longer than {limit:,} bytes", retryable=True)


@dataclass(frozen=True, slots=True)
class SSEEvent:
    event: str  # "message" when the server named none
    data: str


class SSEDecoder:
    """Events of a text/event-stream body, fed as byte chunks. An event cut off by the
    end of the body is dropped, as the SSE spec says; the caller notices the missing
    terminator."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._pending = b""
        self._event = ""
        self._data: list[str] = []
        self.failed: ProviderError | None = None

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        if self._pending:
            chunk = self._pending + chunk
        lines = chunk.splitlines(keepends=True)
        # A line is complete once its "\n" arrived (a trailing "\r" may be half of "\r\n").
        if lines and not lines[-1].endswith(b"\n"):
            self._pending = lines.pop()
            if len(self._pending) > MAX_LINE_BYTES:
                raise self._long_line()
        else:
            self._pending = b""
        events: list[SSEEvent] = []
        try:
            self._lines(lines, events)
        except ProviderError as e:
            if not events:
                raise
            self.failed = e  # after the events before it reach the parser
        return events

    def _lines(self, lines: list[bytes], events: list[SSEEvent]) -> None:
        for raw in lines:
            if raw[:1] == b":":
                continue  # a comment: keep-alive
            line = raw.rstrip(b"\r\n")
            if not line:
                if self._data:
                    events.append(SSEEvent(self._event or "message", "\n".join(self._data)))
                self._event, self._data = "", []
                continue
            if len(line) > MAX_LINE_BYTES:
                raise self._long_line()
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError:
                raise ProviderError(f"{self.name}: malformed stream: bytes that are not UTF-8",
                                    retryable=True) from None
            name, _, value = text.partition(":")
            if value[:1] == " ":
                value = value[1:]
            if name == "data":
                self._data.append(value)
            elif name == "event":
                self._event = value

    def _long_line(self) -> ProviderError:
        return ProviderError(f"{self.name}: malformed stream: a line longer than {MAX_LINE_BYTES:,} bytes",
                             retryable=True)


async def sse_batches(response: httpx.Response, clock: Clock) -> AsyncIterator[list[SSEEvent]]:
    """The events of each chunk received, in order (often several per chunk)."""
    decoder = SSEDecoder(clock.name)
    async for chunk in body_chunks(response, clock, MAX_STREAM_BYTES, what="stream"):
        events = decoder.feed(chunk)
        if events:
            yield events
        if decoder.failed:
            raise decoder.failed
