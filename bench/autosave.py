"""Autosave of a long session: what one save costs, in the thread that makes it.

For 200, 2,000 and 20,000 messages (built as in `long_session.py`), median over --runs:
- the whole session made into TOML at once (what every save did before `SessionWriter`);
- a `SessionWriter`'s first save (the whole file, cut into kept tables);
- its next save after one more message (only the new table is made, the rest joined);
- the next save of a session just opened, its tables taken from its own file;
- `Conversation.snapshot()`, the copy taken on the event loop before each save.

    .venv/bin/python bench/autosave.py [--messages 200,2000,20000] [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from long_session import build  # noqa: E402
from terminal import PROFILE  # noqa: E402

from tui.core.events import MessageAdded  # noqa: E402
from tui.core.files.tomlfile import dump_toml  # noqa: E402
from tui.core.profile_io import parse_profile, profile_to_dict  # noqa: E402
from tui.core.session import SessionWriter, load_session, session_to_dict  # noqa: E402
from tui.core.types import Message, new_id  # noqa: E402


def ms(seconds: list[float]) -> str:
    return f"{statistics.median(seconds) * 1000:8.1f} ms"


def measure(count: int, runs: int) -> dict[str, list[float]]:
    home = Path(tempfile.mkdtemp())
    path = home / "s.toml"
    build(path, count, {"HOME": str(home), "BATON_DATA_DIR": str(home)}, parse_profile(PROFILE))
    profile, conversation = load_session(path)
    data = profile_to_dict(profile)
    out: dict[str, list[float]] = {"whole": [], "first": [], "next": [], "opened": [], "snapshot": []}
    for _ in range(runs):
        started = time.perf_counter()
        dump_toml(session_to_dict(data, conversation))
        out["whole"].append(time.perf_counter() - started)
        writer = SessionWriter()
        started = time.perf_counter()
        writer.text(data, conversation)
        out["first"].append(time.perf_counter() - started)
        conversation.apply(MessageAdded(Message("user", "one more", id=new_id(), parent=conversation.leaf)))
        started = time.perf_counter()
        copy = conversation.snapshot()
        out["snapshot"].append(time.perf_counter() - started)
        started = time.perf_counter()
        writer.text(data, copy)
        out["next"].append(time.perf_counter() - started)
        _, opened = load_session(path)
        fresh = SessionWriter()
        fresh.opened(path, opened)
        opened.apply(MessageAdded(Message("user", "one more", id=new_id(), parent=opened.leaf)))
        started = time.perf_counter()
        fresh.text(data, opened.snapshot())
        out["opened"].append(time.perf_counter() - started)
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", default="200,2000,20000")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(f"{'messages':>9}  {'whole TOML':>11}  {'first save':>11}  {'next save':>11}  {'opened, next':>12}  "
          f"{'snapshot':>11}")
    for count in (int(n) for n in args.messages.split(",")):
        r = measure(count, args.runs)
        print(f"{count:>9,}  {ms(r['whole'])}  {ms(r['first'])}  {ms(r['next'])}  {ms(r['opened']):>12}  "
              f"{ms(r['snapshot'])}")
