"""Every benchmark in one run, then a table of ratios to their floors.

    .venv/bin/python -m bench [--quick]

Runs, in order: start-up (bench/startup.py), parallel rounds in the engine
(bench/parallel_round.py), streaming and typing in the app on a pseudo-terminal
(bench/streaming.py), `baton ask` (bench/ask.py), long sessions (bench/long_session.py)
and huge answers (bench/huge.py). Each module also runs alone with more options.
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

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

Row = tuple[str, str, str, str, str]  # what, measured, floor, ratio, target


def startup(runs: int) -> list[Row]:
    import startup as s

    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "40",
           "PYTHONPATH": str(HERE.parent), "BATON_DATA_DIR": tempfile.mkdtemp()}
    for key in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "DEDALUS_API_KEY", "OPENROUTER_API_KEY", "OLLAMA_HOST"):
        env.pop(key, None)
    s.first_frame_s(s.MINIMAL, env)
    s.first_frame_s(s.BATON, env)
    minimal, baton = [], []
    for _ in range(runs):
        minimal.append(s.first_frame_s(s.MINIMAL, env))
        baton.append(s.first_frame_s(s.BATON, env))
    m, b = statistics.median(minimal), statistics.median(baton)
    return [("start-up to first frame", f"{b * 1000:.0f} ms", f"{m * 1000:.0f} ms minimal app", f"{b / m:.2f}x",
             "1.3x")]


def rounds(runs: int) -> list[Row]:
    import parallel_round as p
    from fakellm import FakeLLM

    async def go() -> list[float]:
        with FakeLLM() as llm:
            return [await p.one_round(llm, synth=True) for _ in range(runs)]

    wall = statistics.median(asyncio.run(go()))
    return [("round 3 x 1 s + 1 s synthesis", f"{wall:.2f} s", "2.00 s (slowest model + synthesis)",
             f"{wall / 2:.2f}x", "as gather (2.26 s)")]


def streaming(runs: int) -> list[Row]:
    import streaming as s

    r = s.run(20_000, runs, 80)
    return [
        ("20k words, Enter to last word", f"{r['app_s']:.2f} s", f"{r['reader_s']:.2f} s httpx reader",
         f"{r['app_s'] / r['reader_s']:.2f}x", "2x"),
        ("the same, 0.3 s after first frame", f"{r['app_early_s']:.2f} s", f"{r['reader_s']:.2f} s httpx reader",
         f"{r['app_early_s'] / r['reader_s']:.2f}x", "(warm-up still going)"),
        ("3 x 20k words in a round", f"{r['app3_s']:.2f} s", f"{r['reader3_s']:.2f} s reader x3",
         f"{r['app3_s'] / r['reader3_s']:.2f}x", "2x"),
        ("key to screen while streaming", f"p95 {r['key_p95_ms']:.0f} ms, max {r['key_max_ms']:.0f} ms",
         f"{r['keys']} keys, p50 {r['key_p50_ms']:.0f} ms", f"{r['key_p95_ms'] / 50:.2f}x", "p95 50 ms, max 100"),
    ]


def pane() -> list[Row]:
    import pane as p
    from reader import read
    from server import Server

    r = asyncio.run(p.run(20_000, 80))
    with Server(20_000) as server:
        asyncio.run(read(server.base))
        floor = statistics.median(asyncio.run(read(server.base)) for _ in range(3))
    return [("20k words into the chat pane alone", f"{r['seconds']:.2f} s", f"{floor:.2f} s httpx reader",
             f"{r['seconds'] / floor:.2f}x", "(the pane's share)")]


def ask(runs: int) -> list[Row]:
    import ask as a

    r = a.run(20_000, runs)
    return [
        ("baton ask 20k words", f"{r['ask_s']:.2f} s", f"{r['reader_s']:.2f} s reader --print",
         f"{r['ask_s'] / r['reader_s']:.2f}x", "1.3x"),
        ("baton ask, short answer", f"{r['short_s']:.2f} s", f"{r['import_s']:.2f} s import httpx",
         f"{r['short_s'] / r['import_s']:.2f}x", "1.5x"),
    ]


def long_sessions(runs: int, counts: list[int]) -> list[Row]:
    import long_session as ls

    rows: list[Row] = []
    for count in counts:
        r = ls.run(count, runs)
        rows.append((f"{count:,} messages, first frame", f"{r['open_s'] * 1000:.0f} ms",
                     f"{r['empty_s'] * 1000:.0f} ms empty app", f"{r['open_s'] / r['empty_s']:.2f}x", "1.5x"))
        rows.append((f"{count:,} messages, RSS at first frame", f"{r['rss_mb']:.0f} MB",
                     f"{r['rss_empty_mb']:.0f} MB empty app", f"{r['rss_mb'] / r['rss_empty_mb']:.2f}x", "bounded"))
        rows.append((f"{count:,} messages, Home / End", f"{r['home_s'] * 1000:.0f} / {r['end_s'] * 1000:.0f} ms",
                     "1 s", f"{max(r['home_s'], r['end_s']):.2f}x", "< 1 s"))
    return rows


def huge(sizes: list[int], timeout: float) -> list[Row]:
    import huge as h

    results = h.run(sizes, timeout)
    rows: list[Row] = []
    for where in ("app", "ask"):
        for mb in sizes:
            r = results.get(f"{where}_{mb}")
            if r is None:
                rows.append((f"{mb} MB answer in {where}", f"> {timeout:.0f} s", "-", "-", "< 4x memory, linear"))
                continue
            memory = (r["peak_mb"] - r["before_mb"]) / mb
            rows.append((f"{mb} MB answer in {where}", f"{r['seconds']:.1f} s ({r['seconds'] / mb:.2f} s/MB)",
                         f"peak {r['peak_mb']:.0f} MB, {r['before_mb']:.0f} MB for 5 words", f"{memory:.2f}x memory",
                         "< 4x memory, linear"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs, smaller huge answers")
    args = parser.parse_args()
    runs = 2 if args.quick else 3
    sizes = [5] if args.quick else [5, 20, 50]
    started = time.perf_counter()
    rows: list[Row] = []
    for name, step in (
        ("start-up", lambda: startup(5 if args.quick else 9)),
        ("parallel rounds", lambda: rounds(runs)),
        ("chat pane", pane),
        ("streaming", lambda: streaming(runs)),
        ("baton ask", lambda: ask(runs)),
        ("long sessions", lambda: long_sessions(runs, [2000, 20000])),
        ("huge answers", lambda: huge(sizes, 30 if args.quick else 45)),
    ):
        print(f"… {name}", file=sys.stderr, flush=True)
        try:
            rows += step()
        except (Exception, SystemExit) as error:  # noqa: BLE001 - one broken benchmark must not hide the others
            rows.append((name, f"failed: {type(error).__name__}: {error}"[:60], "-", "-", "-"))
    header: Row = ("what", "measured", "floor", "ratio", "target")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(5)]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)).rstrip())
    print(f"({time.perf_counter() - started:.0f} s; python {sys.version.split()[0]})")


if __name__ == "__main__":
    main()
