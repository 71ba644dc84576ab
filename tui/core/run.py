"""A run: one operation of the engine as an object you iterate and can cancel.

The operation's events are produced by a task of their own; each is applied (to the
conversation, then the sinks) before it is queued for whoever reads the run, so the
state is right however slowly the reader goes. `await run.cancel()` stops the producer;
the answers it cut short are kept as partial messages, then `RunCancelled` ends the
stream and nothing follows it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextvars import ContextVar

from .conversation import Conversation
from .events import Event, MessageAdded, RunCancelled, RunFailed, RunFinished, TurnEvent
from .types import Usage

Apply = Callable[[Event], None]

_END = object()
SLICE_S = 0.005  # the longest a run works before the event loop gets a turn
# The run's `yield_to`, for the tasks its operation starts (a round's lanes): they read
# their own sockets, which a fast stream never leaves empty.
STEP_ASIDE: ContextVar[Callable[[], float]] = ContextVar("step_aside", default=lambda: 0.0)


class Run:
    def __init__(self, events: AsyncGenerator[Event, None], conversation: Conversation, apply: Apply) -> None:
        self._events = events
        self._conversation = conversation
        self._apply = apply
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._usage = Usage()
        self._cost: float | None = None
        self.done = False
        self.yield_to: Callable[[], float] = lambda: 0.0  # seconds to step aside at a slice's end (keys)
        self.result: RunFinished | RunFailed | RunCancelled | None = None

    # ---------------------------------------------------------------- reading

    def __aiter__(self) -> Run:
        return self

    async def __anext__(self) -> Event:
        self.start()
        item = await self._queue.get()
        if item is _END:
            self._queue.put_nowait(_END)  # every later read ends too
            raise StopAsyncIteration
        return item  # type: ignore[return-value]  # the queue holds events and _END only

    def pending(self) -> list[Event]:
        """Every event already queued, without waiting (a reader that batches per frame).
        The end of the run stays queued for the next `__anext__`."""
        out: list[Event] = []
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if item is _END:
                self._queue.put_nowait(_END)
                break
            out.append(item)  # type: ignore[arg-type]
        return out

    # ---------------------------------------------------------------- running

    def start(self) -> None:
        if self._task is None and not self.done:
            self._task = asyncio.get_running_loop().create_task(self._produce())

    async def cancel(self) -> None:
        """Stop the run; returns once the partials are kept and `RunCancelled` is queued."""
        if self.done:
            return
        if self._task is None:
            self.done = True
            await self._events.aclose()
            self._emit(RunCancelled())
            self._queue.put_nowait(_END)
            return
        self._task.cancel()
        await asyncio.wait([self._task])

    async def wait(self) -> RunFinished | RunFailed | RunCancelled | None:
        """Run to the end without reading the events; the last one."""
        self.start()
        if self._task is not None:
            await asyncio.wait([self._task])
        return self.result

    async def _produce(self) -> None:
        STEP_ASIDE.set(self.yield_to)  # (this task's own context: tasks started from here copy it)
        clock = time.perf_counter
        slice_end = clock() + SLICE_S
        try:
            async for event in self._events:
                self._emit(event)
                if isinstance(event, (RunFinished, RunFailed)):
                    break
                if clock() > slice_end:
                    # A fast stream's socket is never empty, so reading it never waits:
                    # give the loop (keys, the screen) a turn every few milliseconds.
                    await asyncio.sleep(self.yield_to())
                    slice_end = clock() + SLICE_S
        except asyncio.CancelledError:
            self._cancelled()
        except Exception as exc:  # a bug of ours ends the run in one line, never silently
            self._emit(RunFailed(f"internal error: {type(exc).__name__}: {exc}"))
        finally:
            self.done = True
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await self._events.aclose()
            self._queue.put_nowait(_END)

    def _cancelled(self) -> None:
        partials = self._conversation.cancel_partials()
        for message in partials:
            flight = self._conversation.streaming.get(message.lane)
            purpose = flight.purpose if flight is not None else "answer"
            self._emit(TurnEvent(message.model or "", message.content, finish_reason="cancelled", partial=True,
                                 lane=message.lane, purpose=purpose))
            self._emit(MessageAdded(message))
        self._emit(RunCancelled(tuple(partials)))

    def _emit(self, event: Event) -> None:
        if isinstance(event, TurnEvent):
            self._usage += Usage(event.usage.get("input_tokens", 0), event.usage.get("output_tokens", 0))
            if event.cost_usd is not None:
                self._cost = (self._cost or 0.0) + event.cost_usd
        elif isinstance(event, RunFinished):
            event = RunFinished(event.final_output, event.model, self._usage, self._cost)
        if isinstance(event, (RunFinished, RunFailed, RunCancelled)):
            if self.result is not None:
                return  # one ending per run
            self.result = event
        self._apply(event)
        self._queue.put_nowait(event)


async def drain(run: AsyncIterator[Event]) -> list[Event]:
    """Every event of a run, in order (for scripts and tests)."""
    return [event async for event in run]
