"""A round's columns while they stream: each settled block of an answer is wrapped once
per width, not again on every frame (three columns come out 19 and 20 cells wide by
turns at this size, and Textual keeps one height per widget)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from fakellm import FakeLLM, Reply
from test_app import SIZE, make_app, type_and_send
from test_app_helpers import idle
from textual.widget import Widget

from tui.ui.answer import Block


def paragraphs(name: str, count: int) -> str:
    return "".join(f"{name} paragraph {i}: " + "some words to wrap " * 12 + "\n\n" for i in range(count))


async def test_the_blocks_of_a_rounds_columns_are_measured_once_per_width(
        fake_llm: FakeLLM, tmp_path: Path, monkeypatch) -> None:
    measured: Counter[tuple[int, int]] = Counter()
    real = Widget.get_content_height

    def counting(self: Widget, container, viewport, width: int) -> int:
        if isinstance(self, Block) and self._content_height_cache[0] != width:
            measured[(id(self), width)] += 1  # Textual wraps the Markdown again
        return real(self, container, viewport, width)

    monkeypatch.setattr(Widget, "get_content_height", counting)
    for name in ("alpha", "beta", "gamma"):
        fake_llm.script(name, Reply(text=paragraphs(name, 100), chunk_size=300, chunk_delay=0.01))
    app = make_app(fake_llm, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await type_and_send(pilot, "/parallel alpha beta gamma go")
        await idle(pilot, app)
    assert len({block for block, _ in measured}) >= 10  # the columns did settle many blocks
    assert max(measured.values()) == 1, measured.most_common(3)
