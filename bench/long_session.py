"""Long sessions: 2,000 and 20,000 messages saved, opened, scrolled, searched, typed into.

Measures (medians over --runs):
- load_session of the TOML file;
- spawn to first frame of `baton --session FILE` (launch.open_args: the session's end
  first, the whole file after), against the same app with no session and against the
  whole file read before the first frame (as before; fresh processes on a
  pseudo-terminal, exit on Textual's Ready event, as in bench/startup.py), the
  process's RSS at that first frame, and when the whole session is in place;
- in one headless app (Pilot), once the whole session is in place: Home to the first message and End back to the last
  (each until the screen has processed it), a search for the first question, mounting
  one batch of older messages when the person scrolls to the top, the widgets mounted
  afterwards; and typing into the composer, as the time from a key event to the
  composer showing it and the screen being repainted, long session open and empty.

    .venv/bin/python bench/long_session.py [--messages 2000,20000] [--runs 5]
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

from startup import LAST_RSS_MB, first_frame_s  # noqa: E402

from tui.core import trust  # noqa: E402
from tui.core.conversation import Conversation  # noqa: E402
from tui.core.profile import ModelDef, Profile, ProviderDef  # noqa: E402
from tui.core.session import load_session, save_session  # noqa: E402
from tui.core.types import Message  # noqa: E402

OPEN = """
import os, sys, time
from tui.core.preview import PreviewConversation
from tui.ui.app import BatonApp
from tui.ui.launch import open_args

def loading(app):
    return any(w.group == "load" and not w.is_finished for w in app.workers)

def stamp(suffix, text):
    open(sys.argv[1] + suffix, "w").write(text)

class Timed(BatonApp):
    def on_ready(self):
        now = time.time()
        rss = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmRSS:"))
        stamp(".rss", str(rss / 1024))
        stamp("", repr(now))
        if LOADED:
            self.set_interval(0.005, self.loaded)
        else:
            self.exit()

    def loaded(self):
        if not isinstance(self._conversation, PreviewConversation) and not loading(self):
            open(LOADED, "w").write(repr(time.time() - float(open(sys.argv[1]).read())))
            self.exit()

if SESSION:
    Timed(**open_args(None, SESSION, {}, preview=PREVIEW)).run()
else:
    from tui.core.profile import Profile
    Timed(Profile(default_model="openai/gpt-4.1"), env={"OPENAI_API_KEY": "unused"}).run()
"""


def answer(i: int) -> str:
    text = (f"Answer {i}. Here is a paragraph with **bold**, `code` and a [link](https://example.com).\n\n"
            f"- point one about {i}\n- point two\n- point three\n")
    if i % 10 == 0:
        text += f"\n```python\ndef f{i}(x):\n    return x * {i}\n```\n"
    return text


def build(path: Path, count: int, env: dict[str, str], profile: Profile | None = None) -> None:
    """The session as Baton writes it, remembered as written (trusted) under `env`'s config.
    Its answers come from the profile's first two models."""
    if profile is None:
        profile = Profile(name="bench", default_model="alpha",
                          providers={"fake": ProviderDef(kind="openai", base_url="http://127.0.0.1:9/v1")},
                          models={"alpha": ModelDef(model="fake/alpha"), "beta": ModelDef(model="fake/beta")})
    first, second = list(profile.models)[:2]
    messages: list[Message] = []
    events: list[dict] = []
    for i in range(count // 2):
        messages.append(Message("user", f"Question {i}: tell me about item {i}."))
        model = first if i % 3 else second
        messages.append(Message("assistant", answer(i), model))
        events.append({"type": "turn", "model": model, "text": answer(i)[:40],
                       "usage": {"input_tokens": 100 + i, "output_tokens": 60},
                       "cost_usd": 0.0001, "latency_s": 1.1, "finish_reason": "stop", "partial": False,
                       "purpose": "answer", "time": 1700000000.0 + i})
    save_session(path, profile, Conversation(messages, events, active_model=first))
    trust.remember_written(path, profile, env)


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


async def in_app(path: Path | None) -> dict[str, float]:
    from tui.core.preview import PreviewConversation
    from tui.ui.app import BatonApp
    from tui.ui.chat import ChatPane
    from tui.ui.launch import open_args

    if path is None:
        app = BatonApp(Profile(default_model="openai/gpt-4.1"), env={"OPENAI_API_KEY": "unused"}, session_path=None)
    else:
        app = BatonApp(**open_args(None, str(path), {"OPENAI_API_KEY": "unused"}, preview=True))
    out: dict[str, float] = {}
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        chat = app.query_one(ChatPane)
        if path is not None:
            while isinstance(app._conversation, PreviewConversation) or any(
                    w.group == "load" and not w.is_finished for w in app.workers):  # the whole session in place
                await pilot.pause(0.01)
            started = time.perf_counter()
            await chat.show_start()
            await pilot.pause()
            out["home_s"] = time.perf_counter() - started
            assert chat.scroll_y == 0 and chat._lo == 0
            started = time.perf_counter()
            await chat.show_end()
            await pilot.pause()
            out["end_s"] = time.perf_counter() - started
            started = time.perf_counter()
            assert chat.find("Question 0:")
            while chat._lo != 0 or chat._moving:
                await pilot.pause(0.001)
            out["find_s"] = time.perf_counter() - started
            await chat.show_end()
            await pilot.pause()
            batches = []
            for _ in range(5):  # scroll to the top five times: five older batches
                lowest = chat._lo
                started = time.perf_counter()
                chat.scroll_home(animate=False)
                while chat._lo == lowest or chat._moving:
                    await pilot.pause(0.001)
                batches.append(time.perf_counter() - started)
            out["batch_s"] = statistics.median(batches)
            out["mounted"] = len(chat.children)
            await chat.show_end()
            await pilot.pause()
        out["key_s"] = await key_latency(app, pilot, "the quick brown fox jumps over the lazy dog")
    return out


def first_frame(source: str, env: dict[str, str]) -> tuple[float, float]:
    """Seconds to the first frame and the RSS (MB) at that moment."""
    seconds = first_frame_s(source, env)
    return seconds, LAST_RSS_MB[0] if LAST_RSS_MB else float("nan")


def run(count: int, runs: int) -> dict[str, float]:
    tmp = Path(tempfile.mkdtemp())
    path = tmp / "long.toml"
    # Baton's directories (and the trust store, which says Baton wrote the file) in tmp.
    saved = {k: os.environ.get(k) for k in ("BATON_DATA_DIR", "BATON_CONFIG_DIR")}
    os.environ.update(BATON_DATA_DIR=str(tmp / "data"), BATON_CONFIG_DIR=str(tmp / "config"))
    try:
        return measure(path, count, runs)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def measure(path: Path, count: int, runs: int) -> dict[str, float]:
    tmp = path.parent
    build(path, count, dict(os.environ))
    loads = []
    for _ in range(runs):
        started = time.perf_counter()
        load_session(path)
        loads.append(time.perf_counter() - started)
    env = {**os.environ, "TERM": "xterm-256color", "PYTHONPATH": str(ROOT)}
    loaded = tmp / "loaded"
    source = OPEN.replace("SESSION", repr(str(path))).replace("PREVIEW", "True").replace("LOADED", repr(str(loaded)))
    whole = OPEN.replace("SESSION", repr(str(path))).replace("PREVIEW", "False").replace("LOADED", "None")
    empty = OPEN.replace("SESSION", "None").replace("LOADED", "None")
    first_frame(source, env)  # warm the file cache
    first_frame(empty, env)
    opens, wholes, empties, rss, rss_whole, rss_empty, in_place = [], [], [], [], [], [], []
    for _ in range(runs):  # interleaved
        seconds, mb = first_frame(source, env)
        opens.append(seconds)
        rss.append(mb)
        in_place.append(seconds + float(loaded.read_text()))
        seconds, mb = first_frame(whole, env)
        wholes.append(seconds)
        rss_whole.append(mb)
        seconds, mb = first_frame(empty, env)
        empties.append(seconds)
        rss_empty.append(mb)
    result = asyncio.run(in_app(path))
    result["key_empty_s"] = asyncio.run(in_app(None))["key_s"]
    result.update(messages=count, kib=path.stat().st_size / 1024, load_s=statistics.median(loads),
                  open_s=statistics.median(opens), empty_s=statistics.median(empties),
                  whole_s=statistics.median(wholes), in_place_s=statistics.median(in_place),
                  rss_mb=statistics.median(rss), rss_whole_mb=statistics.median(rss_whole),
                  rss_empty_mb=statistics.median(rss_empty))
    return result


def report(r: dict[str, float]) -> None:
    print(f"session: {r['messages']:,.0f} messages, {r['kib']:,.0f} KiB TOML; python {sys.version.split()[0]}")
    print(f"  load_session              median {r['load_s'] * 1000:7.1f} ms")
    print(f"  open to first frame       median {r['open_s'] * 1000:7.1f} ms  empty app {r['empty_s'] * 1000:.1f} ms  "
          f"ratio {r['open_s'] / r['empty_s']:.2f}x (target 1.5x)")
    print(f"  whole file first (before) median {r['whole_s'] * 1000:7.1f} ms  ratio {r['whole_s'] / r['empty_s']:.2f}x")
    print(f"  whole session in place    median {r['in_place_s'] * 1000:7.1f} ms after spawn (read after the first "
          "frame)")
    print(f"  RSS at first frame        {r['rss_mb']:7.1f} MB  empty app {r['rss_empty_mb']:.1f} MB  "
          f"whole file first {r['rss_whole_mb']:.1f} MB")
    print(f"  home / end / find first   {r['home_s'] * 1000:7.1f} / {r['end_s'] * 1000:.1f} / "
          f"{r['find_s'] * 1000:.1f} ms (target 1 s)")
    print(f"  older batch on scroll-up  median {r['batch_s'] * 1000:7.1f} ms  (widgets in the chat pane after: "
          f"{r['mounted']:.0f})")
    print(f"  key to painted, median    {r['key_s'] * 1000:7.1f} ms  empty app {r['key_empty_s'] * 1000:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", default="2000,20000")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    for count in (int(m) for m in args.messages.split(",")):
        report(run(count, args.runs))


if __name__ == "__main__":
    main()
