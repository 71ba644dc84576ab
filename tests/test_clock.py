"""`Clock.wait`: one timer for a stream's thousands of waits, deadlines as before, and a
cancellation from outside still a cancellation. (Deadlines against real servers:
tests/test_hostile_providers.py.)"""

from __future__ import annotations

import asyncio

import pytest

from tui.core.providers.base import Deadlines, ProviderError
from tui.core.providers.wire import Clock

QUICK = Deadlines(connect_s=1.0, first_token_s=0.3, idle_s=0.2, turn_s=5.0)


async def ready(value: int) -> int:
    return value


async def test_many_waits_share_one_timer(monkeypatch):
    loop = asyncio.get_running_loop()
    clock = Clock("m", QUICK)
    clock.progressed = True
    timers = []
    call_at = loop.call_at

    def counting(when, callback, *args, **kwargs):
        timers.append(when)
        return call_at(when, callback, *args, **kwargs)

    monkeypatch.setattr(loop, "call_at", counting)
    total = 0
    for n in range(2_000):
        total += await clock.wait(ready(n))
        if n % 100 == 0:
            await asyncio.sleep(0)
    clock.close()
    assert total == sum(range(2_000))
    assert len(timers) <= 2  # asyncio.timeout would have set one per wait


async def test_the_idle_deadline_still_fires_after_many_quick_waits():
    clock = Clock("m", QUICK)
    clock.progressed = True
    for n in range(50):
        await clock.wait(ready(n))
    with pytest.raises(ProviderError, match="stream stalled: nothing received for 0.2s"):
        await clock.wait(asyncio.sleep(10))
    clock.close()


async def test_the_first_token_deadline_counts_from_the_start():
    clock = Clock("m", QUICK)
    await asyncio.sleep(0.15)
    with pytest.raises(ProviderError, match="no first token within 0.3s"):
        await clock.wait(asyncio.sleep(10))  # idle would allow 0.2 s more: first-token ends it sooner


async def test_a_cancellation_from_outside_stays_one():
    clock = Clock("m", QUICK)
    task = asyncio.get_running_loop().create_task(clock.wait(asyncio.sleep(10)))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.4)  # past every deadline: the timer finds nobody waiting
    assert await clock.wait(ready(7)) == 7
    clock.close()


async def test_a_waiter_cancelled_by_the_deadline_can_be_cancelled_again():
    clock = Clock("m", QUICK)
    with pytest.raises(ProviderError):
        await clock.wait(asyncio.sleep(10))
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0  # the deadline's cancellation was taken back
    clock.close()
