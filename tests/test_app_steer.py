"""Steering from the app (Pilot): regenerate, edit and branch, pick, the branch picker,
sessions, and reviewing a handoff package; each checked by what the next request sends."""

from __future__ import annotations

import json
from pathlib import Path

from fakellm import FakeLLM, Reply
from test_app import SIZE, make_app, type_and_send
from test_app_helpers import idle, screen_text, wait_for

from tui.core.session import load_session
from tui.ui.pickers import PickerScreen
from tui.ui.screens import HandoffScreen


def sent(llm: FakeLLM, model: str) -> str:
    return json.dumps(llm.requests_for(model)[-1].body["messages"])


async def test_regen_with_another_model_keeps_both_and_goes_on_from_the_one_shown(
    fake_llm: FakeLLM, tmp_path: Path
) -> None:
    fake_llm.script("alpha", Reply(text="alpha first"), Reply(text="alpha later"))
    fake_llm.script("beta", Reply(text="beta instead"))
    app = make_app(fake_llm, tmp_path)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await type_and_send(pilot, "a question")
        await idle(pilot, app)
        await type_and_send(pilot, "/regen beta")
        await wait_for(pilot, lambda: "beta instead" in screen_text(app))
        await idle(pilot, app)
        await pilot.press("alt+left")  # step back to alpha's answer ...
        await wait_for(pilot, lambda: "answer 1/2" in screen_text(app))
        assert "alpha first" in screen_text(app) and "beta instead" not in screen_text(app)
        await pilot.press("alt+right")  # ... and forward to beta's, which the conversation goes on from
        await wait_for(pilot, lambda: "beta instead" in screen_text(app))
        await type_and_send(pilot, "go on")
        await idle(pilot, app)
    body = sent(fake_llm, "alpha")
    assert "beta instead" in body and "alpha first" not in body
    _, saved = load_session(tmp_path / "session.toml")
    question = saved.path()[0]
    assert [m.content for m in saved.siblings(saved.path()[1].id)] == ["alpha first", "beta instead"]
    assert question.content == "a question"


async def test_edit_then_send_branches_and_the_old_branch_stays(fake_llm: FakeLLM, tmp_path: Path) -> None:
    fake_llm.script("alpha", Reply(text="answer one"), Reply(text="answer two"), Reply(text="answer edited"))
    app = make_app(fake_llm, tmp_path)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await type_and_send(pilot, "first question")
        await idle(pilot, app)
        await type_and_send(pilot, "second question")
        await idle(pilot, app)
        await type_and_send(pilot, "/edit")
        await wait_for(pilot, lambda: app.query_one("#composer").text == "second question")  # type: ignore[attr-defined]
        composer = app.query_one("#composer")
        composer.insert(", sharper")  # type: ignore[attr-defined]
        await pilot.press("enter")
        await idle(pilot, app)
        text = screen_text(app)
        assert "second question, sharper" in text and "answer edited" in text and "answer two" not in text
        await type_and_send(pilot, "/tree")
        await wait_for(pilot, lambda: isinstance(app.screen, PickerScreen))
        assert "answer two" in screen_text(app) and "answer edited" in screen_text(app)
        await pilot.press("escape")
    body = sent(fake_llm, "alpha")
    assert "second question, sharper" in body and "answer two" not in body and "answer one" in body
    _, saved = load_session(tmp_path / "session.toml")
    assert len(saved.leaves()) == 2


async def test_pick_after_a_round_goes_on_with_that_answer_alone(fake_llm: FakeLLM, tmp_path: Path) -> None:
    fake_llm.script("alpha", Reply(text="alpha says tabs"), Reply(text="noted"))
    fake_llm.script("beta", Reply(text="beta says spaces"))
    app = make_app(fake_llm, tmp_path)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await type_and_send(pilot, "/parallel alpha beta -- tabs or spaces?")
        await wait_for(pilot, lambda: "beta says spaces" in screen_text(app))
        await idle(pilot, app)
        await type_and_send(pilot, "/pick 2")
        await wait_for(pilot, lambda: "going on with answer 2 (beta)" in screen_text(app))
        await type_and_send(pilot, "why?")
        await idle(pilot, app)
    body = sent(fake_llm, "alpha")
    assert "beta says spaces" in body and "alpha says tabs" not in body


async def test_sessions_picker_opens_a_saved_session(fake_llm: FakeLLM, tmp_path: Path) -> None:
    from tui.core.sessions import sessions_dir

    fake_llm.script("alpha", Reply(text="from the old session"))
    old = make_app(fake_llm, tmp_path)
    old.session_path = sessions_dir(old.env) / "old.toml"
    async with old.run_test(size=SIZE) as pilot:
        await type_and_send(pilot, "remember the octopus")
        await idle(pilot, old)
    app = make_app(fake_llm, tmp_path / "other")
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await type_and_send(pilot, "/sessions")
        await wait_for(pilot, lambda: isinstance(app.screen, PickerScreen))
        assert "remember the octopus" in screen_text(app)
        await pilot.press(*"octo", "enter")
        await wait_for(pilot, lambda: "from the old session" in screen_text(app))


async def test_handoff_edit_sends_the_package_as_the_person_left_it(fake_llm: FakeLLM, tmp_path: Path) -> None:
    fake_llm.script("alpha", Reply(text="researched"))
    fake_llm.script("beta", Reply(text="written"))
    app = make_app(fake_llm, tmp_path)
    async with app.run_test(size=(120, 45), notifications=True) as pilot:
        await type_and_send(pilot, "research octopuses")
        await idle(pilot, app)
        await type_and_send(pilot, "/handoff beta --edit write it up")
        await wait_for(pilot, lambda: isinstance(app.screen, HandoffScreen))
        instructions = app.screen.query_one("#instructions")
        instructions.value = "write it up as a haiku"  # type: ignore[attr-defined]
        await pilot.click("#send")
        await wait_for(pilot, lambda: "written" in screen_text(app))
        await idle(pilot, app)
    handoff = next(e.to_record() for e in app.conversation.events if e.type == "handoff")
    assert handoff["instructions"] == "write it up as a haiku"
    assert handoff["package"]["original_task"] == "research octopuses"
    assert "write it up as a haiku" in sent(fake_llm, "beta")
