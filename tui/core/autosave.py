"""The session file as a sink of the run's stream: saved after every change that
completes something, and at most once a second while an answer streams (with the
partial), so that a killed process loses at most the turn in flight.

A snapshot costs time in proportion to the session's size, so in a long session the
gap between snapshots grows to ten times what the last write took: saving never takes
more than a tenth of the time an answer streams."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from .events import (
    BranchSelected,
    Event,
    MessageAdded,
    ModelSelected,
    RunCancelled,
    RunFailed,
    RunFinished,
    TextDelta,
    TimelineEvent,
)

_CHANGES = (MessageAdded, ModelSelected, BranchSelected, RunFinished, RunFailed, RunCancelled, TimelineEvent)

SaveFn = Callable[[bool], Awaitable[None]]  # snapshot: include what is still streaming


class AutoSave:
    def __init__(self, save: SaveFn, every_s: float = 1.0, share: float = 0.1) -> None:
        self._save = save
        self.every_s = every_s
        self.share = share  # at most this share of the streaming time goes on snapshots
        self.gap_s = every_s  # the gap between snapshots now
        self._last = 0.0
        self._want = 0  # 0 nothing, 1 a snapshot, 2 a full save
        self._task: asyncio.Task[None] | None = None

    def __call__(self, event: Event) -> None:
        if isinstance(event, TextDelta):
            if time.monotonic() - self._last >= self.gap_s:
                self.request(snapshot=True)
        elif isinstance(event, _CHANGES):
            self.request(snapshot=False)

    def request(self, *, snapshot: bool = False) -> None:
        self._want = max(self._want, 1 if snapshot else 2)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._loop())

    async def _loop(self) -> None:
        while self._want:
            snapshot = self._want == 1
            self._want = 0
            self._last = started = time.monotonic()
            await self._save(snapshot)
            self.gap_s = max(self.every_s, (time.monotonic() - started) / self.share)

    async def flush(self) -> None:
        """Wait until every requested save is on disk."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)
