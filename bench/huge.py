"""Huge answers (5, 20, 50 MB) streamed to the end, in the app and in `baton ask`.

In the app: a fresh process runs Baton headless (Pilot) with a session file (autosaved
as the answer streams) and its providers' worker process, as `baton` does, sends a
prompt and waits for the run to end; reported are the seconds from Enter to the end, the
seconds per MB (linear: the same for every size) and the peak RSS of both processes
(summed: an upper bound) above that of the same run with a five-word answer, as a
multiple of the answer's size (target under 4x). `baton ask`: whole process, peak RSS
above a short `baton ask`'s. A run that takes longer than --timeout is reported as such.

    .venv/bin/python bench/huge.py [--sizes 5,20,50] [--timeout 120] [--only app|ask] [--runs N]
    BENCH_BATON_ROOT=DIR .venv/bin/python bench/huge.py ...   (another checkout)

With --runs N each size runs N times (interleaved with its five-word baseline) and the
median is reported.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ask import baton_ask, env_for
from reader import BODY
from server import Server

CHILD = """
import asyncio, json, shutil, sys, tempfile, time
from pathlib import Path
from tui.core.defaults import default_profile
from tui.ui.app import BatonApp

def rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024

def high_water(status):
    return next(int(l.split()[1]) for l in open(status) if l.startswith("VmHWM:")) / 1024

async def main():
    env = {"OPENAI_API_KEY": "bench-key", "OPENAI_BASE_URL": sys.argv[1]}
    folder = tempfile.mkdtemp()  # saved as it streams, as `baton` saves every session
    app = BatonApp(default_profile(env), env=env, session_path=Path(folder) / "session.toml", stream_worker=True)
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
        worker = app._stream_worker.pid if app._stream_worker is not None else None
        worker_peak = high_water(f"/proc/{worker}/status") if worker else 0.0  # the providers' process
    peak = high_water("/proc/self/status") + worker_peak
    shutil.rmtree(folder, ignore_errors=True)
    print(json.dumps({"seconds": took, "before_mb": before, "peak_mb": peak, "chars": len(text)}))

asyncio.run(main())
"""


def in_app(env: dict[str, str], timeout: float) -> dict[str, float] | None:
    base = env["OPENAI_BASE_URL"]
    try:
        out = subprocess.run([sys.executable, "-c", CHILD, base], capture_output=True, text=True,
                             env=env, cwd=env["PYTHONPATH"], timeout=timeout, check=True).stdout
    except subprocess.TimeoutExpired:
        return None
    return json.loads(out.strip().splitlines()[-1])


ASK = """
import atexit, sys

def high_water() -> None:  # at exit: after the last byte of the answer, before the teardown
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            sys.stderr.write("\\nVmHWM " + line.split()[1] + "\\n")

atexit.register(high_water)
from tui.cli import main
raise SystemExit(main(sys.argv[1:]))
"""


def in_ask(env: dict[str, str], timeout: float) -> dict[str, float] | None:
    """`baton ask` (tui.cli.main, as the console script runs it), its peak RSS read by
    the process itself at exit, and sampled while the answer arrives as a check."""
    import time

    started = time.perf_counter()
    command = [sys.executable, "-c", ASK, *baton_ask()[3:]]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                               cwd=env["PYTHONPATH"])  # `-c` puts the working directory first on sys.path
    assert process.stdout is not None and process.stderr is not None
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
        errors = process.stderr.read().decode(errors="replace")
        process.wait()
    finally:
        process.stdout.close()
        process.stderr.close()
    seconds = time.perf_counter() - started
    reported = [line.split()[1] for line in errors.splitlines() if line.startswith("VmHWM ")]
    if process.returncode != 0 or not reported:
        raise SystemExit(f"baton ask failed ({process.returncode}): {errors[-500:]}")
    peak = max(peak, int(reported[-1]) / 1024)
    return {"seconds": seconds, "peak_mb": peak, "chars": received}


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


def run(sizes: list[int], timeout: float, only: str = "", runs: int = 1) -> dict[str, dict[str, float] | None]:
    wanted = {"app": only in ("", "app"), "ask": only in ("", "ask")}
    measure = {"app": in_app, "ask": in_ask}
    results: dict[str, dict[str, float] | None] = {}
    for mb in sizes:
        for where in ("app", "ask"):
            if not wanted[where]:
                continue
            tries: list[dict[str, float]] = []
            # The five-word answer's peak: imports and all, no answer. Each server is read
            # once first, so the time it takes to encode its answer is not measured.
            with Server(5) as small_server, Server(size=mb * 1_000_000, chunk=4096, paragraph=80) as server:
                asyncio.run(warm(small_server.base))
                asyncio.run(warm(server.base))
                # One data directory for both, its caches (the price table's rates) made by a
                # first run that is not measured: what a person's second run finds.
                small_env = env_for(small_server.base)
                big_env = {**small_env, "OPENAI_BASE_URL": server.base}
                measure[where](small_env, timeout)
                for _ in range(runs):
                    small = measure[where](small_env, timeout)
                    big = measure[where](big_env, timeout)
                    if big is None:
                        tries = []
                        break
                    big["before_mb"] = small["peak_mb"] if small else 0.0
                    tries.append(big)
            results[f"{where}_{mb}"] = _median(tries) if tries else None
    return results


async def warm(base: str) -> None:
    """One request for each model the runs ask (`baton ask -m openai/a`, the app's default
    model): the server encodes a model's answer at its first request."""
    from tui.core._httpx import httpx

    async with httpx.AsyncClient(timeout=300) as client:
        for model in ("a", "gpt-4.1"):
            async with client.stream("POST", f"{base}/chat/completions", json={**BODY, "model": model}) as response:
                async for _ in response.aiter_raw():
                    pass


def _median(tries: list[dict[str, float]]) -> dict[str, float]:
    """Per figure, the median over the runs (seconds and memory each on its own)."""
    import statistics

    out = {key: statistics.median(t[key] for t in tries) for key in tries[0]}
    out["extra_mb"] = statistics.median(t["peak_mb"] - t["before_mb"] for t in tries)
    return out


def report(results: dict[str, dict[str, float] | None], sizes: list[int], timeout: float) -> None:
    print("huge answers: seconds, s/MB, peak RSS above the start as a multiple of the size (target < 4x)")
    for where in ("app", "ask"):
        for mb in sizes:
            if f"{where}_{mb}" not in results:
                continue
            r = results[f"{where}_{mb}"]
            if r is None:
                print(f"  {where:3} {mb:3} MB  did not finish within {timeout:.0f} s")
                continue
            extra = r["extra_mb"] / mb
            print(f"  {where:3} {mb:3} MB  {r['seconds']:7.2f} s  {r['seconds'] / mb:6.3f} s/MB  "
                  f"peak {r['peak_mb']:7.1f} MB (5 words {r['before_mb']:5.1f})  memory {extra:5.2f}x  "
                  f"({r['chars'] / 1e6:.1f} MB received)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="5,20,50")
    parser.add_argument("--timeout", type=float, default=120)
    parser.add_argument("--only", choices=["app", "ask"], default="")
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    report(run(sizes, args.timeout, args.only, args.runs), sizes, args.timeout)
