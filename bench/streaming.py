"""Streaming in the app, as a person sees it on a real pseudo-terminal.

- answer: Enter to the last word of a 20,000-word answer on screen (Markdown rendered),
  against a plain httpx reader of the same local stream (bench/reader.py);
- parallel: `/parallel a b c` with three such answers at once, to the last word of every
  column, against the reader reading three streams at once;
- keys: while answers stream, one key every 40-80 ms; each key's time from being written
  to the terminal to the character appearing in what the app draws (every key is a
  different CJK character, so a repaint of an earlier one never counts).

    .venv/bin/python bench/streaming.py [--words 20000] [--runs 3] [--paragraph 80] [--history N]

`--history N` measures the keys only, with the app opened on a saved session of N
messages (`baton --session`), which it autosaves while the answer streams (at most
25,000 words: the end of a longer answer is folded, so it never shows).

`--paragraph 0` sends one endless paragraph (the worst case for Markdown).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from reader import read
from server import MARK, Server
from terminal import Terminal

READY = "/help"  # in the composer's hint: the first frame is up


ROUND_DONE = "no synthesis"  # the round's outcome line, shown once every column has ended


def stream_in_app(base: str, command: str, models: str, *, early: bool = False) -> tuple[float, float]:
    """Enter to the last word on screen; for a round, to the outcome line below the
    columns (drawn after every column has shown its last word). Also the app's CPU time
    meanwhile: on a shared machine it moves far less from run to run than the wall
    time, and a CPU-bound app's wall time follows it.

    Enter is pressed once the app has settled after its start (`Terminal.settle`), or
    with `early` 0.3 s after its first frame, while its warm-up still imports and reads
    the price table (what a question pasted at once meets)."""
    with Terminal(base) as term:
        term.wait_for(READY)
        if early:
            time.sleep(0.3)
        else:
            term.settle()
        cpu = term.cpu_seconds()
        started, pos = term.write(command + "\r")
        took = term.wait_for(MARK + models if len(models) == 1 else ROUND_DONE, pos) - started
        return took, term.cpu_seconds() - cpu


def keys_while_streaming(
        base: str, command: str, models: str, keys: list[str], history: Path | None = None) -> list[float]:
    """Key-to-screen latencies (seconds) while the answer(s) of `command` stream."""
    latencies: list[float] = []
    args, files = (("--session", "history.toml"), {"history.toml": history}) if history else ((), None)
    with Terminal(base, *args, files=files) as term:
        term.wait_for(READY if history is None else "Question")
        term.settle()
        _, start = term.write(command + "\r")
        term.wait_for("streaming", start)
        done = MARK + models if len(models) == 1 else ROUND_DONE
        while keys and not term.seen(done, start):
            key = keys.pop()
            typed, pos = term.write(key)
            try:
                latencies.append(term.wait_for(key, pos, timeout=5) - typed)
            except TimeoutError:
                latencies.append(5.0)
            gap = time.perf_counter() + random.uniform(0.04, 0.08)
            while time.perf_counter() < gap:
                term.pump(gap - time.perf_counter())
    return latencies


def run(words: int, runs: int, paragraph: int) -> dict[str, float]:
    keys = [chr(0x4E00 + i) for i in range(2000)]
    random.seed(7)
    with Server(words, paragraph=paragraph) as server:
        asyncio.run(read(server.base))  # warm up
        floor1, floor3, app1, app3, lat1, lat3, early1 = [], [], [], [], [], [], []
        cpu1: list[float] = []
        cpu3: list[float] = []
        for _ in range(runs):  # interleaved, so drift affects both alike
            floor1.append(asyncio.run(read(server.base)))
            took, cpu = stream_in_app(server.base, "go", "a")
            app1.append(took)
            cpu1.append(cpu)
            early1.append(stream_in_app(server.base, "go", "a", early=True)[0])
            floor3.append(asyncio.run(read(server.base, 3)))
            took, cpu = stream_in_app(server.base, "/parallel a b c go", "abc")
            app3.append(took)
            cpu3.append(cpu)
        for _ in range(runs):
            lat1 += keys_while_streaming(server.base, "go", "a", keys)
            lat3 += keys_while_streaming(server.base, "/parallel a b c go", "abc", keys)
    return {
        "reader_s": statistics.median(floor1), "app_s": statistics.median(app1),
        "app_early_s": statistics.median(early1),
        "reader3_s": statistics.median(floor3), "app3_s": statistics.median(app3),
        "app_cpu_s": statistics.median(cpu1), "app3_cpu_s": statistics.median(cpu3),
        **percentiles(lat1 + lat3), **percentiles(lat1, "1"), **percentiles(lat3, "3"),
    }


def percentiles(latencies: list[float], suffix: str = "") -> dict[str, float]:
    """How many keys, and their p50, p95 and max in ms (`keys1`, `key_p50_ms1`, ... with a suffix)."""
    lat = sorted(latencies)
    nan = float("nan")
    return {
        f"keys{suffix}": len(lat),
        f"key_p50_ms{suffix}": statistics.median(lat) * 1000 if lat else nan,
        f"key_p95_ms{suffix}": lat[int(0.95 * (len(lat) - 1))] * 1000 if lat else nan,
        f"key_max_ms{suffix}": lat[-1] * 1000 if lat else nan,
    }


def keys_with_history(words: int, runs: int, paragraph: int, history: int) -> dict[str, float]:
    """Keys while one answer streams into a session of `history` messages."""
    import tempfile

    from long_session import build
    from terminal import PROFILE

    from tui.core.profile_io import parse_profile

    keys = [chr(0x4E00 + i) for i in range(2000)]
    random.seed(7)
    home = Path(tempfile.mkdtemp())
    path = home / "history.toml"  # the app opens a copy in its own data directory: trusted there
    build(path, history, {"HOME": str(home), "BATON_DATA_DIR": str(home)}, parse_profile(PROFILE))
    lat: list[float] = []
    with Server(words, paragraph=paragraph) as server:
        for _ in range(runs):
            lat += keys_while_streaming(server.base, "go", "a", keys, history=path)
    return percentiles(lat)


def report(r: dict[str, float], words: int, paragraph: int) -> None:
    shape = f"paragraphs of {paragraph} words" if paragraph else "one paragraph"
    print(f"{words:,} words ({shape}), Enter to the last word on screen, median")
    print(f"  one answer   app {r['app_s']:.3f} s   reader {r['reader_s']:.3f} s   "
          f"ratio {r['app_s'] / r['reader_s']:.2f}x (target 2x)   app CPU {r['app_cpu_s']:.3f} s")
    print(f"  the same, sent 0.3 s after the first frame (the warm-up still going)   app {r['app_early_s']:.3f} s   "
          f"ratio {r['app_early_s'] / r['reader_s']:.2f}x")
    print(f"  3 in a round app {r['app3_s']:.3f} s   reader x3 {r['reader3_s']:.3f} s   "
          f"ratio {r['app3_s'] / r['reader3_s']:.2f}x (target 2x)   app CPU {r['app3_cpu_s']:.3f} s")
    for label, suffix in (("keys while streaming", ""), ("  one answer", "1"), ("  a round", "3")):
        print(f"  {label}: {r['keys' + suffix]} keys, p50 {r['key_p50_ms' + suffix]:.1f} ms, "
              f"p95 {r['key_p95_ms' + suffix]:.1f} ms, max {r['key_max_ms' + suffix]:.1f} ms"
              + (" (target p95 50, max 100)" if not suffix else ""))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--words", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--paragraph", type=int, default=80)
    parser.add_argument("--history", type=int, default=0)
    args = parser.parse_args()
    if args.history and args.words > 25_000:
        parser.error("--history needs --words 25000 or fewer: the answer's last word must show above the fold")
    if args.history:
        r = keys_with_history(args.words, args.runs, args.paragraph, args.history)
        print(f"keys while streaming into a session of {args.history:,} messages: {r['keys']} keys, "
              f"p50 {r['key_p50_ms']:.1f} ms, p95 {r['key_p95_ms']:.1f} ms, max {r['key_max_ms']:.1f} ms")
        raise SystemExit
    report(run(args.words, args.runs, args.paragraph), args.words, args.paragraph)
