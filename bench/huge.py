"""Huge answers (5, 20, 50 MB) streamed to the end, in the app and in `baton ask`.

In the app: a fresh process runs Baton headless (Pilot), sends a prompt and waits for the
run to end; reported are the seconds from Enter to the end, the seconds per MB (linear:
the same for every size) and the peak RSS above that of the same run with a five-word
answer, as a multiple of the answer's size (target under 4x). `baton ask`: whole
process, peak RSS above a short `baton ask`'s. A run that takes longer than --timeout is reported as such.

    .venv/bin/python bench/huge.py [--sizes 5,20,50] [--timeout 120]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ask import baton_ask, env_for
from server import Server

CHILD = """
import asyncio, json, sys, time
from tui.core.defaults import default_profile
from tui.ui.app import BatonApp

def rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024

async def main():
    env = {"OPENAI_API_KEY": "bench-key", "OPENAI_BASE_URL": sys.argv[1]}
    app = BatonApp(default_profile(env), env=env)
    async with app.run_test(size=(120, 40)) as pilot:
        while not app.query("#composer"):
            await pilot.pause()
        await pilot.pause(0.2)
        before = rss_mb()
        app.query_one("#composer").insert("go")
        started = time.perf_counter()
        await pilot.press("enter")
        await pilot.pause(0.05)
        while any(w.is_running for w in app.workers if w.group == "run"):
            await asyncio.sleep(0.02)
        await pilot.pause()
        took = time.perf_counter() - started
        text = app.conversation.messages[-1].content if app.conversation.messages else ""
    peak = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")) / 1024
    print(json.dumps({"seconds": took, "before_mb": before, "peak_mb": peak, "chars": len(text)}))

asyncio.run(main())
"""


def in_app(base: str, timeout: float) -> dict[str, float] | None:
    env = env_for(base)
    try:
        out = subprocess.run([sys.executable, "-c", CHILD, base], capture_output=True, text=True,
                             env=env, timeout=timeout, check=True).stdout
    except subprocess.TimeoutExpired:
        return None
    return json.loads(out.strip().splitlines()[-1])


def in_ask(base: str, timeout: float) -> dict[str, float] | None:
    import time

    env = env_for(base)
    started = time.perf_counter()
    process = subprocess.Popen(baton_ask(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    assert process.stdout is not None
    received = 0
    peak = 0.0
    try:
        while chunk := process.stdout.read1(1 << 20):
            received += len(chunk)
            peak = max(peak, high_water_mb(process.pid))
            if time.perf_counter() - started > timeout:
                process.kill()
                process.wait()
                return None
        process.wait()
    finally:
        process.stdout.close()
    return {"seconds": time.perf_counter() - started, "peak_mb": peak, "chars": received}


def high_water_mb(pid: int) -> float:
    """The process's peak RSS so far (VmHWM: unlike ru_maxrss, not inherited across
    fork and exec from a large parent)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def run(sizes: list[int], timeout: float) -> dict[str, dict[str, float] | None]:
    results: dict[str, dict[str, float] | None] = {}
    with Server(5) as server:  # the peaks of a five-word answer: imports and all, no answer
        short = in_ask(server.base, timeout)
        small = in_app(server.base, timeout)
    base_mb = short["peak_mb"] if short else 0.0
    app_base_mb = small["peak_mb"] if small else 0.0
    for mb in sizes:
        with Server(size=mb * 1_000_000, chunk=4096, paragraph=80) as server:
            app = in_app(server.base, timeout)
            ask = in_ask(server.base, timeout)
        if ask is not None:
            ask["before_mb"] = base_mb
        if app is not None:
            app["before_mb"] = app_base_mb
        results[f"app_{mb}"] = app
        results[f"ask_{mb}"] = ask
    return results


def report(results: dict[str, dict[str, float] | None], sizes: list[int], timeout: float) -> None:
    print("huge answers: seconds, s/MB, peak RSS above the start as a multiple of the size (target < 4x)")
    for where in ("app", "ask"):
        for mb in sizes:
            r = results.get(f"{where}_{mb}")
            if r is None:
                print(f"  {where:3} {mb:3} MB  did not finish within {timeout:.0f} s")
                continue
            extra = (r["peak_mb"] - r["before_mb"]) / mb
            print(f"  {where:3} {mb:3} MB  {r['seconds']:7.2f} s  {r['seconds'] / mb:6.3f} s/MB  "
                  f"peak {r['peak_mb']:7.1f} MB  memory {extra:5.2f}x  ({r['chars'] / 1e6:.1f} MB received)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="5,20,50")
    parser.add_argument("--timeout", type=float, default=120)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    report(run(sizes, args.timeout), sizes, args.timeout)
