"""Long sessions: a bounded window of mounted items, Home and End, search."""

from __future__ import annotations

from pathlib import Path

from fakellm import FakeLLM
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
