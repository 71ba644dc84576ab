"""Long sessions: a bounded window of mounted items, Home and End, search."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from fakellm import FakeLLM, Reply
from test_app_helpers import fake_profile, screen_text, wait_for

from tui.core.conversation import Conversation
from tui.core.types import Message
from tui.ui.app import BatonApp
from tui.ui.chat import AnswerView, ChatPane

SIZE = (120, 40)


def long_app(llm: FakeLLM, tmp_path: Path, pairs: int = 1000) -> BatonApp:
    messages = []
    for i in range(pairs):
        messages.append(Message("user", f"question {i}"))
        messages.append(Message("assistant", f"answer **{i}** about topic-{i}.", "alpha"))
    return BatonApp(fake_profile(llm.openai_base), Conversation(messages, active_model="alpha"),
                    env={}, session_path=tmp_path / "s.toml")


async def test_home_and_end_reach_the_first_and_last_message(fake_llm: FakeLLM, tmp_path: Path) -> None:
    app = long_app(fake_llm, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        chat = app.query_one(ChatPane)
        await wait_for(pilot, lambda: "answer 999" in screen_text(app))
        chat.focus()
        await pilot.press("home")
        await wait_for(pilot, lambda: "answer 0 about topic-0." in screen_text(app))
        assert "answer 999" not in screen_text(app)
        assert len(app.query(AnswerView)) <= ChatPane.WINDOW
        await pilot.press("end")
        await wait_for(pilot, lambda: "answer 999" in screen_text(app))


async def test_scrolling_up_mounts_older_items_and_unmounts_far_ones(fake_llm: FakeLLM, tmp_path: Path) -> None:
    app = long_app(fake_llm, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        chat = app.query_one(ChatPane)
        for _ in range(6):  # each scroll to the top mounts one older batch
            lowest = chat._lo
            chat.scroll_home(animate=False)
            await wait_for(pilot, lambda: chat._lo < lowest and not chat._moving)  # noqa: B023
            await pilot.pause()
        assert chat._lo == 2000 - 7 * ChatPane.BATCH
        assert chat._hi - chat._lo <= ChatPane.WINDOW
        assert len(app.query(AnswerView)) <= ChatPane.WINDOW
        assert "earlier messages · scroll up to show more" in screen_text(app) or chat.scroll_y > 0
        chat.focus()
        await pilot.press("end")
        await wait_for(pilot, lambda: "answer 999" in screen_text(app))


async def test_find_jumps_to_a_message_far_above(fake_llm: FakeLLM, tmp_path: Path) -> None:
    app = long_app(fake_llm, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        chat = app.query_one(ChatPane)
        assert chat.find("topic-123.") is True
        await wait_for(pilot, lambda: "answer 123 about topic-123." in screen_text(app))
        assert chat.find("no such words anywhere") is False


async def test_the_find_bar_searches_what_is_typed(fake_llm: FakeLLM, tmp_path: Path) -> None:
    app = long_app(fake_llm, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        chat = app.query_one(ChatPane)
        await chat.open_find()
        await pilot.pause()
        await pilot.press(*"topic-42.", "enter")
        await wait_for(pilot, lambda: "answer 42 about topic-42." in screen_text(app))
        await pilot.press("escape")
        await pilot.pause()
        assert not app.query_one("#find").display


async def test_scrolling_down_from_the_top_mounts_later_items_and_unmounts_early_ones(
    fake_llm: FakeLLM, tmp_path: Path
) -> None:
    app = long_app(fake_llm, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        chat = app.query_one(ChatPane)
        await chat.show_start()
        await wait_for(pilot, lambda: not chat._moving)
        for _ in range(6):
            highest = chat._hi
            chat.scroll_end(animate=False)
            await wait_for(pilot, lambda: chat._hi > highest and not chat._moving)  # noqa: B023
        assert chat._hi == 7 * ChatPane.BATCH
        assert chat._lo > 0 and chat._hi - chat._lo <= ChatPane.WINDOW
        assert "earlier messages" in str(app.query_one("#earlier").render())
        await chat.add_user("a new question")  # a new message brings the view back to the end
        await wait_for(pilot, lambda: "a new question" in screen_text(app))
        assert chat._hi == len(chat._items)


# ------------------------------------------------------------- opening on the end


def saved_long(llm: FakeLLM, tmp_path: Path, pairs: int = 1000) -> Path:
    """A long session as Baton writes it, its profile remembered as Baton's own (trusted)."""
    import os

    from tui.core import trust
    from tui.core.session import save_session

    path = tmp_path / "long.toml"
    app = long_app(llm, tmp_path, pairs)
    save_session(path, app.profile, app.conversation)
    trust.remember_written(path, app.profile, os.environ)
    return path


def held_load(monkeypatch: pytest.MonkeyPatch) -> tuple[threading.Event, threading.Event]:
    """Make the whole-file read wait for `release`; `started` is set when it begins."""
    from tui.core import session_tail

    started, release = threading.Event(), threading.Event()
    real = session_tail.load_session_apart

    def slow(path: Path | str) -> object:
        started.set()
        assert release.wait(30)
        return real(path)

    monkeypatch.setattr(session_tail, "load_session_apart", slow)
    return started, release


async def test_the_end_shows_before_the_whole_file_is_read_and_nothing_is_lost(
    fake_llm: FakeLLM, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tui.core.preview import PreviewConversation
    from tui.core.session import load_session
    from tui.ui.launch import open_args

    fake_llm.script("alpha", Reply(text="a fresh answer"))
    path = saved_long(fake_llm, tmp_path)
    started, release = held_load(monkeypatch)
    app = BatonApp(**open_args(None, str(path), {}, preview=True))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: "answer 999 about topic-999." in screen_text(app) and started.is_set())
        assert isinstance(app.conversation, PreviewConversation) and len(app.conversation.nodes) < 100
        await wait_for(pilot, lambda: "session totals once the whole file has loaded" in screen_text(app))
        await wait_for(pilot, lambda: app.query("#composer").first() is not None)
        await pilot.press(*"one more", "enter")
        await wait_for(pilot, lambda: "sent once the session has loaded" in screen_text(app))
        assert fake_llm.requests == []  # held: nothing is sent before the whole file is read
        chat = app.query_one(ChatPane)
        chat.focus()
        await pilot.press("ctrl+s")  # saving the end alone would drop the rest: not possible yet
        await pilot.pause()
        assert load_session(path)[1].messages[-1].content.startswith("answer **999**")
        release.set()
        await wait_for(pilot, lambda: "a fresh answer" in screen_text(app))
        assert not isinstance(app.conversation, PreviewConversation)
        assert "session totals once" not in screen_text(app)
        await pilot.press("home")
        await wait_for(pilot, lambda: "answer 0 about topic-0." in screen_text(app))
        await app.flush_saves()
    messages = load_session(path)[1].messages
    assert len(messages) == 2002  # every old message, the held question and its answer
    assert [m.content for m in messages[:2]] == ["question 0", "answer **0** about topic-0."]
    assert [m.content for m in messages[-2:]] == ["one more", "a fresh answer"]
    assert len(fake_llm.requests) == 1 and len(fake_llm.requests[0].body["messages"]) >= 2001


async def test_a_session_that_fails_after_its_end_was_shown_exits_in_one_line(
    fake_llm: FakeLLM, tmp_path: Path
) -> None:
    from tui.ui.launch import open_args

    path = saved_long(fake_llm, tmp_path)
    path.write_text(path.read_text().replace('content = "question 10"', 'content = "question 10', 1))
    app = BatonApp(**open_args(None, str(path), {}, preview=True))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.load_error is not None)
    assert app.return_code == 2 and app.load_error is not None
    assert app.load_error.startswith(f"{path}:") and "\n" not in app.load_error
    assert fake_llm.requests == []


def test_baton_exits_with_the_one_line_a_failure_after_the_first_frame_gives(
    fake_llm: FakeLLM, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tui.ui import launch

    path = saved_long(fake_llm, tmp_path)
    path.write_text(path.read_text().replace('content = "question 10"', 'content = "question 10', 1))
    real_run = BatonApp.run
    shown: list[int] = []  # the app did start: the tail was shown before the error was found

    def run_headless(self: BatonApp) -> None:
        shown.append(len(self.conversation.nodes))
        real_run(self, headless=True, size=SIZE)

    monkeypatch.setattr(BatonApp, "run", run_headless)
    monkeypatch.chdir(tmp_path)
    assert launch.run(None, str(path)) == 2
    assert shown and 0 < shown[0] < 100
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"{path}:") and "Traceback" not in err


async def test_a_session_opened_while_the_long_one_loads_stays(
    fake_llm: FakeLLM, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tui.core.commands import Command
    from tui.ui.launch import open_args

    path = saved_long(fake_llm, tmp_path)
    started, release = held_load(monkeypatch)
    app = BatonApp(**open_args(None, str(path), {}, preview=True))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: started.is_set() and app.query("#composer").first() is not None)
        await app.run_command(Command("clear"))  # from the palette: a new, empty session
        assert not app.conversation.nodes
        release.set()
        await wait_for(pilot, lambda: app._loading is None)
        await pilot.pause()
        assert not app.conversation.nodes and app.session_path != path
