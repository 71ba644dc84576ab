"""Shows one run of the engine: its events become answers, round columns and lines.

Events are read from the engine in a pump task and rendered from a queue. Cancelling
the pump always lands inside the engine's iterator (never in our rendering), so the
engine's own cleanup records the partial answer; and text deltas that queued up while
a frame was drawn are merged into one write.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from tui.core.events import (
    ConsensusEvent,
    FallbackEvent,
    HandoffEvent,
    NoticeEvent,
    ParallelEvent,
    RouteEvent,
    RunFailed,
    TextDelta,
    TimelineEvent,
    ToolCallEvent,
    TurnEvent,
    TurnStarted,
)

from .chat import AnswerView, ChatPane, RoundView, round_outcome
from .text import one_line

if TYPE_CHECKING:
    from .app import BatonApp

_END = object()


def coalesce(batch: list[Any]) -> list[Any]:
    """Merge runs of text deltas for the same lane and model into one delta."""
    merged: list[Any] = []
    for event in batch:
        last = merged[-1] if merged else None
        if (
            isinstance(event, TextDelta)
            and isinstance(last, TextDelta)
            and (last.lane, last.model) == (event.lane, event.model)
        ):
            merged[-1] = TextDelta(event.model, last.text + event.text, event.lane)
        else:
            merged.append(event)
    return merged


class RunPresenter:
    def __init__(self, app: BatonApp, kind: str, on_text: Callable[[], None]) -> None:
        self.app = app
        self.chat = app.query_one(ChatPane)
        self.kind = kind  # "answer" | "parallel" | "consensus"
        self.on_text = on_text
        self.views: dict[str | None, AnswerView] = {}
        self.round: RoundView | None = None
        self.failed: str | None = None

    async def play(self, events: AsyncIterator[Any]) -> None:
        queue: asyncio.Queue[Any] = asyncio.Queue()

        async def pump() -> None:
            try:
                async for event in events:
                    queue.put_nowait(event)
            finally:
                queue.put_nowait(_END)

        reader = asyncio.create_task(pump())
        cancelled = False
        try:
            while True:
                batch = [await queue.get()]
                while not queue.empty():
                    batch.append(queue.get_nowait())
                done = batch[-1] is _END
                for event in coalesce([e for e in batch if e is not _END]):
                    await self.show(event)
                if done:
                    break
            await reader  # re-raises what broke the engine, if anything
        except asyncio.CancelledError:
            cancelled = True
            raise
        finally:
            if not reader.done():
                reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
            for view in self.views.values():
                await view.finish(partial=cancelled)
            self.views.clear()
            if cancelled:
                await self.chat.add_line("⏹ cancelled: what arrived is kept", "notice")
            self.app.sync_timeline()

    async def _round(self) -> RoundView:
        if self.round is None:
            self.round = await self.chat.add_round(self.kind if self.kind != "answer" else "round")
        return self.round

    async def _open(self, model: str, lane: str | None, purpose: str) -> AnswerView:
        if lane is not None:
            view = await (await self._round()).lane(lane)
        elif purpose == "judge" and self.round is not None:
            view = await self.round.add_answer(model, purpose)
        else:
            view = await self.chat.add_answer(model, purpose)
        self.views[lane] = view
        return view

    async def show(self, event: Any) -> None:
        if isinstance(event, TurnStarted):
            previous = self.views.pop(event.lane, None)
            if previous is not None:
                await previous.finish(partial=True)
            await self._open(event.model, event.lane, event.purpose)
        elif isinstance(event, TextDelta):
            view = self.views.get(event.lane) or await self._open(event.model, event.lane, "answer")
            await view.write(event.text)
            self.on_text()
        elif isinstance(event, RunFailed):
            self.failed = event.error
            await self.chat.add_line(f"✗ {event.error}", "error")
            self.app.notify(one_line(event.error, 300), title="Run failed", severity="error", markup=False)
        elif isinstance(event, TimelineEvent):
            await self._timeline_event(event)

    async def _timeline_event(self, event: TimelineEvent) -> None:
        self.app.sync_timeline()
        if isinstance(event, TurnEvent):
            view = self.views.pop(event.lane, None)
            if view is not None:
                await view.finish(partial=event.partial)
                if not view.text and event.finish_reason == "tool_calls":
                    await view.remove()
        elif isinstance(event, HandoffEvent):
            via = "" if event.reason == "user" else f" ({event.reason})"
            note = f": {event.instructions}" if event.instructions else ""
            await self.chat.add_line(f"⇢ handoff {event.from_model} → {event.to_model}{via}{note}", "handoff")
            if event.reason == "user" and event.instructions:
                await self.chat.add_user(event.instructions)
            self.app.refresh_routing()
        elif isinstance(event, RouteEvent):
            await self.chat.add_line(f"↪ routed to {event.model} ({event.task_type}: {event.reason})", "route")
            self.app.refresh_routing()
        elif isinstance(event, ToolCallEvent):
            status = f"error: {event.error}" if event.error else f"{event.latency_s:.1f}s"
            await self.chat.add_line(
                f"⚙ {event.model} called {event.server}.{event.tool} {event.arguments} · {status}", "tool"
            )
        elif isinstance(event, FallbackEvent):
            await self.chat.add_line(f"↯ fallback {event.from_model} → {event.to_model}: {event.error}", "error")
        elif isinstance(event, (ParallelEvent, ConsensusEvent)):
            (await self._round()).show_outcome(round_outcome(event.to_record()))
        elif isinstance(event, NoticeEvent):
            self.app.notify(one_line(event.message, 300), severity="warning", markup=False)
