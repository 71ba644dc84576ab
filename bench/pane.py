"""The chat pane alone: a 20,000-word answer written into an AnswerView as fast as the
event loop allows (16 characters a write, 1 ms pause every 4 KB as between network reads; no network,
no engine), headless.

Shows the share of the streaming time that is the pane's own: time from the first write
to the finished answer being painted, frames painted meanwhile, and the longest gap
between two frames (what a key typed meanwhile would wait at most).

    .venv/bin/python bench/pane.py [--words 20000] [--paragraph 80]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from server import answer


async def run(words: int, paragraph: int) -> dict[str, float]:
    from textual.app import App, ComposeResult

    from tui.ui.chat import ChatPane

    text = answer(words, paragraph)
    frames: list[float] = []

    class One(App):
        CSS_PATH = str(Path(__file__).resolve().parent.parent / "tui" / "ui" / "baton.tcss")

        def compose(self) -> ComposeResult:
            yield ChatPane(id="chat")

    app = One()
    async with app.run_test(size=(120, 40)) as pilot:
        chat = app.query_one(ChatPane)
        screen = app.screen
        refresh = screen._compositor_refresh

        def traced() -> None:
            refresh()
            frames.append(time.perf_counter())

        screen._compositor_refresh = traced
        view = await chat.add_answer("alpha")
        await pilot.pause()
        frames.clear()
        started = time.perf_counter()
        for i in range(0, len(text), 16):
            await view.write(text[i : i + 16])
            if i % 4096 == 0:
                await asyncio.sleep(0.001)  # a network read's worth of deltas, then the loop's turn
        await view.finish()
        await pilot.pause()
        took = time.perf_counter() - started
        screen._compositor_refresh = refresh
        assert view.text == text
    gaps = [b - a for a, b in zip([started, *frames], frames, strict=False)]
    return {"seconds": took, "frames": len(frames), "max_gap_ms": max(gaps) * 1000 if gaps else 0.0}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--words", type=int, default=20_000)
    parser.add_argument("--paragraph", type=int, default=80)
    args = parser.parse_args()
    r = asyncio.run(run(args.words, args.paragraph))
    print(f"{args.words:,} words into the pane: {r['seconds']:.3f} s, {r['frames']} frames, "
          f"longest gap between frames {r['max_gap_ms']:.1f} ms")
