"""Keys before streamed text: how streamed work steps aside for a key (`tui.ui.pace`),
and the run's producer giving the loop those turns."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator

import pytest

from tui.core.conversation import Conversation
from tui.core.events import Event, RunFinished, TextDelta
from tui.core.run import SLICE_S, STEP_ASIDE, Run
from tui.ui import pace


@pytest.fixture(autouse=True)
def no_keys(monkeypatch) -> None:
    monkeypatch.setattr(pace, "_read", float("-inf"))
    monkeypatch.setattr(pace, "_handled", float("-inf"))


def test_with_no_key_streamed_text_is_drawn_at_once() -> None:
    assert pace.hold_for(time.perf_counter()) == 0
    assert pace.key_pending() == 0


def test_a_key_on_its_way_holds_the_text_until_its_frame_is_past() -> None:
    since = time.perf_counter()
    pace.key_read()
    assert 0 < pace.hold_for(since) <= pace.QUIET_S
    assert pace.key_pending() > 0
    pace.key_handled()  # the app took it: its frame comes first, then the text
    assert 0 < pace.hold_for(since) <= pace.QUIET_S
    time.sleep(pace.QUIET_S + 0.01)
    assert pace.hold_for(since) == 0
    assert pace.key_pending() == 0


def test_someone_typing_on_and_on_still_sees_the_text_move() -> None:
    since = time.perf_counter() - pace.MAX_WAIT_S  # the text has waited as long as it may
    pace.key_read()
    assert pace.hold_for(since) == 0


def test_a_key_lost_on_its_way_holds_nothing_for_long() -> None:
    pace.key_read()
    pace._read -= pace.MAX_WAIT_S  # read long ago, never handled (a key the driver dropped)
    assert pace.hold_for(time.perf_counter()) == 0
    assert pace.key_pending() == 0


def test_the_driver_notes_each_key_as_it_reads_it() -> None:
    from textual import events
    from textual.driver import Driver

    handed: list[object] = []

    class Plain(Driver):
        def process_message(self, message) -> None:  # type: ignore[override]
            handed.append(message)

        def start_application_mode(self) -> None: ...
        def disable_input(self) -> None: ...
        def stop_application_mode(self) -> None: ...
        def write(self, data: str) -> None: ...

    keyed = pace.keys_first(Plain)
    assert pace.keys_first(Plain) is keyed and issubclass(keyed, Plain)
    driver = keyed.__new__(keyed)
    key = events.Key("a", "a")
    driver.process_message(key)
    assert handed == [key]
    assert pace.key_pending() > 0
    driver.process_message(events.Resize.from_dimensions((80, 24), None))
    assert len(handed) == 2


async def test_a_busy_run_steps_aside_as_long_as_it_is_asked_at_each_slice() -> None:
    async def busy() -> AsyncGenerator[Event, None]:
        for _ in range(40):
            end = time.perf_counter() + SLICE_S  # a socket that is never empty: no await waits
            while time.perf_counter() < end:
                pass
            yield TextDelta("a", "word ")
        yield RunFinished("", "a")

    run = Run(busy(), Conversation(), lambda event: None)
    asked: list[float] = []

    def step_aside() -> float:
        asked.append(time.perf_counter())
        return 0.01

    run.yield_to = step_aside
    ticks = 0

    async def other_work() -> None:  # the loop's other callbacks (keys, frames)
        nonlocal ticks
        while not run.done:
            ticks += 1
            await asyncio.sleep(0)

    started = time.perf_counter()
    await asyncio.gather(run.wait(), other_work())
    took = time.perf_counter() - started
    assert len(asked) >= 30  # asked at (nearly) every slice
    assert took >= 40 * SLICE_S + len(asked) * 0.01 * 0.9  # and it did step aside that long
    assert ticks > len(asked)  # the loop ran other work meanwhile


async def test_a_rounds_lanes_step_aside_for_a_key_and_only_for_one() -> None:
    """Each lane of a round reads its own socket in a task of its own: with a key on its
    way, every lane steps aside at the end of its slice, so the key is taken while the
    lanes still stream; with none, the lanes never give up their turn."""
    from tui.core.engine.rounds import merge

    produced = 0

    async def lane() -> AsyncGenerator[Event, None]:
        nonlocal produced
        for _ in range(30):
            end = time.perf_counter() + SLICE_S / 2  # a socket that is never empty
            while time.perf_counter() < end:
                pass
            produced += 1
            yield TextDelta("a", "word ")

    async def round_with(key_waiting: bool) -> int | None:
        nonlocal produced
        produced = 0
        taken: list[int] = []
        waiting = [key_waiting]

        def step_aside() -> float:
            return 0.002 if waiting[0] else 0.0

        async def key() -> None:  # the app taking the key, once the loop lets it
            await asyncio.sleep(0)
            taken.append(produced)
            waiting[0] = False

        async def read_round() -> None:
            STEP_ASIDE.set(step_aside)  # as `Run` does for its operation
            async for _ in merge({"a": lane(), "b": lane(), "c": lane()}):
                pass

        reader = asyncio.create_task(read_round())
        await asyncio.sleep(0)  # the lanes start
        await asyncio.gather(key(), reader)
        return taken[0]

    assert await round_with(key_waiting=True) < 30  # taken long before the 90 deltas were read
    assert await round_with(key_waiting=False) >= 30  # no key: a lane runs until its socket is empty


async def test_a_flush_stops_for_a_key_and_the_next_one_goes_on() -> None:
    from textual.app import App, ComposeResult

    from tui.ui.answer import STEP, AnswerView

    class One(App):
        def compose(self) -> ComposeResult:
            yield AnswerView("alpha")

    app = One()
    async with app.run_test() as pilot:
        view = app.query_one(AnswerView)
        text = "word " * (4 * STEP)
        await view.write(text)
        pace.key_read()  # a key comes while the text waits
        assert view.flush(time.perf_counter() + 60) is False  # one step, then the key's turn
        assert 0 < len(view.blocks_text()) <= STEP
        pace.key_handled()  # the app took it
        assert view.flush(time.perf_counter() + 60) is True
        assert view.blocks_text() == text
        await pilot.pause()
