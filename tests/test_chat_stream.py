"""Streamed answers: settled blocks plus a live tail, the whole text kept, huge ones folded."""

from __future__ import annotations

from pathlib import Path

from fakellm import FakeLLM, Reply
from test_app_helpers import fake_profile, idle, screen_text, wait_for

from tui.ui import answer
from tui.ui.answer import CAP, Fold, Settled
from tui.ui.app import BatonApp
from tui.ui.blocks import BlockSplitter
from tui.ui.chat import AnswerView

SIZE = (120, 40)


def long_markdown(paragraphs: int) -> str:
    parts = []
    for i in range(paragraphs):
        parts.append(f"Paragraph {i} says something **bold** about item {i}. " * 6)
        if i % 7 == 3:
            parts.append("```python\n" + "".join(f"x{i}_{j} = {j}\n" for j in range(60)) + "```")
        if i % 5 == 1:
            parts.append("- one\n- two\n\n  still two\n- three")
    return "\n\n".join(parts) + "\n\nThe last line.\n"


async def ask(app: BatonApp, pilot, prompt: str) -> None:
    await wait_for(pilot, lambda: bool(app.query("#composer")))
    composer = app.query_one("#composer")
    composer.focus()
    composer.insert(prompt)
    await pilot.press("enter")
    await idle(pilot, app)


def make_app(llm: FakeLLM, tmp_path: Path) -> BatonApp:
    return BatonApp(fake_profile(llm.openai_base), env={}, session_path=tmp_path / "s.toml")


def test_the_splitter_keeps_every_character_and_balances_fences() -> None:
    text = long_markdown(40) + "```\n" + "y = 1\n" * 3000 + "```\n" + "word " * 5000
    splitter = BlockSplitter(soft=500, hard=1500)
    pieces = []
    for i in range(0, len(text), 37):
        pieces += splitter.feed(text[i : i + 37])
    assert "".join(p.raw for p in pieces) + splitter.tail == text
    assert len(pieces) > 20
    assert all(p.source.count("```") % 2 == 0 for p in pieces)
    assert max(len(p.source) for p in pieces) < 1600  # a long code block is cut, not kept whole


async def test_a_streamed_answer_settles_into_blocks_that_hold_the_whole_text(
    fake_llm: FakeLLM, tmp_path: Path
) -> None:
    text = long_markdown(60)
    fake_llm.script("alpha", Reply(text=text, chunk_size=40))
    app = make_app(fake_llm, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ask(app, pilot, "long please")
        view = app.query(AnswerView).last()
        assert view.text == text
        assert len(view.query_one(Settled).pieces) > 3  # settled blocks, rendered once
        assert view.blocks_text() == text
        assert view.folded == 0 and not view.query_one(Fold).display
        assert "The last line." in screen_text(app)
    assert app.conversation.messages[-1].content == text


async def test_a_huge_answer_is_folded_past_the_cap_and_keeps_its_text(fake_llm: FakeLLM, tmp_path: Path) -> None:
    text = ("word " * 19 + "\n\n") * (CAP // 100 * 2 + 500)  # a little over twice the cap
    fake_llm.script("alpha", Reply(text=text, chunk_size=5000))
    app = make_app(fake_llm, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ask(app, pilot, "huge please")
        view = app.query(AnswerView).last()
        assert view.text == text
        assert view.folded == len(text) - CAP
        fold = view.query_one(Fold)
        assert fold.display
        assert "KB more" in str(fold.render())
        assert len(view.blocks_text()) == CAP
        fold.focus()
        await pilot.press("enter")
        await pilot.pause()
        assert view.folded == len(text) - 2 * CAP
        assert view.blocks_text() == text[: 2 * CAP]
    assert app.conversation.messages[-1].content == text


async def test_a_stored_answer_is_folded_too() -> None:
    from textual.app import App, ComposeResult

    text = "line of text\n\n" * (CAP // 10)

    class One(App):
        def compose(self) -> ComposeResult:
            yield AnswerView("alpha", text, settled=True)

    app = One()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        view = app.query_one(AnswerView)
        assert view.text == text
        assert view.folded == len(text) - CAP
        assert view.query_one(Fold).display


SERVE = """
import sys
sys.path.insert(0, sys.argv[1])
from fakellm import FakeLLM, Reply
with FakeLLM() as fake:
    fake.script("alpha", Reply(text="a short answer"),
                Reply(text=("word " * 19 + "\\n\\n") * int(sys.argv[2]), chunk_size=16384))
    print(fake.openai_base, flush=True)
    sys.stdin.read()  # until the test closes it
"""


async def test_a_huge_answer_is_held_once_on_screen_not_copied(tmp_path: Path, monkeypatch) -> None:
    """The view keeps the strings that streamed (the conversation holds the same ones),
    draws nothing past the cap, and once the message is added holds the message's own
    text: what the run allocates stays near the two copies a stream needs (the pieces,
    then the joined message), not three or four. (The server is a process of its own,
    so that only the app's memory is traced.)"""
    import subprocess
    import sys
    import tracemalloc

    size = 2_000_000
    text = ("word " * 19 + "\n\n") * (size // 100)
    monkeypatch.setattr(answer, "CAP", 20_000)  # (drawing 200 KB is slow with every allocation traced)
    server = subprocess.Popen([sys.executable, "-c", SERVE, str(Path(__file__).parent), str(size // 100)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        base = server.stdout.readline().strip()
        app = BatonApp(fake_profile(base), env={}, session_path=tmp_path / "s.toml")
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: bool(app.query("#composer")))
            await pilot.pause(0.2)

            async def traced(prompt: str) -> tuple[int, int]:
                """The most the app held at once while `prompt` was answered and saved,
                and what it still holds of that after."""
                composer = app.query_one("#composer")
                composer.focus()
                composer.insert(prompt)
                tracemalloc.start()
                try:
                    await pilot.press("enter")
                    await wait_for(pilot, lambda: not any(w.is_running for w in app.workers if w.group == "run"), 60)
                    await pilot.pause()
                    await app.flush_saves()
                    peak = tracemalloc.get_traced_memory()[1]
                    ours = tracemalloc.take_snapshot().filter_traces(  # (not Textual's frame caches)
                        [tracemalloc.Filter(False, "*/textual/*"), tracemalloc.Filter(False, "*/rich/*")])
                    return peak, sum(stat.size for stat in ours.statistics("filename"))
                finally:
                    tracemalloc.stop()

            await traced("short please")  # (what the first answer imports and loads is not counted)
            await pilot.pause(0.5)  # (the price table loads in a thread after the first answer)
            peak, held = await traced("huge please")
            view = app.query(AnswerView).last()
            message = app.conversation.messages[-1]
            assert message.content == text
            assert view.text is message.content  # one string, not a copy per holder
            assert view.folded == len(text) - 20_000
            assert f"{view.folded / 1024:,.0f} KB more" in str(view.query_one(Fold).render())
    finally:
        assert server.stdin is not None
        server.stdin.close()
        server.wait(timeout=10)
    # Held after, Textual's frame caches apart: the message's text, which the screen and the
    # saved tables share (before: three copies). At most: the pieces, the joined message and
    # a snapshot's partial can meet, and Textual's caches (bounded, about 2.5 MB) count too
    # (before: eleven times, the screen's and the saved file's own copies and tomli_w's).
    assert held < 1.5 * size, f"{held / size:.2f}x the answer's size held after"
    assert peak < 6 * size, f"{peak / size:.2f}x the answer's size at most"


async def test_unfolding_while_the_answer_streams_shows_each_character_once() -> None:
    from textual.app import App, ComposeResult

    line = "word " * 19 + "\n\n"
    first, then = line * (CAP // 100 + 300), line * (CAP // 100)  # past the cap; then more

    class One(App):
        def compose(self) -> ComposeResult:
            yield AnswerView("alpha")

    app = One()
    async with app.run_test(size=SIZE) as pilot:
        view = app.query_one(AnswerView)
        view.write_pieces([first[i : i + 4096] for i in range(0, len(first), 4096)])
        view.flush()
        assert view.blocks_text() == first[:CAP] and view.folded == len(first) - CAP
        view.unfold()  # while it still streams
        view.write_pieces([then])
        view.flush()
        await view.finish()
        await pilot.pause()
        whole = first + then
        assert view.text == whole
        assert view.blocks_text() == whole[: 2 * CAP]
        assert view.folded == len(whole) - 2 * CAP
