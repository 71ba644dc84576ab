"""`baton ask` headless, whole process, against the floors.

- long: `baton ask` printing a 20,000-word streamed answer, against a plain httpx reader
  (bench/reader.py --print) writing every delta to stdout, both fresh processes;
- short: `baton ask` with a five-word answer, against `python -c 'import httpx'`.

    .venv/bin/python bench/ask.py [--words 20000] [--runs 5]
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


def env_for(base: str) -> dict[str, str]:
    tmp = tempfile.mkdtemp()
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.update(OPENAI_BASE_URL=base, OPENAI_API_KEY="bench-key", HOME=tmp, BATON_DATA_DIR=tmp,
               PYTHONPATH=os.environ.get("BENCH_BATON_ROOT", str(ROOT)))
    return env


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds of a whole process and its peak RSS in MB; stdout read through a pipe."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
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


def run(words: int, runs: int) -> dict[str, float]:
    results: dict[str, float] = {}
    with Server(words) as server:
        env = env_for(server.base)
        reader = [sys.executable, str(ROOT / "bench" / "reader.py"), server.base, "--print"]
        timed(baton_ask(), env)
        timed(reader, env)
        asks, reads = [], []
        for _ in range(runs):
            asks.append(timed(baton_ask(), env)[0])
            reads.append(timed(reader, env)[0])
        results.update(ask_s=statistics.median(asks), reader_s=statistics.median(reads))
    with Server(5) as server:
        env = env_for(server.base)
        imports = [sys.executable, "-c", "import httpx"]
        timed(baton_ask(), env)
        shorts, floors = [], []
        for _ in range(runs):
            shorts.append(timed(baton_ask(), env)[0])
            floors.append(timed(imports, env)[0])
        results.update(short_s=statistics.median(shorts), import_s=statistics.median(floors))
    return results


def report(r: dict[str, float], words: int) -> None:
    print("baton ask, whole process, median")
    print(f"  {words:,} words  baton ask {r['ask_s']:.3f} s   reader --print {r['reader_s']:.3f} s   "
          f"ratio {r['ask_s'] / r['reader_s']:.2f}x (target 1.3x)")
    print(f"  short answer  baton ask {r['short_s']:.3f} s   python -c 'import httpx' {r['import_s']:.3f} s   "
          f"ratio {r['short_s'] / r['import_s']:.2f}x (target 1.5x)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--words", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    report(run(args.words, args.runs), args.words)
