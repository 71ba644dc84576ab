"""Drive the real `baton` process on a pseudo-terminal and watch the bytes it writes.

Times are taken the way a person sees them: from writing bytes to the terminal (a key,
Enter) until given text appears in what the app draws.
"""

from __future__ import annotations

import os
import pty
import select
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Self

ROOT = Path(__file__).resolve().parent.parent  # BENCH_BATON_ROOT=DIR runs the app of another checkout
PROFILE = """name = "bench"
default_model = "a"
[models.a]
model = "openai/a"
[models.b]
model = "openai/b"
[models.c]
model = "openai/c"
"""


class Terminal:
    def __init__(
            self, base: str, *args: str, cols: int = 120, rows: int = 40, files: dict[str, Path] | None = None) -> None:
        """`files`: copied into the app's data directory (its working directory) first."""
        self.tmp = Path(tempfile.mkdtemp())
        (self.tmp / "bench.toml").write_text(PROFILE)
        for name, source in (files or {}).items():
            shutil.copyfile(source, self.tmp / name)
        env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
        env.update(TERM="xterm-256color", COLUMNS=str(cols), LINES=str(rows),
                   PYTHONPATH=os.environ.get("BENCH_BATON_ROOT", str(ROOT)),
                   BATON_DATA_DIR=str(self.tmp), HOME=str(self.tmp), OPENAI_BASE_URL=base,
                   OPENAI_API_KEY="bench-key")
        self.leader, follower = pty.openpty()
        import fcntl
        import struct
        import termios

        fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tui", "--profile", str(self.tmp / "bench.toml"), *args],
            stdin=follower, stdout=follower, stderr=follower, env=env, cwd=self.tmp, close_fds=True,
        )
        os.close(follower)
        self.out = bytearray()  # everything the app wrote

    @property
    def pos(self) -> int:
        return len(self.out)

    def pump(self, timeout: float) -> bool:
        """Read what the app wrote within `timeout` seconds; False once it has exited."""
        ready, _, _ = select.select([self.leader], [], [], timeout)
        if ready:
            try:
                data = os.read(self.leader, 1 << 20)
            except OSError:
                return False
            self.out += data
        return self.process.poll() is None

    def seen(self, text: str, since: int = 0) -> bool:
        return self.out.find(text.encode(), max(0, since - len(text.encode()))) >= 0

    def wait_for(self, text: str, since: int = 0, timeout: float = 120.0) -> float:
        """The perf_counter time at which `text` was first seen after output position `since`."""
        started = time.perf_counter()
        while not self.seen(text, since):
            if time.perf_counter() - started > timeout:
                raise TimeoutError(f"{text!r} did not appear in {timeout} s")
            if not self.pump(0.05):
                raise SystemExit(f"baton exited: {bytes(self.out[-2000:]).decode(errors='replace')}")
        return time.perf_counter()

    def cpu_seconds(self) -> float:
        """User and system time the app has used so far (Linux: /proc/PID/stat)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def settle(self, quiet: float = 0.5, timeout: float = 15.0) -> float:
        """Wait until the app's work after its first frame (mounting the panels, the
        warm-up's imports, reading the price table) is done: its CPU time grew by less
        than a tenth of `quiet` seconds over the last `quiet` seconds. Returns how long
        that took. A person takes longer than this to type a first question."""
        started = time.perf_counter()
        samples = [(started, self.cpu_seconds())]
        while time.perf_counter() - started < timeout:
            end = time.perf_counter() + 0.05
            while (left := end - time.perf_counter()) > 0:
                self.pump(left)
            now = time.perf_counter()
            samples.append((now, self.cpu_seconds()))
            old = next((s for s in reversed(samples) if now - s[0] >= quiet), None)
            if old is not None and samples[-1][1] - old[1] < quiet / 10:
                return now - started
        return time.perf_counter() - started

    def write(self, data: str) -> tuple[float, int]:
        """Write `data` as typed; return the time and the output position at that moment."""
        self.pump(0)
        pos = self.pos
        os.write(self.leader, data.encode())
        return time.perf_counter(), pos

    def peak_rss_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        os.close(self.leader)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
