"""Shows one run: its events become answers, round columns, chat lines and timeline lines.

The presenter reads the run and never reaches into the engine: what it shows is what
the stream says. Text deltas that queued while a frame was drawn are handed to their
answer in one write, as the strings that came (not a copy). Cancelling is the run's
business (`await run.cancel()`): the presenter reads on until the run says
`RunCancelled`, so the partial is drawn once, under its own answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tui.core.events import (
    ConsensusEvent,
    ConsultEvent,
    Event,
    FallbackEvent,
    HandoffEvent,
    MessageAdded,
    ModelSelected,
    NoticeEvent,
    ParallelEvent,
    ReasoningDelta,
    RetryEvent,
    RouteEvent,
    RunCancelled,
    RunFailed,
    RunFinished,
    TextDelta,
    TimelineEvent,
    ToolCallEvent,
    ToolProgress,
    ToolStarted,
    TurnEvent,
    TurnStarted,
)
from tui.core.run import Run

from . import pace
from .chat import AnswerView, ChatPane, RoundView, round_outcome
from .reasoning import ReasoningView
from .status import StatusLine
from .text import one_line
from .views import VOTE_PROMPT, answer_stats

Notify = Callable[[str, str], None]  # (message, severity)
FRAME_S = 1 / 60


@dataclass(frozen=True)
class Texts:
    """A run of one answer's text deltas, as the strings that came: the conversation holds
    the same strings while the answer streams, so the screen keeps no copy of its own."""

    model: str
    lane: str | None
    pieces: list[str]


def coalesce(batch: list[Event]) -> list[Event | Texts]:
    """Runs of text deltas for the same lane and model become one `Texts` each."""
    merged: list[Event | Texts] = []
    for event in batch:
        last = merged[-1] if merged else None
        if isinstance(event, TextDelta):
            if isinstance(last, Texts) and (last.lane, last.model) == (event.lane, event.model):
                last.pieces.append(event.text)
            else:
                merged.append(Texts(event.model, event.lane, [event.text]))
        else:
            merged.append(event)
    return merged


class RunPresenter:
    def __init__(
        self,
        chat: ChatPane,
        kind: str,
        *,
        blind: bool = False,
        status: StatusLine | None = None,
        notify: Notify,
        on_text: Callable[[], None] = lambda: None,
        on_timeline: Callable[[TimelineEvent], None] = lambda _e: None,
        on_state: Callable[[Event], None] = lambda _e: None,
    ) -> None:
        self.chat = chat
        self.kind = kind  # "answer" | "parallel" | "consensus" | "compare"
        self.blind = blind  # a blind compare: no model name is shown until the vote
        self.status = status
        self.notify = notify
        self.on_text = on_text
        self.on_timeline = on_timeline
        self.on_state = on_state
        self.views: dict[str | None, AnswerView] = {}
        self.ended: dict[str | None, AnswerView] = {}  # a turn's view, until its message is added
        self.thinking: dict[str | None, ReasoningView] = {}
        self.round: RoundView | None = None
        self.failed: str | None = None

    async def play(self, run: Run) -> None:
        try:
            async for first in run:
                for event in coalesce([first, *run.pending()]):
                    await self.show(event)
                # A turn for keys and the screen between batches: whatever arrives
                # meanwhile is one batch next time, so a fast stream costs one write a frame.
                await asyncio.sleep(FRAME_S + pace.key_pending())
        finally:
            await asyncio.gather(*(view.finish() for view in self.views.values()))  # together: a frame for all
            self.views.clear()
            if self.status is not None:
                self.status.end()

    def _phase(self, event: Event | Texts) -> None:
        """What the status line says the run is doing."""
        status = self.status
        if status is None:
            return
        if isinstance(event, TurnStarted):
            who = (event.lane or "") if self.blind else event.model
            waiting = {"judge": "judging", "synthesis": "synthesising", "summary": "summarising",
                       "consult": "consulted"}.get(event.purpose, "")
            status.begin(who, f"{waiting + ': ' if waiting else ''}waiting for the first token")
        elif isinstance(event, Texts):
            status.streamed(sum(map(len, event.pieces)))
        elif isinstance(event, ToolStarted):
            status.set_phase(f"running tool {event.server}.{event.tool}")
        elif isinstance(event, ToolProgress):
            done = f"{event.progress:g}/{event.total:g}" if event.total else f"{event.progress:g}"
            status.set_phase(f"running tool {event.tool}: {done}" + (f" {event.message}" if event.message else ""))
        elif isinstance(event, RetryEvent):
            status.set_phase(f"retry {event.attempt} in {event.delay_s:.1f}s")
        elif isinstance(event, FallbackEvent) and not self.blind:
            status.set_phase(f"falling back to {event.to_model}", model=event.to_model)

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

    async def show(self, event: Event | Texts) -> None:
        if isinstance(event, TextDelta):
            event = Texts(event.model, event.lane, [event.text])
        self._phase(event)
        if isinstance(event, TurnStarted):
            self.thinking.pop(event.lane, None)
            previous = self.views.pop(event.lane, None)
            if previous is not None:
                await previous.finish(partial=True)
            await self._open(event.model, event.lane, event.purpose)
        elif isinstance(event, Texts):
            view = self.views.get(event.lane) or await self._open(event.model, event.lane, "answer")
            view.write_pieces(event.pieces)
            self.on_text()
        elif isinstance(event, ReasoningDelta):
            block = self.thinking.get(event.lane)
            if block is None:
                view = self.views.get(event.lane) or await self._open(event.model, event.lane, "answer")
                block = self.thinking[event.lane] = ReasoningView(event.lane or "" if self.blind else event.model)
                await view.mount(block, before=1 if len(view.children) > 1 else None)
            block.write(event.text)
        elif isinstance(event, RunFailed):
            self.failed = event.error
            error = "an answer failed" if self.blind else event.error
            await self.chat.add_line(f"✗ {error}", "error")
            self.notify(one_line(error, 300), "error")
        elif isinstance(event, RunFinished) and self.blind and self.round is not None:
            self.round.show_outcome(VOTE_PROMPT)
        elif isinstance(event, RunCancelled):
            await self.chat.add_line("⏹ cancelled: what arrived is kept", "cancelled")
        elif isinstance(event, ModelSelected):
            self.on_state(event)
        elif isinstance(event, MessageAdded):
            ended = self.ended.pop(event.message.lane, None)
            if ended is not None and event.message.role == "assistant":
                ended.adopt(event.message.content)  # one copy of a huge answer, not two
            self.chat.bind(event.message)  # selectable, and its place among the alternatives
        elif isinstance(event, TimelineEvent):
            self.on_timeline(event)
            if self.blind and not isinstance(event, TurnEvent):
                return  # fallbacks, retries and notices name models
            await self._timeline_event(event)

    async def _timeline_event(self, event: TimelineEvent) -> None:
        if isinstance(event, TurnEvent):
            view = self.views.pop(event.lane, None)
            if view is not None:
                await view.finish(partial=event.partial)
                self.ended[event.lane] = view
                if not view.length and event.finish_reason == "tool_calls":
                    await view.remove()
                elif (not event.partial and event.lane is None and event.finish_reason != "tool_calls"
                      and event.purpose in ("answer", "synthesis", "stage")):
                    await self.chat.add_line(answer_stats(event.to_record()), "stats")
        elif isinstance(event, HandoffEvent):
            via = {"user": "", "handback": " (back)"}.get(event.reason, f" ({event.reason})")
            note = f": {event.instructions}" if event.instructions else ""
            await self.chat.add_line(f"⇢ handoff {event.from_model} → {event.to_model}{via}{note}", "handoff")
            if event.reason == "user" and event.instructions:
                await self.chat.add_user(event.instructions)
            self.on_state(event)
        elif isinstance(event, RouteEvent):
            await self.chat.add_line(f"↪ routed to {event.model} ({event.task_type}: {event.reason})", "route")
            self.on_state(event)
        elif isinstance(event, ToolCallEvent):
            status = f"error: {event.error}" if event.error else f"{event.latency_s:.1f}s"
            await self.chat.add_line(
                f"⚙ {event.model} called {event.server}.{event.tool} {event.arguments} · {status}", "tool"
            )
        elif isinstance(event, ConsultEvent):
            result = f"error: {event.error}" if event.error else f"{event.latency_s:.1f}s"
            await self.chat.add_line(f"⇄ {event.from_model} consulted {event.to_model}: {event.question} · {result}",
                                     "handoff")
        elif isinstance(event, FallbackEvent):
            await self.chat.add_line(f"↯ fallback {event.from_model} → {event.to_model}: {event.error}", "error")
        elif isinstance(event, RetryEvent):
            await self.chat.add_line(f"↻ retry {event.attempt} of {event.model} in {event.delay_s:.1f}s: {event.error}",
                                     "error")
        elif isinstance(event, (ParallelEvent, ConsensusEvent)):
            (await self._round()).show_outcome(round_outcome(event.to_record()))
            self.on_state(event)
        elif isinstance(event, NoticeEvent):
            self.notify(one_line(event.message, 300), "warning")


def records(events: list[TimelineEvent]) -> list[dict[str, Any]]:
    return [e.to_record() for e in events]

