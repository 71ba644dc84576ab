"""Providers in a process of their own, so that the app uses the machine's second core.

Reading a fast stream is as much work as drawing it: httpx, h11 and the SSE parser cost
about as much CPU as the app's frames, and both ran on the app's one event loop (and
under one GIL), so each waited for the other and keys waited for both. A `StreamWorker`
runs the same provider code (`make_provider`) in a child process; the app sends it each
request and gets back the provider's events, the text of a few milliseconds joined into
one `Delta`. Nothing else changes: deadlines are kept by the provider in the child, as
in process, and retries, fallbacks, budgets and costs stay with the app's `TurnRunner`.

The child is ours and trusted like the rest of the code: it is spawned from this
package, inherits the environment (the keys are there already) and speaks pickled
tuples over its own pipes; its stderr goes nowhere (it would draw over the screen).
Whatever goes wrong with it (it cannot start, it stops, it stops answering), the app
loses nothing: a stream it was serving fails as a retryable `ProviderError` with the
text that had arrived, and every later stream is made in process, as without a worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import pickle
import struct
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from .base import ChatRequest, Delta, Done, Provider, ProviderConfig, ProviderError, ProviderEvent

_SIZE = struct.Struct("<I")
BATCH_S = 0.004  # the child sends what arrived at most this often (text joined into one Delta)
START_S = 15.0  # the child must be ready within this, or streams are made in process
READY_WAIT_S = 2.0  # a stream waits this long for a child still starting, then goes in process
GRACE_S = 15.0  # beyond a request's own deadlines, how long the app waits for the child
READ_LIMIT = 1 << 22  # the pipe reader's buffer (a frame can carry a long text)
WRITE_AHEAD = 8 << 20  # what the worker queues for the app before its streams wait for it


def _frame(message: tuple[str, int, Any]) -> bytes:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _SIZE.pack(len(data)) + data


async def _read_frame(reader: asyncio.StreamReader) -> tuple[str, int, Any]:
    size = _SIZE.unpack(await reader.readexactly(_SIZE.size))[0]
    message: tuple[str, int, Any] = pickle.loads(await reader.readexactly(size))  # noqa: S301 - our own child
    return message


def _command() -> list[str]:
    root = str(Path(__file__).resolve().parents[3])  # the checkout or site-packages that holds `tui`
    code = f"import sys; sys.path.insert(0, {root!r}); from tui.core.providers.worker import main; main()"
    return [sys.executable, "-c", code]


class StreamWorker:
    """The child process and the streams it serves, on the app's side."""

    def __init__(self, command: Sequence[str] | None = None) -> None:
        self.command = list(command) if command is not None else _command()
        self.broken: str | None = None  # why streams are made in process now
        self._proc: asyncio.subprocess.Process | None = None
        self._streams: dict[int, asyncio.Queue[tuple[str, Any]]] = {}
        self._ids = itertools.count(1)
        self._starting: asyncio.Task[None] | None = None
        self._reader: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the child (in the background: `ready()` waits for it)."""
        if self._starting is None:
            self._starting = asyncio.get_running_loop().create_task(self._start())

    async def ready(self, wait: float = START_S) -> bool:
        """Whether the child serves streams (starting it first if need be), waiting at
        most `wait` seconds for it to start."""
        self.start()
        assert self._starting is not None
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.shield(self._starting), wait)
        return self.broken is None and self._reader is not None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    async def _start(self) -> None:
        try:
            self._proc = await asyncio.create_subprocess_exec(
                *self.command, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.DEVNULL, limit=READ_LIMIT)
            assert self._proc.stdout is not None
            kind, _, _ = await asyncio.wait_for(_read_frame(self._proc.stdout), START_S)
            if kind != "ready":
                raise ValueError(kind)
        except BaseException as error:  # cannot start: every stream is made in process
            self._fail(f"the stream worker did not start ({type(error).__name__})")
            if isinstance(error, asyncio.CancelledError):
                raise
            return
        self._reader = asyncio.get_running_loop().create_task(self._read(self._proc.stdout))

    async def _read(self, out: asyncio.StreamReader) -> None:
        try:
            while True:
                kind, sid, payload = await _read_frame(out)
                queue = self._streams.get(sid)
                if queue is not None:
                    queue.put_nowait((kind, payload))
        except asyncio.CancelledError:
            raise
        except Exception as error:  # the child ended or spoke nonsense: the same to us
            self._fail(f"the stream worker stopped ({type(error).__name__})")

    def _fail(self, why: str) -> None:
        if self.broken is None:
            self.broken = why
        for queue in self._streams.values():
            queue.put_nowait(("lost", why))
        if self._proc is not None and self._proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._proc.kill()

    def _send(self, message: tuple[str, int, Any]) -> None:
        self._write(_frame(message))

    def _write(self, frame: bytes) -> None:
        stdin = self._proc.stdin if self._proc is not None else None
        if stdin is None or stdin.is_closing():
            raise ConnectionError("the stream worker's pipe is closed")
        stdin.write(frame)

    def provider(self, config: ProviderConfig, secret: str | None, local: Callable[[], Provider]) -> RemoteProvider:
        """A provider whose streams this worker serves; `local()` makes the in-process one
        used once the worker is broken."""
        return RemoteProvider(self, config, secret, local)

    async def aclose(self) -> None:
        """Stop the child: its pipe closes, it cancels its streams and exits (killed if not)."""
        if self._starting is not None and not self._starting.done():
            self._starting.cancel()
            with contextlib.suppress(BaseException):
                await self._starting
        if self._reader is not None:
            self._reader.cancel()
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(Exception):
            assert proc.stdin is not None
            proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), 2.0)
        except Exception:  # (a timeout too)
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            with contextlib.suppress(Exception):
                await proc.wait()


class RemoteProvider:
    """A provider whose streams run in the worker; in process once the worker is broken."""

    def __init__(self, worker: StreamWorker, config: ProviderConfig, secret: str | None,
                 local: Callable[[], Provider]) -> None:
        self.worker = worker
        self.config = config
        self._secret = secret
        self._local_factory = local
        self._local: Provider | None = None

    def _in_process(self) -> Provider:
        if self._local is None:
            self._local = self._local_factory()
        return self._local

    async def stream(self, request: ChatRequest, *, stream: bool = True) -> AsyncIterator[ProviderEvent]:
        worker = self.worker
        if not await worker.ready(READY_WAIT_S):  # (a worker slow to start is not waited for)
            async for event in self._in_process().stream(request, stream=stream):
                yield event
            return
        sid = next(worker._ids)
        try:
            opened = _frame(("open", sid, (self.config, self._secret, request, stream)))
        except Exception:  # a request that does not pickle (a profile's odd extra) goes in process
            async for event in self._in_process().stream(request, stream=stream):
                yield event
            return
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        worker._streams[sid] = queue
        texts: list[str] = []  # the text received: the end's full text is joined from it
        deadlines = request.deadlines
        wait = max(deadlines.connect_s + deadlines.first_token_s, deadlines.idle_s) + GRACE_S
        turn_end = time.monotonic() + deadlines.turn_s + GRACE_S
        over = False
        try:
            worker._write(opened)
            while True:
                try:
                    kind, payload = await asyncio.wait_for(queue.get(), min(wait, turn_end - time.monotonic()))
                except TimeoutError:
                    worker._fail("the stream worker stopped answering")
                    continue  # (its "lost" is queued)
                if kind == "events":
                    for event in payload:
                        if type(event) is Delta:
                            texts.append(event.text)
                        yield event
                elif kind == "done":
                    over = True
                    done, joined_here = payload
                    yield replace(done, text="".join(texts)) if joined_here else done
                    return
                elif kind == "error":
                    over = True
                    message, status, retryable, partial, retry_after = payload
                    raise ProviderError(message, status=status, retryable=retryable,
                                        partial=partial or "".join(texts), retry_after=retry_after)
                else:  # "lost": this stream fails; the next ones are made in process
                    over = True
                    raise ProviderError(f"{self.config.name}: {payload}", retryable=True, partial="".join(texts))
        except ConnectionError as error:
            over = True
            worker._fail(f"the stream worker stopped ({type(error).__name__})")
            raise ProviderError(f"{self.config.name}: {worker.broken}", retryable=True,
                                partial="".join(texts)) from None
        finally:
            worker._streams.pop(sid, None)
            if not over:  # cancelled or closed early: the child drops the request
                with contextlib.suppress(Exception):
                    worker._send(("close", sid, None))

    async def aclose(self) -> None:
        if self._local is not None:
            await self._local.aclose()


# --------------------------------------------------------------- in the child process


async def _serve() -> None:
    # With what the first request would import on its way (the wire modules, and httpx's
    # transport: httpcore, h11, anyio's backend), before saying ready: the worker starts
    # while the app shows its first frame, not when a question is sent.
    import anyio._backends._asyncio  # noqa: F401
    import h11  # noqa: F401
    import httpcore  # noqa: F401

    from .._httpx import httpx, ssl_context
    from . import anthropic, make_provider, openai  # noqa: F401

    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=READ_LIMIT)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin.buffer)
    transport, protocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin, sys.stdout.buffer)
    # The app reads its pipe between frames: the worker reads on ahead meanwhile (up to
    # WRITE_AHEAD queued) instead of stopping its streams until the app has read.
    transport.set_write_buffer_limits(high=WRITE_AHEAD)
    writer = asyncio.StreamWriter(transport, protocol, None, loop)
    client = httpx.AsyncClient(timeout=httpx.Timeout(120.0, connect=10.0),
                               limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
                               verify=ssl_context())
    providers: dict[tuple[ProviderConfig, str | None], Provider] = {}
    tasks: dict[int, asyncio.Task[None]] = {}
    writer.write(_frame(("ready", 0, None)))

    async def serve(sid: int, config: ProviderConfig, secret: str | None, request: ChatRequest,
                    stream: bool) -> None:
        provider = providers.get((config, secret))
        if provider is None:
            provider = providers[(config, secret)] = make_provider(config, secret, client=client, keep_text=False)
        await _relay(sid, provider.stream(request, stream=stream), writer)

    try:
        while True:
            kind, sid, payload = await _read_frame(reader)
            if kind == "open":
                task = tasks[sid] = loop.create_task(serve(sid, *payload))
                task.add_done_callback(lambda _t, sid=sid: tasks.pop(sid, None))  # type: ignore[misc]
            elif kind == "close" and sid in tasks:
                tasks[sid].cancel()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass  # the app closed the pipe (or ended): so do we
    finally:
        for task in list(tasks.values()):
            task.cancel()
        await asyncio.gather(*tasks.values(), return_exceptions=True)
        await client.aclose()


async def _relay(sid: int, events: AsyncIterator[ProviderEvent], writer: asyncio.StreamWriter) -> None:
    """Send a stream's events, the text of up to `BATCH_S` joined into one Delta."""
    loop = asyncio.get_running_loop()
    batch: list[ProviderEvent] = []
    texts: list[str] = []
    sent = 0  # characters of text sent
    timer: asyncio.TimerHandle | None = None
    last = 0.0

    def join() -> None:
        nonlocal sent
        if texts:
            text = "".join(texts)
            texts.clear()
            sent += len(text)
            batch.append(Delta(text))

    def flush() -> None:
        nonlocal timer, last
        if timer is not None:
            timer.cancel()
            timer = None
        join()
        if batch:
            writer.write(_frame(("events", sid, batch[:])))
            batch.clear()
        last = time.perf_counter()

    try:
        async for event in events:
            if type(event) is Delta:
                texts.append(event.text)
            elif isinstance(event, Done):
                flush()
                # A stream's end without its text (the provider keeps none): the app joins
                # what it received. A reply that was not streamed carries its own.
                writer.write(_frame(("done", sid, (event, not event.text and sent > 0))))
                return
            else:
                join()
                batch.append(event)
            if time.perf_counter() - last >= BATCH_S:
                flush()
                await writer.drain()
            elif timer is None:  # a slow stream's last words are not held back
                timer = loop.call_later(BATCH_S, flush)
        flush()
        writer.write(_frame(("error", sid, ("the stream ended without its end", None, True, "", None))))
    except ProviderError as error:
        flush()
        writer.write(_frame(("error", sid, (str(error), error.status, error.retryable, error.partial,
                                            error.retry_after))))
    except asyncio.CancelledError:
        pass  # the app closed the stream
    except Exception as error:  # a bug of ours: one line, as in process
        writer.write(_frame(("error", sid, (f"stream worker: {type(error).__name__}: {error}", None, False, "",
                                            None))))
    finally:
        if timer is not None:
            timer.cancel()
        with contextlib.suppress(Exception):
            await events.aclose()  # type: ignore[attr-defined]


def main() -> None:
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve())
