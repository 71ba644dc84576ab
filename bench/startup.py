"""Start-up to the first frame: a minimal Textual app versus Baton.

Each run is a fresh Python process on a pseudo-terminal (the real terminal driver, not
headless). The child exits on Textual's `Ready` event, which fires once the first frame
has been painted, and reports the wall time at that moment; the parent subtracts the
time it spawned the child. Reported: median and min over the runs, and the ratio.

    .venv/bin/python bench/startup.py [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import pty
import select
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

MINIMAL = """
import sys, time
from textual.app import App
from textual.widgets import Static

class Minimal(App):
    def compose(self):
        yield Static("hello")

    def on_ready(self):
        open(sys.argv[1], "w").write(repr(time.time()))
        self.exit()

Minimal().run()
"""

BATON = """
import sys, time
from tui.core.env import load_environment
from tui.core.defaults import default_profile
from tui.ui.app import BatonApp

class Timed(BatonApp):
    def on_ready(self):
        open(sys.argv[1], "w").write(repr(time.time()))
        self.exit()

env = load_environment()
Timed(default_profile(env), env=env).run()
"""


LAST_RSS_MB: list[float] = []


def first_frame_s(source: str, env: dict[str, str]) -> float:
    """Seconds from spawning a fresh interpreter to the app's first frame."""
    with tempfile.TemporaryDirectory() as tmp:
        stamp = Path(tmp) / "ready"
        leader, follower = pty.openpty()
        started = time.time()
        child = subprocess.Popen(
            [sys.executable, "-c", source, str(stamp)],
            stdin=follower, stdout=follower, stderr=follower, env=env, cwd=tmp, close_fds=True,
        )
        os.close(follower)
        # Drain the terminal output so the child never blocks on a full pty buffer.
        output = b""
        while child.poll() is None:
            ready, _, _ = select.select([leader], [], [], 0.05)
            if ready:
                try:
                    output = (output + os.read(leader, 65536))[-4000:]
                except OSError:
                    break
        child.wait()
        os.close(leader)
        if not stamp.exists():
            tail = output.decode(errors="replace")[-2000:]
            raise SystemExit(f"the child exited ({child.returncode}) before its first frame:\n{tail}")
        extra = Path(f"{stamp}.rss")  # a child may also report its RSS (MB) at that moment
        LAST_RSS_MB[:] = [float(extra.read_text())] if extra.exists() else []
        return float(stamp.read_text()) - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "40",
           "PYTHONPATH": os.environ.get("BENCH_BATON_ROOT", str(ROOT)), "BATON_DATA_DIR": tempfile.mkdtemp()}
    # No provider keys: the measured app is the same whatever the machine has.
    for key in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "DEDALUS_API_KEY", "OPENROUTER_API_KEY", "OLLAMA_HOST"):
        env.pop(key, None)
    first_frame_s(MINIMAL, env)  # warm the file cache for both
    first_frame_s(BATON, env)
    results: dict[str, list[float]] = {"minimal": [], "baton": []}
    for _ in range(args.runs):  # interleaved, so drift affects both alike
        results["minimal"].append(first_frame_s(MINIMAL, env))
        results["baton"].append(first_frame_s(BATON, env))
    medians = {name: statistics.median(times) for name, times in results.items()}
    print(f"python {sys.version.split()[0]}, {args.runs} runs each, spawn to first frame (Ready)")
    for name, times in results.items():
        print(f"  {name:8} median {medians[name] * 1000:7.1f} ms   min {min(times) * 1000:7.1f} ms")
    print(f"  ratio    {medians['baton'] / medians['minimal']:.2f}x (target <= 1.3x)")


if __name__ == "__main__":
    main()
