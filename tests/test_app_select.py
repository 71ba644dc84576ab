"""Selecting any message from the keyboard and acting on it (Pilot): regenerate an
earlier answer, edit an earlier question, copy, copy code, quote, step alternatives,
pick and vote by key; each checked by what the next request sends or what was copied."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fakellm import FakeLLM, Reply
from test_app import SIZE, make_app, type_and_send
from test_app_helpers import idle, screen_text, wait_for

from tui.core.conversation import Conversation
from tui.core.session import load_session
from tui.core.types import Message
from tui.ui.chat import ChatPane
from tui.ui.composer import Composer


def request(llm: FakeLLM, model: str, index: int = -1) -> list[dict[str, object]]:
    messages: list[dict[str, object]] = llm.requests_for(model)[index].body["messages"]
    return [m for m in messages if m["role"] != "system"]


def selected(app) -> str:  # type: ignore[no-untyped-def]
    widget = app.query_one(ChatPane).selected_widget()
    return str(getattr(widget, "text", "")) if widget is not None else ""


async def two_turns(pilot, app, first: str = "first question", second: str = "second question") -> None:  # type: ignore[no-untyped-def]
    await type_and_send(pilot, first)
    await idle(pilot, app)
    await type_and_send(pilot, second)
    await idle(pilot, app)


async def test_r_on_an_earlier_answer_asks_its_question_again_and_shows_2_of_2(
    fake_llm: FakeLLM, tmp_path: Path
) -> None:
    fake_llm.script("alpha", Reply(text="answer one"), Reply(text="answer two"), Reply(text="answer one again"))
    app = make_app(fake_llm, tmp_path)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await two_turns(pilot, app)
        await pilot.press("ctrl+up")
        assert selected(app) == "answer two"
        assert "Copy" in screen_text(app) and "Again" in screen_text(app)  # the footer shows the keys
        await pilot.press("up")
        assert selected(app) == "second question"
        assert "Edit" in screen_text(app) and "Again" not in screen_text(app)
        await pilot.press("k")
        assert selected(app) == "answer one"
        await pilot.press("r")
        await wait_for(pilot, lambda: "answer one again" in screen_text(app))
        await idle(pilot, app)
        assert "‹ 2/2 ›" in screen_text(app) and "second question" not in screen_text(app)
        assert app.focused is app.query_one(Composer)
    assert [m["content"] for m in request(fake_llm, "alpha")] == ["first question"]
    _, saved = load_session(tmp_path / "session.toml")
    again = saved.path()[-1]
    assert [m.content for m in saved.siblings(again.id)] == ["answer one", "answer one again"]
    assert len(saved.leaves()) == 2  # the old branch (second question, answer two) stays
    reloaded = make_app(fake_llm, tmp_path, saved)
    async with reloaded.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: "answer one again" in screen_text(reloaded))
        assert "‹ 2/2 ›" in screen_text(reloaded)


async def test_left_and_right_step_a_selected_answer_and_the_label_follows(
    fake_llm: FakeLLM, tmp_path: Path
) -> None:
    fake_llm.script("alpha", Reply(text="alpha first"), Reply(text="going on"))
    fake_llm.script("beta", Reply(text="beta instead"))
    app = make_app(fake_llm, tmp_path)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await type_and_send(pilot, "a question")
        await idle(pilot, app)
        await type_and_send(pilot, "/regen beta")
        await idle(pilot, app)
        await pilot.press("ctrl+up")
        assert selected(app) == "beta instead" and "‹ 2/2 ›" in screen_text(app)
        await pilot.press("left")
        await wait_for(pilot, lambda: "‹ 1/2 ›" in screen_text(app))
        assert selected(app) == "alpha first" and "beta instead" not in screen_text(app)
        await pilot.press("escape")
        assert app.focused is app.query_one(Composer)
        await type_and_send(pilot, "go on")
        await idle(pilot, app)
    assert [m["content"] for m in request(fake_llm, "alpha")] == ["a question", "alpha first", "go on"]


async def test_e_on_an_earlier_question_branches_from_there(fake_llm: FakeLLM, tmp_path: Path) -> None:
    fake_llm.script("alpha", Reply(text="answer one"), Reply(text="answer two"), Reply(text="answer edited"))
    app = make_app(fake_llm, tmp_path)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await two_turns(pilot, app)
        await pilot.press("ctrl+up", "up", "up", "up")
        assert selected(app) == "first question"
        await pilot.press("e")
        composer = app.query_one(Composer)
        assert composer.text == "first question" and app.focused is composer
        composer.insert(", sharper")
        await pilot.press("enter")
        await wait_for(pilot, lambda: "answer edited" in screen_text(app))
        await idle(pilot, app)
        assert "answer one" not in screen_text(app)
    assert [m["content"] for m in request(fake_llm, "alpha")] == ["first question, sharper"]
    _, saved = load_session(tmp_path / "session.toml")
    assert {leaf.content for leaf in saved.leaves()} == {"answer two", "answer edited"}


async def test_c_b_and_q_copy_the_message_its_code_blocks_in_turn_and_quote_it(
    fake_llm: FakeLLM, tmp_path: Path
) -> None:
    text = "Two ways:\n\n```python\nprint(1)\n```\n\nor\n\n```sh\necho 2\n```\n"
    fake_llm.script("alpha", Reply(text=text), Reply(text="later"))
    app = make_app(fake_llm, tmp_path)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await two_turns(pilot, app, "show code", "thanks")
        await pilot.press("ctrl+up", "up", "up")
        assert selected(app) == text
        await pilot.press("c")
        assert app.clipboard == text
        await pilot.press("b")
        assert app.clipboard == "print(1)"
        await wait_for(pilot, lambda: "code block 1/2 copied" in screen_text(app))
        await pilot.press("b")
        assert app.clipboard == "echo 2"
        await wait_for(pilot, lambda: "code block 2/2 copied" in screen_text(app))
        await pilot.press("b")
        assert app.clipboard == "print(1)"
        await pilot.press("q")
        composer = app.query_one(Composer)
        assert app.focused is composer
        assert composer.text == ("> Two ways:\n>\n> ```python\n> print(1)\n> ```\n>\n> or\n>\n"
                                 "> ```sh\n> echo 2\n> ```\n\n")
        assert composer.cursor_location == composer.document.end
        assert app.query_one(ChatPane).selected is None


async def test_a_printable_key_goes_back_to_the_composer_typed(fake_llm: FakeLLM, tmp_path: Path) -> None:
    fake_llm.script("alpha", Reply(text="an answer"))
    app = make_app(fake_llm, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await type_and_send(pilot, "a question")
        await idle(pilot, app)
        await pilot.press("ctrl+up", "x", "y")
        composer = app.query_one(Composer)
        assert app.focused is composer and composer.text == "xy"
        assert app.query_one(ChatPane).selected is None


async def test_digit_on_a_selected_round_picks_that_answer(fake_llm: FakeLLM, tmp_path: Path) -> None:
    fake_llm.script("alpha", Reply(text="alpha says tabs"), Reply(text="noted"))
    fake_llm.script("beta", Reply(text="beta says spaces"))
    app = make_app(fake_llm, tmp_path)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await type_and_send(pilot, "/parallel alpha beta -- tabs or spaces?")
        await idle(pilot, app)
        await pilot.press("ctrl+up")
        assert "Pick" in screen_text(app) and "1-9" in screen_text(app)
        await pilot.press("2")
        await wait_for(pilot, lambda: "going on with answer 2 (beta)" in screen_text(app))
        await type_and_send(pilot, "why?")
        await idle(pilot, app)
    assert [m["content"] for m in request(fake_llm, "alpha")] == ["tabs or spaces?", "[beta] beta says spaces", "why?"]


async def test_alt_digit_picks_from_the_composer_only_after_a_round(fake_llm: FakeLLM, tmp_path: Path) -> None:
    fake_llm.script("alpha", Reply(text="hi"), Reply(text="alpha says tabs"), Reply(text="noted"))
    fake_llm.script("beta", Reply(text="beta says spaces"))
    app = make_app(fake_llm, tmp_path)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await type_and_send(pilot, "hello")
        await idle(pilot, app)
        assert "alt+1-9" not in screen_text(app)
        await type_and_send(pilot, "/parallel alpha beta -- tabs or spaces?")
        await idle(pilot, app)
        assert "alt+1-9" in screen_text(app)
        # tmux and xterm send alt+1 as escape then 1, which Textual reads as "¡" (option+1 on macOS)
        await pilot.press("inverted_exclamation_mark")
        await wait_for(pilot, lambda: "going on with answer 1 (alpha)" in screen_text(app))
        assert app.query_one(Composer).text == ""
        await type_and_send(pilot, "why?")
        await idle(pilot, app)
    contents = [m["content"] for m in request(fake_llm, "alpha")]
    assert contents[-3:] == ["tabs or spaces?", "alpha says tabs", "why?"]


async def test_an_unvoted_compare_reloads_blind_and_a_key_votes(fake_llm: FakeLLM, tmp_path: Path) -> None:
    fake_llm.script("beta", Reply(text="an answer in one style"))
    fake_llm.script("gamma", Reply(text="an answer in another style"))
    fake_llm.script("alpha", Reply(text="continuing"))
    app = make_app(fake_llm, tmp_path)
    async with app.run_test(size=(160, 45), notifications=True) as pilot:
        await type_and_send(pilot, "/compare beta gamma -- say something")
        await wait_for(pilot, lambda: "/vote A" in screen_text(app))
        await idle(pilot, app)
    _, saved = load_session(tmp_path / "session.toml")
    reloaded = make_app(fake_llm, tmp_path, saved)
    async with reloaded.run_test(size=(160, 45), notifications=True) as pilot:
        await wait_for(pilot, lambda: "another style" in screen_text(reloaded) and "Vote A" in screen_text(reloaded))
        text = screen_text(reloaded)
        assert "/vote A" in text and "beta" not in text and "gamma" not in text
        await pilot.press("ctrl+up")
        assert "Vote A" in screen_text(reloaded) and "Code" not in screen_text(reloaded)
        first = "one style" if text.index("one style") < text.index("another style") else "another style"
        await pilot.press("a")
        await wait_for(pilot, lambda: " over " in screen_text(reloaded))
        assert "beta" in screen_text(reloaded) and "gamma" in screen_text(reloaded)
        assert "Vote A" not in screen_text(reloaded)
    _, voted = load_session(tmp_path / "session.toml")
    again = make_app(fake_llm, tmp_path, voted)
    async with again.run_test(size=(160, 45)) as pilot:
        await wait_for(pilot, lambda: "another style" in screen_text(again))
        assert "beta" in screen_text(again) and "gamma" in screen_text(again) and "/vote A" not in screen_text(again)
        await type_and_send(pilot, "go on")
        await idle(pilot, again)
    assert first in json.dumps(request(fake_llm, "alpha"))


@pytest.mark.parametrize(("key", "verdict"), [("alt+t", "a tie between"), ("trade_mark_sign", " over ")])
async def test_alt_keys_vote_from_the_composer(fake_llm: FakeLLM, tmp_path: Path, key: str, verdict: str) -> None:
    """alt+t: a tie; alt+2 (which tmux and xterm deliver as "™"): B."""
    fake_llm.script("beta", Reply(text="one"))
    fake_llm.script("gamma", Reply(text="two"))
    app = make_app(fake_llm, tmp_path)
    async with app.run_test(size=(160, 45), notifications=True) as pilot:
        await type_and_send(pilot, "/compare beta gamma -- say something")
        await wait_for(pilot, lambda: "/vote A" in screen_text(app))
        await idle(pilot, app)
        assert "Vote B" in screen_text(app)
        await pilot.press(key)
        await wait_for(pilot, lambda: verdict in screen_text(app))
        assert app.query_one(Composer).text == ""
    vote = next(e for e in app.conversation.events if e.type == "vote")
    assert vote.tie is (key == "alt+t")  # type: ignore[attr-defined]
    b = next(m for m in app.conversation.nodes.values() if m.lane == "B")
    assert key == "alt+t" or vote.winner == b.model  # type: ignore[attr-defined]


async def test_the_selection_walks_the_whole_windowed_conversation(fake_llm: FakeLLM, tmp_path: Path) -> None:
    messages = [Message("user" if i % 2 == 0 else "assistant", f"message number {i}", None if i % 2 == 0 else "alpha")
                for i in range(120)]
    app = make_app(fake_llm, tmp_path, Conversation(messages, active_model="alpha"))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: bool(app.query("#composer")))
        chat = app.query_one(ChatPane)
        assert chat.items[0].widgets is None  # not mounted at first
        await pilot.press("ctrl+up")
        for _ in range(119):
            await pilot.press("up")
        await pilot.pause()
        assert selected(app) == "message number 0"
        await wait_for(pilot, lambda: "message number 0" in screen_text(app))
        await pilot.press("j")
        assert selected(app) == "message number 1"
        await pilot.press("c")
        assert app.clipboard == "message number 1"


async def test_engine_regenerates_an_earlier_question_by_id_and_only_a_question(fake_llm: FakeLLM) -> None:
    from test_tree import engine

    from tui.core.engine import drain
    from tui.core.events import RunFailed

    fake_llm.script("alpha", Reply(text="one"), Reply(text="two"), Reply(text="one again"))
    e = engine(fake_llm)
    await drain(e.send("first"))
    await drain(e.send("second"))
    first, answer = e.conversation.path()[:2]
    refused = await drain(e.regenerate(question_id=answer.id))
    assert any(isinstance(ev, RunFailed) for ev in refused) and len(fake_llm.requests_for("alpha")) == 2
    await drain(e.regenerate(question_id=first.id))
    assert [m["content"] for m in request(fake_llm, "alpha")] == ["first"]
    assert [m.content for m in e.conversation.path()] == ["first", "one again"]
    assert [m.content for m in e.conversation.siblings(answer.id)] == ["one", "one again"]
