"""The session file as a sink of the run's stream: saved after every change that
completes something, and at most once a second while an answer streams (with the
partial), so that a killed process loses at most the turn in flight."""

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
    def __init__(self, save: SaveFn, every_s: float = 1.0) -> None:
        self._save = save
        self.every_s = every_s
        self._last = 0.0
        self._want = 0  # 0 nothing, 1 a snapshot, 2 a full save
        self._task: asyncio.Task[None] | None = None

    def __call__(self, event: Event) -> None:
        if isinstance(event, TextDelta):
            if time.monotonic() - self._last >= self.every_s:
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
            self._last = time.monotonic()
            await self._save(snapshot)

    async def flush(self) -> None:
        """Wait until every requested save is on disk."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)
