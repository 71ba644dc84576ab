"""A fast answer's pieces that scroll past before any frame could show them are not
measured while it streams: their height is guessed, and measured once the stream rests.
What is on screen is always measured: the last screenful while the view follows the
stream, every piece once the person scrolls back."""

from __future__ import annotations

import time
from pathlib import Path
from typing import cast

from fakellm import FakeLLM, Reply
from test_app import SIZE, make_app, type_and_send
from test_app_helpers import idle, screen_text, wait_for
from textual.css.styles import RulesMap
from textual.visual import RichVisual, Visual

from tui.ui.answer import Settled, _markdown
from tui.ui.chat import ChatPane


def paragraphs(count: int) -> str:
    return "".join(f"paragraph {i}: " + "some words to wrap " * 12 + "\n\n" for i in range(count)) + "The end."


def count_wraps(monkeypatch) -> list[float]:
    """When each settled piece was wrapped (measured or drawn)."""
    wraps: list[float] = []
    real_height, real_strips = RichVisual.get_height, Visual.to_strips

    def measuring(self: RichVisual, rules, width: int) -> int:
        if isinstance(self._widget, Settled):
            wraps.append(time.perf_counter())
        return real_height(self, rules, width)

    def drawing(widget, visual, *args, **kwargs):
        if isinstance(widget, Settled):
            wraps.append(time.perf_counter())
        return real_strips(widget, visual, *args, **kwargs)

    monkeypatch.setattr(RichVisual, "get_height", measuring)
    monkeypatch.setattr(Visual, "to_strips", staticmethod(drawing))
    return wraps


def true_height(settled: Settled) -> int:
    """The height of every piece wrapped at the settled widget's width, and the blank lines between blocks."""
    width, rules = settled.size.width, cast("RulesMap", settled.styles)
    heights = [RichVisual(settled, _markdown(piece.source)).get_height(rules, width) for piece in settled.pieces]
    return sum(heights) + sum(not piece.joined for piece in settled.pieces[1:])


async def test_pieces_a_fast_stream_pushes_past_are_not_measured_while_it_streams(
        fake_llm: FakeLLM, tmp_path: Path, monkeypatch) -> None:
    wraps = count_wraps(monkeypatch)
    monkeypatch.setattr(Settled, "QUIET_S", 600.0)  # not at rest within the test
    fake_llm.script("alpha", Reply(text=paragraphs(400), chunk_size=20_000))
    app = make_app(fake_llm, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await type_and_send(pilot, "go on")
        await idle(pilot, app)
        settled = app.query_one(Settled)
        assert len(settled.pieces) > 40
        assert len(wraps) < len(settled.pieces) / 4, (len(wraps), len(settled.pieces))
        assert settled.guessed > 20
        assert "The end." in screen_text(app)


async def test_once_the_stream_rests_every_piece_is_measured_once(
        fake_llm: FakeLLM, tmp_path: Path, monkeypatch) -> None:
    wraps = count_wraps(monkeypatch)
    fake_llm.script("alpha", Reply(text=paragraphs(400), chunk_size=20_000))
    app = make_app(fake_llm, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await type_and_send(pilot, "go on")
        await idle(pilot, app)
        settled = app.query_one(Settled)
        await wait_for(pilot, lambda: settled.guessed == 0)
        await pilot.pause()
        assert len(wraps) == len(settled.pieces) > 40  # each once: measured, or drawn
        assert settled.size.height == true_height(settled)
        assert "The end." in screen_text(app)


async def test_scrolling_back_measures_every_piece_before_it_shows(
        fake_llm: FakeLLM, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(Settled, "QUIET_S", 600.0)  # never at rest: only the scroll can measure them
    fake_llm.script("alpha", Reply(text=paragraphs(400), chunk_size=20_000))
    app = make_app(fake_llm, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await type_and_send(pilot, "go on")
        await idle(pilot, app)
        settled = app.query_one(Settled)
        assert settled.guessed > 20
        app.query_one(ChatPane).scroll_home(animate=False)
        await pilot.pause()
        await pilot.pause()
        assert settled.guessed == 0
        assert settled.size.height == true_height(settled)
        assert "paragraph 0:" in screen_text(app)
