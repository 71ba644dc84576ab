"""`baton ask` headless, whole process, against the floors.

- long: `baton ask` printing a 20,000-word streamed answer, against a plain httpx reader
  (bench/reader.py --print) writing every delta to stdout, both fresh processes;
- short: `baton ask` with a five-word answer, against `python -c 'import httpx'`.

    .venv/bin/python bench/ask.py [--words 20000] [--runs 5] [--before DIR]

Each run is one process of each kind, one after the other (the floors interleaved with
Baton, so a change in the machine's load hits both). `--before DIR` runs a second
checkout's `baton ask` in the same rounds (e.g. `git archive BASE | tar -x -C DIR`).
Baton runs with its checkout as the working directory and on PYTHONPATH: `python -m`
puts the working directory first on sys.path, so another checkout's `tui` cannot shadow it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from server import Server

ROOT = Path(__file__).resolve().parent.parent


def env_for(base: str, root: str | None = None) -> dict[str, str]:
    tmp = tempfile.mkdtemp()
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.update(OPENAI_BASE_URL=base, OPENAI_API_KEY="bench-key", HOME=tmp, BATON_DATA_DIR=tmp,
               PYTHONPATH=root or os.environ.get("BENCH_BATON_ROOT", str(ROOT)))
    return env


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds of a whole process and its peak RSS in MB; stdout read through a pipe."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                               cwd=env["PYTHONPATH"])
    assert process.stdout is not None
    while process.stdout.read(1 << 16):
        pass
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"{command[:3]} failed: {process.stderr.read().decode()[-500:] if process.stderr else ''}")
    return wall, usage.ru_maxrss / 1024


def baton_ask(prompt: str = "go") -> list[str]:
    return [sys.executable, "-m", "tui", "ask", "-m", "openai/a", prompt]


def run(words: int, runs: int, before: str | None = None) -> dict[str, float]:
    """Medians: ask_s/reader_s (long answer), short_s/import_s (five words), and with
    `before` the same checkout's ask_before_s and short_before_s."""
    results: dict[str, float] = {}
    for size, (floor_key, ask_key) in ((words, ("reader_s", "ask_s")), (5, ("import_s", "short_s"))):
        with Server(size) as server:
            envs = {ask_key: env_for(server.base)}
            if before:
                envs[ask_key.replace("_s", "_before_s")] = env_for(server.base, before)
            floor = ([sys.executable, str(ROOT / "bench" / "reader.py"), server.base, "--print"] if size == words
                     else [sys.executable, "-c", "import httpx"])
            floor_env = env_for(server.base)
            for env in envs.values():  # a first run: the price table's rates kept, caches warm
                timed(baton_ask(), env)
            timed(floor, floor_env)
            times: dict[str, list[float]] = {key: [] for key in (*envs, floor_key)}
            for _ in range(runs):
                for key, env in envs.items():
                    times[key].append(timed(baton_ask(), env)[0])
                times[floor_key].append(timed(floor, floor_env)[0])
            results.update({key: statistics.median(values) for key, values in times.items()})
    return results


def report(r: dict[str, float], words: int) -> None:
    print("baton ask, whole process, median")
    for label, key, floor_key, floor_name, target in (
            (f"{words:,} words", "ask_s", "reader_s", "reader --print", 1.3),
            ("short answer", "short_s", "import_s", "python -c 'import httpx'", 1.5)):
        line = (f"  {label:13} baton ask {r[key]:.3f} s   {floor_name} {r[floor_key]:.3f} s   "
                f"ratio {r[key] / r[floor_key]:.2f}x (target {target}x)")
        before = key.replace("_s", "_before_s")
        if before in r:
            line += f"   before {r[before]:.3f} s ({r[before] / r[floor_key]:.2f}x)"
        print(line)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--words", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--before", metavar="DIR", help="another checkout's baton ask, in the same rounds")
    args = parser.parse_args()
    report(run(args.words, args.runs, args.before), args.words)
