"""Providers streaming in a process of their own (`tui.core.providers.worker`), as `baton`
runs them: the engine's end-to-end tests again, every stream through the worker, and
what happens when the worker cannot start, stops, or stops answering."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest
from fakellm import FakeLLM, Reply
from test_engine import *  # noqa: F403 - collected again here, through the worker
from test_engine import ENV, engine

from tui.core.engine import drain
from tui.core.engine.turns import TurnRunner
from tui.core.events import RetryEvent, RunFinished, TextDelta, TurnEvent
from tui.core.providers import ChatRequest, Deadlines, ProviderConfig, ProviderError, make_provider
from tui.core.providers import worker as worker_module
from tui.core.providers.worker import StreamWorker
from tui.core.types import Message


@pytest.fixture(autouse=True)
async def through_the_worker(monkeypatch):
    workers: list[StreamWorker] = []
    real = TurnRunner.__init__

    def init(self, *args, **kwargs) -> None:
        real(self, *args, **kwargs)
        self.worker = StreamWorker()
        workers.append(self.worker)

    monkeypatch.setattr(TurnRunner, "__init__", init)
    yield workers
    try:
        assert all(worker.broken is None for worker in workers), [worker.broken for worker in workers]
    finally:
        for worker in workers:
            await worker.aclose()


# ------------------------------------------------------------------ the worker itself

LONG = "".join(f"word{i} " for i in range(3000))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/stat")
    return not status.exists() or status.read_text().rsplit(")", 1)[1].split()[0] != "Z"


async def test_a_fast_stream_arrives_whole_in_a_few_batches_from_another_process(
        fake_llm: FakeLLM, through_the_worker) -> None:
    fake_llm.script("alpha", Reply(text=LONG, chunk_size=4))
    eng = engine(fake_llm)
    events = await drain(eng.send("go"))
    [worker] = through_the_worker
    deltas = [e for e in events if isinstance(e, TextDelta)]
    chunks = len(LONG) // 4
    assert "".join(d.text for d in deltas) == LONG
    assert len(deltas) < chunks / 10  # the text of a few milliseconds is one event, not one per chunk
    turn = next(e for e in events if isinstance(e, TurnEvent))
    assert turn.text == LONG and turn.usage["output_tokens"] > 0
    assert isinstance(events[-1], RunFinished) and events[-1].final_output == LONG
    assert worker.pid is not None and worker.pid != os.getpid() and _alive(worker.pid)
    assert ENV["FO_KEY"] not in Path(f"/proc/{worker.pid}/cmdline").read_text()  # by pipe only
    await worker.aclose()
    assert not _alive(worker.pid)


async def test_a_worker_that_cannot_start_leaves_the_streams_in_process(fake_llm: FakeLLM, monkeypatch) -> None:
    broken = StreamWorker([sys.executable, "-c", "import sys; sys.exit(3)"])
    real = TurnRunner.__init__

    def init(self, *args, **kwargs) -> None:
        real(self, *args, **kwargs)
        self.worker = broken

    monkeypatch.setattr(TurnRunner, "__init__", init)
    fake_llm.script("alpha", Reply(text="hello from in here"))
    events = await drain(engine(fake_llm).send("go"))
    assert isinstance(events[-1], RunFinished) and events[-1].final_output == "hello from in here"
    assert broken.broken is not None and "did not start" in broken.broken
    await broken.aclose()


async def test_a_worker_killed_mid_stream_costs_a_retry_and_nothing_else(
        fake_llm: FakeLLM, through_the_worker) -> None:
    fake_llm.script("alpha", Reply(text=LONG, chunk_size=40, chunk_delay=0.01), Reply(text="again, whole"))
    eng = engine(fake_llm)
    run = eng.send("go")
    seen: list[object] = []
    async for event in run:
        seen.append(event)
        if isinstance(event, TextDelta) and len(seen) < 1000:
            [worker] = through_the_worker
            if worker.pid is not None and worker.broken is None:
                os.kill(worker.pid, signal.SIGKILL)
    [worker] = through_the_worker
    assert worker.broken is not None
    retry = next(e for e in seen if isinstance(e, RetryEvent))
    assert "stream worker stopped" in retry.error
    assert isinstance(seen[-1], RunFinished) and seen[-1].final_output == "again, whole"  # in process now
    through_the_worker.remove(worker)  # (broken on purpose)
    await worker.aclose()


def _request(deadlines: Deadlines) -> ChatRequest:
    return ChatRequest(model="alpha", messages=(Message("user", "go"),), deadlines=deadlines)


async def test_a_worker_that_stops_answering_fails_the_stream_within_its_deadlines(
        fake_llm: FakeLLM, monkeypatch) -> None:
    # Says it is ready, then reads its pipe and never answers.
    silent = ("import pickle, struct, sys; d = pickle.dumps(('ready', 0, None)); "
              "sys.stdout.buffer.write(struct.pack('<I', len(d)) + d); sys.stdout.buffer.flush(); "
              "[None for _ in iter(lambda: sys.stdin.buffer.read(1), b'')]")
    monkeypatch.setattr(worker_module, "GRACE_S", 0.3)
    worker = StreamWorker([sys.executable, "-c", silent])
    config = ProviderConfig("fo", "openai", fake_llm.openai_base)
    made: list[str] = []

    def local():
        made.append("in process")
        return make_provider(config, "sk-x")

    provider = worker.provider(config, "sk-x", local)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(ProviderError) as failed:
        async for _ in provider.stream(_request(Deadlines(0.1, 0.2, 0.2, 1.0))):
            pass
    assert loop.time() - started < 3 and failed.value.retryable
    assert "stopped answering" in str(failed.value) and worker.broken is not None
    fake_llm.script("alpha", Reply(text="in process"))
    texts = [e.text async for e in provider.stream(_request(Deadlines())) if hasattr(e, "text")]
    assert made == ["in process"] and texts[-1] == "in process"
    await provider.aclose()
    await worker.aclose()


async def test_a_stream_closed_early_is_dropped_by_the_worker_which_serves_the_next(fake_llm: FakeLLM) -> None:
    worker = StreamWorker()
    config = ProviderConfig("fo", "openai", fake_llm.openai_base)
    provider = worker.provider(config, "sk-x", lambda: make_provider(config, "sk-x"))
    fake_llm.script("alpha", Reply(text=LONG, chunk_size=8, chunk_delay=0.005), Reply(text="the next one"))
    stream = provider.stream(_request(Deadlines()))
    first = await anext(stream)
    assert first.text  # type: ignore[union-attr]
    await stream.aclose()  # as a cancelled run closes it
    texts = [e.text async for e in provider.stream(_request(Deadlines())) if hasattr(e, "text")]
    assert texts[-1] == "the next one" and worker.broken is None and not worker._streams
    await worker.aclose()


async def test_the_app_streams_through_its_worker_and_stops_it_when_it_quits(
        fake_llm: FakeLLM, tmp_path: Path) -> None:
    from test_app import SIZE, type_and_send
    from test_app_helpers import fake_profile, idle

    from tui.ui.app import BatonApp
    from tui.ui.chat import AnswerView

    fake_llm.script("alpha", Reply(text=LONG, chunk_size=4))
    app = BatonApp(fake_profile(fake_llm.openai_base), env={}, session_path=tmp_path / "s.toml",
                   stream_worker=True)
    async with app.run_test(size=SIZE) as pilot:
        await type_and_send(pilot, "go")
        await idle(pilot, app)
        assert app.query_one(AnswerView).text == LONG
        worker = app._stream_worker
        assert worker is not None and worker.pid is not None and worker.broken is None
        pid = worker.pid
    assert not _alive(pid)


async def test_a_provider_that_keeps_no_text_leaves_it_to_the_reader_of_its_deltas(fake_llm: FakeLLM) -> None:
    """The worker's providers: the text is held once, by the app, not again in the worker."""
    config = ProviderConfig("fo", "openai", fake_llm.openai_base)
    fake_llm.script("alpha", Reply(text=LONG, chunk_size=16), Reply(text=LONG, chunk_size=16, cut_after=50))
    provider = make_provider(config, "sk-x", keep_text=False)
    events = [e async for e in provider.stream(_request(Deadlines()))]
    assert "".join(e.text for e in events if type(e).__name__ == "Delta") == LONG  # type: ignore[attr-defined]
    assert events[-1].text == ""  # type: ignore[union-attr]
    received: list[str] = []
    with pytest.raises(ProviderError) as cut:
        async for event in provider.stream(_request(Deadlines())):
            received.append(event.text)  # type: ignore[union-attr]
    assert len("".join(received)) == 50 * 16 and cut.value.partial == ""
    await provider.aclose()


async def test_a_stream_does_not_wait_long_for_a_worker_still_starting(fake_llm: FakeLLM, monkeypatch) -> None:
    monkeypatch.setattr(worker_module, "READY_WAIT_S", 0.3)
    slow = StreamWorker([sys.executable, "-c", "import time; time.sleep(30)"])
    config = ProviderConfig("fo", "openai", fake_llm.openai_base)
    provider = slow.provider(config, "sk-x", lambda: make_provider(config, "sk-x"))
    fake_llm.script("alpha", Reply(text="answered in process"))
    loop = asyncio.get_running_loop()
    started = loop.time()
    texts = [e.text async for e in provider.stream(_request(Deadlines())) if hasattr(e, "text")]
    assert texts[-1] == "answered in process" and loop.time() - started < 2
    assert slow.broken is None  # still starting: a later stream may use it
    await slow.aclose()


async def test_a_request_that_does_not_cross_the_pipe_is_streamed_in_process(fake_llm: FakeLLM) -> None:
    class Extras(dict):  # a local class: JSON takes it, pickle does not
        pass

    worker = StreamWorker()
    config = ProviderConfig("fo", "openai", fake_llm.openai_base)
    provider = worker.provider(config, "sk-x", lambda: make_provider(config, "sk-x"))
    fake_llm.script("alpha", Reply(text="still answered"))
    request = ChatRequest(model="alpha", messages=(Message("user", "go"),), extra=Extras(user="me"))
    texts = [e.text async for e in provider.stream(request) if hasattr(e, "text")]
    assert texts[-1] == "still answered" and worker.broken is None and not worker._streams
    assert fake_llm.requests[-1].body["user"] == "me"
    await worker.aclose()
