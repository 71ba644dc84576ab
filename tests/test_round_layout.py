"""A round's columns while they stream: each settled piece of an answer is wrapped once
per width, not again on every frame (left to `1fr`, three columns come out 19 and 20
cells wide by turns, and a widget per piece was measured again on most frames), and
only the pieces on screen are drawn."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from fakellm import FakeLLM, Reply
from test_app import SIZE, make_app, type_and_send
from test_app_helpers import idle, wait_for
from textual.app import App, ComposeResult
from textual.containers import VerticalScroll
from textual.visual import RichVisual, Visual

from tui.ui.answer import AnswerView, Settled
from tui.ui.views import Lanes


def paragraphs(name: str, count: int) -> str:
    return "".join(f"{name} paragraph {i}: " + "some words to wrap " * 12 + "\n\n" for i in range(count))


async def test_the_pieces_of_a_rounds_columns_are_wrapped_once_per_width(
        fake_llm: FakeLLM, tmp_path: Path, monkeypatch) -> None:
    """Measured, or drawn (which gives the height too), never both and never again."""
    wrapped: Counter[tuple[int, str, int]] = Counter()
    real_height, real_strips = RichVisual.get_height, Visual.to_strips

    def counting(self: RichVisual, rules, width: int) -> int:
        if isinstance(self._widget, Settled):
            wrapped[(id(self._widget), self._renderable.markup, width)] += 1  # type: ignore[attr-defined]
        return real_height(self, rules, width)

    def drawing(widget, visual, width, *args, **kwargs):
        if isinstance(widget, Settled):
            wrapped[(id(widget), visual._renderable.markup, width)] += 1
        return real_strips(widget, visual, width, *args, **kwargs)

    monkeypatch.setattr(RichVisual, "get_height", counting)
    monkeypatch.setattr(Visual, "to_strips", staticmethod(drawing))
    monkeypatch.setattr(Settled, "QUIET_S", 0.05)
    for name in ("alpha", "beta", "gamma"):
        fake_llm.script(name, Reply(text=paragraphs(name, 100), chunk_size=300, chunk_delay=0.01))
    app = make_app(fake_llm, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await type_and_send(pilot, "/parallel alpha beta gamma go")
        await idle(pilot, app)
        await wait_for(pilot, lambda: not any(settled.guessed for settled in app.query(Settled)))
        lanes = app.query_one(Lanes)
        widths = [view.outer_size.width for view in lanes.query_children(AnswerView)]
        texts = [view.blocks_text() for view in lanes.query_children(AnswerView)]
        pieces = sum(len(settled.pieces) for settled in app.query(Settled))
        row = lanes.size.width
    assert pieces >= 20  # the columns did settle many pieces
    assert len(wrapped) >= pieces and max(wrapped.values()) == 1, wrapped.most_common(3)
    assert len(set(widths)) == 1 and row - len(widths) <= sum(widths) + len(widths) <= row
    assert texts == [paragraphs(name, 100) for name in ("alpha", "beta", "gamma")]


async def test_only_the_pieces_on_screen_are_drawn(monkeypatch) -> None:
    text = paragraphs("stored", 400)
    drawn: list[str] = []
    real = Visual.to_strips

    def counting(widget, visual, *args, **kwargs):
        if isinstance(widget, Settled):
            drawn.append(visual._renderable.markup)
        return real(widget, visual, *args, **kwargs)

    monkeypatch.setattr(Visual, "to_strips", staticmethod(counting))

    class One(App):
        CSS = "AnswerView { height: auto; }"

        def compose(self) -> ComposeResult:
            with VerticalScroll():
                yield AnswerView("alpha", text, settled=True)

    app = One()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        settled = app.query_one(Settled)
        assert len(settled.pieces) > 40
        assert settled.raw + app.query_one(AnswerView).blocks_text()[len(settled.raw):] == text
        assert 0 < len(drawn) <= 10, len(drawn)  # a screenful, of more than forty
        app.query_one(VerticalScroll).scroll_end(animate=False)
        await pilot.pause()
        await pilot.pause()
        assert "paragraph 38" in drawn[-1]  # the last piece, at the end (the tail is not a piece)
        assert len(drawn) <= 20


async def stream_one_answer(fake_llm: FakeLLM, tmp_path: Path) -> str:
    """Two hundred paragraphs streamed into the app; the text its answer shows."""
    fake_llm.script("alpha", Reply(text=paragraphs("alpha", 200), chunk_size=250, chunk_delay=0.01))
    app = make_app(fake_llm, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await type_and_send(pilot, "go on")
        await idle(pilot, app)
        return app.query_one(AnswerView).blocks_text()


async def test_each_flush_of_a_streaming_answer_costs_one_layout_not_two(
        fake_llm: FakeLLM, tmp_path: Path, monkeypatch) -> None:
    from textual.screen import Screen

    counts = {"flushes": 0, "layouts": 0}
    real_layout, real_flush = Screen._refresh_layout, AnswerView.flush

    def layout(self: Screen, *args, **kwargs) -> None:
        if counts["flushes"] and self._layout_required:  # (once the answer streams)
            counts["layouts"] += 1
        real_layout(self, *args, **kwargs)

    def flush(self: AnswerView, deadline: float | None = None) -> bool:
        counts["flushes"] += bool(self._unseen)
        return real_flush(self, deadline)

    monkeypatch.setattr(Screen, "_refresh_layout", layout)
    monkeypatch.setattr(AnswerView, "flush", flush)
    await stream_one_answer(fake_llm, tmp_path)
    assert counts["flushes"] >= 10
    # Textual asked for a second layout after each (the answer, the chat: their sizes).
    assert counts["layouts"] <= counts["flushes"] * 1.3 + 4, counts


async def test_the_live_tail_is_rendered_once_a_flush(fake_llm: FakeLLM, tmp_path: Path, monkeypatch) -> None:
    """Once for its height and its lines both: a Static renders its content twice."""
    from tui.ui.answer import Tail

    renders = {"tail": 0, "updates": 0}
    real_height, real_strips, real_update = RichVisual.get_height, Visual.to_strips, Tail.update

    def counting(self: RichVisual, rules, width: int) -> int:
        renders["tail"] += isinstance(self._widget, Tail)
        return real_height(self, rules, width)

    def drawing(widget, visual, *args, **kwargs):
        renders["tail"] += isinstance(widget, Tail)
        return real_strips(widget, visual, *args, **kwargs)

    def update(self: Tail, *args, **kwargs) -> None:
        renders["updates"] += 1
        real_update(self, *args, **kwargs)

    monkeypatch.setattr(RichVisual, "get_height", counting)
    monkeypatch.setattr(Visual, "to_strips", staticmethod(drawing))
    monkeypatch.setattr(Tail, "update", update)
    assert "alpha paragraph 199" in await stream_one_answer(fake_llm, tmp_path)
    assert renders["updates"] >= 10
    assert renders["tail"] <= renders["updates"] * 1.2 + 4, renders  # (a few widths as the screen fills)
