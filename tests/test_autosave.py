"""The autosave sink: snapshots while an answer streams, spaced so that saving a long
session never takes more than a small share of the streaming time."""

from __future__ import annotations

import asyncio
import time

from tui.core.autosave import AutoSave
from tui.core.events import TextDelta


async def stream_for(sink: AutoSave, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        sink(TextDelta(model="alpha", text="word "))
        await asyncio.sleep(0.01)
    await sink.flush()


async def test_a_quick_save_snapshots_about_every_gap() -> None:
    saves: list[bool] = []

    async def save(snapshot: bool) -> None:
        saves.append(snapshot)

    sink = AutoSave(save, every_s=0.1)
    await stream_for(sink, 0.55)
    assert 3 <= len(saves) <= 7 and all(saves)
    assert sink.gap_s == 0.1


async def test_a_slow_save_spaces_the_snapshots_to_ten_times_its_length() -> None:
    saves: list[float] = []

    async def save(snapshot: bool) -> None:
        saves.append(time.monotonic())
        await asyncio.sleep(0.05)  # a big session: each snapshot takes 50 ms

    sink = AutoSave(save, every_s=0.1)
    await stream_for(sink, 1.2)
    # at a fixed 0.1 s gap this would be about ten snapshots; at ten times 50 ms, two or three
    assert 1 <= len(saves) <= 3
    assert sink.gap_s >= 0.5
    gaps = [b - a for a, b in zip(saves, saves[1:], strict=False)]
    assert all(g >= 0.5 for g in gaps)


async def test_a_change_that_completes_something_is_saved_at_once_whatever_the_gap() -> None:
    from tui.core.events import RunFinished

    saves: list[bool] = []

    async def save(snapshot: bool) -> None:
        saves.append(snapshot)
        await asyncio.sleep(0.05)

    sink = AutoSave(save, every_s=0.1)
    sink(TextDelta(model="alpha", text="x"))
    await sink.flush()
    sink(TextDelta(model="alpha", text="y"))  # within the widened gap: no snapshot
    sink(RunFinished(final_output="xy", model="alpha"))
    await sink.flush()
    assert saves == [True, False]
