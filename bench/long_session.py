"""A long session: 2,000 messages saved, opened, scrolled and typed into.

Measures (medians over --runs):
- load_session of the TOML file;
- spawn to first frame of `baton --session FILE` (fresh process on a pseudo-terminal,
  exit on Textual's Ready event, as in bench/startup.py);
- in one headless app (Pilot): mounting one batch of older messages when the person
  scrolls to the top; and typing into the composer, as the time from a key event to
  the composer showing it and the screen being repainted, with the long session open
  and, for comparison, with an empty one.

    .venv/bin/python bench/long_session.py [--messages 2000] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from startup import first_frame_s

from tui.core.conversation import Conversation
from tui.core.profile import ModelDef, Profile, ProviderDef
from tui.core.session import load_session, save_session
from tui.core.types import Message

OPEN = """
import sys, time
from tui.core.session import load_session
from tui.ui.app import BatonApp

class Timed(BatonApp):
    def on_ready(self):
        open(sys.argv[1], "w").write(repr(time.time()))
        self.exit()

profile, conversation = load_session(SESSION)
Timed(profile, conversation, env={}, session_path=SESSION).run()
"""


def answer(i: int) -> str:
    text = (f"Answer {i}. Here is a paragraph with **bold**, `code` and a [link](https://example.com).\n\n"
            f"- point one about {i}\n- point two\n- point three\n")
    if i % 10 == 0:
        text += f"\n```python\ndef f{i}(x):\n    return x * {i}\n```\n"
    return text


def build(path: Path, count: int) -> None:
    messages: list[Message] = []
    events: list[dict] = []
    for i in range(count // 2):
        messages.append(Message("user", f"Question {i}: tell me about item {i}."))
        model = "alpha" if i % 3 else "beta"
        messages.append(Message("assistant", answer(i), model))
        events.append({"type": "turn", "model": model, "text": answer(i)[:40],
                       "usage": {"input_tokens": 100 + i, "output_tokens": 60},
                       "cost_usd": 0.0001, "latency_s": 1.1, "finish_reason": "stop", "partial": False,
                       "purpose": "answer", "time": 1700000000.0 + i})
    profile = Profile(name="bench", default_model="alpha",
                      providers={"fake": ProviderDef(kind="openai", base_url="http://127.0.0.1:9/v1")},
                      models={"alpha": ModelDef(model="fake/alpha"), "beta": ModelDef(model="fake/beta")})
    save_session(path, profile, Conversation(messages, events, active_model="alpha"))


async def key_latency(app, pilot, keys: str) -> float:
    """Median seconds from posting a key to the composer until the screen that shows it
    has been painted: the compositor's next refresh after the text changed. (A Pilot
    pause would also wait on every widget of the screen, which the app itself never does.)"""
    from textual import events

    composer = app.query_one("#composer")
    composer.focus()
    await pilot.pause()
    screen = app.screen
    painted = asyncio.Event()
    refresh = screen._compositor_refresh

    def traced_refresh() -> None:
        refresh()
        painted.set()

    screen._compositor_refresh = traced_refresh
    times = []
    try:
        for key in keys:
            expected = composer.text + key
            started = time.perf_counter()
            app.post_message(events.Key(key if key != " " else "space", key))
            while composer.text != expected:
                await asyncio.sleep(0)
            painted.clear()
            await painted.wait()
            times.append(time.perf_counter() - started)
    finally:
        screen._compositor_refresh = refresh
    return statistics.median(times)


async def in_app(path: Path | None) -> tuple[list[float], float, int]:
    from tui.ui.app import BatonApp
    from tui.ui.chat import ChatPane

    if path is None:
        profile, conversation = Profile(default_model="openai/gpt-4.1"), None
    else:
        profile, conversation = load_session(path)
    app = BatonApp(profile, conversation, env={"OPENAI_API_KEY": "unused"}, session_path=None)
    batches: list[float] = []
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        chat = app.query_one(ChatPane)
        for _ in range(5 if path else 0):  # scroll to the top five times: five older batches
            before = len(chat.children)
            started = time.perf_counter()
            chat.scroll_home(animate=False)
            while len(chat.children) == before:
                await pilot.pause(0.001)
            await pilot.pause()
            batches.append(time.perf_counter() - started)
            chat.scroll_end(animate=False)
            await pilot.pause()
        per_key = await key_latency(app, pilot, "the quick brown fox jumps over the lazy dog")
        mounted = len(chat.children)
    return batches, per_key, mounted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp())
    path = tmp / "long.toml"
    build(path, args.messages)
    size_kb = path.stat().st_size / 1024

    loads = []
    for _ in range(args.runs):
        started = time.perf_counter()
        load_session(path)
        loads.append(time.perf_counter() - started)

    env = {**os.environ, "TERM": "xterm-256color", "PYTHONPATH": str(ROOT), "BATON_DATA_DIR": str(tmp)}
    source = OPEN.replace("SESSION", repr(str(path)))
    first_frame_s(source, env)  # warm the file cache
    opens = [first_frame_s(source, env) for _ in range(args.runs)]

    batches, per_key, mounted = asyncio.run(in_app(path))
    _, per_key_empty, _ = asyncio.run(in_app(None))

    print(f"session: {args.messages} messages, {size_kb:.0f} KiB TOML; python {sys.version.split()[0]}")
    print(f"  load_session              median {statistics.median(loads) * 1000:7.1f} ms")
    print(f"  open to first frame       median {statistics.median(opens) * 1000:7.1f} ms  "
          f"(min {min(opens) * 1000:.1f}, {args.runs} fresh processes)")
    print(f"  older batch on scroll-up  median {statistics.median(batches) * 1000:7.1f} ms  "
          f"(max {max(batches) * 1000:.1f}, {len(batches)} batches)")
    print(f"  key to painted, median    {per_key * 1000:7.1f} ms  (widgets in the chat pane: {mounted}); "
          f"empty app {per_key_empty * 1000:.1f} ms")


if __name__ == "__main__":
    main()
